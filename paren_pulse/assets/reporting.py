"""Reporting: the weekly snapshot (data + Block Kit + trend chart) and its delivery to Slack."""

import base64
from pathlib import Path

import dagster as dg

from paren_pulse import constants as c
from paren_pulse.assets.infrastructure import weekly_infrastructure
from paren_pulse.assets.pricing import weekly_pricing
from paren_pulse.assets.utilization import weekly_utilization
from paren_pulse.charts import render_trend_png, trend_series
from paren_pulse.files import write_atomic
from paren_pulse.partitions import Week, weekly_partitions
from paren_pulse.resources.history import HistoryStore
from paren_pulse.resources.reports import ReportStore
from paren_pulse.resources.slack import (
    REPOST_TAG,
    SLACK_MAX_RETRIES,
    SlackConfigurationError,
    SlackDeliveryError,
    SlackResource,
)
from paren_pulse.slack_blocks import render_blocks, render_fallback_text, render_preview
from paren_pulse.snapshot import snapshot_for_week


def chart_path(reports: ReportStore, week_key: str) -> Path:
    """The week's trend chart, beside its rendered snapshot: `<root>/<week>.png`."""
    return reports.path(week_key).with_suffix(".png")


# Runs carrying this tag compute but never post (sensor refreshes of old weeks, tests, backfills).
NO_POST_TAG = "paren_pulse/post"
BACKFILL_TAG = "dagster/backfill"


@dg.asset(
    partitions_def=weekly_partitions,
    group_name="reporting",
    deps=[weekly_infrastructure, weekly_utilization, weekly_pricing],
)
def weekly_snapshot(
    context: dg.AssetExecutionContext, history: HistoryStore, reports: ReportStore
) -> dg.MaterializeResult:
    """The week's snapshot read back from the metrics history: per country the three categories
    (each with its own as-of date), the grand total and the caveats, rendered as Block Kit; plus
    the 12-week trend chart (`<week>.png` beside it, shown here and attached to the Slack post)."""
    week = Week.from_key(context.partition_key)
    data = snapshot_for_week(history, week)
    blocks = render_blocks(data)
    path = reports.save(week.key, {"data": data, "blocks": blocks, "text": render_fallback_text(data)})
    png_path = chart_path(reports, week.key)
    chart: dict[str, dg.RawMetadataValue]
    try:
        png = render_trend_png(trend_series(history, week.start))
    except Exception as err:
        # The numbers are the report; the picture is an attachment. Say so, and make sure no
        # chart from an earlier run goes out with this week's message.
        png_path.unlink(missing_ok=True)
        context.log.warning(f"Week {week}: trend chart not rendered ({type(err).__name__}: {err})")
        chart = {"chart": f"not rendered: {type(err).__name__}: {err}"}
    else:
        write_atomic(png_path, png)
        encoded = base64.b64encode(png).decode("ascii")
        chart = {
            "chart": dg.MetadataValue.md(f"![trend](data:image/png;base64,{encoded})"),
            "chart_path": str(png_path),
            "chart_bytes": len(png),
        }
    us, ca = data[c.US], data[c.CA]
    return dg.MaterializeResult(
        metadata={
            **chart,
            "preview": dg.MetadataValue.md(render_preview(data)),
            "path": str(path),
            "blocks": len(blocks),
            "utilization_week": data["sources"]["utilization_week_start"],
            "us_stations": us[c.INFRASTRUCTURE][c.AGGREGATE][c.SPINE_STATIONS],
            "ca_stations": ca[c.INFRASTRUCTURE][c.AGGREGATE][c.SPINE_STATIONS],
            "us_sessions": us[c.UTILIZATION][c.AGGREGATE][c.SESSIONS],
            "ca_sessions": ca[c.UTILIZATION][c.AGGREGATE][c.SESSIONS],
        }
    )


@dg.asset(
    partitions_def=weekly_partitions,
    group_name="reporting",
    kinds={"slack"},
    deps=[weekly_snapshot],
    # Safe only because every attempt starts again from the lookup of the week's message (an
    # attempt that posted and then lost the answer is edited, not repeated). Ambiguous Slack
    # failures request their own retry below with the resource's delay; this policy covers the
    # unexpected rest. Configuration errors raise Failure(allow_retries=False), which it skips.
    retry_policy=dg.RetryPolicy(max_retries=SLACK_MAX_RETRIES, delay=30, backoff=dg.Backoff.EXPONENTIAL),
)
def weekly_slack_report(
    context: dg.AssetExecutionContext, slack: SlackResource, reports: ReportStore
) -> dg.MaterializeResult:
    """The week's message in Slack (or the local outbox without a token): one message per week
    and channel, edited on re-runs. Backfills and refresh runs never post. A run tagged
    `paren_pulse/repost=true` only edits the week's existing message (never posts a new one)."""
    week = Week.from_key(context.partition_key)
    tags = context.run.tags
    if BACKFILL_TAG in tags or tags.get(NO_POST_TAG) == "false":
        reason = "backfill run" if BACKFILL_TAG in tags else f"run tagged {NO_POST_TAG}=false"
        context.log.info(f"Not posting week {week}: {reason}.")
        return dg.MaterializeResult(metadata={"posted": False, "reason": reason})
    repost = tags.get(REPOST_TAG, "").strip().lower() in ("1", "true", "yes")
    payload = reports.load(week.key)
    # Exactly the file weekly_snapshot rendered (absent if it could not render one).
    png_path = chart_path(reports, week.key)
    chart = png_path.read_bytes() if png_path.exists() else None
    try:
        result = slack.publish_weekly(
            week.key, payload["blocks"], payload["text"], allow_new=not repost, chart=chart
        )
    except SlackDeliveryError as err:
        if isinstance(err, SlackConfigurationError) or not err.retryable:
            # Retrying cannot fix a token, a scope, a channel or a rendering bug: fail once, loudly.
            raise dg.Failure(
                description=str(err),
                metadata={"slack_error": err.slack_error or "", "retryable": False},
                allow_retries=False,
            ) from err
        # retry_number: 0 on the first attempt; the delay doubles like the policy's backoff.
        delay = slack.retry_delay_seconds * (2**context.retry_number)
        attempt = context.retry_number + 1
        context.log.warning(f"Week {week}: {err} (attempt {attempt}; retrying in {delay:g} s)")
        raise dg.RetryRequested(max_retries=SLACK_MAX_RETRIES, seconds_to_wait=delay) from err
    context.log.info(f"Week {week} {result.action} to {result.destination}: {result.location}")
    metadata: dict[str, dg.RawMetadataValue] = {
        "posted": result.destination == "slack",
        "destination": result.destination,
        "action": result.action,
        "location": result.location,
        "repost": repost,
    }
    if result.destination == "slack":
        metadata.update(channel=result.channel or "", ts=result.ts or "")
        metadata["thread_replies"] = result.thread_replies
    if result.chart_action:
        metadata["chart"] = result.chart_action
        metadata["chart_location"] = result.chart_location or ""
    elif chart is None:
        metadata["chart"] = "none rendered"
    if result.notes:
        metadata["notes"] = "; ".join(result.notes)
    return dg.MaterializeResult(metadata=metadata)
