-- Network keys classified as Tesla (Supercharger) in the curated classification.
-- Reproduces: the Tesla split of sessions, which live in ClickHouse and carry only a network key.
-- Definition notes: passed to ClickHouse as a bound Array(String) parameter, so the curated table
--   stays the only place Tesla is defined.
-- Last synced: 2026-12-04.
SELECT network_key FROM network_classification WHERE is_tesla = 1 ORDER BY network_key
