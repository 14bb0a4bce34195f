-- Reference formulation of infrastructure (the BI dashboard's query, kept apart on purpose).
-- Reproduces: the dashboard tiles "AFDC stations", "AFDC ports", "tracked stations", "tracked
--   ports" as the dashboard computes them: straight from the newest spine export and the
--   validity-dated tracked tables, with Tesla as the network key 'TESLA' (not the curated flag,
--   and not the project's persisted roster).
-- Definition notes: per-station port counts via a correlated subquery; the dashboard's CA
--   "Non-Tesla" shaping (it omits the Tesla exclusion) is applied in paren_pulse/reference.py.
-- Last synced: 2026-12-04.
SELECT
    s.country AS country,
    CASE WHEN s.network_key = 'TESLA' THEN 1 ELSE 0 END AS is_tesla,
    COUNT(*) AS spine_stations,
    SUM(s.dc_fast_ports) AS spine_ports,
    SUM(CASE WHEN EXISTS (
            SELECT 1 FROM tracked_stations t
            WHERE t.station_id = s.station_id AND t.tracked_from <= %(as_of)s
              AND (t.tracked_to IS NULL OR t.tracked_to > %(as_of)s)
        ) THEN 1 ELSE 0 END) AS tracked_stations,
    SUM(CASE WHEN EXISTS (
            SELECT 1 FROM tracked_stations t
            WHERE t.station_id = s.station_id AND t.tracked_from <= %(as_of)s
              AND (t.tracked_to IS NULL OR t.tracked_to > %(as_of)s)
        ) THEN (
            SELECT COUNT(*) FROM tracked_ports p
            WHERE p.station_id = s.station_id AND p.is_dc_fast = 1 AND p.tracked_from <= %(as_of)s
              AND (p.tracked_to IS NULL OR p.tracked_to > %(as_of)s)
        ) ELSE 0 END) AS tracked_ports
FROM afdc_spine s
WHERE s.snapshot_date = (SELECT MAX(l.snapshot_date) FROM afdc_spine_loads l WHERE l.snapshot_date <= %(as_of)s)
  AND s.status_code = 'E'
  AND s.access_code = 'public'
  AND s.dc_fast_ports > 0
  AND s.country IN ('US', 'CA')
GROUP BY s.country, CASE WHEN s.network_key = 'TESLA' THEN 1 ELSE 0 END
