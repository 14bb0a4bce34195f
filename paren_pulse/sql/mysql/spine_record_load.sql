-- Record a loaded AFDC spine snapshot (written last, in the same transaction as its rows).
-- Reproduces: the list of complete snapshots that spine_snapshot_for_week.sql chooses from.
-- Definition notes: REPLACE INTO (MySQL and SQLite both accept it) so a re-load of the same date
--   updates its source, row count and load time instead of failing on the primary key.
--   loaded_at is UTC, 'YYYY-MM-DD HH:MM:SS'.
-- Last synced: 2026-12-04.
REPLACE INTO afdc_spine_loads (snapshot_date, source, row_count, loaded_at)
VALUES (%(snapshot_date)s, %(source)s, %(row_count)s, %(loaded_at)s)
