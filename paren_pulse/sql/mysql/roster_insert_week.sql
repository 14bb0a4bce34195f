-- Persist the roster of tracked, in-scope stations at a week's end.
-- Reproduces: "tracked stations" = spine stations in scope that the network data tracks on the
--   week's last day; the roster is what "opened this week" compares week to week.
-- Definition notes: tracked on day D means tracked_from <= D < tracked_to (open-ended when NULL).
--   EXISTS (not a join) so overlapping validity rows cannot duplicate a station.
-- Last synced: 2026-12-04.
INSERT INTO pulse_tracked_roster (week_start, station_id, country, is_tesla)
SELECT %(week_start)s, s.station_id, s.country, COALESCE(n.is_tesla, 0)
FROM afdc_spine s
LEFT JOIN network_classification n ON n.network_key = s.network_key
WHERE s.snapshot_date = %(snapshot_date)s
  AND s.status_code = 'E'
  AND s.access_code = 'public'
  AND s.dc_fast_ports > 0
  AND s.country IN ('US', 'CA')
  AND EXISTS (
      SELECT 1 FROM tracked_stations t
      WHERE t.station_id = s.station_id
        AND t.tracked_from <= %(as_of)s
        AND (t.tracked_to IS NULL OR t.tracked_to > %(as_of)s)
  )
