"""`paren-pulse bench`: how the weekly pipeline performs at Paren's real scale.

In one run, over one generated demo warehouse (scale 1.0 = ~2.7 M successful US sessions a week),
it measures:

1. one week's snapshot (the three categories, history writes, snapshot assembly, Block Kit
   rendering: the code the assets call) against the bare aggregation SQL for the same week, run
   straight on the engines; also a real `dagster.materialize` of the four assets;
2. a backfill of `--weeks` weeks of the category assets, against the same number of bare weeks;
3. the peak RSS of every process that computes (each phase runs in its own child process, so
   each phase's peak is its own);
4. the rows that cross into Python per week, at `--scale` and at `--compare-scale`;
5. the time of the same week with 13/26/52/104 weeks of session history in the warehouse.

Timings are medians of `--repeat` repetitions after one warm-up. The report is printed and
written as Markdown (`--output`, default `$PAREN_PULSE_HOME/bench/results.md`) with a JSON twin.
Nothing here changes what the assets compute: the bench calls paren_pulse.compute itself.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import multiprocessing
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paren_pulse.partitions import Week, monday_of
from paren_pulse.settings import ConfigurationError, DemoPaths, pulse_home

DEFAULT_HISTORY = (13, 26, 52, 104)
DEFAULT_COMPARE_SCALE = 0.01
SEED = 20251
BATCH_LAG_DAYS = 21  # the demo's default: a month's batch lands three weeks after it ends

# Targets from the issue "Benchmarks at Paren's real scale".
TARGET_RATIO = 1.3  # pipeline <= 1.3 x bare SQL + the fixed overhead
TARGET_RSS_MB = 1536.0  # 1.5 GB
TARGET_HISTORY_RATIO = 1.2  # per-week time at the longest history within 1.2 x the shortest

# The bare SQL of a week, in the order the pipeline runs it: the aggregation queries of the
# curated files and the roster they need, without the project's bookkeeping around them (schema
# DDL, roster-exists checks, Tesla lookup, frontier, history, snapshot, rendering).
BARE_CATALOG_STEPS = (
    "mysql/spine_snapshot_for_week",
    "mysql/infrastructure_spine",
    "mysql/roster_delete_week",
    "mysql/roster_insert_week",
    "mysql/infrastructure_tracked",
    "mysql/infrastructure_opened",
    "mysql/pricing",
)


# --- CLI ------------------------------------------------------------------------------------------


def add_parser(subparsers: Any) -> None:
    """Register `paren-pulse bench` on the CLI's subparsers."""
    parser = subparsers.add_parser(
        "bench",
        help="benchmark the weekly pipeline at Paren's real scale and write a Markdown report",
        description=(
            "Build (or reuse) a demo warehouse at --scale and measure: one week's snapshot vs the "
            "bare aggregation SQL, a --weeks backfill, peak RSS per phase, rows that cross into "
            "Python (vs --compare-scale), and the same week with 13/26/52/104 weeks of session "
            "history. Medians of --repeat runs. Warehouses live under --home, never in the repo."
        ),
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="session volume; 1.0 = Paren's real volume (default 1.0)"
    )
    parser.add_argument("--weeks", type=int, default=52, help="backfill length in weeks (default 52)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per measurement (default 3)")
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="where the benchmark warehouses live (default $PAREN_PULSE_HOME/bench)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse a warehouse built earlier with the same scale and seed that holds enough history",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="Markdown report (default $PAREN_PULSE_HOME/bench/results.md; a .json twin is written beside it)",
    )
    parser.add_argument(
        "--history",
        default=",".join(str(n) for n in DEFAULT_HISTORY),
        help="weeks of session history to compare, comma-separated (default 13,26,52,104)",
    )
    parser.add_argument(
        "--compare-scale",
        type=float,
        default=DEFAULT_COMPARE_SCALE,
        help="second, small warehouse for rows-into-Python and the fixed overhead (default 0.01; 0 = skip)",
    )
    parser.add_argument(
        "--no-materialize",
        action="store_true",
        help="skip the dagster.materialize measurement (the in-process pipeline is always measured)",
    )
    parser.set_defaults(func=run_bench)


