"""Pure reconciliation logic: consistency rules, drift against the reference, known differences.

Everything here takes numbers and returns findings; the Dagster checks (checks.py) and the
`paren-pulse reconcile` watchdog both call it, so they can never disagree.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from paren_pulse import constants as c
from paren_pulse.metrics import CountryMetrics

Status = Literal["ok", "warn", "error", "known"]

# Metrics compared against the reference, per category.
DRIFT_METRICS = {
    c.INFRASTRUCTURE: (
        c.SPINE_STATIONS,
        c.SPINE_PORTS,
        c.TRACKED_STATIONS,
        c.TRACKED_PORTS,
        c.PORT_COVERAGE_PCT,
    ),
    c.UTILIZATION: (c.SESSIONS, c.ATTEMPTS, c.SUCCESS_RATE),
    c.PRICING: (c.AVG_PRICE_PER_KWH, c.PRICED_PORTS),
}


@dataclass(frozen=True)
class KnownDifference:
    id: str
    country: str
    segment: str
    categories: tuple[str, ...]
    compare_with_segment: str
    reason: str


@dataclass(frozen=True)
class ReconciliationConfig:
    drift_default: dict[str, float]
    drift_metrics: dict[str, dict[str, float]]
    known_differences: tuple[KnownDifference, ...]
    price_band: dict[str, tuple[float, float]]
    restatement_warn_pct: float
    freshness: dict[str, float]
    anomaly: dict[str, float]

    def tolerance(self, metric: str) -> tuple[float, float]:
        spec = {**self.drift_default, **self.drift_metrics.get(metric, {})}
        return float(spec["warn_pct"]), float(spec["error_pct"])

    def known(self, category: str, country: str, segment: str) -> KnownDifference | None:
        for diff in self.known_differences:
            if diff.country == country and diff.segment == segment and category in diff.categories:
                return diff
        return None


def parse_config(raw: dict[str, Any]) -> ReconciliationConfig:
    return ReconciliationConfig(
        drift_default=dict(raw["drift"]["default"]),
        drift_metrics={k: dict(v) for k, v in raw["drift"].get("metrics", {}).items()},
        known_differences=tuple(
            KnownDifference(
                id=d["id"],
                country=d["country"],
                segment=d["segment"],
                categories=tuple(d["categories"]),
                compare_with_segment=d["compare_with_segment"],
                reason=d["reason"],
            )
            for d in raw.get("known_differences", [])
        ),
        price_band={k: (float(v[0]), float(v[1])) for k, v in raw["consistency"]["price_band"].items()},
        restatement_warn_pct=float(raw["restatement"]["warn_pct"]),
        freshness={k: float(v) for k, v in raw["freshness"].items()},
        anomaly={k: float(v) for k, v in raw["anomaly"].items()},
    )


@cache
def load_config() -> ReconciliationConfig:
    text = (
        resources.files("paren_pulse")
        .joinpath("reference", "reconciliation.toml")
        .read_text(encoding="utf-8")
    )
    return parse_config(tomllib.loads(text))


@dataclass(frozen=True)
class Comparison:
    """One metric cell against the reference."""

    category: str
    country: str
    segment: str
    metric: str
    ours: float | None
    reference: float | None
    delta_pct: float | None
    warn_pct: float
    error_pct: float
    status: Status
    note: str = ""
    source: str = "sql"

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def relative_delta_pct(ours: float | None, reference: float | None) -> float | None:
    if ours is None or reference is None:
        return None
    if reference == 0:
        return 0.0 if ours == 0 else float("inf")
    return abs(ours - reference) / abs(reference) * 100.0


def classify(delta_pct: float | None, warn_pct: float, error_pct: float) -> Status:
    """ok up to warn_pct, warn up to error_pct, error beyond; a missing side is an error."""
    if delta_pct is None:
        return "error"
    if delta_pct > error_pct:
        return "error"
    if delta_pct > warn_pct:
        return "warn"
    return "ok"


def compare(
    category: str,
    ours: CountryMetrics,
    reference: CountryMetrics,
    config: ReconciliationConfig,
    source: str = "sql",
) -> list[Comparison]:
    """Every drift metric of every country and segment, known differences mapped."""
    out: list[Comparison] = []
    for country in c.COUNTRIES:
        for segment in c.SEGMENTS:
            known = config.known(category, country, segment)
            ours_segment = known.compare_with_segment if known else segment
            for metric in DRIFT_METRICS[category]:
                mine = ours.get(country, {}).get(ours_segment, {}).get(metric)
                theirs = reference.get(country, {}).get(segment, {}).get(metric)
                if theirs is None and source != "sql":
                    continue  # an export compares only the cells it carries
                warn, error = config.tolerance(metric)
                delta = relative_delta_pct(_num(mine), _num(theirs))
                status = classify(delta, warn, error)
                note = ""
                if known is not None:
                    note = f"known: {known.id}"
                    # Mapped cells that agree are "known"; mapped cells that still differ are real drift.
                    status = "known" if status == "ok" else status
                if mine is None and theirs is None:
                    status, note = "ok", "both undefined"
                out.append(
                    Comparison(
                        category,
                        country,
                        segment,
                        metric,
                        _num(mine),
                        _num(theirs),
                        delta,
                        warn,
                        error,
                        status,
                        note,
                        source,
                    )
                )
    return out


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def consistency(category: str, values: CountryMetrics, config: ReconciliationConfig) -> list[str]:
    """Internal consistency problems of one category's numbers (empty list = consistent)."""
    problems: list[str] = []
    for country in c.COUNTRIES:
        segments = values.get(country)
        if segments is None:
            problems.append(f"{country}: missing")
            continue
        for segment in c.SEGMENTS:
            cell = segments.get(segment, {})
            for metric in c.METRICS_BY_CATEGORY[category]:
                if metric not in cell:
                    problems.append(f"{country}.{segment}.{metric}: missing")
        for metric in c.METRICS_BY_CATEGORY[category]:
            if metric not in c.ADDITIVE_METRICS:
                continue
            nt, t, agg = (segments.get(s, {}).get(metric) for s in (c.NON_TESLA, c.TESLA, c.AGGREGATE))
            if None not in (nt, t, agg) and abs(float(agg) - float(nt) - float(t)) > 1e-9:  # type: ignore[arg-type]
                problems.append(f"{country}.{metric}: aggregate {agg} != non-Tesla {nt} + Tesla {t}")
        for segment in c.SEGMENTS:
            cell = segments.get(segment, {})
            problems += _cell_rules(category, country, segment, cell, config)
    return problems


