"""The reference: a second, independent formulation of each metric, shaped like the dashboard.

The SQL lives in paren_pulse/sql/reference/ and deliberately differs from the curated SQL (no
roster, Tesla by network key, distinct session ids). The dashboard's own quirks are reproduced
here, e.g. its CA "Non-Tesla" cell includes Tesla; reconcile.py maps them as known differences.
"""

from __future__ import annotations

from typing import Any

from paren_pulse import constants as c
from paren_pulse import metrics
from paren_pulse.partitions import Week
from paren_pulse.resources.catalog import CatalogResource
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
