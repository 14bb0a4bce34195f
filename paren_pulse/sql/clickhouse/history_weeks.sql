-- Week starts that hold rows for a category in the metrics history.
-- Reproduces: the list of stored weeks (used for "latest utilization week" and trend charts).
-- Definition notes: the range is inclusive on both ends.
-- Last synced: 2026-12-04.
SELECT DISTINCT week_start
FROM metrics_history
WHERE category = {category:String}
  AND week_start >= {start:Date}
  AND week_start <= {end:Date}
ORDER BY week_start
