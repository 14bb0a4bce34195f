"""What every category asset does after computing: persist to history, describe in metadata."""

from typing import Any

import dagster as dg

from paren_pulse import constants as c
from paren_pulse import metrics
from paren_pulse.compute import CategoryResult
from paren_pulse.resources.history import HistoryStore

# Numbers plotted in the Dagster UI per partition (numeric metadata becomes a trend plot).
PLOTTED = {
    c.INFRASTRUCTURE: (c.SPINE_STATIONS, c.SPINE_PORTS, c.PORT_COVERAGE_PCT, c.OPENED_THIS_WEEK),
    c.UTILIZATION: (c.SESSIONS, c.SUCCESS_RATE),
    c.PRICING: (c.AVG_PRICE_PER_KWH, c.PRICED_PORTS),
}


def restatement(previous: list[metrics.MetricRow] | None, current: list[metrics.MetricRow]) -> dict[str, Any]:
    """Largest relative move of a stored number against its recomputation (0 when nothing moved)."""
    if not previous:
        return {"restatement_compared": False, "restatement_max_pct": 0.0, "restatement_metric": ""}
    before = {(r.country, r.segment, r.metric): r.value for r in previous}
    worst, worst_key = 0.0, ""
    for row in current:
        old = before.get((row.country, row.segment, row.metric))
        if old is None or row.value is None or old == 0:
            continue
        moved = abs(row.value - old) / abs(old) * 100.0
        if moved > worst:
            worst, worst_key = moved, f"{row.country}.{row.segment}.{row.metric}"
    return {"restatement_compared": True, "restatement_max_pct": worst, "restatement_metric": worst_key}


def persist(
    context: dg.AssetExecutionContext, history: HistoryStore, result: CategoryResult
) -> dg.MaterializeResult:
    """Replace the data week in the history store and return the partition's metadata."""
    rows = metrics.to_rows(result.values)
    stored = history.read_week(result.category, result.data_week.start)
    moved = restatement(stored.rows if stored else None, rows)
    history.write_week(
        result.category,
        result.data_week.start,
        result.as_of,
        rows,
        partition_key=context.partition_key,
        run_id=context.run.run_id,
    )
    metadata: dict[str, Any] = {
        "week": result.week.key,
        "data_week": result.data_week.key,
        "as_of": result.as_of.isoformat(),
        "history_rows": len(rows),
        "rows_fetched": result.rows_fetched,
        **moved,
        **{k: v for k, v in result.details.items() if isinstance(v, str | int | float | bool)},
        "values": dg.MetadataValue.json(result.values),
    }
    for country in c.COUNTRIES:
        for metric in PLOTTED[result.category]:
            value = result.values[country][c.AGGREGATE][metric]
            if value is not None:
                metadata[f"{country.lower()}_{metric}"] = float(value)
    return dg.MaterializeResult(metadata=metadata)
