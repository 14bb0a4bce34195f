-- The AFDC spine snapshot that describes a week's end.
-- Reproduces: "as of the week's end" for the spine: the newest loaded export dated on or before it.
-- Definition notes: only snapshots recorded in afdc_spine_loads count, so a load still in
--   progress (or one that failed) is never read.
-- Last synced: 2026-12-04.
SELECT MAX(snapshot_date) AS snapshot_date
FROM afdc_spine_loads
WHERE snapshot_date <= %(as_of)s
