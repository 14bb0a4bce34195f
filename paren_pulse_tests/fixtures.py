"""A small hand-built source fixture whose expected numbers are worked out by hand below.

Weeks: W0 = 2025-01-06 (ends Sun 2025-01-12), W1 = 2025-01-13 (ends Sun 2025-01-19).

US spine at W1's end (in scope = E, public, DC > 0):
  Tesla:     #1 (12 ports), #2 (8)                      -> 2 stations, 20 ports
  Non-Tesla: #3 EVGO (4), #4 CHARGEPOINT (2), #8 EVGO (6) -> 3 stations, 12 ports
  out of scope: #5 private, #6 planned, #7 Level 2 only
US tracked at W1's end: #1 (12 ports), #2 (8, from 01-14), #3 (3 of 4 DC + 1 L2 port);
  #8 stopped being tracked on 01-15 -> Tesla 2/20, non-Tesla 1/3; coverage 100 %, 25 %, 71.875 %
CA spine W1: Tesla #11 (10); non-Tesla #12 FLO (2, new in the 01-19 export), #13 PETROCAN (3)
CA tracked W1: all -> coverage 100 %.
Rosters: W0 = {1, 3, 8, 11, 13}; W1 = {1, 2, 3, 11, 12, 13} -> opened: US Tesla 1, CA non-Tesla 1.
Prices (non-member, valid 01-19): #1 0.40 USD, #2 0.50 USD, #3 0.60 USD (an older 0.90 expired
  01-10; a member 0.30 on #1 is ignored), #11 0.55 CAD, #12 per minute only, #13 0.65 CAD.
  US Tesla (12*0.40 + 8*0.50)/20 = 0.44; non-Tesla 0.60; aggregate 10.6/23 = 0.460869...
  CA Tesla 0.55; non-Tesla 0.65 (2 per-minute-only ports); aggregate 7.45/13 = 0.573076...
Sessions W1: US Tesla 5 ok + 1 failed; US non-Tesla 3 ok + 2 failed; CA Tesla 2 ok; CA FLO 1 ok + 1 failed.
Sessions W0: US Tesla 4; US non-Tesla 2 ok + 1 failed; CA Tesla 1.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

from paren_pulse.sql import load_sql, split_statements

W0 = "2025-01-06"
W1 = "2025-01-13"

NETWORKS = [
    ("TESLA", "Tesla Supercharger", 1, None),
    ("TESLA_DESTINATION", "Tesla Destination", 0, "Level 2"),
    ("EVGO", "EVgo", 0, None),
    ("CHARGEPOINT", "ChargePoint", 0, None),
    ("FLO", "FLO", 0, None),
    ("PETROCAN", "Petro-Canada", 0, None),
]
ALIASES = [
    ("Tesla", "TESLA"),
    ("eVgo Network", "EVGO"),
    ("ChargePoint Network", "CHARGEPOINT"),
    ("FLO", "FLO"),
    ("PETROCAN", "PETROCAN"),
]

# (id, country, status, access, network_key, dc_ports, in_first_export)
STATIONS = [
    (1, "US", "E", "public", "TESLA", 12, True),
    (2, "US", "E", "public", "TESLA", 8, True),
    (3, "US", "E", "public", "EVGO", 4, True),
    (4, "US", "E", "public", "CHARGEPOINT", 2, True),
    (5, "US", "E", "private", "EVGO", 4, True),
    (6, "US", "P", "public", "EVGO", 4, True),
    (7, "US", "E", "public", "CHARGEPOINT", 0, True),
    (8, "US", "E", "public", "EVGO", 6, True),
    (11, "CA", "E", "public", "TESLA", 10, True),
    (12, "CA", "E", "public", "FLO", 2, False),
    (13, "CA", "E", "public", "PETROCAN", 3, True),
]
SNAPSHOTS = ["2025-01-12", "2025-01-19"]

# (station_id, tracked_from, tracked_to)
TRACKED_STATIONS = [
    (1, "2024-12-01", None),
    (2, "2025-01-14", None),
    (3, "2024-12-01", None),
    (8, "2024-12-01", "2025-01-15"),
    (11, "2024-12-01", None),
    (12, "2025-01-13", None),
    (13, "2024-12-01", None),
]


def _ports() -> list[tuple[int, int, int, str, str | None]]:
    ports: list[tuple[int, int, int, str, str | None]] = []
    for station, count, start, end in [
        (1, 12, "2024-12-01", None),
        (2, 8, "2025-01-14", None),
        (3, 3, "2024-12-01", None),
        (8, 6, "2024-12-01", "2025-01-15"),
        (11, 10, "2024-12-01", None),
        (12, 2, "2025-01-13", None),
        (13, 3, "2024-12-01", None),
    ]:
        ports += [(station * 100 + i, station, 1, start, end) for i in range(1, count + 1)]
    ports.append((304, 3, 0, "2024-12-01", None))  # a tracked Level 2 port: never counted
    return ports


# (tariff_id, station, audience, per_kwh, per_minute, currency, from, to)
TARIFFS = [
    (1, 1, "non_member", 0.40, None, "USD", "2024-12-01", None),
    (2, 1, "member", 0.30, None, "USD", "2024-12-01", None),
    (3, 2, "non_member", 0.50, None, "USD", "2025-01-14", None),
    (4, 3, "non_member", 0.90, None, "USD", "2024-12-01", "2025-01-10"),
    (5, 3, "non_member", 0.60, None, "USD", "2025-01-10", None),
    (6, 8, "non_member", 0.70, None, "USD", "2024-12-01", None),
    (7, 11, "non_member", 0.55, None, "CAD", "2024-12-01", None),
    (8, 12, "non_member", None, 0.30, "CAD", "2025-01-13", None),
    (9, 13, "non_member", 0.65, None, "CAD", "2024-12-01", None),
]


def catalog_rows() -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every catalog table's columns and rows."""
    spine = []
    for snapshot in SNAPSHOTS:
        for sid, country, status, access, network, dc, first in STATIONS:
            if snapshot == SNAPSHOTS[0] and not first:
                continue
            spine.append(
                (
                    snapshot,
                    sid,
                    f"Station {sid}",
                    "WA" if country == "US" else "BC",
                    country,
                    status,
                    access,
                    network.title(),
                    network,
                    dc,
                    2,
                    "2024-01-01",
                    snapshot,
                    None,
                )
            )
    return {
        "network_classification": (["network_key", "display_name", "is_tesla", "note"], NETWORKS),
        "network_aliases": (["alias", "network_key"], ALIASES),
        "afdc_spine": (
            [
                "snapshot_date",
                "station_id",
                "station_name",
                "state",
                "country",
                "status_code",
                "access_code",
                "ev_network",
                "network_key",
                "dc_fast_ports",
                "level2_ports",
                "open_date",
                "date_last_confirmed",
                "ev_pricing",
            ],
            spine,
        ),
        "afdc_spine_loads": (
            ["snapshot_date", "source", "row_count", "loaded_at"],
            [(s, "fixture", sum(1 for r in spine if r[0] == s), "2025-01-20 00:00:00") for s in SNAPSHOTS],
        ),
        "tracked_stations": (["station_id", "tracked_from", "tracked_to"], TRACKED_STATIONS),
        "tracked_ports": (["port_id", "station_id", "is_dc_fast", "tracked_from", "tracked_to"], _ports()),
        "tariffs": (
            [
                "tariff_id",
                "station_id",
                "audience",
                "price_per_kwh",
                "price_per_minute",
                "currency",
                "valid_from",
                "valid_to",
            ],
            TARIFFS,
        ),
    }


