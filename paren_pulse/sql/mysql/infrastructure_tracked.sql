-- Tracked stations and tracked DC fast ports at a week's end, per country and Tesla flag.
-- Reproduces: the dashboard's "tracked stations / tracked ports" (the coverage numerator).
-- Definition notes: stations come from the persisted roster of the week; ports are tracked DC
--   fast ports valid on the week's last day at those stations.
-- Last synced: 2026-12-04.
SELECT
    r.country AS country,
    r.is_tesla AS is_tesla,
    COUNT(DISTINCT r.station_id) AS tracked_stations,
    COUNT(p.port_id) AS tracked_ports
FROM pulse_tracked_roster r
LEFT JOIN tracked_ports p
    ON p.station_id = r.station_id
   AND p.is_dc_fast = 1
   AND p.tracked_from <= %(as_of)s
   AND (p.tracked_to IS NULL OR p.tracked_to > %(as_of)s)
WHERE r.week_start = %(week_start)s
GROUP BY r.country, r.is_tesla
ORDER BY r.country, r.is_tesla
