"""One function per metric category: run the curated SQL for a week, return its metrics.

Kept apart from the Dagster assets so the CLI, the reconciliation watchdog and the benchmark
compute exactly what the assets compute. Only result rows (tens per week) cross into Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from paren_pulse import constants as c
from paren_pulse import metrics
from paren_pulse.partitions import Week, monday_of
from paren_pulse.resources.catalog import CatalogCursor, CatalogResource, SourceError
from paren_pulse.resources.clickhouse import ClickHouseResource


@dataclass
class CategoryResult:
    """A category's numbers for a partition week, dated to the week they describe."""

    category: str
    week: Week
    data_week: Week
    as_of: dt.date
    values: metrics.CountryMetrics
    details: dict[str, Any] = field(default_factory=dict)
    rows_fetched: int = 0


@dataclass(frozen=True)
class SessionsFrontier:
    """How far the loaded session batches reach."""

    session_rows: int
    latest_batch_month: dt.date | None
    covered_until: dt.date | None  # exclusive
    latest_started_at: str | None
    latest_loaded_at: str | None

    def latest_complete_week(self) -> Week | None:
        """The newest Monday-to-Sunday week entirely inside the covered months."""
        if self.covered_until is None:
            return None
        return Week(monday_of(self.covered_until) - dt.timedelta(days=7))


