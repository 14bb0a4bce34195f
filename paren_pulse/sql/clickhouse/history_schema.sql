-- Metrics history (ClickHouse side): the project's own table, one row per metric per week.
-- Reproduces: the weekly metric rows every snapshot and trend chart reads.
-- Definition notes: a re-materialization inserts the whole week again in ONE insert (atomic in
--   ClickHouse) with a newer computed_at; readers keep only the newest write of each
--   (category, week), so a week is replaced, never duplicated, and never half-written.
-- Last synced: 2026-12-04.
CREATE TABLE IF NOT EXISTS metrics_history (
    category      LowCardinality(String),
    week_start    Date,
    country       LowCardinality(String),
    segment       LowCardinality(String),
    metric        LowCardinality(String),
    value         Nullable(Float64),
    as_of         Date,
    partition_key String,
    run_id        String,
    computed_at   DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
ORDER BY (category, week_start, country, segment, metric)
