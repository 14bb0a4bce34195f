-- The curated mapping of raw AFDC `EV Network` labels to network keys.
-- Reproduces: the network normalisation applied when an AFDC export is loaded into the spine.
-- Definition notes: exact, case-sensitive label match in Python (never a substring match); the
--   table is maintained from paren_pulse/reference/networks.csv after review (docs/afdc.md).
--   Labels missing here are loaded with network_key NULL and reported. No ORDER BY: MySQL sorts
--   labels case-insensitively and SQLite by byte, and the caller builds a dict anyway.
-- Last synced: 2026-12-04.
SELECT alias, network_key FROM network_aliases
