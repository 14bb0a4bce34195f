"""`paren-pulse reconcile`: the reconciliation outside Dagster, e.g. before a manual post.

It compares what the history store holds (exactly what the snapshot would post) with the
dashboard's independent formulation, using the same pure logic as the asset checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paren_pulse import constants as c
from paren_pulse import dashboard_reference, metrics, reconcile
from paren_pulse.partitions import Week


@dataclass
class WeekReport:
    week: Week
    comparisons: list[reconcile.Comparison] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems and all(x.status in ("ok", "known") for x in self.comparisons)


def reconcile_week(week: Week, resources: dict[str, Any]) -> WeekReport:
    history = resources["history"]
    config = reconcile.load_config()
    report = WeekReport(week)
    for category in c.CATEGORIES:
        data_week = (
            history.latest_week_on_or_before(category, week.start)
            if category == c.UTILIZATION
            else week.start
        )
        stored = history.read_week(category, data_week) if data_week else None
        if stored is None:
            report.problems.append(
                f"{category}: no stored numbers for week {week}; materialize the week first"
            )
            continue
        ours = metrics.from_rows(stored.rows)
        report.problems += [f"{category}: {p}" for p in reconcile.consistency(category, ours, config)]
        theirs = dashboard_reference.compute(
            category,
            Week(stored.week_start),
            catalog=resources["catalog"],
            clickhouse=resources["clickhouse"],
        )
        report.comparisons += reconcile.compare(category, ours, theirs, config)
    return report


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value == float("inf"):
        return "inf"
    return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"


def format_report(report: WeekReport, show_all: bool = False) -> str:
    header = ("metric", "ours", "reference", "delta %", "tolerance %", "status")
    rows = [
        (
            f"{x.category}.{x.country}.{x.segment}.{x.metric}"
            + (" [export]" if x.source == "export" else ""),
            _fmt(x.ours),
            _fmt(x.reference),
            _fmt(x.delta_pct),
            f"{x.warn_pct:g}/{x.error_pct:g}",
            x.status.upper() + (f" ({x.note})" if x.note and x.status == "known" else ""),
        )
        for x in report.comparisons
        if show_all or x.status != "ok"
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"week {report.week}: " + ("CLEAN" if report.clean else "DRIFT")]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    lines += [f"consistency: {p}" for p in report.problems]
    ok = sum(1 for x in report.comparisons if x.status == "ok")
    lines.append(f"{ok} of {len(report.comparisons)} metrics within tolerance")
    return "\n".join(lines)