class CountingCursor:
    """A catalog cursor that counts the rows it brings into Python (reported per week)."""

    def __init__(self, cursor: CatalogCursor) -> None:
        self._cursor = cursor
        self.rows_fetched = 0

    def fetch(self, sql_name: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        rows = self._cursor.fetch(sql_name, params)
        self.rows_fetched += len(rows)
        return rows

    def run(self, sql_name: str, params: Mapping[str, Any] | None = None) -> int:
        return self._cursor.run(sql_name, params)

    def run_script(self, sql_name: str) -> None:
        self._cursor.run_script(sql_name)


def _count(value: Any) -> int:
    return int(value or 0)


def infrastructure(catalog: CatalogResource, week: Week) -> CategoryResult:
    """Spine and tracked counts at the week's end; persists the week's roster atomically."""
    params = {"week_start": week.key, "as_of": week.as_of.isoformat()}
    details: dict[str, Any] = {}
    with catalog.transaction() as raw:
        cur = CountingCursor(raw)
        # The roster is the project's own table: create it on a new catalog (IF NOT EXISTS).
        cur.run_script("mysql/project_schema")
        snapshot = cur.fetch("mysql/spine_snapshot_for_week", params)[0]["snapshot_date"]
        if snapshot is None:
            raise SourceError(
                f"infrastructure: no AFDC spine snapshot on or before {week.as_of}; "
                "load an export first (asset afdc_spine or `paren-pulse demo`)"
            )
        params["snapshot_date"] = snapshot
        spine_rows = cur.fetch("mysql/infrastructure_spine", params)
        cur.run("mysql/roster_delete_week", params)
        cur.run("mysql/roster_insert_week", params)

        previous = week.previous
        prev_params = {"week_start": previous.key, "as_of": previous.as_of.isoformat()}
        previous_roster = _count(cur.fetch("mysql/roster_size", prev_params)[0]["stations"])
        details["previous_roster"] = "persisted" if previous_roster else "missing"
        if not previous_roster:
            # No roster was persisted for the week before (first run, or a gap). Rebuild it from
            # the validity-dated tracked_stations as they stand now and say so in the metadata.
            prev_snapshot = cur.fetch("mysql/spine_snapshot_for_week", prev_params)[0]["snapshot_date"]
            if prev_snapshot is not None:
                prev_params["snapshot_date"] = prev_snapshot
                cur.run("mysql/roster_insert_week", prev_params)
                details["previous_roster"] = "reconstructed"
        tracked_rows = cur.fetch("mysql/infrastructure_tracked", params)
        opened_rows = (
            cur.fetch("mysql/infrastructure_opened", {**params, "previous_week_start": previous.key})
            if details["previous_roster"] != "missing"
            else None
        )
    details["spine_snapshot"] = snapshot
    details["unclassified_stations"] = sum(_count(r["unclassified_stations"]) for r in spine_rows)
    return CategoryResult(
        category=c.INFRASTRUCTURE,
        week=week,
        data_week=week,
        as_of=week.as_of,
        values=metrics.infrastructure(spine_rows, tracked_rows, opened_rows),
        details=details,
        rows_fetched=cur.rows_fetched,
    )


def pricing(catalog: CatalogResource, week: Week) -> CategoryResult:
    """Average non-member price per kWh over the week's tracked ports (needs its roster)."""
    params = {
        "week_start": week.key,
        "as_of": week.as_of.isoformat(),
        "currency_us": c.CURRENCY[c.US],
        "currency_ca": c.CURRENCY[c.CA],
    }
    with catalog.transaction() as raw:
        cur = CountingCursor(raw)
        if not _count(cur.fetch("mysql/roster_size", params)[0]["stations"]):
            raise SourceError(
                f"pricing: no tracked roster for week {week}; materialize weekly_infrastructure for it first"
            )
        rows = cur.fetch("mysql/pricing", params)
    return CategoryResult(
        category=c.PRICING,
        week=week,
        data_week=week,
        as_of=week.as_of,
        values=metrics.pricing(rows),
        details={"currencies": dict(c.CURRENCY)},
        rows_fetched=cur.rows_fetched,
    )


# How far back from the week of interest the frontier looks before scanning everything: batches
# land about a month late, so the first window almost always holds rows.
FRONTIER_WINDOWS_DAYS = (0, 70, 400)


def sessions_frontier(clickhouse: ClickHouseResource, near: dt.date | None = None) -> SessionsFrontier:
    """The loaded batches' frontier; with `near`, read only rows from around that day onwards.

    The windowed form reads a few weeks of sessions instead of the whole table (the newest batch
    month among rows after a date is the table-wide newest; see sessions_frontier_since.sql).
    """
    row: dict[str, Any] | None = None
    if near is not None:
        for days in FRONTIER_WINDOWS_DAYS:
            since = dt.datetime.combine(near - dt.timedelta(days=days), dt.time())
            found = clickhouse.query_rows("clickhouse/sessions_frontier_since", {"since": since})[0]
            if _count(found["session_rows"]):
                row = found
                break
    if row is None:
        row = clickhouse.query_rows("clickhouse/sessions_frontier")[0]
    if not _count(row["session_rows"]):
        return SessionsFrontier(0, None, None, None, None)
    return SessionsFrontier(
        session_rows=_count(row["session_rows"]),
        latest_batch_month=dt.date.fromisoformat(row["latest_batch_month"]),
        covered_until=dt.date.fromisoformat(row["covered_until"]),
        latest_started_at=row["latest_started_at"],
        latest_loaded_at=row["latest_loaded_at"],
    )


def utilization_week(week: Week, frontier: SessionsFrontier) -> Week | None:
    """The week utilization reports for partition `week`: itself, or the frontier's latest week."""
    latest = frontier.latest_complete_week()
    if latest is None:
        return None
    return week if week.start <= latest.start else latest


def tesla_networks(catalog: CatalogResource) -> list[str]:
    return [r["network_key"] for r in catalog.query("mysql/tesla_networks")]


def utilization(
    clickhouse: ClickHouseResource,
    catalog: CatalogResource,
    week: Week,
    frontier: SessionsFrontier | None = None,
) -> CategoryResult:
    """Sessions of the newest complete week the batches cover (at most `week`), and the one before."""
    frontier = frontier or sessions_frontier(clickhouse, near=week.start)
    data_week = utilization_week(week, frontier)
    if data_week is None:
        raise SourceError(
            "utilization: the sessions table holds no complete week yet "
            f"(frontier {frontier.covered_until}); load a session batch first"
        )
    tesla = tesla_networks(catalog)
    rows = clickhouse.query_rows(
        "clickhouse/utilization",
        {
            "tesla_networks": tesla,
            "countries": list(c.COUNTRIES),
            "from_ts": dt.datetime.combine(data_week.previous.start, dt.time()),
            "until_ts": dt.datetime.combine(data_week.end, dt.time()),
        },
    )
    current = [r for r in rows if r["week_start"] == data_week.key]
    previous = [r for r in rows if r["week_start"] == data_week.previous.key]
    return CategoryResult(
        category=c.UTILIZATION,
        week=week,
        data_week=data_week,
        as_of=data_week.as_of,
        values=metrics.utilization(current, previous),
        details={
            "data_week": data_week.key,
            "lagging": data_week != week,
            "sessions_covered_until": frontier.covered_until.isoformat() if frontier.covered_until else None,
            "latest_batch_month": frontier.latest_batch_month.isoformat()
            if frontier.latest_batch_month
            else None,
            "tesla_networks": tesla,
        },
        rows_fetched=len(rows) + len(tesla) + 1,
    )
