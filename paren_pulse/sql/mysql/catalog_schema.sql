-- Catalog schema (MySQL side): the tables the curated SQL reads (the project's own table is in
--   project_schema.sql).
-- Reproduces: the operational catalog described in docs/source-contract.md. A team adapts its own
--   tables to these names and columns (views are fine); the project creates only what is missing.
-- Definition notes: written in the portable subset that runs on MySQL/MariaDB and on SQLite (the
--   embedded stand-in): no inline indexes, no ENGINE clauses, composite primary keys as the indexes,
--   dates as DATE (SQLite stores them as ISO text, which compares correctly).
-- Last synced: 2026-12-04.

-- Curated network classification: one row per normalised network key.
CREATE TABLE IF NOT EXISTS network_classification (
    network_key   VARCHAR(64)  NOT NULL PRIMARY KEY,
    display_name  VARCHAR(128) NOT NULL,
    is_tesla      SMALLINT     NOT NULL,
    note          VARCHAR(255)
);

-- Raw AFDC `EV Network` labels (display names and codes) mapped to a network key.
CREATE TABLE IF NOT EXISTS network_aliases (
    alias        VARCHAR(128) NOT NULL PRIMARY KEY,
    network_key  VARCHAR(64)  NOT NULL
);

-- The AFDC spine: one dated snapshot per export; station IDs are stable across exports.
CREATE TABLE IF NOT EXISTS afdc_spine (
    snapshot_date        DATE         NOT NULL,
    station_id           BIGINT       NOT NULL,
    station_name         VARCHAR(255),
    state                VARCHAR(8),
    country              CHAR(2)      NOT NULL,
    status_code          CHAR(1)      NOT NULL,
    access_code          VARCHAR(16)  NOT NULL,
    ev_network           VARCHAR(128),
    network_key          VARCHAR(64),
    dc_fast_ports        INT          NOT NULL,
    level2_ports         INT          NOT NULL,
    open_date            DATE,
    date_last_confirmed  DATE,
    ev_pricing           TEXT,
    PRIMARY KEY (snapshot_date, station_id)
);

-- One row per loaded spine snapshot, written in the same transaction as its rows.
CREATE TABLE IF NOT EXISTS afdc_spine_loads (
    snapshot_date  DATE          NOT NULL PRIMARY KEY,
    source         VARCHAR(255)  NOT NULL,
    row_count      INT           NOT NULL,
    loaded_at      VARCHAR(32)   NOT NULL
);

-- Stations the network data tracks, with validity: tracked on days in [tracked_from, tracked_to).
CREATE TABLE IF NOT EXISTS tracked_stations (
    station_id    BIGINT      NOT NULL,
    tracked_from  DATE        NOT NULL,
    tracked_to    DATE,
    PRIMARY KEY (station_id, tracked_from)
);

-- Ports the network data tracks, with validity; only DC fast ports count in this product.
CREATE TABLE IF NOT EXISTS tracked_ports (
    port_id       BIGINT      NOT NULL,
    station_id    BIGINT      NOT NULL,
    is_dc_fast    SMALLINT    NOT NULL,
    tracked_from  DATE        NOT NULL,
    tracked_to    DATE,
    PRIMARY KEY (port_id, tracked_from)
);

-- Tariffs per station and audience, valid on days in [valid_from, valid_to).
-- A per-minute-only tariff has price_per_kwh NULL and price_per_minute set.
CREATE TABLE IF NOT EXISTS tariffs (
    tariff_id         BIGINT         NOT NULL PRIMARY KEY,
    station_id        BIGINT         NOT NULL,
    audience          VARCHAR(16)    NOT NULL,
    price_per_kwh     DECIMAL(8, 4),
    price_per_minute  DECIMAL(8, 4),
    currency          CHAR(3)        NOT NULL,
    valid_from        DATE           NOT NULL,
    valid_to          DATE
);
