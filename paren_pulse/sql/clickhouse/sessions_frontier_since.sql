-- How far the loaded session batches reach, seen from a given start time onwards.
-- Reproduces: the sessions frontier (newest batch month, its coverage end) for deciding which
--   week utilization reports, reading only rows that started at or after {since}.
-- Definition notes: batches cover calendar months and sessions start inside their batch's month,
--   so if any row started at or after {since}, the newest batch month among those rows IS the
--   table-wide newest batch month (any newer batch holds rows even later). The caller widens
--   {since} (and finally falls back to sessions_frontier.sql) only when no row qualifies. The
--   filter on started_at lets MergeTree skip partitions and Parquet skip row groups, so the cost
--   follows the window, not the history. latest_loaded_at is the newest load among these rows.
-- Last synced: 2026-12-04.
SELECT
    count() AS session_rows,
    max(batch_month) AS latest_batch_month,
    addMonths(max(batch_month), 1) AS covered_until,
    max(started_at) AS latest_started_at,
    max(loaded_at) AS latest_loaded_at
FROM sessions
WHERE started_at >= {since:DateTime('UTC')}
