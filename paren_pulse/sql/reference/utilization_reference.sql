-- Reference formulation of utilization (the BI dashboard's "Total Sessions" query).
-- Reproduces: "Non-Tesla: of which, success" + "Tesla: of which, success" and attempts, as the
--   dashboard counts them: distinct session ids, Tesla = network key 'TESLA', week = ISO week
--   (toStartOfWeek mode 1 = Monday) of the start time in UTC.
-- Definition notes: counting distinct ids makes a duplicated batch visible as drift against the
--   curated count(). The CA Non-Tesla shaping is applied in paren_pulse/reference.py.
-- Last synced: 2026-12-04.
SELECT
    country,
    toUInt8(network_key = 'TESLA') AS is_tesla,
    uniqExactIf(session_id, outcome = 'success') AS sessions,
    uniqExact(session_id) AS attempts
FROM sessions
WHERE toStartOfWeek(started_at, 1) = {week_start:Date}
  AND country IN ('US', 'CA')
GROUP BY country, is_tesla
