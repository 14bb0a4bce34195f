"""Deterministic builder of the demo warehouse: the embedded stand-ins for MySQL and ClickHouse.

The demo needs data that behaves like production where the product's logic is exercised: AFDC
snapshots with out-of-scope rows (private, planned, temporarily unavailable, Level-2-only), raw
network labels that need the curated mapping, tracked stations and ports with less than full
coverage and changing validity, tariffs in two currencies with per-minute-only Canadian stations,
and session batches that land weeks after their month ends. Magnitudes follow the public figures
in the domain brief (Paren's quarterly reports, AFDC counts).

Everything is drawn from seeded numpy Generators, one named stream per table, and sessions from one
stream per batch month. The station population is drawn over a fixed horizon, so building again on
a later `today` appends weeks and batches without restating the past: only facts unknown before
`today` (later snapshots, batches, tracking ends, price changes) are cut away.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from paren_pulse.partitions import latest_complete_week
from paren_pulse.settings import DemoPaths
from paren_pulse.sql import load_sql, split_statements

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# --- Calibration constants (see docs: domain brief, "Magnitudes") -------------------------------

# Paren: ~141 M US fast-charging sessions in 2025, i.e. ~2.7 M successful sessions a week at
# scale 1.0, anchored mid-2025 and growing ~25 % a year.
US_WEEKLY_SUCCESSES: Final = 2.7e6
GROWTH_PER_YEAR: Final = 0.25
GROWTH_ANCHOR: Final = dt.date(2025, 7, 2)
CA_SHARE_OF_US: Final = 0.08
# Summer road trips: a mild annual wave around the weekly volume, peaking in mid-July.
SEASONAL_AMPLITUDE: Final = 0.06
SEASONAL_PEAK_DOY: Final = 196
# Monday..Sunday relative volume (normalised to mean 1 where used).
DAY_OF_WEEK: Final = (0.95, 0.93, 0.95, 0.98, 1.07, 1.10, 1.02)
# Session starts by local hour; shifted to UTC per country (US ~UTC-6, CA ~UTC-5 on average).
LOCAL_HOURS: Final = (
    0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 2.0, 2.8, 3.5, 4.2, 4.8,
    5.2, 5.4, 5.5, 5.6, 5.8, 5.9, 5.6, 5.0, 4.2, 3.2, 2.0, 1.0,
)  # fmt: skip
UTC_SHIFT_HOURS: Final = {"US": 6, "CA": 5}

# The population is drawn over this many days from `start`, independent of `today` while today
# falls inside it, so that a rebuild on a later day does not restate earlier weeks.
HORIZON_DAYS: Final = 6 * 365
NEVER: Final = 10**7  # a day index that no horizon reaches: "not retired", "still tracked"

# Tariff history starts when the pricing feed began for old stations: no older rows are useful.
TARIFF_HISTORY_DAYS: Final = 365
ROW_GROUP_SIZE: Final = 1_000_000

COUNTRIES: Final = ("US", "CA")
US_STATES: Final = (
    ("CA", 27), ("TX", 8), ("FL", 7), ("NY", 5), ("GA", 3.5), ("WA", 3.5), ("IL", 3), ("PA", 3),
    ("NC", 3), ("VA", 3), ("OH", 2.5), ("AZ", 2.5), ("CO", 2.5), ("MA", 2.5), ("NJ", 2.5), ("MI", 2),
    ("MD", 2), ("OR", 2), ("TN", 1.5), ("MN", 1.2), ("NV", 1.2), ("UT", 1.2), ("SC", 1.2),
    ("IN", 1.2), ("MO", 1.2), ("WI", 1.0), ("CT", 1.0), ("AL", 0.8), ("KY", 0.8), ("OK", 0.8),
    ("LA", 0.6), ("NM", 0.6), ("KS", 0.6), ("IA", 0.6), ("NH", 0.5), ("ID", 0.5), ("AR", 0.5),
    ("NE", 0.4), ("ME", 0.4), ("MT", 0.4), ("HI", 0.4), ("MS", 0.3), ("VT", 0.3), ("WY", 0.3),
    ("DE", 0.3), ("RI", 0.3), ("WV", 0.3), ("DC", 0.3), ("SD", 0.2), ("ND", 0.2), ("AK", 0.2),
)  # fmt: skip
CA_PROVINCES: Final = (
    ("ON", 31), ("QC", 30), ("BC", 21), ("AB", 8), ("MB", 2.5), ("SK", 2), ("NS", 2), ("NB", 2),
    ("NL", 0.6), ("PE", 0.5), ("YT", 0.2), ("NT", 0.2),
)  # fmt: skip
# Regional networks only exist in their home province.
HOME_PROVINCE: Final = {
    "CIRCUIT_ELECTRIQUE": "QC",
    "COUCHE_TARD": "QC",
    "BCHYDRO": "BC",
    "IVY": "ON",
}
SITE_HOSTS: Final = (
    "Walmart", "Target", "Kroger", "Safeway", "Sheetz", "Wawa", "Pilot", "Love's", "Meijer",
    "Town Center", "Plaza", "Marketplace", "Crossing", "Travel Center", "Hotel", "Library",
    "City Hall", "Outlets", "Commons", "Park & Ride",
)  # fmt: skip

# Network mixes: (network_key, weight, mean DC ports per station before the newer, larger sites).
US_DC_MIX: Final = (
    ("CHARGEPOINT", 0.20, 2.3), ("EVGO", 0.10, 3.5), ("ELECTRIFY_AMERICA", 0.08, 4.8),
    ("NON_NETWORKED", 0.06, 1.8), ("BLINK", 0.05, 1.8), ("SHELL_RECHARGE", 0.05, 2.7),
    ("EV_CONNECT", 0.05, 2.7), ("RED_E", 0.04, 4.2), ("FCN", 0.03, 2.8),
    ("RIVIAN_ADVENTURE", 0.03, 5.0), ("CIRCLE_K", 0.025, 3.2), ("BP_PULSE", 0.02, 3.8),
    ("CHARGESMART_EV", 0.02, 2.0), ("FLO", 0.02, 2.0), ("FORD_CHARGE", 0.015, 2.3),
    ("IONNA", 0.01, 6.0), ("MERCEDES_BENZ", 0.01, 5.0), ("EVCS", 0.01, 2.0), ("7CHARGE", 0.01, 3.5),
    ("ELECTRIC_ERA", 0.008, 4.0), ("OPCONNECT", 0.008, 1.6), ("SEMACHARGE", 0.006, 1.4),
    ("AMPUP", 0.006, 1.5), ("LOOP", 0.006, 2.0), ("EVGATEWAY", 0.005, 1.8), ("NOODOE", 0.005, 2.0),
    ("POWERFLEX", 0.004, 1.5), ("ABM", 0.004, 1.5), ("UNIVERSAL", 0.004, 2.0), ("FPLEV", 0.004, 2.5),
    ("EVRANGE", 0.004, 2.0), ("RIVIAN_WAYPOINTS", 0.003, 1.3), ("ZEFNET", 0.002, 1.5),
    ("FLASH", 0.002, 2.0), ("TURNONGREEN", 0.002, 1.5), ("POWERPUMP", 0.002, 2.0),
)  # fmt: skip
CA_DC_MIX: Final = (
    ("FLO", 0.28, 2.0), ("CIRCUIT_ELECTRIQUE", 0.18, 2.0), ("CHARGEPOINT", 0.10, 1.8),
    ("PETROCAN", 0.08, 2.2), ("BCHYDRO", 0.06, 2.0), ("IVY", 0.06, 2.4),
    ("ELECTRIFY_CANADA", 0.05, 4.0), ("NON_NETWORKED", 0.05, 1.4), ("CIRCLE_K", 0.03, 2.0),
    ("COUCHE_TARD", 0.03, 2.0), ("SWTCH", 0.02, 1.5), ("SHELL_RECHARGE", 0.02, 2.0),
    ("CHARGELAB", 0.02, 1.5),
)  # fmt: skip
US_L2_MIX: Final = (
    ("CHARGEPOINT", 0.42, 0.0), ("NON_NETWORKED", 0.14, 0.0), ("BLINK", 0.12, 0.0),
    ("TESLA_DESTINATION", 0.10, 0.0), ("VOLTA", 0.05, 0.0), ("SEMACHARGE", 0.05, 0.0),
    ("EV_CONNECT", 0.04, 0.0), ("WEBASTO", 0.02, 0.0), ("OPCONNECT", 0.02, 0.0),
    ("SHELL_RECHARGE", 0.02, 0.0), ("AMPUP", 0.02, 0.0),
)  # fmt: skip
CA_L2_MIX: Final = (
    ("FLO", 0.30, 0.0), ("CHARGEPOINT", 0.30, 0.0), ("NON_NETWORKED", 0.15, 0.0),
    ("TESLA_DESTINATION", 0.12, 0.0), ("SWTCH", 0.06, 0.0), ("CIRCUIT_ELECTRIQUE", 0.05, 0.0),
    ("CHARGELAB", 0.02, 0.0),
)  # fmt: skip
TESLA_MIX: Final = (("TESLA", 1.0, 0.0),)
# Supercharger sizes: US mean ~13 stalls (Paren), Canada ~10.
TESLA_SIZES: Final = {
    "US": ((4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 56),
           (0.09, 0.09, 0.21, 0.14, 0.16, 0.12, 0.08, 0.05, 0.035, 0.02, 0.005)),
    "CA": ((4, 6, 8, 10, 12, 16, 20, 24), (0.12, 0.12, 0.28, 0.14, 0.14, 0.10, 0.06, 0.04)),
}  # fmt: skip
# New non-Tesla sites are larger (Paren: 2.7 -> 3.9 ports per station in a year).
NEW_SITE_PORT_FACTOR: Final = 1.4

KIND_PUBLIC_DC: Final = 0  # in scope while open (status E)
KIND_PRIVATE_DC: Final = 1  # access 'private': out of scope
KIND_LEVEL2: Final = 2  # no DC fast ports: out of scope (incl. Tesla Destination)


@dataclass(frozen=True)
class _Group:
    """One slice of the station population with its own size, growth and network mix."""

    country: str
    kind: int
    tesla: bool
    initial: int  # stations already open at `start`
    weekly_arrivals: float  # stations opening per week afterwards
    retire_per_year: float  # hazard of permanent closure
    planned_share: float  # share of new stations listed as planned ('P') before they open
    mix: tuple[tuple[str, float, float], ...]


# Sized so that US in-scope stations go from ~11,000 to ~13,000 over two years (Paren: 10,839 in
# Q1 2025, 12,375 in Q3 2025) with Tesla ~2,200-2,450 sites holding ~half the ports, and Canada
# stays near the ~2,000 stations of the reference dashboard.
GROUPS: Final = (
    _Group("US", KIND_PUBLIC_DC, False, 8_900, 17.5, 0.012, 0.35, US_DC_MIX),
    _Group("US", KIND_PUBLIC_DC, True, 2_190, 2.5, 0.002, 0.50, TESLA_MIX),
    _Group("CA", KIND_PUBLIC_DC, False, 1_690, 1.7, 0.010, 0.35, CA_DC_MIX),
    _Group("CA", KIND_PUBLIC_DC, True, 212, 0.22, 0.002, 0.50, TESLA_MIX),
    _Group("US", KIND_PRIVATE_DC, False, 260, 0.6, 0.010, 0.10, US_DC_MIX),
    _Group("CA", KIND_PRIVATE_DC, False, 35, 0.06, 0.010, 0.10, CA_DC_MIX),
    _Group("US", KIND_LEVEL2, False, 1_200, 2.0, 0.020, 0.20, US_L2_MIX),
    _Group("CA", KIND_LEVEL2, False, 320, 0.5, 0.020, 0.20, CA_L2_MIX),
)


# --- Public API ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoConfig:
    """What to build: volume, seed and calendar."""

    scale: float = 0.01  # 1.0 = Paren's real volume (~2.7 M successful US sessions per week)
    seed: int = 20251
    start: dt.date = dt.date(2024, 11, 4)  # a Monday, a few weeks before PARTITIONS_START
    today: dt.date | None = None  # default: UTC today; data covers weeks that ended before it
    batch_lag_days: int = 21  # a month's session batch lands this many days after the month ends

    def __post_init__(self) -> None:
        if self.start.weekday() != 0:
            raise ValueError(f"start {self.start} is not a Monday; weeks run Monday to Sunday")
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0 (numpy seed sequences), got {self.seed}")
        if self.batch_lag_days < 0:
            raise ValueError(f"batch_lag_days must be >= 0, got {self.batch_lag_days}")

    def resolved_today(self) -> dt.date:
        return self.today or dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class DemoSummary:
    """What a build produced; also written (with the config) to the manifest."""

    warehouse: Path
    first_snapshot: dt.date  # Sunday ending the first week
    last_snapshot: dt.date  # Sunday ending the last complete week before `today`
    snapshots: int
    spine_rows: int
    stations: int  # distinct station IDs in any snapshot
    tracked_station_rows: int
    tracked_port_rows: int
    tariffs: int
    network_aliases: int
    network_keys: int
    session_batches: int
    session_rows: int
    successful_sessions: int
    last_batch_month: dt.date | None  # first day of the newest landed batch
    sessions_covered_through: dt.date | None  # last day the newest batch covers
    build_seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO strings, the path as text."""
        return {k: _plain(v) for k, v in asdict(self).items()}

    def describe(self) -> str:
        frontier = self.sessions_covered_through.isoformat() if self.sessions_covered_through else "none"
        return (
            f"demo warehouse {self.warehouse}: {self.snapshots} weekly AFDC snapshots "
            f"({self.first_snapshot}..{self.last_snapshot}, {self.spine_rows:,} rows), "
            f"{self.tracked_port_rows:,} tracked port rows, {self.tariffs:,} tariffs, "
            f"{self.session_rows:,} sessions in {self.session_batches} batches "
            f"(through {frontier}); built in {self.build_seconds:.1f} s"
        )