@dataclass(frozen=True)
class BenchOptions:
    scale: float
    weeks: int
    repeat: int
    home: Path
    reuse: bool
    output: Path
    history: tuple[int, ...]
    compare_scale: float
    materialize: bool


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    home = (args.home or pulse_home() / "bench").expanduser().resolve()
    try:
        history = tuple(sorted({int(part) for part in str(args.history).split(",") if part.strip()}))
    except ValueError:
        raise ConfigurationError(f"--history {args.history!r}: use week counts like 13,26,52,104") from None
    if args.scale <= 0:
        raise ConfigurationError("--scale must be positive (1.0 = Paren's real volume)")
    if args.weeks < 1 or args.repeat < 1:
        raise ConfigurationError("--weeks and --repeat must be at least 1")
    if not history or history[0] < 2:
        raise ConfigurationError("--history needs week counts of at least 2 (a week and the one before)")
    if args.compare_scale < 0:
        raise ConfigurationError("--compare-scale must be positive, or 0 to skip")
    return BenchOptions(
        scale=float(args.scale),
        weeks=int(args.weeks),
        repeat=int(args.repeat),
        home=home,
        reuse=bool(args.reuse),
        output=(args.output or home / "results.md").expanduser().resolve(),
        history=history,
        compare_scale=float(args.compare_scale),
        materialize=not args.no_materialize,
    )


