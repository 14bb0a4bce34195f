-- Remove a week's persisted roster before writing it again (same transaction as the insert).
-- Reproduces: idempotent re-materialization of the infrastructure week.
-- Definition notes: deletes only the given week.
-- Last synced: 2026-12-04.
DELETE FROM pulse_tracked_roster WHERE week_start = %(week_start)s
