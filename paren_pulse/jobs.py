"""Jobs: the weekly snapshot, and the utilization refresh requested when a session batch lands.

Partitioning is inferred from the weekly assets they select.
"""

from __future__ import annotations

import dagster as dg

WEEKLY_ASSETS = dg.AssetSelection.groups("weekly_metrics", "reporting")

weekly_metrics_job = dg.define_asset_job(
    "weekly_metrics_job",
    selection=WEEKLY_ASSETS,
    description="All category assets, their checks, the snapshot and the Slack post for one week.",
)

utilization_refresh_job = dg.define_asset_job(
    "utilization_refresh_job",
    selection=dg.AssetSelection.assets("weekly_utilization", "weekly_snapshot"),
    description="Recompute utilization (and the snapshot) for weeks a newly landed session batch completes.",
)