@dataclass(frozen=True)
class NetworkAlias:
    """One row of the curated network reference (paren_pulse/reference/networks.csv)."""

    alias: str
    network_key: str
    display_name: str
    is_tesla: bool
    note: str


def read_networks_csv(path: Path | None = None) -> list[NetworkAlias]:
    """Read and validate the curated alias -> network mapping.

    Aliases must be unique even case-insensitively: MySQL's default collation would reject
    `Volta` and `VOLTA` as duplicate primary keys. A key's display name and Tesla flag must agree
    across its aliases, and only TESLA may be Tesla (Tesla Destination is Level 2).
    """
    if path is None:
        text = resources.files("paren_pulse").joinpath("reference/networks.csv").read_text("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    rows = [
        NetworkAlias(
            alias=r["alias"],
            network_key=r["network_key"],
            display_name=r["display_name"],
            is_tesla=r["is_tesla"].strip() == "1",
            note=(r["note"] or "").strip(),
        )
        for r in csv.DictReader(text.splitlines())
    ]
    seen: dict[str, str] = {}
    by_key: dict[str, tuple[str, bool]] = {}
    for row in rows:
        folded = row.alias.strip().casefold()
        if not row.alias or row.alias != row.alias.strip():
            raise ValueError(f"networks.csv: alias {row.alias!r} is empty or has surrounding spaces")
        if folded in seen:
            raise ValueError(f"networks.csv: alias {row.alias!r} duplicates {seen[folded]!r}")
        seen[folded] = row.alias
        identity = (row.display_name, row.is_tesla)
        if by_key.setdefault(row.network_key, identity) != identity:
            raise ValueError(f"networks.csv: rows for {row.network_key} disagree on name or Tesla flag")
    tesla_keys = {r.network_key for r in rows if r.is_tesla}
    if tesla_keys != {"TESLA"}:
        raise ValueError(f"networks.csv: only TESLA may be Tesla, found {sorted(tesla_keys)}")
    return rows


