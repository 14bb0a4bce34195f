"""AFDC exports into the spine: every real export, checked against counts computed here from the raw
files (plain csv/gzip, no project code) and against the README's independently computed table.

The real exports live outside the repository (AFDC_DATA_DIR, default ../shared/data/afdc) and
are read at test time; nothing from them is copied into the repo.
"""

from __future__ import annotations

import csv
import gzip
import http.server
import io
import json
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from paren_pulse import afdc
from paren_pulse.assets.spine import NrelApiResource, afdc_spine
from paren_pulse.resources.catalog import SQLiteCatalogResource
from paren_pulse.sql import load_sql, split_statements

DATA = Path(os.environ.get("AFDC_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "afdc"))
NETWORKS_CSV = Path(__file__).resolve().parents[1] / "paren_pulse" / "reference" / "networks.csv"
EXPORTS = sorted(DATA.glob("*.csv.gz"))

# Under CI the exports are always beside the clone: a missing folder must fail, not skip.
pytestmark = pytest.mark.skipif(
    not EXPORTS and not os.environ.get("CI"), reason=f"no AFDC exports in {DATA} (set AFDC_DATA_DIR)"
)

# README "Counts" table (Tesla there = label contains "Tesla", i.e. Tesla + Tesla Destination):
# ELEC stations T/NT, DC ports T/NT, L2 ports T/NT, public-open stations, public-open DC ports T/NT.
README_COUNTS: dict[str, tuple[int, ...]] = {
    "us_wa_2023-03-28": (154, 1488, 435, 422, 281, 2941, 1642, 435, 422),
    "us_wa_2024-02-17": (172, 2080, 623, 562, 291, 4312, 2098, 623, 553),
    "us_wa_2024-05-22": (176, 2216, 671, 632, 291, 4579, 2173, 671, 574),
    "us_wa_2025-02-09": (183, 2290, 782, 725, 306, 4837, 2473, 782, 725),
    "us_wa_2025-11-06": (214, 2749, 902, 990, 458, 5967, 2754, 902, 938),
    "ca_bc_2023-03-22": (187, 1592, 484, 627, 356, 3195, 1580, 484, 411),
    "ca_bc_2023-07-25": (191, 1780, 528, 705, 356, 3593, 1773, 528, 491),
}
# README "Snapshot-to-snapshot" table: in both, new, new with Open Date after the earlier snapshot, gone.
README_DIFFS: dict[tuple[str, str], tuple[int, int, int, int]] = {
    ("us_wa_2023-03-28", "us_wa_2024-02-17"): (1481, 771, 462, 161),
    ("us_wa_2024-02-17", "us_wa_2024-05-22"): (2056, 336, 111, 196),
    ("us_wa_2024-05-22", "us_wa_2025-02-09"): (2037, 436, 325, 355),
    ("us_wa_2025-02-09", "us_wa_2025-11-06"): (2234, 729, 444, 239),
    ("ca_bc_2023-03-22", "ca_bc_2023-07-25"): (1721, 250, 206, 58),
}


def stem(path: Path) -> str:
    return path.name.removesuffix(".csv.gz").removesuffix("_api")


# ------------------------------------------------------------------------------------------------
# Independent reading of a raw export (deliberately not using paren_pulse.afdc)


@dataclass
class RawCounts:
    snapshot_date: str = ""
    country: str = ""
    elec: int = 0
    stations_tesla_any: int = 0  # README's Tesla: label contains "Tesla"
    dc_ports_tesla_any: int = 0
    dc_ports_other: int = 0
    l2_ports_tesla_any: int = 0
    l2_ports_other: int = 0
    public_open_stations: int = 0
    # In scope (public, E, DC > 0) with Tesla = the label exactly "Tesla" (the Supercharger network).
    scope_stations: dict[int, int] = field(default_factory=lambda: {0: 0, 1: 0})
    scope_ports: dict[int, int] = field(default_factory=lambda: {0: 0, 1: 0})
    tesla_destination_scope_ports: int = 0
    open_dates: dict[int, str] = field(default_factory=dict)


def raw_counts(path: Path) -> RawCounts:
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    api = "id" in rows[0]

    def get(row: dict[str, str], title: str, snake: str) -> str:
        return row[snake if api else title]

    def num(text: str) -> int:
        return int(float(text)) if text else 0

    out = RawCounts()
    latest = ""
    for row in rows:
        for stamp in (
            get(row, "Updated At", "updated_at"),
            get(row, "Date Last Confirmed", "date_last_confirmed"),
        ):
            latest = max(latest, stamp[:10])
        if get(row, "Fuel Type Code", "fuel_type_code") != "ELEC":
            continue
        out.elec += 1
        out.country = get(row, "Country", "country")
        label = get(row, "EV Network", "ev_network")
        dc = num(get(row, "EV DC Fast Count", "ev_dc_fast_num"))
        l2 = num(get(row, "EV Level2 EVSE Num", "ev_level2_evse_num"))
        tesla_any = "Tesla" in label
        out.stations_tesla_any += tesla_any
        if tesla_any:
            out.dc_ports_tesla_any += dc
            out.l2_ports_tesla_any += l2
        else:
            out.dc_ports_other += dc
            out.l2_ports_other += l2
        date = get(row, "Open Date", "open_date")
        out.open_dates[int(get(row, "ID", "id"))] = date
        if (
            get(row, "Status Code", "status_code") == "E"
            and get(row, "Access Code", "access_code") == "public"
        ):
            out.public_open_stations += 1
            if dc > 0:
                exact = int(label == "Tesla")
                out.scope_stations[exact] += 1
                out.scope_ports[exact] += dc
                if label == "Tesla Destination":
                    out.tesla_destination_scope_ports += dc
    out.snapshot_date = latest
    return out


# ------------------------------------------------------------------------------------------------
# Catalog helpers


def network_tables() -> tuple[list[tuple[Any, ...]], list[tuple[str, str]]]:
    """Classification and aliases from the curated networks.csv (a small list if it is absent)."""
    if not NETWORKS_CSV.exists():
        classification: list[tuple[Any, ...]] = [
            ("TESLA", "Tesla", 1, None),
            ("TESLA_DESTINATION", "Tesla D", 0, None),
        ]
        return classification, [("Tesla", "TESLA"), ("Tesla Destination", "TESLA_DESTINATION")]
    with NETWORKS_CSV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    keys: dict[str, tuple[Any, ...]] = {}
    for r in rows:
        keys.setdefault(
            r["network_key"], (r["network_key"], r["display_name"], int(r["is_tesla"]), r["note"] or None)
        )
    return list(keys.values()), [(r["alias"], r["network_key"]) for r in rows]


def make_catalog(path: Path, *, with_aliases: bool = True) -> SQLiteCatalogResource:
    conn = sqlite3.connect(path)
    for statement in split_statements(load_sql("mysql/catalog_schema")):
        conn.execute(statement)
    if with_aliases:
        classification, aliases = network_tables()
        conn.executemany("INSERT INTO network_classification VALUES (?, ?, ?, ?)", classification)
        conn.executemany("INSERT INTO network_aliases VALUES (?, ?)", aliases)
    conn.commit()
    conn.close()
    return SQLiteCatalogResource(path=str(path))


def sql(catalog: SQLiteCatalogResource, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(catalog.path) as conn:
        return conn.execute(query, params).fetchall()


def snapshot_rows(catalog: SQLiteCatalogResource, day: str) -> list[tuple[Any, ...]]:
    return sql(catalog, "SELECT * FROM afdc_spine WHERE snapshot_date = ? ORDER BY station_id", day)


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[SQLiteCatalogResource, dict[str, afdc.ParsedExport]]:
    """Every real export loaded into one catalog."""
    catalog = make_catalog(tmp_path_factory.mktemp("spine") / "catalog.sqlite")
    aliases = afdc.read_aliases(catalog)
    parsed = {}
    for path in EXPORTS:
        parsed[stem(path)] = export = afdc.parse_export(path, source_name=path.name, aliases=aliases)
        afdc.load_snapshot(catalog, export)
    return catalog, parsed


# ------------------------------------------------------------------------------------------------
# Real exports


@pytest.mark.parametrize("path", EXPORTS, ids=stem)
def test_export_counts_match_raw_file_and_readme(
    path: Path, loaded: tuple[SQLiteCatalogResource, dict[str, afdc.ParsedExport]]
) -> None:
    catalog, parsed = loaded
    raw = raw_counts(path)
    export = parsed[stem(path)]
    day = export.snapshot_date.isoformat()

    # The snapshot date is the latest Updated At / Date Last Confirmed, which the file names carry.
    assert day == raw.snapshot_date == stem(path)[-10:]
    assert sql(catalog, "SELECT row_count FROM afdc_spine_loads WHERE snapshot_date = ?", day) == [
        (raw.elec,)
    ]
    assert len(snapshot_rows(catalog, day)) == raw.elec

    # In scope, exactly as the weekly infrastructure asset reads it.
    spine = {r["is_tesla"]: r for r in catalog.query("mysql/infrastructure_spine", {"snapshot_date": day})}
    assert {r["country"] for r in spine.values()} == {raw.country}
    for is_tesla in (0, 1):
        assert spine[is_tesla]["spine_stations"] == raw.scope_stations[is_tesla]
        assert spine[is_tesla]["spine_ports"] == raw.scope_ports[is_tesla]
        assert spine[is_tesla]["unclassified_stations"] == 0

    # README cross-check. Its "Tesla" adds Tesla Destination; those are Level 2 with 0 DC ports.
    t_st, nt_st, t_dc, nt_dc, t_l2, nt_l2, po_st, po_t_dc, po_nt_dc = README_COUNTS[stem(path)]
    assert raw.tesla_destination_scope_ports == 0
    assert (raw.stations_tesla_any, raw.elec - raw.stations_tesla_any) == (t_st, nt_st)
    assert (raw.dc_ports_tesla_any, raw.dc_ports_other) == (t_dc, nt_dc)
    assert (raw.l2_ports_tesla_any, raw.l2_ports_other) == (t_l2, nt_l2)
    assert raw.public_open_stations == po_st
    assert (raw.scope_ports[1], raw.scope_ports[0]) == (po_t_dc, po_nt_dc)

    # The same README numbers straight from the stored spine rows.
    (stored,) = sql(
        catalog,
        """SELECT SUM(ev_network LIKE '%Tesla%'), SUM(ev_network IS NULL OR ev_network NOT LIKE '%Tesla%'),
                  SUM(CASE WHEN ev_network LIKE '%Tesla%' THEN dc_fast_ports ELSE 0 END),
                  SUM(CASE WHEN ev_network LIKE '%Tesla%' THEN 0 ELSE dc_fast_ports END),
                  SUM(CASE WHEN ev_network LIKE '%Tesla%' THEN level2_ports ELSE 0 END),
                  SUM(CASE WHEN ev_network LIKE '%Tesla%' THEN 0 ELSE level2_ports END),
                  SUM(status_code = 'E' AND access_code = 'public')
           FROM afdc_spine WHERE snapshot_date = ?""",
        day,
    )
    assert stored == (t_st, nt_st, t_dc, nt_dc, t_l2, nt_l2, po_st)


def test_skipped_fuels_and_unknown_labels_are_reported(
    loaded: tuple[SQLiteCatalogResource, dict[str, afdc.ParsedExport]],
) -> None:
    _, parsed = loaded
    wa23 = parsed["us_wa_2023-03-28"]
    assert wa23.data_rows == 1704 and len(wa23.rows) == 1642
    assert wa23.skipped_fuel_rows == {"BD": 2, "CNG": 4, "E85": 3, "LNG": 1, "LPG": 52}
    assert parsed["us_wa_2025-02-09"].skipped_rows == 2558 - 2473
    if NETWORKS_CSV.exists():
        # One planned station in the 2025-11-06 file has no network label at all: reported as blank.
        assert {k: p.unknown_networks for k, p in parsed.items() if p.unknown_networks} == {
            "us_wa_2025-11-06": {"": 1}
        }
    assert parsed["ca_bc_2023-03-22"].export_format == "api"
    assert parsed["us_wa_2024-02-17"].export_format == "csv"


@pytest.mark.parametrize(("before", "after"), list(README_DIFFS), ids=lambda s: s)
def test_snapshot_to_snapshot_ids(
    before: str, after: str, loaded: tuple[SQLiteCatalogResource, dict[str, afdc.ParsedExport]]
) -> None:
    catalog, parsed = loaded
    d0, d1 = parsed[before].snapshot_date.isoformat(), parsed[after].snapshot_date.isoformat()
    ((both, new, new_opened, gone),) = sql(
        catalog,
        """SELECT
             (SELECT COUNT(*) FROM afdc_spine b WHERE b.snapshot_date = ?2 AND EXISTS
                (SELECT 1 FROM afdc_spine a WHERE a.snapshot_date = ?1 AND a.station_id = b.station_id)),
             (SELECT COUNT(*) FROM afdc_spine b WHERE b.snapshot_date = ?2 AND NOT EXISTS
                (SELECT 1 FROM afdc_spine a WHERE a.snapshot_date = ?1 AND a.station_id = b.station_id)),
             (SELECT COUNT(*) FROM afdc_spine b WHERE b.snapshot_date = ?2 AND b.open_date > ?1 AND NOT EXISTS
                (SELECT 1 FROM afdc_spine a WHERE a.snapshot_date = ?1 AND a.station_id = b.station_id)),
             (SELECT COUNT(*) FROM afdc_spine a WHERE a.snapshot_date = ?1 AND NOT EXISTS
                (SELECT 1 FROM afdc_spine b WHERE b.snapshot_date = ?2 AND b.station_id = a.station_id))""",
        d0,
        d1,
    )
    raw0 = raw_counts(next(p for p in EXPORTS if stem(p) == before)).open_dates
    raw1 = raw_counts(next(p for p in EXPORTS if stem(p) == after)).open_dates
    new_ids = raw1.keys() - raw0.keys()
    expected = (
        len(raw1.keys() & raw0.keys()),
        len(new_ids),
        sum(1 for i in new_ids if raw1[i] and raw1[i] > d0),
        len(raw0.keys() - raw1.keys()),
    )
    assert (both, new, new_opened, gone) == expected == README_DIFFS[(before, after)]


# ------------------------------------------------------------------------------------------------
# Small hand-made files built from real rows


def real_rows(name: str = "us_wa_2025-11-06", n: int = 4) -> tuple[list[str], list[dict[str, str]]]:
    """Header and the first n rows with at least one DC port, from a real export."""
    path = next(p for p in EXPORTS if stem(p) == name)
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        dc = "ev_dc_fast_num" if "id" in (reader.fieldnames or []) else "EV DC Fast Count"
        rows = [r for r in reader if r[dc]][:n]
    return list(rows[0]), rows


def csv_text(header: list[str], rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write(tmp_path: Path, name: str, text: str, *, gz: bool = False, bom: bool = False) -> Path:
    data = ("\ufeff" if bom else "").encode() + text.encode("utf-8")
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def load_file(catalog: SQLiteCatalogResource, path: Path, day: str | None = None) -> afdc.LoadSummary:
    parsed = afdc.parse_export(
        path, source_name=path.name, aliases=afdc.read_aliases(catalog), snapshot_date=day
    )
    return afdc.load_snapshot(catalog, parsed)


def test_formats_gzip_bom_and_us_dates(tmp_path: Path) -> None:
    header, rows = real_rows()
    plain = afdc.parse_export(write(tmp_path, "a.csv", csv_text(header, rows)), source_name="a.csv")
    zipped = afdc.parse_export(
        write(tmp_path, "b.csv.gz", csv_text(header, rows), gz=True, bom=True), source_name="b"
    )
    from_bytes = afdc.parse_export(csv_text(header, rows).encode("utf-8-sig"), source_name="bytes")
    assert plain.rows == zipped.rows == from_bytes.rows and len(plain.rows) == 4
    # M/D/YYYY (seen in some downloads) and a quoted newline in a field.
    us = [dict(r) for r in rows]
    us[0]["Open Date"] = "3/7/2021"
    us[1]["Date Last Confirmed"] = "11/6/2025"
    us[2]["EV Pricing"] = "DC fast: $0.35 per kWh\n$2 minimum"
    parsed = afdc.parse_export(write(tmp_path, "c.csv", csv_text(header, us)), source_name="c.csv")
    assert str(parsed.rows[0].open_date) == "2021-03-07"
    assert str(parsed.rows[1].date_last_confirmed) == "2025-11-06"
    assert parsed.rows[2].ev_pricing == "DC fast: $0.35 per kWh\n$2 minimum"


def test_missing_country_needs_a_default(tmp_path: Path) -> None:
    header, rows = real_rows()
    header = [h for h in header if h != "Country"]
    text = csv_text(header, [{k: v for k, v in r.items() if k != "Country"} for r in rows])
    with pytest.raises(afdc.ExportError, match=r"`Country` is missing; pass default_country"):
        afdc.parse_export(text.encode(), source_name="nocountry.csv")
    parsed = afdc.parse_export(text.encode(), source_name="nocountry.csv", default_country="US")
    assert {r.country for r in parsed.rows} == {"US"}


def _bad_files(tmp_path: Path) -> list[tuple[Path, str]]:
    header, rows = real_rows()
    cases: list[tuple[Path, str]] = []

    def case(name: str, text: str, pattern: str) -> None:
        cases.append((write(tmp_path, name, text), pattern))

    case(
        "missing_column.csv",
        csv_text(
            [h for h in header if h != "EV DC Fast Count"],
            [{k: v for k, v in r.items() if k != "EV DC Fast Count"} for r in rows],
        ),
        r"missing_column\.csv: required column\(s\) `EV DC Fast Count` missing",
    )
    bad = [dict(r) for r in rows]
    bad[1]["Open Date"] = "2025-13-45"
    case(
        "bad_date.csv",
        csv_text(header, bad),
        r"bad_date\.csv: data row 2 \(line 3\), column `Open Date`: '2025-13-45'",
    )
    bad = [dict(r) for r in rows]
    bad[2]["EV DC Fast Count"] = "-2"
    case(
        "negative.csv",
        csv_text(header, bad),
        r"negative\.csv: data row 3 \(line 4\), column `EV DC Fast Count`: '-2'",
    )
    bad = [dict(r) for r in rows]
    bad[0]["EV Level2 EVSE Num"] = "two"
    case(
        "text_count.csv", csv_text(header, bad), r"data row 1 \(line 2\), column `EV Level2 EVSE Num`: 'two'"
    )
    bad = [dict(r) for r in rows]
    bad[3]["ID"] = "12a"
    case(
        "bad_id.csv",
        csv_text(header, bad),
        r"data row 4 \(line 5\), column `ID`: '12a' is not a whole number",
    )
    bad = [dict(r) for r in rows]
    bad[3]["ID"] = bad[1]["ID"]
    case(
        "dup_id.csv",
        csv_text(header, bad),
        r"data row 4 \(line 5\), column `ID`: .*first at data row 2 \(line 3\)",
    )
    # A download cut off inside a quoted multi-line field: the last record never closes its quote.
    bad = [dict(r) for r in rows]
    bad[3]["EV Pricing"] = "DC fast: $0.35 per kWh\n$2 minimum"
    text = csv_text(header, bad)
    case(
        "truncated.csv",
        text[: text.index("$2 minimum") + 3],
        r"truncated\.csv: data row 4 \(from line 5\) is not valid CSV",
    )
    return cases


def test_malformed_files_fail_loudly_and_write_nothing(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path / "catalog.sqlite")
    header, rows = real_rows()
    load_file(catalog, write(tmp_path, "good.csv", csv_text(header, rows)), "2025-01-01")
    before = snapshot_rows(catalog, "2025-01-01")
    assert len(before) == 4
    for path, pattern in _bad_files(tmp_path):
        with pytest.raises(afdc.ExportError, match=pattern) as info:
            load_file(catalog, path, "2025-02-01")
        assert path.name in str(info.value)
        assert snapshot_rows(catalog, "2025-02-01") == []
        assert snapshot_rows(catalog, "2025-01-01") == before
    assert sql(catalog, "SELECT snapshot_date FROM afdc_spine_loads") == [("2025-01-01",)]


def test_api_float_counts_must_be_whole(tmp_path: Path) -> None:
    header, rows = real_rows("ca_bc_2023-07-25")
    rows[1]["ev_dc_fast_num"] = "2.5"
    with pytest.raises(afdc.ExportError, match=r"data row 2 \(line 3\), column `ev_dc_fast_num`: '2.5'"):
        afdc.parse_export(csv_text(header, rows).encode(), source_name="bc.csv")
    rows[1]["ev_dc_fast_num"] = "2.0"
    assert afdc.parse_export(csv_text(header, rows).encode(), source_name="bc.csv").rows[1].dc_fast_ports == 2


def test_failure_inside_the_load_rolls_back_everything(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path / "catalog.sqlite")
    header, rows = real_rows()
    load_file(catalog, write(tmp_path, "good.csv", csv_text(header, rows)), "2025-01-01")
    before = snapshot_rows(catalog, "2025-01-01")
    loads_before = sql(catalog, "SELECT * FROM afdc_spine_loads")
    # A re-load of the same date whose last row violates NOT NULL: the delete and the first three
    # inserts already ran inside the transaction when it fails.
    parsed = afdc.parse_export(
        write(tmp_path, "again.csv", csv_text(header, rows)), source_name="again", snapshot_date="2025-01-01"
    )
    broken = replace(parsed, rows=[*parsed.rows[:3], replace(parsed.rows[3], status_code=None)])  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        afdc.load_snapshot(catalog, broken)
    assert snapshot_rows(catalog, "2025-01-01") == before
    assert sql(catalog, "SELECT * FROM afdc_spine_loads") == loads_before


def test_reload_replaces_the_snapshot(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path / "catalog.sqlite")
    header, rows = real_rows(n=5)
    first = load_file(catalog, write(tmp_path, "five.csv", csv_text(header, rows)), "2025-03-01")
    assert (first.rows_inserted, first.rows_replaced) == (5, 0)
    again = load_file(catalog, write(tmp_path, "two.csv", csv_text(header, rows[:2])), "2025-03-01")
    assert (again.rows_inserted, again.rows_replaced) == (2, 5)
    assert [r[1] for r in snapshot_rows(catalog, "2025-03-01")] == sorted(int(r["ID"]) for r in rows[:2])
    assert sql(catalog, "SELECT source, row_count FROM afdc_spine_loads") == [("two.csv", 2)]


def test_unknown_network_is_reported_and_left_unclassified(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path / "catalog.sqlite")
    header, rows = real_rows()
    for r in rows:
        r.update({"Status Code": "e", "Access Code": "Public"})  # case is normalised on load
    rows[0]["EV Network"] = "BRAND_NEW_NETWORK"
    rows[1]["EV Network"] = "Tesla"
    parsed = afdc.parse_export(
        csv_text(header, rows).encode(), source_name="new.csv", aliases=afdc.read_aliases(catalog)
    )
    assert parsed.unknown_networks == {"BRAND_NEW_NETWORK": 1}
    assert parsed.rows[0].ev_network == "BRAND_NEW_NETWORK" and parsed.rows[0].network_key is None
    summary = afdc.load_snapshot(catalog, parsed)
    by_tesla = {r["is_tesla"]: r for r in summary.in_scope}
    assert by_tesla[1]["spine_stations"] == 1 and by_tesla[1]["unclassified_stations"] == 0
    assert by_tesla[0]["spine_stations"] == 3 and by_tesla[0]["unclassified_stations"] == 1


# ------------------------------------------------------------------------------------------------
# NREL API over a loopback server


def api_records(path: Path) -> list[dict[str, Any]]:
    """The API's JSON records rebuilt from an API-format CSV (numbers and nulls as the API sends)."""
    numeric = {"id", "ev_dc_fast_num", "ev_level1_evse_num", "ev_level2_evse_num", "latitude", "longitude"}
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    records = []
    for row in rows:
        record: dict[str, Any] = {}
        for key, value in row.items():
            if "." in key:
                continue
            if value == "":
                record[key] = None
            elif key == "id":
                record[key] = int(value)
            elif key in numeric:
                record[key] = int(float(value)) if key.startswith("ev_") else float(value)
            else:
                record[key] = value
        records.append(record)
    return records


@dataclass
class FakeNrel:
    base_url: str
    requests: list[dict[str, str]]
    status: dict[str, int]


@pytest.fixture
def fake_nrel() -> Iterator[FakeNrel]:
    bc = next(p for p in EXPORTS if p.name.startswith("ca_bc_2023-07-25"))
    records = api_records(bc)
    requests: list[dict[str, str]] = []
    status: dict[str, int] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            requests.append(query)
            code = status.get(query.get("country", ""), 200)
            if code != 200:
                # Worst case: an error page that echoes the key back.
                body = json.dumps({"error": {"message": f"key {query.get('api_key')} rejected"}}).encode()
            else:
                stations = records if query.get("country") == "CA" else []
                body = json.dumps({"total_results": len(stations), "fuel_stations": stations}).encode()
            gz = "gzip" in self.headers.get("Accept-Encoding", "") and code == 200
            if gz:
                body = gzip.compress(body)
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            if gz:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request line holds the key; keep it out of test output

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FakeNrel(
            f"http://127.0.0.1:{server.server_address[1]}/api/alt-fuel-stations/v1.json", requests, status
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


SECRET = "s3cr3t-KEY-123"


@pytest.mark.integration
def test_fetch_from_nrel_matches_the_file(fake_nrel: FakeNrel) -> None:
    aliases = dict(network_tables()[1])
    fetched = afdc.fetch_from_nrel(SECRET, base_url=fake_nrel.base_url, aliases=aliases, timeout=10)
    bc = next(p for p in EXPORTS if p.name.startswith("ca_bc_2023-07-25"))
    from_file = afdc.parse_export(bc, source_name=bc.name, aliases=aliases)
    assert fetched.rows == from_file.rows and len(fetched.rows) == 1971
    assert fetched.snapshot_date == from_file.snapshot_date
    assert fetched.export_format == "api" and SECRET not in fetched.source_name
    assert [r["country"] for r in fake_nrel.requests] == ["US", "CA"]
    for query in fake_nrel.requests:
        assert query == {
            **query,
            "fuel_type": "ELEC",
            "status": "all",
            "access": "all",
            "limit": "all",
            "api_key": SECRET,
        }


@pytest.mark.integration
def test_fetch_from_nrel_errors_never_show_the_key(fake_nrel: FakeNrel) -> None:
    fake_nrel.status["US"] = 403
    with pytest.raises(afdc.ExportError) as info:
        afdc.fetch_from_nrel(SECRET, base_url=fake_nrel.base_url, timeout=10)
    message = str(info.value)
    assert "HTTP 403" in message and "check NREL_API_KEY" in message and "api_key=***" in message
    assert SECRET not in message and info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(afdc.ExportError) as info:
        afdc.fetch_from_nrel(SECRET, base_url="http://127.0.0.1:9/nothing", timeout=2)
    assert SECRET not in str(info.value) and "request failed" in str(info.value)


# ------------------------------------------------------------------------------------------------
# The Dagster asset


def _events_text(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(str(e) for e in result.all_events)


def test_afdc_spine_asset_from_file_and_api(
    tmp_path: Path, fake_nrel: FakeNrel, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = make_catalog(tmp_path / "catalog.sqlite")
    bc = next(p for p in EXPORTS if p.name.startswith("ca_bc_2023-03-22"))
    # The key comes from the environment at run time, as in production (NREL_API_KEY by default).
    monkeypatch.setenv("PAREN_PULSE_TEST_NREL_KEY", SECRET)
    nrel = NrelApiResource(api_key_env_var="PAREN_PULSE_TEST_NREL_KEY", base_url=fake_nrel.base_url)
    resources = {"catalog": catalog, "nrel": nrel}
    result = dg.materialize(
        [afdc_spine], run_config={"ops": {"afdc_spine": {"config": {"path": str(bc)}}}}, resources=resources
    )
    assert result.success
    (mat,) = result.asset_materializations_for_node("afdc_spine")
    meta = {k: v.value for k, v in mat.metadata.items()}
    raw = raw_counts(bc)
    assert meta["snapshot_date"] == "2023-03-22" and meta["rows"] == raw.elec == 1779
    assert (meta["ca_tesla_stations"], meta["ca_tesla_ports"]) == (raw.scope_stations[1], raw.scope_ports[1])
    assert (meta["ca_non_tesla_stations"], meta["ca_non_tesla_ports"]) == (
        raw.scope_stations[0],
        raw.scope_ports[0],
    )
    assert meta["ca_tesla_ports"] == 484 and meta["ca_non_tesla_ports"] == 411
    assert (
        meta["us_tesla_stations"] == 0 and meta["skipped_rows"] == 0 and meta["unknown_network_stations"] == 0
    )

    api = dg.materialize(
        [afdc_spine], run_config={"ops": {"afdc_spine": {"config": {"from_api": True}}}}, resources=resources
    )
    assert api.success
    (mat,) = api.asset_materializations_for_node("afdc_spine")
    assert mat.metadata["snapshot_date"].value == "2023-07-25" and mat.metadata["rows"].value == 1971
    assert SECRET not in _events_text(api)
    assert sql(catalog, "SELECT snapshot_date, row_count FROM afdc_spine_loads ORDER BY 1") == [
        ("2023-03-22", 1779),
        ("2023-07-25", 1971),
    ]

    # A failing API call fails the run with a message that names the problem, never the key.
    fake_nrel.status["US"] = 403
    failed = dg.materialize(
        [afdc_spine],
        run_config={"ops": {"afdc_spine": {"config": {"from_api": True, "snapshot_date": "2024-01-01"}}}},
        resources=resources,
        raise_on_error=False,
    )
    assert not failed.success and "HTTP 403" in _events_text(failed) and SECRET not in _events_text(failed)
    assert sql(catalog, "SELECT COUNT(*) FROM afdc_spine WHERE snapshot_date = '2024-01-01'") == [(0,)]


def test_afdc_spine_asset_reports_bad_file_and_needs_aliases(tmp_path: Path) -> None:
    header, rows = real_rows()
    rows[1]["Open Date"] = "yesterday"
    bad = write(tmp_path, "bad.csv", csv_text(header, rows))
    catalog = make_catalog(tmp_path / "catalog.sqlite")
    run_config = {"ops": {"afdc_spine": {"config": {"path": str(bad)}}}}
    resources = {"catalog": catalog, "nrel": NrelApiResource()}
    failed = dg.materialize([afdc_spine], run_config=run_config, resources=resources, raise_on_error=False)
    assert not failed.success
    assert "data row 2 (line 3), column `Open Date`: 'yesterday'" in _events_text(failed)
    empty = make_catalog(tmp_path / "empty.sqlite", with_aliases=False)
    failed = dg.materialize(
        [afdc_spine], run_config=run_config, resources={**resources, "catalog": empty}, raise_on_error=False
    )
    assert not failed.success and "network_aliases table is empty" in _events_text(failed)
    # from_api without a key set: a clear failure, and file loads above never needed one.
    no_key = NrelApiResource(api_key_env_var="PAREN_PULSE_TEST_UNSET_KEY")
    failed = dg.materialize(
        [afdc_spine],
        run_config={"ops": {"afdc_spine": {"config": {"from_api": True}}}},
        resources={**resources, "nrel": no_key},
        raise_on_error=False,
    )
    assert not failed.success and "needs an NREL API key in $PAREN_PULSE_TEST_UNSET_KEY" in _events_text(
        failed
    )
