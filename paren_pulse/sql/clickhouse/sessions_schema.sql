-- Sessions table (ClickHouse side), as the curated SQL expects it.
-- Reproduces: the charging-session feed described in docs/source-contract.md; loaded in monthly
--   batches (batch_month = first day of the month the batch covers), the newest weeks late.
-- Definition notes: one row per session attempt; outcome 'success' is a completed session (the
--   dashboard's "of which, success"); country is the station's country; times are UTC.
--   Sorted by start time so a week's query reads only that week's granules.
-- Last synced: 2026-12-04.
CREATE TABLE IF NOT EXISTS sessions (
    session_id   UInt64,
    started_at   DateTime('UTC'),
    station_id   UInt64,
    port_id      UInt64,
    network_key  LowCardinality(String),
    country      LowCardinality(String),
    outcome      LowCardinality(String),
    energy_kwh   Float32,
    batch_month  Date,
    loaded_at    DateTime('UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (started_at, country, network_key)
