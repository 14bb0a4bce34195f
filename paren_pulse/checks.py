"""Reconciliation as asset checks, per week and per category.

- <category>_is_consistent      blocking ERROR: internal arithmetic and plausibility rules
- <category>_matches_reference  blocking; ERROR beyond tolerance, WARN inside the warning band
- <category>_is_not_restated    WARN: a recomputed week moved against its stored history
- <category>_has_no_anomaly     WARN: week-over-week jumps beyond the configured band
- infrastructure_spine_is_fresh / utilization_sessions_are_fresh: WARN, then ERROR (blocking)

Every check reads the numbers of ITS partition (history by week, materialization by partition),
never "the latest materialization", which raced under concurrent backfills (findings.md).
"""

import datetime as dt
import warnings
from collections.abc import Sequence
from typing import Any

import dagster as dg

from paren_pulse import constants as c
from paren_pulse import dashboard_reference, metrics, reconcile
from paren_pulse.assets.infrastructure import weekly_infrastructure
from paren_pulse.assets.pricing import weekly_pricing
from paren_pulse.assets.utilization import weekly_utilization
from paren_pulse.partitions import Week, weekly_partitions
from paren_pulse.resources.catalog import CatalogResource
from paren_pulse.resources.clickhouse import ClickHouseResource
from paren_pulse.resources.history import HistoryStore

# Partitioned checks are "preview" in Dagster 1.13; they are what per-week reconciliation needs.
warnings.filterwarnings(
    "ignore", message=".*partitions_def on an AssetCheckSpec.*", category=dg.PreviewWarning
)

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN

CATEGORY_ASSETS: dict[str, dg.AssetsDefinition] = {
    c.INFRASTRUCTURE: weekly_infrastructure,
    c.UTILIZATION: weekly_utilization,
    c.PRICING: weekly_pricing,
}


def check_name(category: str, assertion: str) -> str:
    return f"{category}_{assertion}"


IS_CONSISTENT = "is_consistent"
MATCHES_REFERENCE = "matches_reference"
IS_NOT_RESTATED = "is_not_restated"
HAS_NO_ANOMALY = "has_no_anomaly"
SPINE_IS_FRESH = "infrastructure_spine_is_fresh"
SESSIONS_ARE_FRESH = "utilization_sessions_are_fresh"


