-- The project's own table on the MySQL side (needs CREATE/INSERT/DELETE grants there).
-- Reproduces: nothing upstream; the persisted weekly roster that "opened this week" compares.
-- Definition notes: applied idempotently by the infrastructure step before it writes, so a new
--   production catalog needs no manual DDL; portable MySQL/SQLite subset like catalog_schema.sql.
-- Last synced: 2026-12-04.
-- The project's own persisted weekly roster of tracked in-scope stations: "opened this week"
-- compares a week's roster with the previous week's. Written only by the infrastructure asset.
CREATE TABLE IF NOT EXISTS pulse_tracked_roster (
    week_start  DATE      NOT NULL,
    station_id  BIGINT    NOT NULL,
    country     CHAR(2)   NOT NULL,
    is_tesla    SMALLINT  NOT NULL,
    PRIMARY KEY (week_start, station_id)
);
