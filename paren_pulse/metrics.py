"""Pure metric arithmetic: SQL result rows in, nested metric dicts out.

The engines return sums and counts per (country, is_tesla); everything derived (aggregate,
coverage, success rate, averages, week over week, grand total) is computed here, once, so the
same arithmetic serves the curated path, the reference path and the tests.

Shape used everywhere: CountryMetrics = {country: {segment: {metric: value}}}.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from paren_pulse import constants as c

Value = float | int | None
SegmentMetrics = dict[str, Value]
CountryMetrics = dict[str, dict[str, SegmentMetrics]]


@dataclass(frozen=True)
class MetricRow:
    """One tidy history row: a single number for (country, segment, metric)."""

    country: str
    segment: str
    metric: str
    value: float | None


def ratio(numerator: Value, denominator: Value, scale: float = 1.0) -> float | None:
    """numerator / denominator * scale, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return float(numerator) / float(denominator) * scale


def pct_change(current: Value, previous: Value) -> float | None:
    """Week-over-week change in percent; None without a non-zero previous value."""
    if current is None or previous is None or previous == 0:
        return None
    return (float(current) - float(previous)) / float(previous) * 100.0


def add(a: Value, b: Value) -> Value:
    """Sum that stays None when either side is unknown (an unknown half makes an unknown whole)."""
    if a is None or b is None:
        return None
    return a + b


def segment_of(is_tesla: Any) -> str:
    return c.TESLA if int(is_tesla) == 1 else c.NON_TESLA


def split_by_segment(
    rows: Iterable[Mapping[str, Any]], metrics: Sequence[str]
) -> dict[str, dict[str, dict[str, Value]]]:
    """Rows keyed by (country, is_tesla) into {country: {non_tesla|tesla: {metric: value}}}.

    Countries and segments with no rows get zeros: an empty segment is a real zero (no Tesla
    station in a region), not a missing number.
    """
    out: dict[str, dict[str, dict[str, Value]]] = {
        country: {seg: dict.fromkeys(metrics, 0) for seg in (c.NON_TESLA, c.TESLA)} for country in c.COUNTRIES
    }
    for row in rows:
        country = row["country"]
        if country not in out:
            continue
        cell = out[country][segment_of(row["is_tesla"])]
        for metric in metrics:
            value = row.get(metric)
            cell[metric] = (cell[metric] or 0) + (value or 0)
    return out


def with_aggregate(split: Mapping[str, Mapping[str, Mapping[str, Value]]]) -> CountryMetrics:
    """Add the aggregate segment (sum of non-Tesla and Tesla) for every additive input."""
    result: CountryMetrics = {}
    for country, segments in split.items():
        nt, t = dict(segments[c.NON_TESLA]), dict(segments[c.TESLA])
        result[country] = {
            c.NON_TESLA: nt,
            c.TESLA: t,
            c.AGGREGATE: {m: add(nt.get(m), t.get(m)) for m in nt},
        }
    return result


def infrastructure(
    spine_rows: Iterable[Mapping[str, Any]],
    tracked_rows: Iterable[Mapping[str, Any]],
    opened_rows: Iterable[Mapping[str, Any]] | None,
) -> CountryMetrics:
    """Spine and tracked counts, coverage, and stations opened (None without a previous roster)."""
    spine = split_by_segment(spine_rows, (c.SPINE_STATIONS, c.SPINE_PORTS))
    tracked = split_by_segment(tracked_rows, (c.TRACKED_STATIONS, c.TRACKED_PORTS))
    opened = split_by_segment(opened_rows or [], (c.OPENED_THIS_WEEK,))
    merged = {
        country: {
            seg: {
                **spine[country][seg],
                **tracked[country][seg],
                c.OPENED_THIS_WEEK: opened[country][seg][c.OPENED_THIS_WEEK]
                if opened_rows is not None
                else None,
            }
            for seg in (c.NON_TESLA, c.TESLA)
        }
        for country in c.COUNTRIES
    }
    result = with_aggregate(merged)
    for segments in result.values():
        for cell in segments.values():
            cell[c.PORT_COVERAGE_PCT] = ratio(cell[c.TRACKED_PORTS], cell[c.SPINE_PORTS], 100.0)
    return _ordered(result, c.INFRASTRUCTURE_METRICS)