def partition_materialization(
    context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey
) -> dict[str, Any]:
    """Metadata of this partition's newest materialization (scoped by partition, not 'latest')."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[context.partition_key]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return {}
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def stored_values(
    context: dg.AssetCheckExecutionContext, category: str, history: HistoryStore
) -> tuple[Week, metrics.CountryMetrics | None, dict[str, Any]]:
    """The data week of this partition and the numbers stored for it."""
    meta = partition_materialization(context, CATEGORY_ASSETS[category].key)
    data_week = Week.from_key(str(meta.get("data_week", context.partition_key)))
    stored = history.read_week(category, data_week.start)
    return data_week, (metrics.from_rows(stored.rows) if stored else None), meta


def _missing(week: Week, category: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False,
        severity=ERROR,
        description=f"no stored {category} numbers for week {week}",
        metadata={"week": week.key},
    )


def build_category_checks(category: str) -> list[dg.AssetChecksDefinition]:
    asset = CATEGORY_ASSETS[category]

    @dg.asset_check(
        asset=asset,
        name=check_name(category, IS_CONSISTENT),
        partitions_def=weekly_partitions,
        blocking=True,
        description=f"{category}: aggregate = non-Tesla + Tesla, bounds, plausible prices, nothing missing.",
    )
    def is_consistent(context: dg.AssetCheckExecutionContext, history: HistoryStore) -> dg.AssetCheckResult:
        data_week, values, _ = stored_values(context, category, history)
        if values is None:
            return _missing(data_week, category)
        problems = reconcile.consistency(category, values, reconcile.load_config())
        return dg.AssetCheckResult(
            passed=not problems,
            severity=ERROR,
            description="; ".join(problems[:5]) or "consistent",
            metadata={
                "week": context.partition_key,
                "data_week": data_week.key,
                "problems": len(problems),
                "details": dg.MetadataValue.json(problems[:50]),
            },
        )

    @dg.asset_check(
        asset=asset,
        name=check_name(category, MATCHES_REFERENCE),
        partitions_def=weekly_partitions,
        blocking=True,
        description=f"{category}: every metric within tolerance of the dashboard's independent formulation.",
    )
    def matches_reference(
        context: dg.AssetCheckExecutionContext,
        history: HistoryStore,
        catalog: CatalogResource,
        clickhouse: ClickHouseResource,
        dashboard_export: dashboard_reference.DashboardExport,
    ) -> dg.AssetCheckResult:
        data_week, values, _ = stored_values(context, category, history)
        if values is None:
            return _missing(data_week, category)
        comparisons = dashboard_reference.compare_with_references(
            category, values, data_week, catalog=catalog, clickhouse=clickhouse, export=dashboard_export
        )
        return drift_result(context.partition_key, data_week, comparisons)

    @dg.asset_check(
        asset=asset,
        name=check_name(category, IS_NOT_RESTATED),
        partitions_def=weekly_partitions,
        description=f"{category}: a recomputed week did not move against its stored history beyond tolerance.",
    )
    def is_not_restated(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        meta = partition_materialization(context, asset.key)
        moved = float(meta.get("restatement_max_pct", 0.0) or 0.0)
        limit = reconcile.load_config().restatement_warn_pct
        return dg.AssetCheckResult(
            passed=moved <= limit,
            severity=WARN,
            description=f"largest move {moved:.2f}% ({meta.get('restatement_metric') or 'none'}); tolerance {limit}%",
            metadata={
                "week": context.partition_key,
                "data_week": str(meta.get("data_week", "")),
                "max_move_pct": moved,
                "tolerance_pct": limit,
                "metric": str(meta.get("restatement_metric", "")),
            },
        )

    checks = [is_consistent, matches_reference, is_not_restated]
    if category in (c.INFRASTRUCTURE, c.UTILIZATION):

        @dg.asset_check(
            asset=asset,
            name=check_name(category, HAS_NO_ANOMALY),
            partitions_def=weekly_partitions,
            description=f"{category}: no week-over-week jump beyond the configured band.",
        )
        def has_no_anomaly(
            context: dg.AssetCheckExecutionContext, history: HistoryStore
        ) -> dg.AssetCheckResult:
            data_week, values, _ = stored_values(context, category, history)
            if values is None:
                return _missing(data_week, category)
            before = history.read_week(category, data_week.previous.start)
            found = reconcile.anomalies(
                category, values, metrics.from_rows(before.rows) if before else None, reconcile.load_config()
            )
            return dg.AssetCheckResult(
                passed=not found,
                severity=WARN,
                description="; ".join(found) or "no anomaly",
                metadata={
                    "week": context.partition_key,
                    "data_week": data_week.key,
                    "details": dg.MetadataValue.json(found),
                },
            )

        checks.append(has_no_anomaly)
    return checks


def drift_result(
    partition_key: str, data_week: Week, comparisons: Sequence[reconcile.Comparison]
) -> dg.AssetCheckResult:
    errors = [x for x in comparisons if x.status == "error"]
    warns = [x for x in comparisons if x.status == "warn"]
    worst = sorted(comparisons, key=lambda x: -(x.delta_pct if x.delta_pct is not None else float("inf")))
    shown = (errors + warns)[:5]
    return dg.AssetCheckResult(
        passed=not errors and not warns,
        severity=ERROR if errors else WARN,
        description="; ".join(
            f"{x.country}.{x.segment}.{x.metric}: ours {fmt(x.ours)} vs reference {fmt(x.reference)} "
            f"({fmt(x.delta_pct)}% > {x.warn_pct if x.status == 'warn' else x.error_pct}%)"
            for x in shown
        )
        or f"{len(comparisons)} metrics within tolerance",
        metadata={
            "week": partition_key,
            "data_week": data_week.key,
            "errors": len(errors),
            "warnings": len(warns),
            "known_differences": sum(1 for x in comparisons if x.status == "known"),
            "comparisons": dg.MetadataValue.json([x.as_dict() for x in (errors + warns + worst)[:20]]),
        },
    )


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.4g}"


def freshness_result(
    partition_key: str,
    source: str,
    age_days: int | None,
    warn_days: float,
    error_days: float,
    frontier: str | None,
) -> dg.AssetCheckResult:
    if age_days is None:
        return dg.AssetCheckResult(
            passed=False,
            severity=ERROR,
            description=f"{source}: no data at all",
            metadata={"week": partition_key, "frontier": frontier or ""},
        )
    severity = ERROR if age_days > error_days else WARN
    return dg.AssetCheckResult(
        passed=age_days <= warn_days,
        severity=severity,
        description=f"{source} frontier {frontier} is {age_days} days before the week's end "
        f"(warn > {warn_days:g}, error > {error_days:g})",
        metadata={
            "week": partition_key,
            "frontier": frontier or "",
            "age_days": age_days,
            "warn_days": warn_days,
            "error_days": error_days,
        },
    )


@dg.asset_check(
    asset=weekly_utilization,
    name=SESSIONS_ARE_FRESH,
    partitions_def=weekly_partitions,
    blocking=True,
    description="The newest session batch is not older than its expected lag, relative to the week's end.",
)
def utilization_sessions_are_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    # The asset recorded the frontier it used; reading it back avoids a second frontier query
    # and judges exactly the data the week was computed from.
    week = Week.from_key(context.partition_key)
    covered = partition_materialization(context, weekly_utilization.key).get("sessions_covered_until")
    cfg = reconcile.load_config().freshness
    age = None if not covered else max(0, (week.end - dt.date.fromisoformat(str(covered))).days)
    return freshness_result(
        context.partition_key,
        "sessions",
        age,
        cfg["sessions_warn_days"],
        cfg["sessions_error_days"],
        str(covered) if covered else None,
    )


@dg.asset_check(
    asset=weekly_infrastructure,
    name=SPINE_IS_FRESH,
    partitions_def=weekly_partitions,
    blocking=True,
    description="The AFDC spine snapshot used for the week is recent relative to the week's end.",
)
def infrastructure_spine_is_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    week = Week.from_key(context.partition_key)
    snapshot = partition_materialization(context, weekly_infrastructure.key).get("spine_snapshot")
    cfg = reconcile.load_config().freshness
    age = None if not snapshot else (week.as_of - dt.date.fromisoformat(str(snapshot))).days
    return freshness_result(
        context.partition_key,
        "AFDC spine",
        age,
        cfg["spine_warn_days"],
        cfg["spine_error_days"],
        str(snapshot) if snapshot else None,
    )


def all_checks() -> list[dg.AssetChecksDefinition]:
    built: list[dg.AssetChecksDefinition] = []
    for category in c.CATEGORIES:
        built += build_category_checks(category)
    return [*built, utilization_sessions_are_fresh, infrastructure_spine_is_fresh]
