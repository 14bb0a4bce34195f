-- Session attempts and successful sessions per week, country and Tesla flag.
-- Reproduces: the dashboard's "Total Sessions" KPI (Non-Tesla "of which, success" + Tesla "of
--   which, success") and its attempts; a week and the one before it in one scan.
-- Definition notes: a session belongs to the week it started in (UTC, Monday start); sessions =
--   outcome 'success' only, attempts = all rows; Tesla = network key in the curated Tesla list.
-- Last synced: 2026-12-04.
SELECT
    toMonday(started_at) AS week_start,
    country,
    toUInt8(has({tesla_networks:Array(String)}, network_key)) AS is_tesla,
    countIf(outcome = 'success') AS sessions,
    count() AS attempts
FROM sessions
WHERE started_at >= {from_ts:DateTime('UTC')}
  AND started_at < {until_ts:DateTime('UTC')}
  AND has({countries:Array(String)}, country)
GROUP BY week_start, country, is_tesla
ORDER BY week_start, country, is_tesla
