-- Insert one station of an AFDC spine snapshot (run once per row with executemany).
-- Reproduces: the AFDC Station Locator export, one row per electric station, as of the export date.
-- Definition notes: values arrive normalised by paren_pulse/afdc.py: status_code upper case,
--   access_code lower case (MySQL compares case-insensitively, SQLite does not), empty port counts
--   as 0, dates as YYYY-MM-DD. ev_network keeps the raw AFDC label; network_key is the curated
--   network_aliases mapping of it, NULL when the label is not in the table (reported at load,
--   counted as unclassified by infrastructure_spine.sql).
-- Last synced: 2026-12-04.
INSERT INTO afdc_spine (
    snapshot_date, station_id, station_name, state, country, status_code, access_code,
    ev_network, network_key, dc_fast_ports, level2_ports, open_date, date_last_confirmed, ev_pricing
) VALUES (
    %(snapshot_date)s, %(station_id)s, %(station_name)s, %(state)s, %(country)s, %(status_code)s,
    %(access_code)s, %(ev_network)s, %(network_key)s, %(dc_fast_ports)s, %(level2_ports)s,
    %(open_date)s, %(date_last_confirmed)s, %(ev_pricing)s
)
