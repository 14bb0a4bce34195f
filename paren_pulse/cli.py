"""`paren-pulse`: build the demo, print a week's snapshot, and (later) doctor/reconcile/bench.

Exit codes: 0 success, 1 a source or check failed (the message says what to do), 2 usage error.
Never a bare traceback: every expected failure is one line on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from paren_pulse.partitions import Week, WeekError, latest_complete_week, parse_week
from paren_pulse.resources.catalog import SourceError
from paren_pulse.settings import ConfigurationError, current_environment, demo_paths, pulse_home

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


# The local instance (CLI and `dagster dev`): queued runs, at most as many at once as a small
# machine's cores can serve (the embedded engine is CPU-bound; more runs only thrash).
LOCAL_INSTANCE_YAML = """telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 2
"""

_ERROR_PREFIX = re.compile(r"^[\w.]+(Error|Exception|Failure): ")


class CommandFailed(Exception):
    """A command could not finish; the message is shown as is."""


def _dagster_instance() -> Any:
    """The persistent Dagster instance `dagster dev` also uses (see README), under PAREN_PULSE_HOME.

    Two commands started at once on a fresh home would both create the instance's SQLite tables
    and one would fail ("table ... already exists"): creation is serialised with a file lock.
    """
    import fcntl

    import dagster as dg

    if not os.environ.get("DAGSTER_HOME"):
        home = pulse_home() / "dagster"
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        if not config.exists():
            config.write_text(LOCAL_INSTANCE_YAML, encoding="utf-8")
        os.environ["DAGSTER_HOME"] = str(home)
    lock_path = os.path.join(os.environ["DAGSTER_HOME"], ".paren_pulse_init.lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            instance = dg.DagsterInstance.get()
            # Touch every storage so its tables exist before another process can race for them.
            instance.get_runs(limit=1)
            instance.all_instigator_state()
            instance.get_asset_keys(limit=1)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return instance


def _failure_message(result: Any) -> str:
    """The innermost error of each failed step, as `step: Class: message` lines."""
    lines = []
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        text = (error.message if error else "unknown error").strip().splitlines()[0]
        lines.append(f"{event.step_key}: {_ERROR_PREFIX.sub('', text)}")
    return "; ".join(lines) or "the run failed; see the Dagster UI for its logs"


def run_week(week: Week, post: bool = True) -> Any:
    """Materialize the weekly job for `week` in this process on the persistent instance."""
    from paren_pulse.definitions import defs

    job = defs.resolve_job_def("weekly_metrics_job")
    tags = {} if post else {"paren_pulse/post": "false"}
    result = job.execute_in_process(
        partition_key=week.key,
        instance=_dagster_instance(),
        raise_on_error=False,
        tags=tags,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )
    if not result.success:
        failed_checks = [
            f"{ev.check_name}: {ev.description}"
            for ev in result.get_asset_check_evaluations()
            if not ev.passed and ev.severity.value == "ERROR"
        ]
        if failed_checks:
            raise CommandFailed(
                f"week {week} not posted: blocking check failed: "
                + "; ".join(failed_checks)
                + " (see `paren-pulse reconcile` and the Dagster UI)"
            )
        raise CommandFailed(f"week {week}: {_failure_message(result)}")
    return result


def preflight() -> None:
    """Say up front what a run would fail on: no demo warehouse, or unset production variables."""
    from paren_pulse.resources.environments import resources_for, unset_variables

    missing = unset_variables(resources_for())
    if missing:
        raise ConfigurationError(
            f"environment variables not set: {', '.join(missing)} (see .env.example and docs/production.md)"
        )
    if current_environment() == "demo" and not demo_paths().catalog_db.exists():
        raise SourceError(
            f"no demo warehouse under {demo_paths().warehouse}; build it with `paren-pulse demo`"
        )


def cmd_snapshot(args: argparse.Namespace) -> int:
    from paren_pulse.resources.environments import resources_for
    from paren_pulse.slack_blocks import render_preview

    week = parse_week(args.week) if args.week else latest_complete_week()
    preflight()
    result = run_week(week, post=not args.no_post)
    payload = resources_for()["reports"].load(week.key)
    json.dump(
        {"data": payload["data"], "blocks": payload["blocks"]}, sys.stdout, indent=2, ensure_ascii=False
    )
    sys.stdout.write("\n")
    if args.text:
        print(render_preview(payload["data"]), file=sys.stderr)
    for mat in result.asset_materializations_for_node("weekly_slack_report"):
        location = mat.metadata.get("location")
        where = location.value if location is not None else f"not posted ({mat.metadata['reason'].value})"
        print(f"Slack payload for week {week}: {where}", file=sys.stderr)
    return EXIT_OK


def cmd_reconcile(args: argparse.Namespace) -> int:
    from paren_pulse.resources.environments import resources_for
    from paren_pulse.watchdog import format_report, reconcile_week

    if args.weeks is not None and args.weeks < 1:
        raise ConfigurationError("--weeks must be at least 1")
    last = parse_week(args.week) if args.week else latest_complete_week()
    weeks = [Week(last.start - dt.timedelta(days=7 * i)) for i in range(args.weeks or 1)][::-1]
    preflight()
    resources = resources_for()
    clean = True
    for week in weeks:
        report = reconcile_week(week, resources)
        clean = clean and report.clean
        print(format_report(report, show_all=args.all))
    return EXIT_OK if clean else EXIT_FAILED


def cmd_demo(args: argparse.Namespace) -> int:
    from paren_pulse.demo.drift import inject
    from paren_pulse.demo.generator import main_build

    if args.inject_drift:
        preflight()
        for fault in args.inject_drift:
            print(f"injected: {inject(demo_paths(), fault)}", file=sys.stderr)
        return EXIT_OK
    if args.scale <= 0:
        raise ConfigurationError("--scale must be positive (1.0 = Paren's real volume)")
    summary = main_build(pulse_home(), scale=args.scale, seed=args.seed)
    print(json.dumps(summary.as_dict(), indent=2, default=str))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paren-pulse",
        description="Weekly DC fast charging network snapshot (USA and Canada). "
        "Environment: PAREN_PULSE_ENV=demo|production, state under PAREN_PULSE_HOME.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    snap = sub.add_parser(
        "snapshot",
        help="materialize a week (default: the latest complete one) and print {data, blocks} as JSON",
        description="Run the weekly job for a week and print the snapshot JSON on stdout.",
    )
    snap.add_argument("--week", help="week start, a Monday (YYYY-MM-DD); default: the latest complete week")
    snap.add_argument("--text", action="store_true", help="also print a human-readable preview on stderr")
    snap.add_argument(
        "--no-post", action="store_true", help="compute and render, but do not post or write the outbox"
    )
    snap.set_defaults(func=cmd_snapshot)

    demo = sub.add_parser(
        "demo",
        help="(re)build the demo warehouse under PAREN_PULSE_HOME",
        description="Build the deterministic demo warehouse: SQLite catalog + Parquet session batches.",
    )
    demo.add_argument(
        "--scale", type=float, default=0.01, help="session volume; 1.0 = Paren's real volume (default 0.01)"
    )
    demo.add_argument("--seed", type=int, default=20251, help="random seed (default 20251)")
    demo.add_argument(
        "--inject-drift",
        action="append",
        choices=["duplicate-batch", "reclassify-network", "wrong-currency"],
        help="put a realistic fault into the existing demo warehouse (repeatable); rebuild with `demo` to undo",
    )
    demo.set_defaults(func=cmd_demo)

    from paren_pulse.bench import add_parser as add_bench
    from paren_pulse.doctor import add_parser as add_doctor

    add_doctor(sub)
    add_bench(sub)

    rec = sub.add_parser(
        "reconcile",
        help="compare stored weeks with the dashboard's formulation; exit 0 clean, 1 drift, 2 usage",
        description="Reconciliation watchdog: metric, ours, reference, delta, tolerance, status.",
    )
    group = rec.add_mutually_exclusive_group()
    group.add_argument("--week", help="week start (a Monday); default: the latest complete week")
    group.add_argument("--weeks", type=int, help="the last N complete weeks")
    rec.add_argument("--all", action="store_true", help="list every metric, not only the ones that differ")
    rec.set_defaults(func=cmd_reconcile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        current_environment()
        return int(args.func(args))
    except (WeekError, ConfigurationError) as exc:
        print(f"paren-pulse: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (SourceError, CommandFailed) as exc:
        print(f"paren-pulse: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("paren-pulse: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
