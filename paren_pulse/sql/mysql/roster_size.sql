-- How many stations a week's persisted roster holds (0 = no roster for that week).
-- Reproduces: the "previous roster exists" test behind "opened this week".
-- Definition notes: none.
-- Last synced: 2026-12-04.
SELECT COUNT(*) AS stations FROM pulse_tracked_roster WHERE week_start = %(week_start)s
