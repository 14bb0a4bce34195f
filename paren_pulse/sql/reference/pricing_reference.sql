-- Reference formulation of pricing (the BI dashboard's "average price per kWh" tile).
-- Reproduces: the dashboard's average of non-member per-kWh prices over tracked DC ports,
--   Tesla = network key 'TESLA', computed from the validity-dated tables (not the roster).
-- Definition notes: the dashboard does not filter on currency, so a tariff stored in the wrong
--   currency shows up as drift here and as a consistency failure in the curated path.
-- Last synced: 2026-12-04.
SELECT
    s.country AS country,
    CASE WHEN s.network_key = 'TESLA' THEN 1 ELSE 0 END AS is_tesla,
    SUM(t.price_per_kwh) AS price_sum,
    COUNT(*) AS priced_ports
FROM afdc_spine s
JOIN tracked_stations ts
    ON ts.station_id = s.station_id AND ts.tracked_from <= %(as_of)s
   AND (ts.tracked_to IS NULL OR ts.tracked_to > %(as_of)s)
JOIN tracked_ports p
    ON p.station_id = s.station_id AND p.is_dc_fast = 1 AND p.tracked_from <= %(as_of)s
   AND (p.tracked_to IS NULL OR p.tracked_to > %(as_of)s)
JOIN tariffs t
    ON t.station_id = s.station_id AND t.audience = 'non_member' AND t.price_per_kwh IS NOT NULL
   AND t.valid_from <= %(as_of)s AND (t.valid_to IS NULL OR t.valid_to > %(as_of)s)
WHERE s.snapshot_date = (SELECT MAX(l.snapshot_date) FROM afdc_spine_loads l WHERE l.snapshot_date <= %(as_of)s)
  AND s.status_code = 'E'
  AND s.access_code = 'public'
  AND s.dc_fast_ports > 0
  AND s.country IN ('US', 'CA')
GROUP BY s.country, CASE WHEN s.network_key = 'TESLA' THEN 1 ELSE 0 END
