"""The reference: a second, independent formulation of each metric, shaped like the dashboard.

The SQL lives in paren_pulse/sql/reference/ and deliberately differs from the curated SQL (no
roster, Tesla by network key, distinct session ids). The dashboard's own quirks are reproduced
here, e.g. its CA "Non-Tesla" cell includes Tesla; reconcile.py maps them as known differences.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import dagster as dg

from paren_pulse import constants as c
from paren_pulse import metrics, reconcile
from paren_pulse.partitions import Week
from paren_pulse.resources.catalog import CatalogResource, SourceError
from paren_pulse.resources.clickhouse import ClickHouseResource


def _dashboard_shape(values: metrics.CountryMetrics) -> metrics.CountryMetrics:
    """The dashboard's CA Non-Tesla cell omits the Tesla exclusion: it shows the CA total."""
    shaped = {country: {seg: dict(cells) for seg, cells in segs.items()} for country, segs in values.items()}
    if c.CA in shaped:
        shaped[c.CA][c.NON_TESLA] = dict(shaped[c.CA][c.AGGREGATE])
    return shaped


def infrastructure(catalog: CatalogResource, week: Week) -> metrics.CountryMetrics:
    rows = catalog.query("reference/infrastructure_reference", {"as_of": week.as_of.isoformat()})
    values = metrics.infrastructure(rows, rows, None)
    return _dashboard_shape(values)


def utilization(clickhouse: ClickHouseResource, week: Week) -> metrics.CountryMetrics:
    current = clickhouse.query_rows("reference/utilization_reference", {"week_start": week.start})
    previous = clickhouse.query_rows("reference/utilization_reference", {"week_start": week.previous.start})
    return _dashboard_shape(metrics.utilization(current, previous))


def pricing(catalog: CatalogResource, week: Week) -> metrics.CountryMetrics:
    rows: list[dict[str, Any]] = [
        {**r, c.PER_MINUTE_ONLY_PORTS: 0, c.WRONG_CURRENCY_PORTS: 0}
        for r in catalog.query("reference/pricing_reference", {"as_of": week.as_of.isoformat()})
    ]
    return metrics.pricing(rows)


def compute(
    category: str, week: Week, *, catalog: CatalogResource, clickhouse: ClickHouseResource
) -> metrics.CountryMetrics:
    """The reference numbers of `category` for the week they describe."""
    if category == c.INFRASTRUCTURE:
        return infrastructure(catalog, week)
    if category == c.UTILIZATION:
        return utilization(clickhouse, week)
    if category == c.PRICING:
        return pricing(catalog, week)
    raise ValueError(f"unknown category {category}")


def compare_with_references(
    category: str,
    ours: metrics.CountryMetrics,
    week: Week,
    *,
    catalog: CatalogResource,
    clickhouse: ClickHouseResource,
    export: DashboardExport | None,
) -> list[reconcile.Comparison]:
    """Our stored numbers against the SQL reference and, when configured, the dashboard export."""
    config = reconcile.load_config()
    theirs = compute(category, week, catalog=catalog, clickhouse=clickhouse)
    comparisons = reconcile.compare(category, ours, theirs, config)
    exported = export.values(category, week) if export is not None else None
    if exported:
        comparisons += reconcile.compare(category, ours, exported, config, source="export")
    return comparisons


EXPORT_COLUMNS = ("week_start", "country", "segment", "metric", "value")
CATEGORY_OF_METRIC = {m: category for category, names in c.METRICS_BY_CATEGORY.items() for m in names}


class DashboardExport(dg.ConfigurableResource):
    """An optional CSV export of the dashboard, compared alongside the SQL reference.

    Columns: week_start (a Monday), country (US/CA), segment (non_tesla/tesla/aggregate, as the
    dashboard labels its cells: its CA non_tesla includes Tesla), metric (our metric names),
    value. Weeks absent from the file are simply not compared against it.
    """

    path: str | None = None

    def values(self, category: str, week: Week) -> metrics.CountryMetrics | None:
        if not self.path:
            return None
        rows = read_export(Path(self.path))
        found: metrics.CountryMetrics = {}
        for row in rows:
            if row["week_start"] == week.key and CATEGORY_OF_METRIC[row["metric"]] == category:
                found.setdefault(row["country"], {}).setdefault(row["segment"], {})[row["metric"]] = row[
                    "value"
                ]
        return found or None


def read_export(path: Path) -> list[dict[str, Any]]:
    """Parse and validate a dashboard export; errors name the file, line and column."""
    if not path.exists():
        raise SourceError(
            f"dashboard export {path} does not exist; fix PAREN_PULSE_DASHBOARD_EXPORT or unset it"
        )
    rows: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [col for col in EXPORT_COLUMNS if col not in (reader.fieldnames or [])]
        if missing:
            raise SourceError(f"dashboard export {path}: missing column(s) {', '.join(missing)}")
        for line, raw in enumerate(reader, start=2):
            where = f"dashboard export {path}, line {line}"
            try:
                week = Week.from_key(raw["week_start"])
            except ValueError:
                raise SourceError(
                    f"{where}, column week_start: {raw['week_start']!r} is not a date"
                ) from None
            if week.start.weekday() != 0:
                raise SourceError(f"{where}, column week_start: {week} is not a Monday")
            checks = (
                ("country", raw["country"] in c.COUNTRIES),
                ("segment", raw["segment"] in c.SEGMENTS),
                ("metric", raw["metric"] in CATEGORY_OF_METRIC),
            )
            for column, ok in checks:
                if not ok:
                    raise SourceError(f"{where}, column {column}: unknown value {raw[column]!r}")
            try:
                value = float(raw["value"]) if raw["value"].strip() else None
            except ValueError:
                raise SourceError(f"{where}, column value: {raw['value']!r} is not a number") from None
            rows.append({**raw, "value": value})
    return rows
