"""Jobs: the weekly snapshot, and the utilization refresh requested when a session batch lands."""

from __future__ import annotations

import dagster as dg

from paren_pulse.partitions import weekly_partitions

WEEKLY_ASSETS = dg.AssetSelection.groups("weekly_metrics", "reporting")

weekly_metrics_job = dg.define_asset_job(
    "weekly_metrics_job",
    selection=WEEKLY_ASSETS,
    partitions_def=weekly_partitions,
    description="All category assets, their checks, the snapshot and the Slack post for one week.",
)

utilization_refresh_job = dg.define_asset_job(
    "utilization_refresh_job",
    selection=dg.AssetSelection.assets("weekly_utilization", "weekly_snapshot"),
    partitions_def=weekly_partitions,
    description="Recompute utilization (and the snapshot) for weeks a newly landed session batch completes.",
)
