-- Spine stations and DC fast ports in scope, per country and Tesla flag.
-- Reproduces: the dashboard's "AFDC stations / ports" (public, open, DC fast, US + CA).
-- Definition notes: scope = status E, access public, at least one DC fast port, country US/CA.
--   Tesla is the curated network_classification flag, never a text match; a network missing from
--   the classification counts as non-Tesla and is reported in `unclassified_stations`.
--   Status/access values are normalised on load (upper/lower case) because MySQL compares
--   case-insensitively and SQLite does not.
-- Last synced: 2026-12-04.
SELECT
    s.country AS country,
    COALESCE(n.is_tesla, 0) AS is_tesla,
    COUNT(*) AS spine_stations,
    SUM(s.dc_fast_ports) AS spine_ports,
    SUM(CASE WHEN n.network_key IS NULL THEN 1 ELSE 0 END) AS unclassified_stations
FROM afdc_spine s
LEFT JOIN network_classification n ON n.network_key = s.network_key
WHERE s.snapshot_date = %(snapshot_date)s
  AND s.status_code = 'E'
  AND s.access_code = 'public'
  AND s.dc_fast_ports > 0
  AND s.country IN ('US', 'CA')
GROUP BY s.country, COALESCE(n.is_tesla, 0)
ORDER BY s.country, is_tesla
