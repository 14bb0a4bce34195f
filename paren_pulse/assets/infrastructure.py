"""Infrastructure: spine and tracked stations and ports, coverage, opened this week."""

import dagster as dg

from paren_pulse import compute
from paren_pulse.assets.common import persist
from paren_pulse.partitions import Week, weekly_partitions
from paren_pulse.resources.catalog import CatalogResource
from paren_pulse.resources.history import HistoryStore


@dg.asset(partitions_def=weekly_partitions, group_name="weekly_metrics", kinds={"mysql"})
def weekly_infrastructure(
    context: dg.AssetExecutionContext, catalog: CatalogResource, history: HistoryStore
) -> dg.MaterializeResult:
    """Public, open DC fast stations and ports (AFDC spine), tracked stations and ports, port
    coverage and stations opened this week, per country and segment, as of the week's end.
    Persists the week's tracked roster (the basis of "opened this week") and its history rows."""
    return persist(context, history, compute.infrastructure(catalog, Week.from_key(context.partition_key)))
