-- Secondary indexes the curated and reference SQL rely on (joins by station).
-- Reproduces: nothing; performance only. Without idx_tracked_ports_station a week's
--   infrastructure query scanned tracked_ports once per station (~50 s on the demo catalog).
-- Definition notes: plain CREATE INDEX (MySQL 8 has no IF NOT EXISTS for indexes); an index that
--   already exists is tolerated by the loader (run_script(..., tolerate_existing=True)).
-- Last synced: 2026-12-04.
CREATE INDEX idx_tracked_ports_station ON tracked_ports (station_id);
CREATE INDEX idx_tariffs_station ON tariffs (station_id);
CREATE INDEX idx_spine_station ON afdc_spine (station_id)
