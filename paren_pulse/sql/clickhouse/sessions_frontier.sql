-- How far the loaded session batches reach.
-- Reproduces: the sessions frontier: the newest batch month and when batches were loaded.
-- Definition notes: a batch covers a whole calendar month, so coverage ends (exclusive) on the
--   first day of the month after the newest batch_month. The newest started_at and loaded_at
--   are exact table-wide maxima found in two steps: first the maximum inside the newest batch
--   (a real value, so a lower bound of the table-wide one), then the maximum of the rows at or
--   above it. Both steps filter on a column the engine can skip by (MergeTree: partition and
--   primary key; Parquet: row-group min/max statistics), so the frontier reads those two columns
--   for the newest batch only, not for the whole table.
-- Last synced: 2026-12-04 (two-step maxima instead of full-table max(started_at)/max(loaded_at);
--   docs/benchmarks.md).
SELECT
    count() AS session_rows,
    max(batch_month) AS latest_batch_month,
    addMonths(max(batch_month), 1) AS covered_until,
    (
        SELECT max(started_at) FROM sessions
        WHERE started_at >= (
            SELECT max(started_at) FROM sessions
            WHERE batch_month = (SELECT max(batch_month) FROM sessions)
        )
    ) AS latest_started_at,
    (
        SELECT max(loaded_at) FROM sessions
        WHERE loaded_at >= (
            SELECT max(loaded_at) FROM sessions
            WHERE batch_month = (SELECT max(batch_month) FROM sessions)
        )
    ) AS latest_loaded_at
FROM sessions
