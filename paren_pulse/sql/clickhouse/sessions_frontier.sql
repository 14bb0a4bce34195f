-- How far the loaded session batches reach.
-- Reproduces: the sessions frontier: the newest batch month and when batches were loaded.
-- Definition notes: a batch covers a whole calendar month, so coverage ends (exclusive) on the
--   first day of the month after the newest batch_month.
-- Last synced: 2026-12-04.
SELECT
    count() AS session_rows,
    max(batch_month) AS latest_batch_month,
    addMonths(max(batch_month), 1) AS covered_until,
    max(started_at) AS latest_started_at,
    max(loaded_at) AS latest_loaded_at
FROM sessions