def write_sqlite_catalog(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    for schema in ("mysql/catalog_schema", "mysql/project_schema"):
        for statement in split_statements(load_sql(schema)):
            conn.execute(statement)
    for table, (columns, rows) in catalog_rows().items():
        marks = ", ".join("?" for _ in columns)
        conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    conn.commit()
    conn.close()


def session_frame() -> pd.DataFrame:
    rows: list[tuple[str, int, int, str, str, str]] = []

    def add(when: str, n: int, port: int, network: str, country: str, outcome: str) -> None:
        rows.extend((when, port // 100, port, network, country, outcome) for _ in range(n))

    # W1
    add("2025-01-13 08:00:00", 5, 101, "TESLA", "US", "success")
    add("2025-01-19 23:59:59", 1, 101, "TESLA", "US", "failure")
    add("2025-01-15 12:00:00", 3, 301, "EVGO", "US", "success")
    add("2025-01-16 12:00:00", 2, 301, "EVGO", "US", "failure")
    add("2025-01-14 09:00:00", 2, 1101, "TESLA", "CA", "success")
    add("2025-01-17 09:00:00", 1, 1201, "FLO", "CA", "success")
    add("2025-01-17 10:00:00", 1, 1201, "FLO", "CA", "failure")
    # W0 (one at the very last second of the week)
    add("2025-01-12 23:59:59", 4, 101, "TESLA", "US", "success")
    add("2025-01-07 10:00:00", 2, 301, "EVGO", "US", "success")
    add("2025-01-08 10:00:00", 1, 301, "EVGO", "US", "failure")
    add("2025-01-09 10:00:00", 1, 1101, "TESLA", "CA", "success")
    # The week after W1 starts at midnight: never part of W1.
    add("2025-01-20 00:00:00", 7, 101, "TESLA", "US", "success")
    frame = pd.DataFrame(
        rows, columns=["started_at", "station_id", "port_id", "network_key", "country", "outcome"]
    )
    frame.insert(0, "session_id", range(1, len(frame) + 1))
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    frame["energy_kwh"] = frame["outcome"].map({"success": 30.0, "failure": 0.0}).astype("float32")
    frame["batch_month"] = dt.date(2025, 1, 1)
    frame["loaded_at"] = pd.Timestamp("2025-02-20", tz="UTC")
    for col in ("session_id", "station_id", "port_id"):
        frame[col] = frame[col].astype("uint64")
    return frame[
        [
            "session_id",
            "started_at",
            "station_id",
            "port_id",
            "network_key",
            "country",
            "outcome",
            "energy_kwh",
            "batch_month",
            "loaded_at",
        ]
    ]


def write_sessions(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    session_frame().to_parquet(directory / "batch_2025-01.parquet", index=False)
