"""Utilization: successful sessions, attempts, success rate, week over week."""

import dagster as dg

from paren_pulse import compute
from paren_pulse.assets.common import persist
from paren_pulse.partitions import Week, weekly_partitions
from paren_pulse.resources.catalog import CatalogResource
from paren_pulse.resources.clickhouse import ClickHouseResource
from paren_pulse.resources.history import HistoryStore


@dg.asset(partitions_def=weekly_partitions, group_name="weekly_metrics", kinds={"clickhouse"})
def weekly_utilization(
    context: dg.AssetExecutionContext,
    clickhouse: ClickHouseResource,
    catalog: CatalogResource,
    history: HistoryStore,
) -> dg.MaterializeResult:
    """Successful sessions (the dashboard's "Total Sessions"), attempts, success rate and week
    over week, per country and segment. Sessions land in monthly batches, so the numbers describe
    the partition's week when its batch has landed, else the newest complete week the batches
    cover; `data_week` in the metadata says which."""
    week = Week.from_key(context.partition_key)
    return persist(context, history, compute.utilization(clickhouse, catalog, week))