def network_classification(aliases: Sequence[NetworkAlias]) -> list[tuple[str, str, int, str | None]]:
    """One (network_key, display_name, is_tesla, note) per key; notes of its aliases joined."""
    notes: dict[str, list[str]] = {}
    first: dict[str, NetworkAlias] = {}
    for row in aliases:
        first.setdefault(row.network_key, row)
        key_notes = notes.setdefault(row.network_key, [])
        if row.note and row.note not in key_notes:
            key_notes.append(row.note)
    return [
        (key, row.display_name, int(row.is_tesla), "; ".join(notes[key]) or None)
        for key, row in first.items()
    ]


def build_demo_warehouse(paths: DemoPaths, config: DemoConfig | None = None) -> DemoSummary:
    """(Re)build the demo warehouse from scratch and swap it into place.

    Everything is written into a temporary sibling directory first and renamed into place at the
    end, so a crash leaves the previous warehouse (or none), never a half-built one.
    """
    config = config or DemoConfig()
    started = time.perf_counter()
    cal = _Calendar.create(config)
    aliases = read_networks_csv()

    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{paths.warehouse.name}.building-", dir=paths.warehouse.parent))
    building.chmod(0o755)  # mkdtemp makes it private; the warehouse is an ordinary directory
    try:
        # The warehouse's inner layout comes from DemoPaths, re-rooted at the temporary directory.
        catalog_db = building / paths.catalog_db.relative_to(paths.warehouse)
        sessions_dir = building / paths.sessions_dir.relative_to(paths.warehouse)
        manifest = building / paths.manifest.relative_to(paths.warehouse)

        stations = _draw_stations(config.seed, cal, aliases)
        tracking = _draw_tracking(config.seed, stations, cal)
        tariffs = _draw_tariffs(config.seed, stations, tracking, cal)
        catalog_counts = _write_catalog(catalog_db, config, cal, aliases, stations, tracking, tariffs)
        session_stats = _write_sessions(sessions_dir, config, cal, stations, tracking)

        summary = DemoSummary(
            warehouse=paths.warehouse,
            first_snapshot=cal.snapshot_dates[0],
            last_snapshot=cal.snapshot_dates[-1],
            snapshots=len(cal.snapshot_dates),
            spine_rows=catalog_counts["afdc_spine"],
            stations=catalog_counts["stations"],
            tracked_station_rows=catalog_counts["tracked_stations"],
            tracked_port_rows=catalog_counts["tracked_ports"],
            tariffs=catalog_counts["tariffs"],
            network_aliases=catalog_counts["network_aliases"],
            network_keys=catalog_counts["network_classification"],
            session_batches=len(session_stats.batches),
            session_rows=session_stats.rows,
            successful_sessions=session_stats.successes,
            last_batch_month=session_stats.batches[-1] if session_stats.batches else None,
            sessions_covered_through=session_stats.covered_through,
            build_seconds=round(time.perf_counter() - started, 2),
        )
        _write_manifest(manifest, config, cal, summary, session_stats)
        _swap_into_place(building, paths.warehouse)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    logger.info(summary.describe())
    return summary


def main_build(home: Path, scale: float, seed: int) -> DemoSummary:
    """Entry point for the CLI: rebuild the demo warehouse under `home` for today's date."""
    return build_demo_warehouse(DemoPaths(home), DemoConfig(scale=scale, seed=seed))


# --- Calendar -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    """Day indices relative to `start` (day 0, a Monday), the weekly snapshots and the horizon."""

    start: dt.date
    today: dt.date
    today_day: int
    horizon_days: int
    snapshot_dates: tuple[dt.date, ...]  # the Sunday ending each complete week

    @classmethod
    def create(cls, config: DemoConfig) -> _Calendar:
        today = config.resolved_today()
        last_week = latest_complete_week(today)
        if last_week.start < config.start:
            raise ValueError(f"no complete week between start {config.start} and today {today}")
        weeks = (last_week.start - config.start).days // 7 + 1
        today_day = (today - config.start).days
        return cls(
            start=config.start,
            today=today,
            today_day=today_day,
            # Past the fixed horizon the population has to grow with `today` (and then changes).
            horizon_days=max(HORIZON_DAYS, today_day + 7),
            snapshot_dates=tuple(config.start + dt.timedelta(days=7 * w + 6) for w in range(weeks)),
        )

    def day(self, date: dt.date) -> int:
        return (date - self.start).days

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    def iso(self, days: IntArray) -> npt.NDArray[np.object_]:
        """Day indices as 'YYYY-MM-DD' Python strings (what SQLite and MySQL DATE accept)."""
        dates = np.datetime64(self.start, "D") + days.astype("timedelta64[D]")
        return dates.astype(str).astype(object)


def _rng(seed: int, *stream: int) -> np.random.Generator:
    # One independent stream per table (and per batch month), so changing how one table is drawn
    # or how many months exist never shifts the numbers of another.
    return np.random.default_rng([seed, *stream])


# --- Stations (the AFDC spine) ------------------------------------------------------------------


@dataclass
class _Stations:
    """The station population over the whole horizon, sorted by station ID (= listing order)."""

    station_id: IntArray
    country: IntArray  # index into COUNTRIES
    kind: IntArray
    tesla: BoolArray
    network_key: npt.NDArray[np.object_]
    alias: npt.NDArray[np.object_]
    state: npt.NDArray[np.object_]
    name: npt.NDArray[np.object_]
    dc_ports: IntArray
    level2_ports: IntArray
    planned_day: IntArray  # first listed ('P' until open_day)
    open_day: IntArray
    retire_day: IntArray  # first day no longer listed (NEVER if not retired)
    unavailable_from: IntArray  # status 'T' on [unavailable_from, unavailable_to)
    unavailable_to: IntArray
    confirm_period: IntArray
    confirm_phase: IntArray
    ev_pricing: npt.NDArray[np.object_]
    utilization: FloatArray  # relative session weight per port
    success_rate: FloatArray  # probability that an attempt completes

    @property
    def size(self) -> int:
        return len(self.station_id)


