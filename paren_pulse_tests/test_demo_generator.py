"""The demo warehouse generator: determinism, calibration, validity and the network reference.

Calibration is recomputed here independently with plain sqlite3/pandas (not with the project's
curated SQL), so a bug in either side shows up as a disagreement.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from paren_pulse.demo import generator
from paren_pulse.demo.generator import DemoConfig, DemoSummary, build_demo_warehouse, read_networks_csv
from paren_pulse.settings import DemoPaths

TODAY = dt.date(2026, 12, 4)
CONFIG = DemoConfig(scale=0.002, today=TODAY)
LAST_WEEK_START = dt.date(2026, 11, 23)  # the last complete Monday..Sunday week before TODAY
AS_OF = "2026-11-29"  # its Sunday: infrastructure and pricing are "as of the week's end"
# A short build (a handful of weeks) for the tests that build more than once.
SHORT = DemoConfig(scale=0.002, today=dt.date(2025, 1, 25))

AFDC_DIR = Path(
    os.environ.get("AFDC_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "afdc")
)

IN_SCOPE = "status_code = 'E' AND access_code = 'public' AND dc_fast_ports > 0"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoPaths, DemoSummary]:
    paths = DemoPaths(tmp_path_factory.mktemp("demo") / "home")
    return paths, build_demo_warehouse(paths, CONFIG)


@pytest.fixture(scope="module")
def catalog(built: tuple[DemoPaths, DemoSummary]) -> sqlite3.Connection:
    return sqlite3.connect(built[0].catalog_db)


@pytest.fixture(scope="module")
def sessions(built: tuple[DemoPaths, DemoSummary]) -> pd.DataFrame:
    files = sorted(built[0].sessions_dir.glob("batch_*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


@dataclass(frozen=True)
class ShortBuilds:
    """The SHORT config built twice into the same home: digests of the first, then the rebuild."""

    paths: DemoPaths
    first: DemoSummary
    second: DemoSummary
    first_digests: dict[str, str]
    marker_survived: bool


def _digests(paths: DemoPaths) -> dict[str, str]:
    out = {p.name: _file_digest(p) for p in sorted(paths.sessions_dir.iterdir())}
    for table in ("afdc_spine", "afdc_spine_loads", "tracked_stations", "tracked_ports", "tariffs"):
        out[table] = _table_digest(paths.catalog_db, table)
    return out


@pytest.fixture(scope="module")
def short_builds(tmp_path_factory: pytest.TempPathFactory) -> ShortBuilds:
    paths = DemoPaths(tmp_path_factory.mktemp("short") / "home")
    first = build_demo_warehouse(paths, SHORT)
    digests = _digests(paths)
    marker = paths.warehouse / "stale.txt"
    marker.write_text("from an earlier build")
    second = build_demo_warehouse(paths, SHORT)
    return ShortBuilds(paths, first, second, digests, marker.exists())


def _one(conn: sqlite3.Connection, sql: str, *params: object) -> tuple[Any, ...]:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return tuple(row)


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _table_digest(db: Path, table: str) -> str:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
    finally:
        conn.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


# --- Layout --------------------------------------------------------------------------------------


def test_layout_manifest_and_schema(built: tuple[DemoPaths, DemoSummary]) -> None:
    paths, summary = built
    assert paths.catalog_db.is_file() and paths.manifest.is_file()
    # Nothing left behind by the temp-dir-and-rename build.
    assert [p.name for p in paths.warehouse.parent.iterdir()] == [paths.warehouse.name]

    batches = sorted(p.name for p in paths.sessions_dir.iterdir())
    assert batches[0] == "batch_2024-11.parquet" and batches[-1] == "batch_2026-10.parquet"
    assert len(batches) == summary.session_batches == 24

    manifest = json.loads(paths.manifest.read_text())
    assert manifest["config"]["scale"] == CONFIG.scale and manifest["config"]["today"] == "2026-12-04"
    assert manifest["sessions_frontier"]["last_batch_month"] == "2026-10-01"
    assert manifest["sessions_frontier"]["covered_through"] == "2026-10-31"
    assert manifest["counts"]["session_rows"] == summary.session_rows > 0
    assert summary.as_dict()["last_snapshot"] == AS_OF

    schema = pq.read_schema(paths.sessions_dir / batches[-1])
    assert schema.names == [
        "session_id", "started_at", "station_id", "port_id", "network_key", "country",
        "outcome", "energy_kwh", "batch_month", "loaded_at",
    ]  # fmt: skip
    types = {f.name: str(f.type) for f in schema}
    assert types["session_id"] == types["station_id"] == types["port_id"] == "uint64"
    assert types["started_at"] == types["loaded_at"] == "timestamp[ms, tz=UTC]"
    assert types["network_key"] == types["country"] == types["outcome"] == "string"
    assert types["energy_kwh"] == "float" and types["batch_month"] == "date32[day]"


def test_sessions_are_sorted_unique_and_consistent(
    built: tuple[DemoPaths, DemoSummary], sessions: pd.DataFrame
) -> None:
    paths, summary = built
    assert len(sessions) == summary.session_rows
    assert sessions.session_id.is_unique
    assert set(sessions.outcome) == {"success", "failure"} and set(sessions.country) == {"US", "CA"}
    assert (sessions.outcome == "success").sum() == summary.successful_sessions
    for path in paths.sessions_dir.glob("batch_*.parquet"):
        frame = pd.read_parquet(path)
        assert frame.started_at.is_monotonic_increasing, path.name
        month = dt.date.fromisoformat(path.stem.removeprefix("batch_") + "-01")
        assert list(frame.batch_month.unique()) == [month]
        begin = pd.Timestamp(month, tz="UTC")
        end = begin + pd.offsets.MonthBegin(1)
        assert frame.started_at.min() >= begin and frame.started_at.max() < end
        assert list(frame.loaded_at.unique()) == [end + pd.Timedelta(days=CONFIG.batch_lag_days)]
    # Failures mostly carry no energy; successes always do.
    failures = sessions[sessions.outcome == "failure"]
    assert (failures.energy_kwh == 0).mean() > 0.7
    assert (sessions[sessions.outcome == "success"].energy_kwh > 0).all()


# --- Calibration at the last complete week ------------------------------------------------------


def test_infrastructure_calibration(catalog: sqlite3.Connection) -> None:
    spine = pd.read_sql_query(
        f"""
        SELECT s.station_id, s.country, s.dc_fast_ports, c.is_tesla
        FROM afdc_spine s JOIN network_classification c USING (network_key)
        WHERE s.snapshot_date = ? AND {IN_SCOPE}
        """,
        catalog,
        params=(AS_OF,),
    )
    us, ca = spine[spine.country == "US"], spine[spine.country == "CA"]
    assert 12_000 <= len(us) <= 13_500
    assert 58_000 <= us.dc_fast_ports.sum() <= 68_000
    tesla_share = us[us.is_tesla == 1].dc_fast_ports.sum() / us.dc_fast_ports.sum()
    assert 0.45 <= tesla_share <= 0.55
    assert 2_300 <= (us.is_tesla == 1).sum() <= 2_500
    assert 1_800 <= len(ca) <= 2_300

    tracked = pd.read_sql_query(
        """
        SELECT station_id, COUNT(*) AS ports FROM tracked_ports
        WHERE is_dc_fast = 1 AND tracked_from <= :d AND (tracked_to IS NULL OR tracked_to > :d)
        GROUP BY station_id
        """,
        catalog,
        params={"d": AS_OF},
    )
    joined = spine.merge(tracked, on="station_id", how="left").fillna({"ports": 0})
    for (country, tesla), group in joined.groupby(["country", "is_tesla"]):
        coverage = group.ports.sum() / group.dc_fast_ports.sum()
        assert 0.85 <= coverage < 1.0, (country, tesla, coverage)
    # Never more tracked ports than AFDC lists; a few stations expose fewer.
    assert (joined.ports <= joined.dc_fast_ports).all()
    assert ((joined.ports > 0) & (joined.ports < joined.dc_fast_ports)).sum() > 50


def test_first_week_matches_early_2025_magnitudes(catalog: sqlite3.Connection) -> None:
    stations, ports = _one(
        catalog,
        f"SELECT COUNT(*), SUM(dc_fast_ports) FROM afdc_spine "
        f"WHERE snapshot_date = '2024-11-10' AND country = 'US' AND {IN_SCOPE}",
    )
    assert 10_500 <= int(stations) <= 11_500
    assert 50_000 <= int(ports) <= 58_000


def test_out_of_scope_rows_exist(catalog: sqlite3.Connection) -> None:
    rows = dict(
        catalog.execute(
            """
            SELECT CASE WHEN status_code <> 'E' THEN status_code
                        WHEN access_code <> 'public' THEN access_code
                        WHEN dc_fast_ports = 0 THEN 'level2' ELSE 'in_scope' END, COUNT(*)
            FROM afdc_spine WHERE snapshot_date = ? GROUP BY 1
            """,
            (AS_OF,),
        ).fetchall()
    )
    assert rows["in_scope"] > 14_000
    assert rows["P"] > 10 and rows["T"] > 10 and rows["private"] > 100 and rows["level2"] > 500
    (tesla_destination_dc,) = _one(
        catalog, "SELECT MAX(dc_fast_ports) FROM afdc_spine WHERE ev_network = 'Tesla Destination'"
    )
    assert tesla_destination_dc == 0


def test_spine_labels_are_normalised_through_the_curated_table(catalog: sqlite3.Connection) -> None:
    (mismatched,) = _one(
        catalog,
        """
        SELECT COUNT(*) FROM afdc_spine s LEFT JOIN network_aliases a ON a.alias = s.ev_network
        WHERE a.network_key IS NULL OR a.network_key <> s.network_key
        """,
    )
    assert mismatched == 0
    assert catalog.execute(
        "SELECT network_key FROM network_classification WHERE is_tesla = 1"
    ).fetchall() == [("TESLA",)]
    labels = {row[0] for row in catalog.execute("SELECT DISTINCT ev_network FROM afdc_spine")}
    # Both spellings of a network occur, as in real exports.
    assert {"ChargePoint Network", "CHARGEPOINT", "SHELL_RECHARGE", "FLO", "PETROCAN"} <= labels
    assert _one(catalog, "SELECT COUNT(*) FROM pulse_tracked_roster") == (0,)
    weeks = [r[0] for r in catalog.execute("SELECT snapshot_date FROM afdc_spine_loads ORDER BY 1")]
    assert weeks[-1] == AS_OF and all(dt.date.fromisoformat(w).weekday() == 6 for w in weeks)
    (loads_match,) = _one(
        catalog,
        """
        SELECT COUNT(*) FROM afdc_spine_loads l
        WHERE row_count <> (SELECT COUNT(*) FROM afdc_spine s WHERE s.snapshot_date = l.snapshot_date)
        """,
    )
    assert loads_match == 0


def test_pricing_calibration(catalog: sqlite3.Connection) -> None:
    priced = pd.read_sql_query(
        f"""
        SELECT s.country, p.port_id, t.price_per_kwh, t.price_per_minute, t.currency
        FROM afdc_spine s
        JOIN tracked_ports p ON p.station_id = s.station_id AND p.is_dc_fast = 1
             AND p.tracked_from <= :d AND (p.tracked_to IS NULL OR p.tracked_to > :d)
        JOIN tariffs t ON t.station_id = s.station_id AND t.audience = 'non_member'
             AND t.valid_from <= :d AND (t.valid_to IS NULL OR t.valid_to > :d)
        WHERE s.snapshot_date = :d AND {IN_SCOPE}
        """,
        catalog,
        params={"d": AS_OF},
    )
    assert priced.port_id.is_unique  # one non-member tariff per station at a time
    us, ca = priced[priced.country == "US"], priced[priced.country == "CA"]
    assert set(us.currency) == {"USD"} and set(ca.currency) == {"CAD"}
    assert 0.45 <= us.price_per_kwh.mean() <= 0.55
    assert 0.55 <= ca.price_per_kwh.mean() <= 0.75
    minute_only = ca.price_per_kwh.isna() & ca.price_per_minute.notna()
    assert 0.10 <= minute_only.mean() <= 0.40
    assert ca[minute_only].price_per_minute.between(0.15, 0.60).all()

    # The per-minute-only share in Canada declines as stations switch to per-kWh pricing.
    share_then = _minute_only_share(catalog, "2025-01-05")
    share_now = _minute_only_share(catalog, AS_OF)
    assert share_now < share_then and 0.25 <= share_then <= 0.45
    (ids,) = _one(catalog, "SELECT COUNT(*) = COUNT(DISTINCT tariff_id) FROM tariffs")
    assert ids == 1
    (changed,) = _one(catalog, "SELECT COUNT(DISTINCT station_id) FROM tariffs WHERE valid_to IS NOT NULL")
    assert int(changed) > 1_000


def _minute_only_share(conn: sqlite3.Connection, day: str) -> float:
    (share,) = _one(
        conn,
        """
        SELECT AVG(CASE WHEN price_per_kwh IS NULL THEN 1.0 ELSE 0.0 END) FROM tariffs t
        WHERE audience = 'non_member' AND currency = 'CAD' AND valid_from <= ?
          AND (valid_to IS NULL OR valid_to > ?)
        """,
        day,
        day,
    )
    return float(share)


def test_utilization_calibration(sessions: pd.DataFrame, catalog: sqlite3.Connection) -> None:
    tesla = {k for (k,) in catalog.execute("SELECT network_key FROM network_classification WHERE is_tesla")}
    week = sessions[
        (sessions.started_at >= pd.Timestamp("2026-10-19", tz="UTC"))
        & (sessions.started_at < pd.Timestamp("2026-10-26", tz="UTC"))
    ]
    success = week.outcome == "success"
    assert 0.85 <= success.mean() <= 0.92
    is_tesla = week.network_key.isin(tesla)
    assert 0.93 <= success[is_tesla].mean() <= 0.96
    assert 0.83 <= success[~is_tesla].mean() <= 0.88
    us = success[week.country == "US"].sum()
    ca = success[week.country == "CA"].sum()
    # ~2.7 M a week at scale 1 in mid-2025, growing ~25 %/yr: ~1.3x by October 2026.
    assert 0.9 * 2.7e6 * CONFIG.scale <= us <= 1.7 * 2.7e6 * CONFIG.scale
    assert 0.05 <= ca / us <= 0.11


# --- Validity over time ---------------------------------------------------------------------------


def test_every_session_is_on_a_port_tracked_at_its_start(
    sessions: pd.DataFrame, catalog: sqlite3.Connection
) -> None:
    ports = pd.read_sql_query(
        "SELECT port_id, station_id AS port_station, is_dc_fast, tracked_from, tracked_to FROM tracked_ports",
        catalog,
    )
    # Validity is by day: [tracked_from, tracked_to) in dates, compared as timestamps.
    for column in ("tracked_from", "tracked_to"):
        ports[column] = pd.to_datetime(ports[column]).dt.tz_localize("UTC")
    frame = pd.DataFrame(
        {
            "session_id": sessions.session_id,
            "port_id": sessions.port_id.astype("int64"),
            "station_id": sessions.station_id.astype("int64"),
            "day": sessions.started_at.dt.floor("D"),
        }
    )
    merged = frame.merge(ports, on="port_id", how="left")
    valid = (
        (merged.port_station == merged.station_id)
        & (merged.is_dc_fast == 1)
        & (merged.tracked_from <= merged.day)
        & (merged.tracked_to.isna() | (merged.tracked_to > merged.day))
    )
    covered = valid.groupby(merged.session_id).any()
    assert covered.all(), f"{(~covered).sum()} sessions on ports not tracked at their start"

    stations = pd.read_sql_query("SELECT station_id, tracked_from, tracked_to FROM tracked_stations", catalog)
    for column in ("tracked_from", "tracked_to"):
        stations[column] = pd.to_datetime(stations[column]).dt.tz_localize("UTC")
    merged = frame.merge(stations, on="station_id", how="left")
    valid = (merged.tracked_from <= merged.day) & (
        merged.tracked_to.isna() | (merged.tracked_to > merged.day)
    )
    assert valid.groupby(merged.session_id).any().all()


def test_tracking_starts_after_opening_and_sometimes_pauses(catalog: sqlite3.Connection) -> None:
    (early,) = _one(
        catalog,
        """
        SELECT COUNT(*)
        FROM (SELECT station_id, MIN(tracked_from) AS tracked_from FROM tracked_stations GROUP BY 1) t
        JOIN (SELECT station_id, MIN(open_date) AS open_date FROM afdc_spine GROUP BY 1) s USING (station_id)
        WHERE t.tracked_from < s.open_date OR julianday(t.tracked_from) - julianday(s.open_date) > 21
        """,
    )
    assert early == 0
    (gaps,) = _one(
        catalog,
        "SELECT COUNT(*) FROM (SELECT station_id FROM tracked_stations GROUP BY 1 HAVING COUNT(*) > 1)",
    )
    (ended,) = _one(catalog, "SELECT COUNT(*) FROM tracked_stations WHERE tracked_to IS NOT NULL")
    assert int(gaps) > 20 and int(ended) > int(gaps)
    # A station retires: it leaves the spine and its tracking ends.
    (retired,) = _one(
        catalog,
        "SELECT COUNT(*) FROM (SELECT station_id FROM afdc_spine GROUP BY 1 HAVING MAX(snapshot_date) < ?)",
        AS_OF,
    )
    assert int(retired) > 50


def test_newest_weeks_have_no_sessions(built: tuple[DemoPaths, DemoSummary], sessions: pd.DataFrame) -> None:
    _, summary = built
    assert summary.last_batch_month == dt.date(2026, 10, 1)
    assert summary.sessions_covered_through == dt.date(2026, 10, 31)
    coverage_end = pd.Timestamp(summary.sessions_covered_through, tz="UTC") + pd.Timedelta(days=1)
    assert sessions.started_at.max() < coverage_end
    # The batch holding the last weeks has not landed: the next one lands after TODAY.
    assert coverage_end.date() + dt.timedelta(days=CONFIG.batch_lag_days) <= TODAY
    assert dt.date(2026, 12, 1) + dt.timedelta(days=CONFIG.batch_lag_days) > TODAY
    assert (TODAY - dt.timedelta(days=CONFIG.batch_lag_days)) - coverage_end.date() >= dt.timedelta(0)
    last_week = sessions.started_at >= pd.Timestamp(LAST_WEEK_START, tz="UTC")
    assert not last_week.any()
    assert (LAST_WEEK_START - summary.sessions_covered_through).days >= 21
    # ... while infrastructure and pricing are current to that week.
    assert summary.last_snapshot == dt.date.fromisoformat(AS_OF)


def test_history_is_long_enough(built: tuple[DemoPaths, DemoSummary], sessions: pd.DataFrame) -> None:
    _, summary = built
    assert summary.first_snapshot == dt.date(2024, 11, 10) and summary.snapshots == 108
    assert sessions.started_at.min() >= pd.Timestamp(CONFIG.start, tz="UTC")
    months = sessions.batch_month.nunique()
    assert months >= 18 and len(list(built[0].sessions_dir.glob("batch_*.parquet"))) == months


# --- Determinism and rebuilds -------------------------------------------------------------------


def _summary_fields(summary: DemoSummary) -> dict[str, object]:
    return {k: v for k, v in summary.as_dict().items() if k not in ("warehouse", "build_seconds")}


def test_same_seed_same_bytes(short_builds: ShortBuilds) -> None:
    assert _summary_fields(short_builds.first) == _summary_fields(short_builds.second)
    assert short_builds.first_digests == _digests(short_builds.paths)
    assert [k for k in short_builds.first_digests if k.startswith("batch_")] == [
        "batch_2024-11.parquet",
        "batch_2024-12.parquet",
    ]


def test_other_seed_other_data(tmp_path: Path, short_builds: ShortBuilds) -> None:
    # Only November 2024 has landed by 2024-12-30: the cheapest build that has a batch.
    other = DemoPaths(tmp_path / "other")
    build_demo_warehouse(other, DemoConfig(scale=SHORT.scale, seed=7, today=dt.date(2024, 12, 30)))
    mine = short_builds.first_digests
    assert _file_digest(other.sessions_dir / "batch_2024-11.parquet") != mine["batch_2024-11.parquet"]
    query = "SELECT * FROM afdc_spine WHERE snapshot_date = '2024-11-10' ORDER BY station_id"
    with sqlite3.connect(other.catalog_db) as a, sqlite3.connect(short_builds.paths.catalog_db) as b:
        assert a.execute(query).fetchall() != b.execute(query).fetchall()


def test_a_later_rebuild_does_not_restate_the_past(
    short_builds: ShortBuilds, built: tuple[DemoPaths, DemoSummary]
) -> None:
    """Building on a later day appends weeks and batches; landed batches stay byte-identical."""
    early, full = short_builds.paths, built[0]
    for path in sorted(early.sessions_dir.iterdir()):
        assert _file_digest(path) == _file_digest(full.sessions_dir / path.name), path.name
    query = "SELECT * FROM afdc_spine WHERE snapshot_date <= '2025-01-19' ORDER BY snapshot_date, station_id"
    with sqlite3.connect(early.catalog_db) as a, sqlite3.connect(full.catalog_db) as b:
        assert a.execute(query).fetchall() == b.execute(query).fetchall()


def test_rebuild_replaces_and_a_crash_keeps_the_old_warehouse(
    short_builds: ShortBuilds, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = short_builds.paths
    assert not short_builds.marker_survived  # the rebuild started from scratch
    files = sorted(p for p in paths.warehouse.rglob("*") if p.is_file())
    before = {p: _file_digest(p) for p in files}

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(generator, "_write_sessions", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        build_demo_warehouse(paths, SHORT)
    assert {p: _file_digest(p) for p in sorted(paths.warehouse.rglob("*")) if p.is_file()} == before
    assert [p.name for p in paths.home.iterdir()] == ["warehouse"]  # the temp build is gone


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="Monday"):
        DemoConfig(start=dt.date(2024, 11, 5))
    with pytest.raises(ValueError, match="scale"):
        DemoConfig(scale=0)
    with pytest.raises(ValueError, match="seed"):
        DemoConfig(seed=-1)
    with pytest.raises(ValueError, match="no complete week"):
        build_demo_warehouse(DemoPaths(Path("/nonexistent")), DemoConfig(today=dt.date(2024, 11, 6)))


# --- The curated network reference ----------------------------------------------------------------


def test_networks_csv_is_consistent() -> None:
    rows = read_networks_csv()
    # MySQL's default collation is case-insensitive: `Volta` and `VOLTA` would collide.
    folded = [r.alias.casefold() for r in rows]
    assert len(folded) == len(set(folded))
    assert {r.network_key for r in rows if r.is_tesla} == {"TESLA"}
    by_alias = {r.alias: r for r in rows}
    assert by_alias["Tesla"].network_key == "TESLA"
    destination = by_alias["Tesla Destination"]
    assert destination.network_key == "TESLA_DESTINATION" and not destination.is_tesla
    assert "Level 2" in destination.note
    for alias, key in {
        "ChargePoint Network": "CHARGEPOINT", "CHARGEPOINT": "CHARGEPOINT", "eVgo Network": "EVGO",
        "Electrify America": "ELECTRIFY_AMERICA", "SHELL_RECHARGE": "SHELL_RECHARGE",
        "Non-Networked": "NON_NETWORKED", "Blink Network": "BLINK", "FLO": "FLO", "PETROCAN": "PETROCAN",
        "BCHYDRO": "BCHYDRO", "Electrify Canada": "ELECTRIFY_CANADA", "IONNA": "IONNA",
        "Mercedes-Benz": "MERCEDES_BENZ", "Circle K": "CIRCLE_K", "EV Connect": "EV_CONNECT",
    }.items():  # fmt: skip
        assert by_alias[alias].network_key == key, alias


def _afdc_labels() -> set[str]:
    labels: set[str] = set()
    for path in sorted(AFDC_DIR.glob("*.csv.gz")):
        # utf-8-sig: some CSV downloads start with a BOM that would hide the first header.
        with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            column = "EV Network" if "EV Network" in (reader.fieldnames or []) else "ev_network"
            labels.update(row[column] for row in reader)
    return labels


@pytest.mark.skipif(
    not any(AFDC_DIR.glob("*.csv.gz")) and not os.environ.get("CI"),
    reason=f"no AFDC exports in {AFDC_DIR} (set AFDC_DATA_DIR)",
)
def test_networks_csv_covers_every_label_in_the_real_exports() -> None:
    labels = _afdc_labels()
    assert len(labels) > 40
    known = {r.alias for r in read_networks_csv()}
    # A blank label is "no network given", not a label to map (the loader reports it).
    missing = sorted(label for label in labels - known if label.strip())
    assert not missing, f"add these AFDC labels to networks.csv: {missing}"