def _cell_rules(
    category: str, country: str, segment: str, cell: dict[str, Any], config: ReconciliationConfig
) -> list[str]:
    where = f"{country}.{segment}"
    out: list[str] = []

    def negative(*metrics: str) -> None:
        for m in metrics:
            if cell.get(m) is not None and cell[m] < 0:
                out.append(f"{where}.{m}: negative ({cell[m]})")

    if category == c.INFRASTRUCTURE:
        negative(c.SPINE_STATIONS, c.SPINE_PORTS, c.TRACKED_STATIONS, c.TRACKED_PORTS, c.OPENED_THIS_WEEK)
        if (cell.get(c.SPINE_PORTS) or 0) < (cell.get(c.SPINE_STATIONS) or 0):
            out.append(
                f"{where}: spine ports {cell.get(c.SPINE_PORTS)} < stations {cell.get(c.SPINE_STATIONS)}"
            )
        if (cell.get(c.TRACKED_PORTS) or 0) < (cell.get(c.TRACKED_STATIONS) or 0):
            out.append(
                f"{where}: tracked ports {cell.get(c.TRACKED_PORTS)} < stations {cell.get(c.TRACKED_STATIONS)}"
            )
        coverage = cell.get(c.PORT_COVERAGE_PCT)
        if coverage is not None and not 0 <= coverage <= 100:
            out.append(f"{where}: port coverage {coverage:.2f}% outside 0-100")
        if cell.get(c.SPINE_STATIONS) == 0 and segment == c.AGGREGATE:
            out.append(f"{where}: no spine stations at all")
    elif category == c.UTILIZATION:
        negative(c.SESSIONS, c.ATTEMPTS)
        rate = cell.get(c.SUCCESS_RATE)
        if rate is not None and not 0 <= rate <= 1:
            out.append(f"{where}: success rate {rate:.4f} outside 0-1")
        if (cell.get(c.SESSIONS) or 0) > (cell.get(c.ATTEMPTS) or 0):
            out.append(f"{where}: sessions {cell.get(c.SESSIONS)} > attempts {cell.get(c.ATTEMPTS)}")
        if segment == c.AGGREGATE and not cell.get(c.SESSIONS):
            out.append(f"{where}: no successful sessions")
    elif category == c.PRICING:
        negative(c.PRICED_PORTS, c.PER_MINUTE_ONLY_PORTS)
        currency = c.CURRENCY[country]
        low, high = config.price_band[currency]
        price = cell.get(c.AVG_PRICE_PER_KWH)
        if price is not None and not low <= price <= high:
            out.append(f"{where}: average {price:.3f} {currency}/kWh outside the plausible band {low}-{high}")
        if cell.get(c.WRONG_CURRENCY_PORTS):
            out.append(
                f"{where}: {cell[c.WRONG_CURRENCY_PORTS]} ports priced in a currency other than {currency}"
            )
        if segment == c.AGGREGATE and price is None:
            out.append(f"{where}: no priced port")
    return out


def anomalies(
    category: str, current: CountryMetrics, previous: CountryMetrics | None, config: ReconciliationConfig
) -> list[str]:
    """Week-over-week jumps beyond the configured band (WARN only)."""
    found: list[str] = []
    for country in c.COUNTRIES:
        agg = current.get(country, {}).get(c.AGGREGATE, {})
        if category == c.UTILIZATION:
            wow = agg.get(c.SESSIONS_WOW_PCT)
            if wow is not None and abs(wow) > config.anomaly["sessions_wow_pct"]:
                found.append(f"{country}: sessions {wow:+.1f}% week over week")
        elif category == c.INFRASTRUCTURE and previous is not None:
            before = previous.get(country, {}).get(c.AGGREGATE, {}).get(c.SPINE_STATIONS)
            now = agg.get(c.SPINE_STATIONS)
            delta = relative_delta_pct(_num(now), _num(before))
            if delta is not None and delta > config.anomaly["stations_wow_pct"]:
                found.append(f"{country}: spine stations {before} -> {now} ({delta:.1f}%)")
    return found