def _draw_stations(seed: int, cal: _Calendar, aliases: Sequence[NetworkAlias]) -> _Stations:
    rng = _rng(seed, 1)
    horizon = cal.horizon_days
    alias_choices = _alias_choices(aliases)
    display = {a.network_key: a.display_name for a in aliases}
    parts: list[dict[str, Any]] = []
    for group in GROUPS:
        # Stations open at `start` opened over the previous decade, most of them recently.
        old_open = -1 - np.floor(3650 * rng.random(group.initial) ** 1.8).astype(np.int64)
        weeks = np.arange(horizon // 7)
        arrivals = rng.poisson(group.weekly_arrivals, len(weeks))
        new_open = np.repeat(weeks * 7, arrivals) + rng.integers(0, 7, arrivals.sum())
        open_day = np.concatenate([old_open, new_open])
        is_new = np.arange(len(open_day)) >= group.initial
        n = len(open_day)

        # Some new stations are listed as planned weeks or months before they open.
        planned = is_new & (rng.random(n) < group.planned_share)
        planned_day = np.where(planned, open_day - rng.integers(14, 121, n), open_day)
        # Closure is memoryless from the later of opening and `start`; most never close.
        lifetime = rng.exponential(365.0 / group.retire_per_year, n).astype(np.int64)
        retire_day = np.maximum(open_day, 0) + 30 + lifetime
        retire_day = np.where(retire_day < horizon, retire_day, NEVER)
        # A share of stations goes temporarily unavailable once, for one to eight weeks.
        episode = rng.random(n) < 0.4
        unavailable_from = np.where(episode, rng.integers(-60, horizon, n), NEVER)
        unavailable_to = np.where(episode, unavailable_from + rng.integers(7, 61, n), NEVER)

        keys = np.array([m[0] for m in group.mix], dtype=object)
        weights = np.array([m[1] for m in group.mix])
        net_idx = rng.choice(len(keys), n, p=weights / weights.sum())
        network_key = keys[net_idx]
        mean_ports = np.array([m[2] for m in group.mix])[net_idx] * np.where(
            is_new, NEW_SITE_PORT_FACTOR, 1.0
        )
        if group.kind == KIND_LEVEL2:
            dc_ports = np.zeros(n, dtype=np.int64)
            level2_ports = 1 + rng.poisson(2.5, n)
        else:
            if group.tesla:
                sizes, probs = TESLA_SIZES[group.country]
                dc_ports = rng.choice(np.array(sizes), n, p=np.array(probs) / sum(probs))
            else:
                dc_ports = 1 + rng.poisson(np.maximum(mean_ports - 1.0, 0.05))
            level2_ports = np.where(rng.random(n) < 0.35, 1 + rng.poisson(2.0, n), 0)

        alias = np.empty(n, dtype=object)
        for key in np.unique(network_key):
            mask = network_key == key
            options, probs_alias = alias_choices[key]
            alias[mask] = np.array(options, dtype=object)[
                rng.choice(len(options), int(mask.sum()), p=probs_alias)
            ]
        state = _draw_states(rng, group.country, network_key)

        if group.tesla:
            # Tesla stations are busier per stall and more reliable (Paren reliability index).
            utilization = 1.2 * rng.lognormal(0.0, 0.45, n)
            success_rate = np.clip(rng.normal(0.945, 0.012, n), 0.85, 0.99)
        else:
            utilization = rng.lognormal(0.0, 0.55, n)
            success_rate = np.clip(rng.normal(0.84, 0.05, n), 0.55, 0.98)

        parts.append(
            {
                "country": np.full(n, COUNTRIES.index(group.country), dtype=np.int64),
                "kind": np.full(n, group.kind, dtype=np.int64),
                "tesla": np.full(n, group.tesla, dtype=bool),
                "network_key": network_key,
                "alias": alias,
                "state": state,
                "dc_ports": dc_ports.astype(np.int64),
                "level2_ports": level2_ports.astype(np.int64),
                "planned_day": planned_day.astype(np.int64),
                "open_day": open_day.astype(np.int64),
                "retire_day": retire_day.astype(np.int64),
                "unavailable_from": unavailable_from.astype(np.int64),
                "unavailable_to": unavailable_to.astype(np.int64),
                "utilization": utilization,
                "success_rate": success_rate,
            }
        )

    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(cols["open_day"])
    # AFDC IDs grow with the date a station was first listed; gaps come from other fuels.
    order = np.lexsort((rng.random(n), cols["planned_day"]))
    cols = {k: v[order] for k, v in cols.items()}
    station_id = 100_000 + np.cumsum(rng.integers(1, 12, n))

    hosts = np.array(SITE_HOSTS, dtype=object)[rng.integers(0, len(SITE_HOSTS), n)]
    name = np.array(
        [
            f"{h} Supercharger" if k == "TESLA" else f"{display[k]} {h} {sid % 1000:03d}"
            for k, h, sid in zip(cols["network_key"], hosts, station_id.tolist(), strict=True)
        ],
        dtype=object,
    )
    return _Stations(
        station_id=station_id.astype(np.int64),
        name=name,
        confirm_period=rng.integers(20, 180, n),
        confirm_phase=rng.integers(0, 10_000, n),
        ev_pricing=_pricing_text(rng, cols["country"], cols["kind"]),
        **cols,
    )


def _alias_choices(aliases: Sequence[NetworkAlias]) -> dict[str, tuple[list[str], FloatArray]]:
    """Raw labels per key: the first listed (AFDC's usual spelling) most of the time."""
    by_key: dict[str, list[str]] = {}
    for row in aliases:
        by_key.setdefault(row.network_key, []).append(row.alias)
    choices: dict[str, tuple[list[str], FloatArray]] = {}
    for key, options in by_key.items():
        if len(options) == 1:
            probs = np.array([1.0])
        else:
            probs = np.full(len(options), 0.2 / (len(options) - 1))
            probs[0] = 0.8
        choices[key] = (options, probs)
    missing = {m[0] for g in GROUPS for m in g.mix} - set(by_key)
    if missing:
        raise ValueError(f"networks.csv lacks keys the generator uses: {sorted(missing)}")
    return choices


def _draw_states(
    rng: np.random.Generator, country: str, network_key: npt.NDArray[np.object_]
) -> npt.NDArray[np.object_]:
    table = US_STATES if country == "US" else CA_PROVINCES
    codes = np.array([c for c, _ in table], dtype=object)
    weights = np.array([w for _, w in table], dtype=float)
    state = codes[rng.choice(len(codes), len(network_key), p=weights / weights.sum())]
    if country == "CA":
        for key, province in HOME_PROVINCE.items():
            state[network_key == key] = province
    return state


def _pricing_text(rng: np.random.Generator, country: IntArray, kind: IntArray) -> npt.NDArray[np.object_]:
    """AFDC's free-text `EV Pricing`: present for about half the stations, never parsed."""
    n = len(country)
    out = np.full(n, None, dtype=object)
    present = (rng.random(n) < 0.5) & (kind != KIND_LEVEL2)
    price = np.round(rng.uniform(0.35, 0.69, n), 2)
    minute = np.round(rng.uniform(0.25, 0.45, n), 2)
    style = rng.integers(0, 3, n)
    for i in np.flatnonzero(present).tolist():
        if country[i] == 1 and style[i] == 0:
            out[i] = f"${minute[i]:.2f} per minute"
        elif style[i] == 1:
            out[i] = f"DC fast: ${price[i]:.2f} per kWh; $1 session fee"
        else:
            out[i] = f"${price[i]:.2f} per kWh"
    return out


# --- Tracking (what the network data covers) -----------------------------------------------------


@dataclass
class _Tracking:
    """Tracking intervals [from, to) per station (a station can have two) and tracked DC ports."""

    station: IntArray  # index into _Stations, one entry per interval
    from_day: IntArray
    to_day: IntArray  # NEVER while tracked
    tracked_ports: IntArray  # per station: DC ports the network data tracks (0 if never tracked)


def _draw_tracking(seed: int, st: _Stations, cal: _Calendar) -> _Tracking:
    rng = _rng(seed, 2)
    n = st.size
    us = st.country == 0
    # Coverage below 100 %: Tesla is covered almost completely, other networks less so.
    p_track = np.where(st.tesla, np.where(us, 0.98, 0.975), np.where(us, 0.94, 0.925))
    tracked = (st.kind == KIND_PUBLIC_DC) & (rng.random(n) < p_track)
    start = st.open_day + rng.integers(0, 22, n)  # picked up 0-3 weeks after opening
    # Usually tracking ends with the station; sometimes the feed keeps it a little longer.
    late = (st.retire_day < NEVER) & (rng.random(n) < 0.2)
    end = np.where(late, st.retire_day + rng.integers(1, 15, n), st.retire_day)
    # Tracking occasionally stops for good before the station closes (feed lost).
    lost = rng.random(n) < 0.015
    lost_day = start + rng.integers(30, cal.horizon_days + 1, n)
    end = np.where(lost & (lost_day < end), lost_day, end)
    # ... or pauses for two to ten weeks and resumes: the station "re-opens" in the roster.
    gap_len = rng.integers(14, 71, n)
    finite_end = np.minimum(end, cal.horizon_days)
    room = finite_end - start - gap_len - 28
    gap = tracked & (rng.random(n) < 0.02) & (room > 0)
    gap_start = start + 14 + np.floor(rng.random(n) * np.maximum(room, 1)).astype(np.int64)

    whole = tracked & ~gap
    idx = np.concatenate([np.flatnonzero(whole), np.flatnonzero(gap), np.flatnonzero(gap)])
    frm = np.concatenate([start[whole], start[gap], (gap_start + gap_len)[gap]])
    to = np.concatenate([end[whole], gap_start[gap], end[gap]])
    order = np.lexsort((frm, idx))

    # A few tracked stations expose fewer DC ports than AFDC lists.
    ports = np.where(tracked, st.dc_ports, 0)
    partial = tracked & (ports >= 2) & (rng.random(n) < 0.06)
    fewer = 1 + np.floor(rng.random(n) * np.maximum(ports // 4, 1)).astype(np.int64)
    ports = np.where(partial, np.maximum(ports - fewer, 1), ports)
    return _Tracking(station=idx[order], from_day=frm[order], to_day=to[order], tracked_ports=ports)


def _port_ids(station_id: int, count: int) -> range:
    # Stable, readable port IDs: the station ID followed by a two-digit port number.
    return range(station_id * 100 + 1, station_id * 100 + count + 1)


# --- Tariffs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tariffs:
    """Price segments [valid_from, valid_to) per station; each has a non-member and maybe a member row."""

    station: IntArray  # index into _Stations
    segment: IntArray  # 0, 1, ... per station, in time order
    valid_from: IntArray
    valid_to: IntArray  # NEVER while current
    kwh: FloatArray  # non-member per-kWh price, NaN when per-minute-only
    minute: FloatArray  # non-member per-minute price, NaN unless per-minute-only
    member_kwh: FloatArray
    member_minute: FloatArray
    has_member: BoolArray


def _draw_tariffs(seed: int, st: _Stations, trk: _Tracking, cal: _Calendar) -> _Tariffs:
    """Tariff history for every station the network data tracks, drawn without per-station loops."""
    rng = _rng(seed, 3)
    n = st.size
    us = st.country == 0
    first_tracked = np.full(n, NEVER, dtype=np.int64)
    np.minimum.at(first_tracked, trk.station, trk.from_day)

    # Non-member energy price: US ~N(0.52, 0.07) USD (Tesla cheaper, ~0.46); Canada 0.55-0.75 CAD.
    kwh = np.where(
        us,
        np.where(st.tesla, rng.normal(0.46, 0.05, n), rng.normal(0.52, 0.07, n)),
        np.where(st.tesla, rng.normal(0.60, 0.04, n), rng.normal(0.66, 0.05, n)),
    )
    kwh = np.clip(kwh, np.where(us, 0.25, 0.45), np.where(us, 0.85, 0.90))
    per_minute = np.where(us, rng.uniform(0.20, 0.40, n), rng.uniform(0.25, 0.45, n))
    # Per-kWh sale became legal in Canada only recently: many CA stations start per-minute-only
    # and switch at a random later date (hazard ~17 %/yr), so the share declines over time.
    minute_only = rng.random(n) < np.where(us, 0.015, np.where(st.tesla, 0.15, 0.40))
    switch_after = rng.exponential(365.0 / np.where(us, 0.10, 0.17), n).astype(np.int64)
    has_tariff = rng.random(n) < np.where(us, 0.96, 0.94)  # a few tracked stations have none
    has_member = rng.random(n) < 0.7
    member_discount = rng.uniform(0.03, 0.10, n)
    # ~1.2 price changes a year: Paren saw 29 % of fixed-price stations change price in one quarter.
    change_rate = 1.2 / 365.0

    begin = np.maximum(first_tracked, -TARIFF_HISTORY_DAYS)
    stop = np.minimum(st.retire_day, cal.horizon_days)
    priced = np.flatnonzero((first_tracked < NEVER) & has_tariff & (begin < stop))
    switch = np.where(minute_only, np.maximum(begin, 0) + switch_after, NEVER)

    # Segment boundaries: the start, random price changes, and the per-minute -> per-kWh switch.
    changes = rng.poisson(change_rate * (stop - begin)[priced])
    owner = np.repeat(priced, changes)
    change_day = begin[owner] + 1 + np.floor(rng.random(len(owner)) * (stop - begin - 1)[owner])
    switching = priced[(begin[priced] < switch[priced]) & (switch[priced] < stop[priced])]
    station = np.concatenate([priced, owner, switching])
    day = np.concatenate([begin[priced], change_day.astype(np.int64), switch[switching]])
    order = np.lexsort((day, station))
    station, day = station[order], day[order]
    keep = np.ones(len(station), dtype=bool)
    keep[1:] = (station[1:] != station[:-1]) | (day[1:] != day[:-1])  # two cuts on one day
    station, day = station[keep], day[keep]

    first_of_station = np.ones(len(station), dtype=bool)
    first_of_station[1:] = station[1:] != station[:-1]
    group_start = np.maximum.accumulate(np.where(first_of_station, np.arange(len(station)), 0))
    segment = np.arange(len(station)) - group_start
    last_of_station = np.ones(len(station), dtype=bool)
    last_of_station[:-1] = first_of_station[1:]
    valid_to = np.where(last_of_station, st.retire_day[station], np.roll(day, -1))

    # Each change moves the price a few percent either way: a random walk per station.
    steps = np.cumsum(rng.normal(0.0, 0.05, len(station)))
    factor = np.exp(steps - steps[group_start])
    per_minute_phase = minute_only[station] & (day < switch[station])
    nm_kwh = np.round(np.clip(kwh[station] * factor, 0.2, 1.2), 2)
    nm_min = np.round(np.clip(per_minute[station] * factor, 0.15, 0.60), 2)
    return _Tariffs(
        station=station,
        segment=segment,
        valid_from=day,
        valid_to=valid_to,
        kwh=np.where(per_minute_phase, np.nan, nm_kwh),
        minute=np.where(per_minute_phase, nm_min, np.nan),
        member_kwh=np.where(
            per_minute_phase, np.nan, np.round(np.maximum(nm_kwh - member_discount[station], 0.15), 2)
        ),
        member_minute=np.where(per_minute_phase, np.round(nm_min * 0.85, 2), np.nan),
        has_member=has_member[station],
    )


def _tariff_rows(
    cal: _Calendar, st: _Stations, tariffs: _Tariffs
) -> list[tuple[int, int, str, float | None, float | None, str, str, str | None]]:
    """Rows for the tariffs table as the catalog knows them on `today`."""
    known = tariffs.valid_from <= cal.today_day  # price changes after today are not known yet
    station = tariffs.station[known]
    sid = st.station_id[station]
    # Stable across rebuilds: station ID, segment number, audience (0 non-member, 1 member).
    base_id = (sid * 1000 + tariffs.segment[known] * 2).tolist()
    currency = np.where(st.country[station] == 0, "USD", "CAD").tolist()
    valid_from = cal.iso(tariffs.valid_from[known]).tolist()
    valid_to = [_known_end(cal, d) for d in tariffs.valid_to[known].tolist()]

    def nullable(values: FloatArray) -> list[float | None]:
        return [None if np.isnan(v) else v for v in values.tolist()]

    rows = []
    audiences = (
        ("non_member", 0, tariffs.kwh, tariffs.minute, np.ones(len(known), dtype=bool)),
        ("member", 1, tariffs.member_kwh, tariffs.member_minute, tariffs.has_member),
    )
    for audience, offset, kwh, minute, present in audiences:
        for tariff_id, station_id, price_kwh, price_min, cur, frm, to, exists in zip(
            base_id, sid.tolist(), nullable(kwh[known]), nullable(minute[known]), currency,
            valid_from, valid_to, present[known].tolist(), strict=True,
        ):  # fmt: skip
            if exists:
                rows.append((tariff_id + offset, station_id, audience, price_kwh, price_min, cur, frm, to))
    rows.sort(key=lambda row: row[0])
    return rows


# --- Catalog (SQLite stand-in for MySQL) ----------------------------------------------------------


def _write_catalog(
    db_path: Path,
    config: DemoConfig,
    cal: _Calendar,
    aliases: Sequence[NetworkAlias],
    st: _Stations,
    trk: _Tracking,
    tariffs: _Tariffs,
) -> dict[str, int]:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path)
    try:
        # The file is private to this build until it is renamed into place: no journal needed.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        for schema in ("mysql/catalog_schema", "mysql/project_schema"):
            for statement in split_statements(load_sql(schema)):
                conn.execute(statement)

        classification = network_classification(aliases)
        conn.executemany("INSERT INTO network_classification VALUES (?, ?, ?, ?)", classification)
        conn.executemany(
            "INSERT INTO network_aliases VALUES (?, ?)", [(a.alias, a.network_key) for a in aliases]
        )
        spine_rows, stations = _insert_spine(conn, config, cal, st)
        tracked_station_rows, tracked_port_rows = _insert_tracking(conn, cal, st, trk)
        tariff_rows = _tariff_rows(cal, st, tariffs)
        conn.executemany("INSERT INTO tariffs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", tariff_rows)
        # Indexes after the bulk load: faster to build once than to maintain row by row.
        for statement in split_statements(load_sql("mysql/catalog_indexes")):
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()
    return {
        "network_classification": len(classification),
        "network_aliases": len(aliases),
        "afdc_spine": spine_rows,
        "stations": stations,
        "tracked_stations": tracked_station_rows,
        "tracked_ports": tracked_port_rows,
        "tariffs": len(tariff_rows),
    }


def _known_end(cal: _Calendar, day: int) -> str | None:
    """An end date as the catalog knows it on `today`: open-ended if it has not happened yet."""
    return cal.date(day).isoformat() if day <= cal.today_day else None


def _insert_spine(
    conn: sqlite3.Connection, config: DemoConfig, cal: _Calendar, st: _Stations
) -> tuple[int, int]:
    """One full AFDC snapshot per week (the Sunday ending it), plus its load record.

    The station population goes into a temporary table once; each snapshot is then one
    INSERT ... SELECT, which is several times faster than binding ~1.7 M rows from Python.
    """
    conn.execute(
        """
        CREATE TEMP TABLE demo_station (
            station_id INTEGER PRIMARY KEY, station_name TEXT, state TEXT, country TEXT,
            access_code TEXT, ev_network TEXT, network_key TEXT, dc_fast_ports INTEGER,
            level2_ports INTEGER, open_date TEXT, ev_pricing TEXT, planned_day INTEGER,
            open_day INTEGER, retire_day INTEGER, unavailable_from INTEGER, unavailable_to INTEGER,
            confirm_period INTEGER, confirm_phase INTEGER
        )
        """
    )
    conn.executemany(
        "INSERT INTO demo_station VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        zip(
            st.station_id.tolist(), st.name, st.state, np.array(COUNTRIES, dtype=object)[st.country],
            np.where(st.kind == KIND_PRIVATE_DC, "private", "public").tolist(), st.alias,
            st.network_key, st.dc_ports.tolist(), st.level2_ports.tolist(), cal.iso(st.open_day),
            st.ev_pricing, st.planned_day.tolist(), st.open_day.tolist(), st.retire_day.tolist(),
            st.unavailable_from.tolist(), st.unavailable_to.tolist(), st.confirm_period.tolist(),
            st.confirm_phase.tolist(), strict=True,
        ),
    )  # fmt: skip
    # Listed from the planning date until retirement; 'P' before opening, 'T' while unavailable.
    # AFDC re-confirms each station on its own cycle, never before it was first listed.
    snapshot_sql = """
        INSERT INTO afdc_spine
        SELECT :snapshot, station_id, station_name, state, country,
               CASE WHEN :day < open_day THEN 'P'
                    WHEN unavailable_from <= :day AND :day < unavailable_to THEN 'T'
                    ELSE 'E' END,
               access_code, ev_network, network_key, dc_fast_ports, level2_ports, open_date,
               date(:start, printf('%+d days',
                    max(:day - (:day + confirm_phase) % confirm_period, planned_day))),
               ev_pricing
        FROM demo_station
        WHERE planned_day <= :day AND :day < retire_day
        ORDER BY station_id
    """
    total = 0
    for snapshot in cal.snapshot_dates:
        params = {"snapshot": snapshot.isoformat(), "day": cal.day(snapshot), "start": cal.start.isoformat()}
        rows = conn.execute(snapshot_sql, params).rowcount
        loaded_at = dt.datetime.combine(snapshot + dt.timedelta(days=1), dt.time(6, 0), dt.UTC)
        conn.execute(
            "INSERT INTO afdc_spine_loads VALUES (?, ?, ?, ?)",
            (
                snapshot.isoformat(),
                f"demo generator (seed {config.seed}): AFDC export of {snapshot.isoformat()}",
                rows,
                loaded_at.isoformat().replace("+00:00", "Z"),
            ),
        )
        total += rows
    (stations,) = conn.execute("SELECT count(DISTINCT station_id) FROM afdc_spine").fetchone()
    conn.execute("DROP TABLE demo_station")
    return total, int(stations)


def _insert_tracking(
    conn: sqlite3.Connection, cal: _Calendar, st: _Stations, trk: _Tracking
) -> tuple[int, int]:
    known = trk.from_day <= cal.today_day  # tracking that starts after today is not known yet
    station_rows: list[tuple[int, str, str | None]] = []
    port_rows: list[tuple[int, int, int, str, str | None]] = []
    for i, frm, to in zip(
        trk.station[known].tolist(),
        trk.from_day[known].tolist(),
        trk.to_day[known].tolist(),
        strict=True,
    ):
        sid = int(st.station_id[i])
        from_date = cal.date(frm).isoformat()
        to_date = _known_end(cal, to)
        station_rows.append((sid, from_date, to_date))
        port_rows.extend(
            (port_id, sid, 1, from_date, to_date) for port_id in _port_ids(sid, int(trk.tracked_ports[i]))
        )
    conn.executemany("INSERT INTO tracked_stations VALUES (?, ?, ?)", station_rows)
    conn.executemany("INSERT INTO tracked_ports VALUES (?, ?, ?, ?, ?)", port_rows)
    return len(station_rows), len(port_rows)


# --- Sessions (Parquet stand-in for ClickHouse) ---------------------------------------------------


# The string columns are written dictionary-encoded (what LowCardinality(String) is) without the
# Arrow schema in the file metadata, so every reader sees plain strings. Parquet has no seconds
# unit: timestamps are stored as milliseconds, UTC-adjusted.
_LOW_CARDINALITY = pa.dictionary(pa.int32(), pa.string())
SESSIONS_SCHEMA: Final = pa.schema(
    [
        pa.field("session_id", pa.uint64(), nullable=False),
        pa.field("started_at", pa.timestamp("s", tz="UTC"), nullable=False),
        pa.field("station_id", pa.uint64(), nullable=False),
        pa.field("port_id", pa.uint64(), nullable=False),
        pa.field("network_key", _LOW_CARDINALITY, nullable=False),
        pa.field("country", _LOW_CARDINALITY, nullable=False),
        pa.field("outcome", _LOW_CARDINALITY, nullable=False),
        pa.field("energy_kwh", pa.float32(), nullable=False),
        pa.field("batch_month", pa.date32(), nullable=False),
        pa.field("loaded_at", pa.timestamp("s", tz="UTC"), nullable=False),
    ]
)
OUTCOMES: Final = ("success", "failure")


@dataclass
class _SessionStats:
    batches: list[dt.date] = field(default_factory=list)
    rows: int = 0
    successes: int = 0
    covered_through: dt.date | None = None
    loaded_at: dt.datetime | None = None


@dataclass(frozen=True)
class _Ports:
    """Every DC port the network data ever tracks, with its station."""

    station: IntArray  # index into _Stations
    port_id: IntArray


def _month_starts(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    month = first.replace(day=1)
    while month <= last:
        yield month
        month = (month + dt.timedelta(days=32)).replace(day=1)


def _write_sessions(
    out_dir: Path, config: DemoConfig, cal: _Calendar, st: _Stations, trk: _Tracking
) -> _SessionStats:
    """One Parquet file per monthly batch that has landed by `today`, streamed day by day."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = trk.tracked_ports
    port_station = np.repeat(np.arange(st.size), counts)
    # Same numbering as _port_ids: station ID * 100 + the port's 1-based number at the station.
    number = np.arange(len(port_station)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    ports = _Ports(station=port_station, port_id=st.station_id[port_station] * 100 + number)

    stats = _SessionStats()
    for month in _month_starts(config.start, cal.today):
        next_month = (month + dt.timedelta(days=32)).replace(day=1)
        landed = next_month + dt.timedelta(days=config.batch_lag_days)
        if landed > cal.today:
            break
        loaded_at = dt.datetime.combine(landed, dt.time(0, 0), dt.UTC)
        path = out_dir / f"batch_{month:%Y-%m}.parquet"
        rows, successes = _write_month(path, config, cal, st, trk, ports, month, next_month, loaded_at)
        stats.batches.append(month)
        stats.rows += rows
        stats.successes += successes
        stats.covered_through = next_month - dt.timedelta(days=1)
        stats.loaded_at = loaded_at
    return stats


class _RowGroupBuffer:
    """Collects sorted day chunks and writes them as row groups of exactly ROW_GROUP_SIZE rows."""

    def __init__(
        self, writer: pq.ParquetWriter, month: dt.date, loaded_at: dt.datetime, networks: list[str]
    ) -> None:
        self.writer = writer
        self.networks = networks  # network_key codes index this list
        self.chunks: list[dict[str, npt.NDArray[Any]]] = []
        self.pending = 0
        self.written = 0
        # Session IDs are unique across batches: YYYYMM, then the row's position in the month.
        self.id_base = (month.year * 100 + month.month) * 10**10
        self.batch_month = np.int32((month - dt.date(1970, 1, 1)).days)
        self.loaded_at = int(loaded_at.timestamp())

    def add(self, chunk: dict[str, npt.NDArray[Any]]) -> None:
        self.chunks.append(chunk)
        self.pending += len(chunk["started_at"])
        while self.pending >= ROW_GROUP_SIZE:
            self._flush(ROW_GROUP_SIZE)

    def close(self) -> None:
        if self.pending:
            self._flush(self.pending)
        self.writer.close()

    def _flush(self, size: int) -> None:
        merged = {k: np.concatenate([c[k] for c in self.chunks]) for k in self.chunks[0]}
        head = {k: v[:size] for k, v in merged.items()}
        tail = {k: v[size:] for k, v in merged.items()}
        self.chunks = [tail] if len(tail["started_at"]) else []
        self.pending -= size
        ids = self.id_base + self.written + 1 + np.arange(size, dtype=np.uint64)
        self.written += size
        table = pa.table(
            [
                pa.array(ids.astype(np.uint64), pa.uint64()),
                pa.array(head["started_at"], pa.timestamp("s", tz="UTC")),
                pa.array(head["station_id"].astype(np.uint64), pa.uint64()),
                pa.array(head["port_id"].astype(np.uint64), pa.uint64()),
                _strings(head["network_key"], self.networks),
                _strings(head["country"], list(COUNTRIES)),
                _strings(head["outcome"], list(OUTCOMES)),
                pa.array(head["energy_kwh"], pa.float32()),
                pa.array(np.full(size, self.batch_month, dtype=np.int32), pa.date32()),
                pa.array(np.full(size, self.loaded_at, dtype=np.int64), pa.timestamp("s", tz="UTC")),
            ],
            schema=SESSIONS_SCHEMA,
        )
        self.writer.write_table(table, row_group_size=ROW_GROUP_SIZE)


def _strings(codes: npt.NDArray[Any], names: Sequence[str]) -> pa.Array:
    # Small integer codes plus a dictionary: no millions of Python str, no re-hashing on write.
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(names, pa.string()))


def _write_month(
    path: Path,
    config: DemoConfig,
    cal: _Calendar,
    st: _Stations,
    trk: _Tracking,
    ports: _Ports,
    month: dt.date,
    next_month: dt.date,
    loaded_at: dt.datetime,
) -> tuple[int, int]:
    rng = _rng(config.seed, 4, month.year, month.month)
    network_names = sorted(set(st.network_key.tolist()))
    network_code = np.searchsorted(np.array(network_names), st.network_key.astype(str))
    hours = {c: np.roll(np.array(LOCAL_HOURS), UTC_SHIFT_HOURS[c]) / sum(LOCAL_HOURS) for c in COUNTRIES}
    noise = _weekly_noise(config.seed, cal)
    port_country = st.country[ports.station]
    dow = np.array(DAY_OF_WEEK) / np.mean(DAY_OF_WEEK)
    epoch_day0 = (cal.start - dt.date(1970, 1, 1)).days

    tmp = path.with_suffix(".parquet.tmp")
    writer = pq.ParquetWriter(
        tmp, SESSIONS_SCHEMA, compression="zstd", write_statistics=True, store_schema=False
    )
    buffer = _RowGroupBuffer(writer, month, loaded_at, network_names)
    rows = successes = 0
    for day in range(max(cal.day(month), 0), cal.day(next_month)):
        station_ok = _sessions_possible(st, trk, day)
        # New stations take a couple of months to reach their usual use.
        ramp = np.clip(1.0 - np.exp(-(day - st.open_day) / 45.0), 0.05, 1.0)
        # Non-Tesla reliability improves about a point a year (Paren reliability index).
        p_station = np.where(st.tesla, st.success_rate, np.minimum(st.success_rate + day / 36_500, 0.98))
        parts = []
        for c, country in enumerate(COUNTRIES):
            eligible = np.flatnonzero(station_ok[ports.station] & (port_country == c))
            target = _daily_successes(config, cal, day, country, noise) * dow[day % 7]
            if not len(eligible) or target <= 0:
                continue
            port_station = ports.station[eligible]
            weight = st.utilization[port_station] * ramp[port_station]
            p_success = p_station[port_station]
            attempts = rng.poisson(target * weight.sum() / (weight * p_success).sum())
            cumulative = np.cumsum(weight)
            pick = np.searchsorted(cumulative, rng.random(attempts) * cumulative[-1], side="right")
            pick = np.minimum(pick, len(eligible) - 1)
            chosen = eligible[pick]
            station = ports.station[chosen]
            success = rng.random(attempts) < p_station[station]
            hour = rng.choice(24, attempts, p=hours[country])
            seconds = hour * 3600 + rng.integers(0, 3600, attempts)
            energy = np.where(
                success,
                np.clip(rng.lognormal(np.where(st.tesla[station], 3.45, 3.3), 0.5), 0.5, 150.0),
                np.where(rng.random(attempts) < 0.15, rng.uniform(0.05, 2.0, attempts), 0.0),
            )
            parts.append(
                {
                    "started_at": (epoch_day0 + day) * 86_400 + seconds,
                    "station_id": st.station_id[station],
                    "port_id": ports.port_id[chosen],
                    "network_key": network_code[station],
                    "country": np.full(attempts, c),
                    "outcome": np.where(success, 0, 1),
                    "energy_kwh": energy.astype(np.float32),
                }
            )
        if not parts:
            continue
        chunk = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        # Sorted like the ClickHouse table: (started_at, country, network_key).
        order = np.lexsort((chunk["network_key"], chunk["country"], chunk["started_at"]))
        chunk = {k: v[order] for k, v in chunk.items()}
        rows += len(order)
        successes += int((chunk["outcome"] == 0).sum())
        buffer.add(chunk)
    buffer.close()
    os.replace(tmp, path)
    return rows, successes


def _sessions_possible(st: _Stations, trk: _Tracking, day: int) -> BoolArray:
    """Stations whose tracked ports can log a session on `day`: tracked, open, not unavailable."""
    ok = np.zeros(st.size, dtype=bool)
    ok[trk.station[(trk.from_day <= day) & (day < trk.to_day)]] = True
    unavailable = (st.unavailable_from <= day) & (day < st.unavailable_to)
    return ok & (st.open_day <= day) & (day < st.retire_day) & ~unavailable


def _weekly_noise(seed: int, cal: _Calendar) -> FloatArray:
    # Week-to-week wobble (weather, holidays) so week-over-week changes are not all smooth.
    rng = _rng(seed, 5)
    return np.exp(rng.normal(0.0, 0.03, (cal.horizon_days // 7 + 1, len(COUNTRIES))))


def _daily_successes(config: DemoConfig, cal: _Calendar, day: int, country: str, noise: FloatArray) -> float:
    """Expected successful sessions on `day` in `country` before the day-of-week factor."""
    date = cal.date(day)
    years = (date - GROWTH_ANCHOR).days / 365.25
    season = 1.0 + SEASONAL_AMPLITUDE * np.cos(
        2 * np.pi * (date.timetuple().tm_yday - SEASONAL_PEAK_DOY) / 365.25
    )
    weekly = US_WEEKLY_SUCCESSES * config.scale * (1.0 + GROWTH_PER_YEAR) ** years * season
    if country == "CA":
        weekly *= CA_SHARE_OF_US
    return float(weekly / 7.0 * noise[day // 7, COUNTRIES.index(country)])


# --- Manifest and swap ---------------------------------------------------------------------------


def _write_manifest(
    path: Path, config: DemoConfig, cal: _Calendar, summary: DemoSummary, sessions: _SessionStats
) -> None:
    document = {
        "config": {k: _plain(v) for k, v in asdict(config).items()} | {"today": cal.today.isoformat()},
        "counts": {
            k: _plain(v) for k, v in asdict(summary).items() if k not in ("warehouse", "build_seconds")
        },
        "sessions_frontier": {
            "last_batch_month": _plain(summary.last_batch_month),
            "covered_through": _plain(sessions.covered_through),
            "loaded_at": _plain(sessions.loaded_at),
            "batch_lag_days": config.batch_lag_days,
        },
        "build_seconds": summary.build_seconds,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def _swap_into_place(building: Path, warehouse: Path) -> None:
    """Rename the finished build over the old warehouse (rename cannot replace a non-empty dir)."""
    old = None
    if warehouse.exists():
        old = warehouse.with_name(f".{warehouse.name}.old-{os.getpid()}-{time.time_ns()}")
        os.replace(warehouse, old)
    os.replace(building, warehouse)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