def run_bench(args: argparse.Namespace) -> int:
    """Entry point of `paren-pulse bench`: build/reuse, measure every phase, write the report."""
    options = options_from_args(args)
    options.home.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict[str, Any] = {"options": _plain(options.__dict__), "machine": machine_facts()}

    main = _ensure_warehouse(options, options.scale, report)
    week = main.week
    report["week"] = week.key
    report["warehouse"] = main.describe()
    _progress(f"measured week {week} over {main.paths.warehouse}")

    compare: Warehouse | None = None
    if options.compare_scale and options.compare_scale != options.scale:
        compare = _ensure_warehouse(options, options.compare_scale, report)
        if compare.week != week:
            raise ConfigurationError(
                f"the compare warehouse's newest complete week is {compare.week}, not {week}; "
                "rebuild both (run without --reuse)"
            )

    spec = {"repeat": options.repeat, "week": week.key, "materialize": options.materialize}
    report["week_phase"] = _in_child("week", main.spec(options.home, "week") | spec)
    report["engine"] = report["week_phase"].pop("engine")
    backfill_weeks = [Week(week.start - dt.timedelta(days=7 * i)).key for i in range(options.weeks)][::-1]
    report["backfill"] = _in_child(
        "backfill", main.spec(options.home, "backfill") | spec | {"weeks": backfill_weeks}
    )
    report["history"] = []
    for n in options.history:
        directory = _history_view(main, week, n)
        run = main.spec(options.home, f"history-{n}") | spec | {"sessions_dir": str(directory)}
        result = _in_child("history", run) | {
            "history_weeks": n,
            "batches": len(list(directory.glob("*.parquet"))),
        }
        report["history"].append(result)
    if compare is not None:
        report["compare"] = _in_child(
            "week", compare.spec(options.home, "compare") | spec | {"materialize": False}
        ) | {"scale": options.compare_scale}
        report["compare"].pop("engine", None)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report["rss"] = {
        "parent_mb": _rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "children_max_mb": _rss_mb(children),
    }
    report["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    summarise(report)

    markdown = render_markdown(report)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(markdown, encoding="utf-8")
    options.output.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n", "utf-8")
    print(markdown)
    print(f"report written to {options.output}", file=sys.stderr)
    return 0


def _progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- Warehouses -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Warehouse:
    paths: DemoPaths
    week: Week  # the newest complete week the session batches cover: the week every phase measures
    scale: float
    session_rows: int
    batches: int

    def describe(self) -> str:
        return (
            f"scale {self.scale:g}: {self.session_rows:,} session rows in {self.batches} monthly batches "
            f"under {self.paths.warehouse}"
        )

    def spec(self, home: Path, run_name: str) -> dict[str, Any]:
        # Every phase writes its own history and reports, never the user's demo state.
        run_home = home / "runs" / f"scale-{self.scale:g}" / run_name
        shutil.rmtree(run_home, ignore_errors=True)
        return {
            "catalog": str(self.paths.catalog_db),
            "sessions_dir": str(self.paths.sessions_dir),
            "history_dir": str(run_home / "history"),
            "reports_dir": str(run_home / "snapshots"),
        }


def newest_complete_week(today: dt.date, lag_days: int = BATCH_LAG_DAYS) -> Week:
    """The week utilization reports on `today`: the last complete week of the newest landed batch."""
    month = dt.date(today.year, today.month, 1)
    while _next_month(month) + dt.timedelta(days=lag_days) > today:
        month = dt.date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    covered_until = _next_month(month)
    return Week(monday_of(covered_until) - dt.timedelta(days=7))


def required_start(week: Week, history_weeks: int) -> dt.date:
    """A Monday early enough that the batch holding the oldest needed week is complete."""
    oldest = week.start - dt.timedelta(days=7 * history_weeks)
    return monday_of(dt.date(oldest.year, oldest.month, 1))


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _ensure_warehouse(options: BenchOptions, scale: float, report: dict[str, Any]) -> Warehouse:
    from paren_pulse.demo.generator import DemoConfig, build_demo_warehouse

    paths = DemoPaths(options.home / f"scale-{scale:g}")
    # Enough session history for the longest history variant and for the backfill's first week
    # (which also reads the week before it).
    needed = max(max(options.history), options.weeks + 1)
    today = dt.datetime.now(dt.UTC).date()
    existing = _existing(paths, scale, needed)
    builds = report.setdefault("builds", [])
    if options.reuse and existing is not None:
        _progress(f"reusing {existing.describe()}")
        builds.append({"scale": scale, "reused": True})
        return existing
    start = required_start(newest_complete_week(today), needed)
    _progress(f"building the scale-{scale:g} warehouse from {start} (this takes a while at scale 1)")
    summary = build_demo_warehouse(
        paths, DemoConfig(scale=scale, seed=SEED, start=start, today=today, batch_lag_days=BATCH_LAG_DAYS)
    )
    builds.append({"scale": scale, "reused": False, "build_seconds": summary.build_seconds})
    built = _existing(paths, scale, needed)
    if built is None:
        raise ConfigurationError(
            f"the warehouse built under {paths.warehouse} lacks {needed} weeks of sessions"
        )
    return built


def _existing(paths: DemoPaths, scale: float, needed_weeks: int) -> Warehouse | None:
    """The warehouse under `paths` if it was built with this scale and seed and reaches back far enough."""
    try:
        manifest = json.loads(paths.manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    config, counts = manifest.get("config", {}), manifest.get("counts", {})
    covered_through = manifest.get("sessions_frontier", {}).get("covered_through")
    if config.get("scale") != scale or config.get("seed") != SEED or not covered_through:
        return None
    covered_until = dt.date.fromisoformat(covered_through) + dt.timedelta(days=1)
    week = Week(monday_of(covered_until) - dt.timedelta(days=7))
    if dt.date.fromisoformat(config["start"]) > required_start(week, needed_weeks):
        return None
    return Warehouse(
        paths=paths,
        week=week,
        scale=scale,
        session_rows=int(counts.get("session_rows", 0)),
        batches=int(counts.get("session_batches", 0)),
    )


def _history_view(main: Warehouse, week: Week, weeks: int) -> Path:
    """A directory of links to the batches that hold the newest `weeks` weeks up to `week`.

    The batches are monthly, so the view holds whole months: the oldest is the month of the
    oldest week's Monday. The measured week is the same in every view.
    """
    oldest = dt.date(*(week.start - dt.timedelta(days=7 * (weeks - 1))).timetuple()[:2], 1)
    directory = main.paths.home / "history-views" / f"weeks-{weeks}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for batch in sorted(main.paths.sessions_dir.glob("batch_*.parquet")):
        month = dt.date.fromisoformat(batch.stem.removeprefix("batch_") + "-01")
        if month >= oldest:
            (directory / batch.name).symlink_to(batch)
    return directory


# --- Child processes ------------------------------------------------------------------------------


def _in_child(phase: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one phase in a fresh process so its peak RSS is its own (ru_maxrss never goes down)."""
    _progress(f"phase {phase} ({Path(spec['history_dir']).parent.name})")
    # spawn, not fork: a forked child would inherit the parent's pages and any chdb engine.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        result: dict[str, Any] = pool.submit(_child_main, phase, spec).result()
    return result


def _child_main(phase: str, spec: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    bench = _Bench(spec)
    result = {"week": bench.week_phase, "backfill": bench.backfill_phase, "history": bench.history_phase}[
        phase
    ]()
    result["peak_rss_mb"] = _peak_rss_mb()
    result["ru_maxrss_mb"] = _rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    result["phase_seconds"] = round(time.perf_counter() - started, 2)
    return result


def _peak_rss_mb() -> float:
    """This process's own peak RSS.

    ru_maxrss survives execve on Linux, so a spawned child starts with its parent's peak (the
    generator's, after a build); VmHWM belongs to the current address space only, so it is the
    phase's own peak. Elsewhere ru_maxrss is all there is.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return _rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _rss_mb(maxrss: int) -> float:
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    return round(maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024, 1)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 4) if values else float("nan")


def _medians(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    return {key: _median([r[key] for r in runs]) for key in runs[0]}


class _Bench:
    """The measurements of one child process, over one set of resources and one engine."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from paren_pulse.resources.catalog import SQLiteCatalogResource
        from paren_pulse.resources.clickhouse import EmbeddedClickHouseResource
        from paren_pulse.resources.history import ParquetHistoryStore
        from paren_pulse.resources.reports import ReportStore

        self.spec = spec
        self.repeat = int(spec["repeat"])
        self.week = Week.from_key(spec["week"])
        self.clickhouse = EmbeddedClickHouseResource(sessions_dir=spec["sessions_dir"])
        self.catalog = SQLiteCatalogResource(path=spec["catalog"])
        self.history = ParquetHistoryStore(root=spec["history_dir"])
        self.reports = ReportStore(root=spec["reports_dir"])
        self.run_id = f"bench-{uuid.uuid4().hex[:8]}"

    # The pipeline: what the three category assets and the snapshot asset do, step by step.

    def categories(self, week: Week) -> tuple[dict[str, float], dict[str, int]]:
        """The three category assets for `week` (compute + history write); seconds per step."""
        from paren_pulse import compute

        steps: dict[str, float] = {}
        rows: dict[str, int] = {}
        steps["infrastructure"], infra = _timed(lambda: compute.infrastructure(self.catalog, week))
        steps["persist"], _ = _timed(lambda: self._persist(infra))
        # compute.utilization runs the frontier itself when not given one; run it apart to time it,
        # windowed at the week exactly as the asset does.
        steps["frontier"], frontier = _timed(
            lambda: compute.sessions_frontier(self.clickhouse, near=week.start)
        )
        steps["utilization"], util = _timed(
            lambda: compute.utilization(self.clickhouse, self.catalog, week, frontier)
        )
        t, _ = _timed(lambda: self._persist(util))
        steps["persist"] += t
        steps["pricing"], price = _timed(lambda: compute.pricing(self.catalog, week))
        t, _ = _timed(lambda: self._persist(price))
        steps["persist"] += t
        # The frontier's one row is part of utilization's rows_fetched already.
        for result in (infra, util, price):
            rows[result.category] = result.rows_fetched
        return steps, rows

    def _persist(self, result: Any) -> None:
        """assets/common.persist without a Dagster context: read the stored week, replace it."""
        from paren_pulse import metrics
        from paren_pulse.assets.common import restatement

        rows = metrics.to_rows(result.values)
        stored = self.history.read_week(result.category, result.data_week.start)
        restatement(stored.rows if stored else None, rows)
        self.history.write_week(
            result.category, result.data_week.start, result.as_of, rows, result.week.key, self.run_id
        )

    def snapshot(self, week: Week) -> dict[str, float]:
        from paren_pulse.slack_blocks import render_blocks, render_fallback_text
        from paren_pulse.snapshot import snapshot_for_week

        t_data, data = _timed(lambda: snapshot_for_week(self.history, week))
        t_render, blocks = _timed(lambda: (render_blocks(data), render_fallback_text(data)))
        t_save, _ = _timed(
            lambda: self.reports.save(week.key, {"data": data, "blocks": blocks[0], "text": blocks[1]})
        )
        return {"snapshot": t_data, "render": t_render, "report_save": t_save}

    def pipeline(self, week: Week) -> tuple[dict[str, float], dict[str, int]]:
        t0 = time.perf_counter()
        steps, rows = self.categories(week)
        steps |= self.snapshot(week)
        steps["total"] = time.perf_counter() - t0
        return steps, rows

    # The bare SQL: the same aggregation statements, straight on the engines.

    def bare_inputs(self, week: Week) -> dict[str, Any]:
        """What the bare statements take as input (looked up once, outside the timing)."""
        from paren_pulse import compute

        snapshot = self.catalog.query("mysql/spine_snapshot_for_week", {"as_of": week.as_of.isoformat()})
        return {"tesla": compute.tesla_networks(self.catalog), "snapshot_date": snapshot[0]["snapshot_date"]}

    def bare(self, week: Week, inputs: dict[str, Any]) -> dict[str, float]:
        from paren_pulse import constants as c
        from paren_pulse.sql import load_sql, to_sqlite_placeholders

        params = {
            "week_start": week.key,
            "previous_week_start": week.previous.key,
            "as_of": week.as_of.isoformat(),
            "snapshot_date": inputs["snapshot_date"],
            "currency_us": c.CURRENCY[c.US],
            "currency_ca": c.CURRENCY[c.CA],
        }
        times: dict[str, float] = {}
        conn = sqlite3.connect(self.spec["catalog"], isolation_level=None)
        try:
            t0 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            for name in BARE_CATALOG_STEPS:
                s0 = time.perf_counter()
                conn.execute(to_sqlite_placeholders(load_sql(name)), params).fetchall()
                times[name] = time.perf_counter() - s0
            conn.execute("COMMIT")
            times["catalog_total"] = time.perf_counter() - t0
        finally:
            conn.close()
        client = self.clickhouse.get_client()  # bound outside the timing, like a warm server
        t0 = time.perf_counter()
        _ = client.query(
            load_sql("clickhouse/utilization"),
            parameters={
                "tesla_networks": inputs["tesla"],
                "countries": list(c.COUNTRIES),
                "from_ts": dt.datetime.combine(week.previous.start, dt.time()),
                "until_ts": dt.datetime.combine(week.end, dt.time()),
            },
        ).result_rows
        times["clickhouse/utilization"] = time.perf_counter() - t0
        times["total"] = times["catalog_total"] + times["clickhouse/utilization"]
        return times

    def sessions_in_week(self, week: Week) -> int:
        from paren_pulse import constants as c

        rows = self.clickhouse.query_rows(
            "clickhouse/utilization",
            {
                "tesla_networks": [],
                "countries": list(c.COUNTRIES),
                "from_ts": dt.datetime.combine(week.start, dt.time()),
                "until_ts": dt.datetime.combine(week.end, dt.time()),
            },
        )
        return sum(int(r["attempts"]) for r in rows)

    def materialize(self, week: Week) -> float:
        """A real Dagster run of the four assets on an ephemeral instance (in-process executor)."""
        import dagster as dg

        from paren_pulse.assets.infrastructure import weekly_infrastructure
        from paren_pulse.assets.pricing import weekly_pricing
        from paren_pulse.assets.reporting import weekly_snapshot
        from paren_pulse.assets.utilization import weekly_utilization

        assets = [weekly_infrastructure, weekly_utilization, weekly_pricing, weekly_snapshot]
        resources = {
            "clickhouse": self.clickhouse,
            "catalog": self.catalog,
            "history": self.history,
            "reports": self.reports,
        }
        with dg.DagsterInstance.ephemeral() as instance:
            t0 = time.perf_counter()
            result = dg.materialize(
                assets,
                partition_key=week.key,
                resources=resources,
                instance=instance,
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            )
            elapsed = time.perf_counter() - t0
        if not result.success:
            raise RuntimeError(f"bench: dagster.materialize of week {week} failed")
        return elapsed

    # Phases.

    def week_phase(self) -> dict[str, Any]:
        week = self.week
        # Warm-up: binds the engine, fills OS and Parquet metadata caches, persists the previous
        # week's roster, so every timed repetition does the steady-state work of a weekly run.
        self.pipeline(week)
        inputs = self.bare_inputs(week)
        self.bare(week, inputs)
        pipelines, bares, materializes = [], [], []
        rows: dict[str, int] = {}
        for i in range(self.repeat):
            # Alternate the order so neither side always runs on the warmer cache.
            if i % 2:
                bares.append(self.bare(week, inputs))
                steps, rows = self.pipeline(week)
            else:
                steps, rows = self.pipeline(week)
                bares.append(self.bare(week, inputs))
            pipelines.append(steps)
        if self.spec.get("materialize"):
            self.materialize(week)  # warm-up: Dagster's own imports and definitions
            materializes = [self.materialize(week) for _ in range(self.repeat)]
        version = self.clickhouse.get_client().query("SELECT version()").result_rows[0][0]
        return {
            "pipeline": _medians(pipelines),
            "bare": _medians(bares),
            "materialize": _median(materializes) if materializes else None,
            "rows_fetched": rows,
            "sessions_in_week": self.sessions_in_week(week),
            "engine": {"clickhouse": str(version), "sqlite": sqlite3.sqlite_version},
        }

    def backfill_phase(self) -> dict[str, Any]:
        weeks = [Week.from_key(k) for k in self.spec["weeks"]]
        inputs = {w.key: self.bare_inputs(w) for w in weeks}
        # Warm-up on the first week only: the backfill itself is what is measured.
        self.categories(weeks[0])
        self.bare(weeks[0], inputs[weeks[0].key])
        totals, bare_totals, per_week, bare_per_week = [], [], [], []
        for _ in range(self.repeat):
            t0 = time.perf_counter()
            for week in weeks:
                s0 = time.perf_counter()
                self.categories(week)
                per_week.append(time.perf_counter() - s0)
            totals.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for week in weeks:
                bare_per_week.append(self.bare(week, inputs[week.key])["total"])
            bare_totals.append(time.perf_counter() - t0)
        return {
            "weeks": len(weeks),
            "first_week": weeks[0].key,
            "last_week": weeks[-1].key,
            "total": _median(totals),
            "bare_total": _median(bare_totals),
            "per_week_median": _median(per_week),
            "per_week_max": round(max(per_week), 4),
            "bare_per_week_median": _median(bare_per_week),
        }

    def history_phase(self) -> dict[str, Any]:
        week = self.week
        self.pipeline(week)
        inputs = self.bare_inputs(week)
        self.bare(week, inputs)
        pipelines, bares = [], []
        for _ in range(self.repeat):
            pipelines.append(self.pipeline(week)[0])
            bares.append(self.bare(week, inputs))
        return {"pipeline": _medians(pipelines), "bare": _medians(bares)}


# --- Report ---------------------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    import chdb
    import dagster

    memory_gb = None
    cpu_model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass  # not Linux: keep what platform knows
    return {
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "cpu": cpu_model,
        "os": platform.platform(),
        "python": platform.python_version(),
        "chdb": getattr(chdb, "__version__", "?"),
        "dagster": dagster.__version__,
    }


def summarise(report: dict[str, Any]) -> None:
    """The ratios and target verdicts, computed once for the table and the JSON."""
    week = report["week_phase"]
    pipe, bare = week["pipeline"]["total"], week["bare"]["total"]
    compare = report.get("compare")
    # Fixed overhead = the pipeline's time beyond the bare SQL that does not grow with the data:
    # measured on the small compare warehouse (same catalog, ~1/100 of the sessions). Without a
    # compare run, the volume-independent steps measured directly stand in for it.
    if compare:
        fixed = compare["pipeline"]["total"] - compare["bare"]["total"]
        fixed_source = f"pipeline - bare SQL at scale {compare['scale']:g}"
    else:
        fixed = overhead_steps(week)["fixed"]
        fixed_source = "schema/roster checks, Tesla lookup, history, snapshot, rendering"
    history = report["history"]
    rss = [week["peak_rss_mb"], report["backfill"]["peak_rss_mb"], *(h["peak_rss_mb"] for h in history)]
    rows_main = sum(week["rows_fetched"].values())
    rows_compare = sum(compare["rows_fetched"].values()) if compare else None
    shortest, longest = history[0], history[-1]
    history_ratio = longest["pipeline"]["total"] / shortest["pipeline"]["total"]
    report["summary"] = {
        "pipeline_s": pipe,
        "bare_s": bare,
        "ratio": round(pipe / bare, 3),
        "overhead_s": round(pipe - bare, 4),
        "fixed_overhead_s": round(fixed, 4),
        "fixed_overhead_source": fixed_source,
        "ratio_net_of_fixed": round((pipe - fixed) / bare, 3),
        "materialize_s": week["materialize"],
        "backfill_ratio": round(report["backfill"]["total"] / report["backfill"]["bare_total"], 3),
        "peak_rss_mb": max(rss),
        "rows_fetched": rows_main,
        "rows_fetched_compare": rows_compare,
        "history_ratio": round(history_ratio, 3),
        "targets": {
            "1 pipeline <= 1.3 x bare + fixed overhead": pipe <= TARGET_RATIO * bare + fixed,
            "3 peak RSS <= 1.5 GB": max(rss) <= TARGET_RSS_MB,
            # Only utilization reads sessions; catalog-side counts vary with the catalog state
            # (e.g. whether the previous roster had to be rebuilt), not with session volume.
            "4 tens of rows, independent of session count": rows_main < 100
            and (
                compare is None
                or compare["rows_fetched"]["utilization"] == week["rows_fetched"]["utilization"]
            ),
            f"5 {longest['history_weeks']} weeks within 1.2 x of {shortest['history_weeks']} weeks": history_ratio
            <= TARGET_HISTORY_RATIO,
        },
    }


def overhead_steps(week: dict[str, Any]) -> dict[str, float]:
    """Where the pipeline's time beyond the bare SQL goes (medians of the step timings)."""
    pipe, bare = week["pipeline"], week["bare"]
    catalog_bare = bare["catalog_total"]
    catalog_steps = pipe["infrastructure"] + pipe["pricing"]
    parts = {
        "frontier query": pipe["frontier"],
        "catalog bookkeeping (schema DDL, roster checks, connections)": catalog_steps - catalog_bare,
        "utilization wrapper (Tesla lookup, row conversion)": pipe["utilization"]
        - bare["clickhouse/utilization"],
        "history read + write (3 categories)": pipe["persist"],
        "snapshot assembly (history reads)": pipe["snapshot"],
        "rendering + report file": pipe["render"] + pipe["report_save"],
    }
    parts["fixed"] = sum(v for k, v in parts.items() if k != "frontier query")
    return parts


def _processes(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [("one week (+ materialize)", report["week_phase"]), ("backfill", report["backfill"])]
    found += [(f"history {h['history_weeks']} weeks", h) for h in report["history"]]
    if report.get("compare"):
        found.append((f"one week at scale {report['compare']['scale']:g}", report["compare"]))
    return found


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:,.0f} ms"


def render_markdown(report: dict[str, Any]) -> str:
    m, s, week = report["machine"], report["summary"], report["week_phase"]
    opts = report["options"]
    lines = [
        "# Paren Pulse benchmark results",
        "",
        f"Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `paren-pulse bench` in "
        f"{report['elapsed_seconds']:.0f} s. Medians of {opts['repeat']} repetitions after a warm-up.",
        "",
        "## Machine",
        "",
        "| fact | value |",
        "|---|---|",
        f"| cores | {m['cores']} |",
        f"| memory | {m['memory_gb']} GB |",
        f"| CPU | {m['cpu']} |",
        f"| OS | {m['os']} |",
        f"| Python | {m['python']} |",
        f"| chdb / ClickHouse | {m['chdb']} / {report['engine']['clickhouse']} |",
        f"| SQLite (catalog stand-in) | {report['engine']['sqlite']} |",
        f"| Dagster | {m['dagster']} |",
        "",
        "## Configuration",
        "",
        f"- warehouse: {report['warehouse']}",
        f"- measured week: {report['week']} (the newest complete week the session batches cover)",
        f"- sessions (attempts) in the measured week: {week['sessions_in_week']:,}",
        f"- backfill: {opts['weeks']} weeks; history variants: {', '.join(str(n) for n in opts['history'])} weeks",
        "",
        "## 1. One week: snapshot vs bare SQL",
        "",
        "| measurement | time |",
        "|---|---|",
        f"| bare SQL (catalog statements + ClickHouse utilization) | {_ms(s['bare_s'])} |",
        f"| pipeline in-process (compute.* + history + snapshot + rendering) | {_ms(s['pipeline_s'])} |",
        f"| `dagster.materialize` of the 4 assets (ephemeral instance) | {_ms(s['materialize_s'])} |",
        f"| ratio pipeline / bare | {s['ratio']:.2f}x |",
        f"| overhead (pipeline - bare) | {_ms(s['overhead_s'])} |",
        f"| fixed overhead ({s['fixed_overhead_source']}) | {_ms(s['fixed_overhead_s'])} |",
        f"| ratio net of the fixed overhead | {s['ratio_net_of_fixed']:.2f}x |",
        "",
        "Where the overhead goes (pipeline step minus its bare statements):",
        "",
        "| part | time |",
        "|---|---|",
        *(f"| {k} | {_ms(v)} |" for k, v in overhead_steps(week).items() if k != "fixed"),
        "",
        "Bare statements:",
        "",
        "| statement | time |",
        "|---|---|",
        *(f"| `{k}` | {_ms(v)} |" for k, v in week["bare"].items() if "/" in k),
        "",
        "## 2. Backfill",
        "",
    ]
    b = report["backfill"]
    lines += [
        "| measurement | time |",
        "|---|---|",
        f"| {b['weeks']} weeks ({b['first_week']}..{b['last_week']}), three category assets, sequential | "
        f"{b['total']:.1f} s |",
        f"| per week (median / max) | {_ms(b['per_week_median'])} / {_ms(b['per_week_max'])} |",
        f"| {b['weeks']} x bare SQL | {b['bare_total']:.1f} s |",
        f"| bare per week (median) | {_ms(b['bare_per_week_median'])} |",
        f"| ratio | {s['backfill_ratio']:.2f}x |",
        "",
        "## 3. Peak RSS of the processes that compute",
        "",
        "Each phase runs in a fresh spawned process. `VmHWM` is the peak of that process's own "
        "address space; `ru_maxrss` is what `resource.getrusage` reports, which on Linux also "
        "carries the parent's peak across `execve`, so it is an upper bound of the phase's own peak.",
        "",
        "| process | peak RSS (VmHWM) | ru_maxrss |",
        "|---|---|---|",
        *(
            f"| {name} | {run['peak_rss_mb']:,.0f} MB | {run['ru_maxrss_mb']:,.0f} MB |"
            for name, run in _processes(report)
        ),
        f"| the orchestrating parent (builds warehouses when not reused) | {report['rss']['parent_mb']:,.0f} MB | "
        f"{report['rss']['parent_mb']:,.0f} MB |",
        "",
        "## 4. Rows that cross into Python per week",
        "",
        "| scale | sessions in the week | infrastructure | utilization | pricing | total |",
        "|---|---|---|---|---|---|",
    ]
    runs = [(opts["scale"], week)]
    if report.get("compare"):
        runs.append((report["compare"]["scale"], report["compare"]))
    for scale, run in sorted(runs, key=lambda r: r[0]):
        rf = run["rows_fetched"]
        lines.append(
            f"| {scale:g} | {run['sessions_in_week']:,} | {rf['infrastructure']} | {rf['utilization']} | "
            f"{rf['pricing']} | {sum(rf.values())} |"
        )
    lines += [
        "",
        "## 5. The same week with more history in the warehouse",
        "",
        "| history | batches | pipeline | frontier | bare SQL | bare utilization |",
        "|---|---|---|---|---|---|",
        *(
            f"| {h['history_weeks']} weeks | {h['batches']} | {_ms(h['pipeline']['total'])} | "
            f"{_ms(h['pipeline']['frontier'])} | {_ms(h['bare']['total'])} | "
            f"{_ms(h['bare']['clickhouse/utilization'])} |"
            for h in report["history"]
        ),
        "",
        f"Longest / shortest history: {s['history_ratio']:.2f}x.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    measured = [
        f"{_ms(s['pipeline_s'])} vs 1.3 x {_ms(s['bare_s'])} + {_ms(s['fixed_overhead_s'])}",
        f"{s['peak_rss_mb']:,.0f} MB",
        f"{s['rows_fetched']} rows"
        + (
            f" (scale {report['compare']['scale']:g}: {s['rows_fetched_compare']})"
            if report.get("compare")
            else ""
        ),
        f"{s['history_ratio']:.2f}x",
    ]
    for (name, met), value in zip(s["targets"].items(), measured, strict=True):
        lines.append(
            f"| ({name.split(' ', 1)[0]}) {name.split(' ', 1)[1]} | {value} | {'yes' if met else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
