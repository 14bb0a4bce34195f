"""`paren-pulse bench` end to end at a tiny scale: every section is written, numbers are plausible.

No timing assertions: timings depend on the machine; the benchmark's job is to report them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from paren_pulse.bench import add_parser, newest_complete_week, required_start

SECTIONS = (
    "## Machine",
    "## Configuration",
    "## 1. One week: snapshot vs bare SQL",
    "## 2. Backfill",
    "## 3. Peak RSS of the processes that compute",
    "## 4. Rows that cross into Python per week",
    "## 5. The same week with more history in the warehouse",
    "## Targets",
)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="paren-pulse")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["bench", *argv])


def test_bench_parser_defaults() -> None:
    args = parse([])
    assert (args.scale, args.weeks, args.repeat, args.reuse) == (1.0, 52, 3, False)
    assert args.history == "13,26,52,104"


def test_calendar_helpers() -> None:
    import datetime as dt

    # 4 Dec 2026: October's batch landed on 22 Nov, November's lands on 22 Dec.
    week = newest_complete_week(dt.date(2026, 12, 4))
    assert week.key == "2026-10-19"
    start = required_start(week, 104)
    assert start.weekday() == 0 and start <= dt.date(2024, 10, 1) < start + dt.timedelta(days=7)


@pytest.mark.slow
def test_bench_tiny_scale_writes_every_section(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    args = parse(
        [
            "--scale", "0.001", "--weeks", "3", "--repeat", "1", "--history", "3,6",
            "--compare-scale", "0.002", "--home", str(tmp_path / "bench"), "--output", str(output),
        ]
    )  # fmt: skip
    assert args.func(args) == 0

    text = output.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in text, section
    report = json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
    week, summary = report["week_phase"], report["summary"]

    assert week["pipeline"]["total"] > 0 and week["bare"]["total"] > 0
    assert week["materialize"] is not None and week["materialize"] > 0
    assert report["backfill"]["weeks"] == 3 and report["backfill"]["total"] > 0
    assert [h["history_weeks"] for h in report["history"]] == [3, 6]
    assert report["history"][0]["batches"] <= report["history"][1]["batches"]
    # Rows into Python: tens, the same at both scales although the session counts differ.
    assert report["compare"]["sessions_in_week"] > week["sessions_in_week"] > 0
    assert 10 <= summary["rows_fetched"] < 100
    assert summary["rows_fetched_compare"] == summary["rows_fetched"]
    # A Python process with Dagster and chdb loaded: more than 50 MB, far less than 1.5 GB here.
    assert 50 < summary["peak_rss_mb"] < 1536
    assert set(summary["targets"]) and all(isinstance(v, bool) for v in summary["targets"].values())
    # Nothing of the benchmark lands outside its home.
    assert (tmp_path / "bench" / "scale-0.001" / "warehouse" / "manifest.json").exists()
