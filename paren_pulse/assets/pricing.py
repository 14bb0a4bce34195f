"""Pricing: average non-member price per kWh, in local currency."""

import dagster as dg

from paren_pulse import compute
from paren_pulse.assets.common import persist
from paren_pulse.assets.infrastructure import weekly_infrastructure
from paren_pulse.partitions import Week, weekly_partitions
from paren_pulse.resources.catalog import CatalogResource
from paren_pulse.resources.history import HistoryStore


@dg.asset(
    partitions_def=weekly_partitions,
    group_name="weekly_metrics",
    kinds={"mysql"},
    # Prices are averaged over the week's tracked roster, which the infrastructure asset persists.
    deps=[weekly_infrastructure],
)
def weekly_pricing(
    context: dg.AssetExecutionContext, catalog: CatalogResource, history: HistoryStore
) -> dg.MaterializeResult:
    """Average non-member energy price per kWh over tracked DC ports that have one (USD for the
    US, CAD for Canada, never converted), with priced and per-minute-only port counts."""
    return persist(context, history, compute.pricing(catalog, Week.from_key(context.partition_key)))
