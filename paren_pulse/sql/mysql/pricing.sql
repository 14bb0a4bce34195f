-- Non-member energy price per kWh over tracked DC fast ports at a week's end.
-- Reproduces: the dashboard's "average price per kWh" (non-member), port-weighted.
-- Definition notes: one term per tracked DC port whose station has a non-member tariff valid on
--   the week's last day. Only tariffs in the country's currency enter the average (USD for US,
--   CAD for CA: never converted); others are counted as wrong_currency_ports. Per-minute-only
--   tariffs (price_per_kwh NULL) are excluded and counted. The division happens in Python, so
--   MySQL's decimal `/` and SQLite's integer `/` never matter.
-- Last synced: 2026-12-04.
SELECT
    r.country AS country,
    r.is_tesla AS is_tesla,
    SUM(CASE WHEN t.price_per_kwh IS NOT NULL AND t.currency = CASE r.country WHEN 'US' THEN %(currency_us)s ELSE %(currency_ca)s END
             THEN t.price_per_kwh ELSE 0 END) AS price_sum,
    SUM(CASE WHEN t.price_per_kwh IS NOT NULL AND t.currency = CASE r.country WHEN 'US' THEN %(currency_us)s ELSE %(currency_ca)s END
             THEN 1 ELSE 0 END) AS priced_ports,
    SUM(CASE WHEN t.price_per_kwh IS NULL AND t.price_per_minute IS NOT NULL THEN 1 ELSE 0 END) AS per_minute_only_ports,
    SUM(CASE WHEN t.price_per_kwh IS NOT NULL AND t.currency <> CASE r.country WHEN 'US' THEN %(currency_us)s ELSE %(currency_ca)s END
             THEN 1 ELSE 0 END) AS wrong_currency_ports
FROM pulse_tracked_roster r
JOIN tracked_ports p
    ON p.station_id = r.station_id
   AND p.is_dc_fast = 1
   AND p.tracked_from <= %(as_of)s
   AND (p.tracked_to IS NULL OR p.tracked_to > %(as_of)s)
JOIN tariffs t
    ON t.station_id = r.station_id
   AND t.audience = 'non_member'
   AND t.valid_from <= %(as_of)s
   AND (t.valid_to IS NULL OR t.valid_to > %(as_of)s)
WHERE r.week_start = %(week_start)s
GROUP BY r.country, r.is_tesla
ORDER BY r.country, r.is_tesla
