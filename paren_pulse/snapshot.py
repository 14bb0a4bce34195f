"""Assemble the weekly snapshot `data` from the metrics history.

Shape (documented in docs/metrics.md and stable):
{
  "week": {"start", "end", "as_of"},
  "US" | "CA": {
      "<category>": {"as_of", "week_start", ...extra, "non_tesla"|"tesla"|"aggregate": {metric: number}}
  },
  "grand_total": {"<category>": {"as_of", metric: number}},
  "sources": {...data dates...},
  "caveats": [str, ...]
}
"""

from __future__ import annotations

from typing import Any

from paren_pulse import constants as c
from paren_pulse import metrics
from paren_pulse.partitions import Week
from paren_pulse.resources.catalog import SourceError
from paren_pulse.resources.history import HistoryStore, StoredWeek


def load_categories(history: HistoryStore, week: Week) -> dict[str, StoredWeek]:
    """The stored weeks a snapshot of `week` is made of; utilization is the newest one <= week."""
    stored: dict[str, StoredWeek] = {}
    for category in (c.INFRASTRUCTURE, c.PRICING):
        found = history.read_week(category, week.start)
        if found is None:
            raise SourceError(
                f"snapshot: no {category} history for week {week}; materialize weekly_{category} for it first"
            )
        stored[category] = found
    util_week = history.latest_week_on_or_before(c.UTILIZATION, week.start)
    found_util = history.read_week(c.UTILIZATION, util_week) if util_week else None
    if found_util is None:
        raise SourceError(
            f"snapshot: no utilization history on or before week {week}; materialize weekly_utilization first"
        )
    stored[c.UTILIZATION] = found_util
    return stored


def build_snapshot(
    week: Week, stored: dict[str, StoredWeek], details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Pure: the snapshot data for `week` from its stored categories."""
    details = details or {}
    data: dict[str, Any] = {
        "week": {"start": week.key, "end": week.as_of.isoformat(), "as_of": week.as_of.isoformat()},
    }
    per_category = {category: metrics.from_rows(s.rows) for category, s in stored.items()}
    for country in c.COUNTRIES:
        data[country] = {}
        for category in c.CATEGORIES:
            s = stored[category]
            block: dict[str, Any] = {"as_of": s.as_of.isoformat(), "week_start": s.week_start.isoformat()}
            if category == c.PRICING:
                block["currency"] = c.CURRENCY[country]
            for segment in c.SEGMENTS:
                block[segment] = {
                    m: per_category[category].get(country, {}).get(segment, {}).get(m)
                    for m in c.METRICS_BY_CATEGORY[category]
                }
            data[country][category] = block
    data["grand_total"] = {
        category: {
            "as_of": stored[category].as_of.isoformat(),
            **metrics.grand_total(per_category[category], names),
        }
        for category, names in c.GRAND_TOTAL_BY_CATEGORY.items()
    }
    util = stored[c.UTILIZATION]
    data["sources"] = {
        "infrastructure_as_of": stored[c.INFRASTRUCTURE].as_of.isoformat(),
        "pricing_as_of": stored[c.PRICING].as_of.isoformat(),
        "utilization_week_start": util.week_start.isoformat(),
        "utilization_as_of": util.as_of.isoformat(),
        **{k: v for k, v in details.items() if isinstance(v, str | int | float) or v is None},
    }
    data["caveats"] = caveats(week, stored, data)
    return data


def caveats(week: Week, stored: dict[str, StoredWeek], data: dict[str, Any]) -> list[str]:
    util = stored[c.UTILIZATION]
    notes = []
    if util.week_start != week.start:
        lag_weeks = (week.start - util.week_start).days // 7
        notes.append(
            f"Sessions arrive in monthly batches: utilization is for the week of {util.week_start:%d %b %Y}, "
            f"{lag_weeks} week{'s' if lag_weeks != 1 else ''} behind the infrastructure numbers."
        )
    ca_minute = data[c.CA][c.PRICING][c.AGGREGATE].get(c.PER_MINUTE_ONLY_PORTS)
    notes.append(
        "Prices: average non-member price per kWh over tracked DC ports that have one, in local currency "
        "(USD / CAD), never converted"
        + (f"; {ca_minute:,} Canadian ports price per minute only and are excluded." if ca_minute else ".")
    )
    notes.append("Coverage = tracked DC fast ports / AFDC public open DC fast ports.")
    notes.append("Opened = tracked this week and not last week (persisted weekly rosters).")
    return notes


def snapshot_for_week(
    history: HistoryStore, week: Week, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return build_snapshot(week, load_categories(history, week), details)