def utilization(
    current_rows: Iterable[Mapping[str, Any]], previous_rows: Iterable[Mapping[str, Any]]
) -> CountryMetrics:
    """Successful sessions, attempts, success rate and week over week for one data week."""
    current = split_by_segment(current_rows, (c.SESSIONS, c.ATTEMPTS))
    previous = split_by_segment(previous_rows, (c.SESSIONS,))
    merged = {
        country: {
            seg: {**current[country][seg], c.SESSIONS_PREV_WEEK: previous[country][seg][c.SESSIONS]}
            for seg in (c.NON_TESLA, c.TESLA)
        }
        for country in c.COUNTRIES
    }
    result = with_aggregate(merged)
    for segments in result.values():
        for cell in segments.values():
            cell[c.SUCCESS_RATE] = ratio(cell[c.SESSIONS], cell[c.ATTEMPTS])
            cell[c.SESSIONS_WOW_PCT] = pct_change(cell[c.SESSIONS], cell[c.SESSIONS_PREV_WEEK])
    return _ordered(result, c.UTILIZATION_METRICS)


def pricing(rows: Iterable[Mapping[str, Any]]) -> CountryMetrics:
    """Average non-member price per kWh over priced ports (local currency), with coverage counts.

    Rows carry `price_sum` (sum of per-port prices) next to the counts, so the aggregate average
    is the port-weighted mean of both segments, not the mean of two averages.
    """
    split = split_by_segment(
        rows, ("price_sum", c.PRICED_PORTS, c.PER_MINUTE_ONLY_PORTS, c.WRONG_CURRENCY_PORTS)
    )
    result = with_aggregate(split)
    for segments in result.values():
        for cell in segments.values():
            cell[c.AVG_PRICE_PER_KWH] = ratio(cell.pop("price_sum"), cell[c.PRICED_PORTS])
    return _ordered(result, c.PRICING_METRICS)


def grand_total(
    per_country: Mapping[str, Mapping[str, Mapping[str, Value]]], metrics: Sequence[str]
) -> dict[str, Value]:
    """US + CA aggregate for the additive metrics only (prices are never totalled across currencies)."""
    total: dict[str, Value] = {}
    for metric in metrics:
        if metric not in c.ADDITIVE_METRICS:
            raise ValueError(f"{metric} is not additive and cannot enter the grand total")
        values = [
            per_country[country][c.AGGREGATE].get(metric) for country in c.COUNTRIES if country in per_country
        ]
        if not values or any(v is None for v in values):
            total[metric] = None
        else:
            total[metric] = sum(v for v in values if v is not None)
    return total


def to_rows(metrics: CountryMetrics) -> list[MetricRow]:
    """Flatten for the history store."""
    return [
        MetricRow(country, segment, metric, None if value is None else float(value))
        for country, segments in metrics.items()
        for segment, cells in segments.items()
        for metric, value in cells.items()
    ]


def from_rows(rows: Iterable[MetricRow]) -> CountryMetrics:
    """Inverse of to_rows; counts come back as ints so messages never show '12.0 stations'."""
    out: CountryMetrics = {}
    for row in rows:
        value: Value = row.value
        if value is not None and row.metric in c.ADDITIVE_METRICS and float(value).is_integer():
            value = int(value)
        out.setdefault(row.country, {}).setdefault(row.segment, {})[row.metric] = value
    return out


def _ordered(result: CountryMetrics, metrics: Sequence[str]) -> CountryMetrics:
    return {
        country: {seg: {m: segments[seg][m] for m in metrics} for seg in c.SEGMENTS}
        for country, segments in result.items()
    }
