-- Remove one AFDC spine snapshot's station rows before writing it again (same transaction as the insert).
-- Reproduces: "a re-load of the same export date replaces it" (idempotent spine loads).
-- Definition notes: deletes only the given snapshot_date; the afdc_spine_loads row is replaced by
--   spine_record_load in the same transaction, so readers see the old snapshot or the new one,
--   never a mix or an empty date.
-- Last synced: 2026-12-04.
DELETE FROM afdc_spine WHERE snapshot_date = %(snapshot_date)s
