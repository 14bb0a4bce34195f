-- One category's stored week from the metrics history.
-- Reproduces: the rows of the newest write of (category, week); see history_schema.sql.
-- Definition notes: a re-run inserts the whole week again with a newer computed_at, so keeping
--   only rows of the newest computed_at is exactly "the week as last written" even before
--   ReplacingMergeTree merges (FINAL is not needed and would not drop a removed metric).
-- Last synced: 2026-12-04.
SELECT country, segment, metric, value, as_of, partition_key, run_id, computed_at
FROM metrics_history
WHERE category = {category:String}
  AND week_start = {week_start:Date}
  AND computed_at = (
      SELECT max(computed_at) FROM metrics_history
      WHERE category = {category:String} AND week_start = {week_start:Date}
  )
ORDER BY country, segment, metric
