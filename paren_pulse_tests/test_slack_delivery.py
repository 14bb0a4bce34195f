"""Slack delivery under every injected fault: real materializations against the loopback fake.

The invariant: afterwards the channel holds exactly ONE message for the week (or none and a clear
error for configuration faults, with no retry attempted).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import URLError

import dagster as dg
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.state import RetryState

from paren_pulse.assets.infrastructure import weekly_infrastructure
from paren_pulse.assets.pricing import weekly_pricing
from paren_pulse.assets.reporting import weekly_slack_report, weekly_snapshot
from paren_pulse.assets.utilization import weekly_utilization
from paren_pulse.resources.reports import ReportStore
from paren_pulse.resources.slack import (
    DETAIL_EVENT_TYPE,
    REPOST_TAG,
    WEEKLY_EVENT_TYPE,
    ConnectPhaseRetryHandler,
    SlackDeliveryError,
    SlackResource,
)
from paren_pulse.settings import DemoPaths
from paren_pulse.slack_validation import validate_message
from paren_pulse_tests import fixtures
from paren_pulse_tests.conftest import build_materialized_home, demo_style_resources
from paren_pulse_tests.slack_fake import Channel, FakeSlack

pytestmark = pytest.mark.integration

TOKEN = "xoxb-test-SECRET-7c1e0b5d9a"
CHANNEL = "C0PULSE"
ASSETS = [weekly_infrastructure, weekly_utilization, weekly_pricing, weekly_snapshot, weekly_slack_report]
STEP = "weekly_slack_report"


@pytest.fixture(scope="module")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> DemoPaths:
    """The hand fixture with both weeks' snapshots materialized once (without posting); each test
    then materializes weekly_slack_report over it with its own outbox, ledger and fake Slack."""
    return build_materialized_home(tmp_path_factory.mktemp("slack"))


@pytest.fixture
def hand_home(built_home: DemoPaths, tmp_path: Path) -> DemoPaths:
    """Shares the built sources and snapshots; the outbox (and the ledger next to it) is per test."""
    home = DemoPaths(tmp_path / "home")
    home.home.mkdir(parents=True)
    for name in ("warehouse", "history", "snapshots"):
        source = built_home.home / name
        if source.exists():
            (home.home / name).symlink_to(source, target_is_directory=True)
    return home


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    # slow_seconds > the resource's 1 s client timeout below.
    with FakeSlack(token=TOKEN, slow_seconds=1.6) as server:
        yield server


def slack_for(paths: DemoPaths, fake: FakeSlack, **overrides: Any) -> SlackResource:
    settings: dict[str, Any] = {
        "token": TOKEN,
        "channel_id": CHANNEL,
        "base_url": fake.base_url,
        "outbox_dir": str(paths.outbox_dir),
        "timeout_seconds": 1,
        "retry_delay_seconds": 0.05,  # production waits 30 s, doubling
    }
    settings.update(overrides)
    return SlackResource(**settings)


def materialize(
    paths: DemoPaths,
    fake: FakeSlack,
    instance: dg.DagsterInstance,
    week: str = fixtures.W1,
    tags: dict[str, str] | None = None,
    full: bool = False,
    **resources: Any,
) -> dg.ExecuteInJobResult:
    """A real run of weekly_slack_report (with `full`, of the whole weekly chain)."""
    res = demo_style_resources(paths)
    res["slack"] = slack_for(paths, fake)
    res.update(resources)
    assets = ASSETS if full else [weekly_slack_report]
    if not full:
        res = {key: res[key] for key in ("slack", "reports")}
    return dg.materialize(
        assets, partition_key=week, resources=res, instance=instance, tags=tags, raise_on_error=False
    )


def week_messages(fake: FakeSlack, week: str = fixtures.W1) -> list[dict[str, Any]]:
    return [
        m
        for m in fake.top_level(CHANNEL)
        if (m.get("metadata") or {}).get("event_type") == WEEKLY_EVENT_TYPE
        and m["metadata"]["event_payload"]["week"] == week
    ]


def step_retries(result: dg.ExecuteInJobResult) -> int:
    return sum(
        1 for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY" and e.step_key == STEP
    )


def slack_metadata(result: dg.ExecuteInJobResult) -> dict[str, Any]:
    return {k: v.value for k, v in result.asset_materializations_for_node(STEP)[0].metadata.items()}


def failure_message(result: dg.ExecuteInJobResult) -> str:
    data = result.failure_data_for_node(STEP)
    assert data is not None and data.error is not None
    return data.error.message


# --- the happy path and re-runs ------------------------------------------------------------


def test_first_run_posts_and_rerun_edits(
    hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    first = materialize(hand_home, fake, instance, full=True)
    assert first.success
    assert slack_metadata(first)["action"] == "posted"
    [message] = week_messages(fake)
    assert message["blocks"][0]["type"] == "header" and message["text"].startswith("DC fast charging")

    second = materialize(hand_home, fake, instance)
    assert second.success
    meta = slack_metadata(second)
    assert (meta["action"], meta["ts"]) == ("updated", message["ts"])
    assert len(week_messages(fake)) == 1
    assert (fake.count("chat.postMessage"), fake.count("chat.update")) == (1, 1)
    # The stored ts found it directly: one history call per run, no scan needed the second time.
    assert fake.count("conversations.history") == 2


def test_rerun_without_ledger_finds_the_week_by_metadata(
    hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    assert materialize(hand_home, fake, instance).success
    ledger = hand_home.outbox_dir.parent / "slack_ledger.json"
    assert ledger.exists()
    ledger.unlink()  # a fresh machine, or a lost state directory
    assert materialize(hand_home, fake, instance).success
    assert len(week_messages(fake)) == 1
    assert fake.count("chat.update") == 1


def test_two_weeks_get_two_messages(
    hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    assert materialize(hand_home, fake, instance, week=fixtures.W0).success
    assert materialize(hand_home, fake, instance, week=fixtures.W1).success
    assert len(week_messages(fake, fixtures.W0)) == 1 and len(week_messages(fake, fixtures.W1)) == 1


# --- ambiguous faults: Slack may have acted; the step is retried from the lookup ------------------


@pytest.mark.parametrize(
    ("method", "fault"),
    [
        ("chat.postMessage", "server_error_after_store"),  # 500 after Slack stored the message
        ("chat.postMessage", "drop_after_store"),  # stored, then the connection dropped
        ("chat.postMessage", "slow_after_store"),  # stored, answer arrives after the client timeout
        ("conversations.history", "internal_error"),  # the lookup itself fails with a 500
        ("conversations.history", "drop_after_store"),
    ],
)
def test_ambiguous_fault_on_first_post_leaves_one_message(
    method: str, fault: str, hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    fake.inject(method, fault)
    result = materialize(hand_home, fake, instance)
    assert result.success
    assert step_retries(result) == 1  # Dagster re-ran the step once
    assert len(week_messages(fake)) == 1
    # Never sent twice by the client: the retry found the stored message and edited it.
    assert fake.count("chat.postMessage") == 1
    stored_before_failing = method == "chat.postMessage"
    assert fake.count("chat.update") == (1 if stored_before_failing else 0)


@pytest.mark.parametrize("fault", ["server_error_after_store", "drop_after_store", "slow_after_store"])
def test_ambiguous_fault_on_edit_leaves_one_message(
    fault: str, hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    assert materialize(hand_home, fake, instance).success
    fake.inject("chat.update", fault)
    result = materialize(hand_home, fake, instance)
    assert result.success and step_retries(result) == 1
    assert len(week_messages(fake)) == 1
    assert fake.count("chat.postMessage") == 1 and fake.count("chat.update") == 2


def test_rate_limit_is_waited_out_in_the_client(
    hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    fake.inject("chat.postMessage", "rate_limited")
    result = materialize(hand_home, fake, instance)
    assert result.success
    assert step_retries(result) == 0  # a 429 means "not done": the client resends after Retry-After
    assert fake.count("chat.postMessage") == 2
    assert len(week_messages(fake)) == 1


def test_retries_give_up_after_the_policy_and_still_never_duplicate(
    hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    # Every attempt stores and then loses the answer: 1 try + 3 retries, all on the same message.
    fake.inject("chat.postMessage", "drop_after_store")
    fake.inject("chat.update", "drop_after_store", times=3)
    result = materialize(hand_home, fake, instance)
    assert not result.success
    assert step_retries(result) == 3
    assert len(week_messages(fake)) == 1
    assert fake.count("chat.postMessage") == 1


# --- configuration faults: no message, a clear error, no retry ------------------------------------


@pytest.mark.parametrize(
    ("fault", "hint"),
    [
        ("invalid_auth", "OAuth & Permissions"),
        ("not_authed", "set SLACK_BOT_TOKEN"),
        ("token_revoked", "reinstall the app"),
        ("account_inactive", "deactivated"),
        ("missing_scope", "chat:write"),
        ("channel_not_found", f"channel {CHANNEL} does not exist"),
        ("not_in_channel", f"invite the bot to the channel {CHANNEL}: /invite @paren_pulse"),
    ],
)
def test_configuration_fault_fails_once_with_advice(
    fault: str, hint: str, hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    fake.inject("*", fault)
    result = materialize(hand_home, fake, instance)
    assert not result.success
    assert step_retries(result) == 0
    message = failure_message(result)
    assert fault in message and hint in message
    assert fake.top_level(CHANNEL) == []
    # Exactly one API call (auth.test only looks up the bot's name for the /invite hint).
    assert [c.method for c in fake.calls if c.method != "auth.test"] == ["conversations.history"]


def test_archived_channel_fails_once(
    hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    fake.channels[CHANNEL] = Channel(archived=True)  # history still reads; posting is refused
    result = materialize(hand_home, fake, instance)
    assert not result.success and step_retries(result) == 0
    assert "is_archived" in failure_message(result) and "unarchive" in failure_message(result)
    assert fake.count("chat.postMessage") == 1 and fake.top_level(CHANNEL) == []


def test_wrong_token_is_rejected_by_the_fake_and_not_retried(
    hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    result = materialize(hand_home, fake, instance, slack=slack_for(hand_home, fake, token="xoxb-wrong"))
    assert not result.success and step_retries(result) == 0
    assert "invalid_auth" in failure_message(result)
    assert fake.count() == 1


# --- message size ---------------------------------------------------------------------------------


class BulkyReports(ReportStore):
    """The real snapshot plus 30 long detail sections (~45k characters of block text)."""

    def load(self, week_key: str) -> dict[str, Any]:
        payload = super().load(week_key)
        detail = [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Station {i}*\n" + "• detail line\n" * 100},
            }
            for i in range(30)
        ]
        payload["blocks"] = payload["blocks"][:-1] + detail + payload["blocks"][-1:]
        return payload


def test_fake_rejects_cumulative_block_text_like_slack(fake: FakeSlack) -> None:
    client = WebClient(token=TOKEN, base_url=fake.base_url, retry_handlers=[])
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2500}} for _ in range(5)]
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks)
    assert caught.value.response["error"] == "msg_blocks_too_long"
    assert [p.code for p in validate_message(blocks, "t")] == ["msg_blocks_too_long"]


def test_too_big_message_moves_detail_to_thread_and_stays_idempotent(
    hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    reports = BulkyReports(root=str(hand_home.snapshots_dir))
    result = materialize(hand_home, fake, instance, reports=reports)
    assert result.success
    [message] = week_messages(fake)
    replies = fake.replies(CHANNEL, message["ts"])
    assert slack_metadata(result)["thread_replies"] == len(replies) >= 3
    assert all(r["metadata"]["event_type"] == DETAIL_EVENT_TYPE for r in replies)
    assert (
        message["blocks"][-1]["type"] == "context"
        and "thread" in message["blocks"][-1]["elements"][0]["text"]
    )
    # A re-run edits the message and every reply; nothing new appears.
    messages_before = len(fake.messages[CHANNEL])
    assert materialize(hand_home, fake, instance, reports=reports).success
    assert len(fake.messages[CHANNEL]) == messages_before
    # A dropped connection while posting the second reply: the retry edits what exists, posts the rest.
    fake.messages[CHANNEL].clear()
    (hand_home.outbox_dir.parent / "slack_ledger.json").unlink()
    fake.inject("chat.postMessage", "drop_after_store", after=2)
    result = materialize(hand_home, fake, instance, reports=reports)
    assert result.success and step_retries(result) == 1
    assert len(fake.messages[CHANNEL]) == messages_before
    [message] = week_messages(fake)
    parts = sorted(r["metadata"]["event_payload"]["part"] for r in fake.replies(CHANNEL, message["ts"]))
    assert parts == list(range(1, len(parts) + 1))


def test_slack_rejecting_the_size_anyway_is_a_bug_not_retried(
    hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    # The real threshold is undocumented; should Slack still refuse, fail once and say so.
    fake.inject("chat.postMessage", "msg_blocks_too_long")
    result = materialize(hand_home, fake, instance)
    assert not result.success and step_retries(result) == 0
    assert "msg_blocks_too_long" in failure_message(result)
    assert fake.top_level(CHANNEL) == []


# --- runs that must not post, and explicit re-posts -----------------------------------------------


@pytest.mark.parametrize("tags", [{"dagster/backfill": "bf1"}, {"paren_pulse/post": "false"}])
def test_backfill_and_refresh_runs_post_nothing(
    tags: dict[str, str], hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    result = materialize(hand_home, fake, instance, tags=tags)
    assert result.success and slack_metadata(result)["posted"] is False
    assert fake.count() == 0


def test_repost_of_a_past_week_edits_it(
    hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    assert materialize(hand_home, fake, instance, week=fixtures.W0).success
    assert materialize(hand_home, fake, instance, week=fixtures.W1).success
    [old] = week_messages(fake, fixtures.W0)
    result = materialize(hand_home, fake, instance, week=fixtures.W0, tags={REPOST_TAG: "true"})
    assert result.success
    assert (slack_metadata(result)["action"], slack_metadata(result)["ts"]) == ("updated", old["ts"])
    assert len(fake.top_level(CHANNEL)) == 2 and fake.count("chat.postMessage") == 2


def test_repost_never_posts_a_new_message(
    hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    result = materialize(hand_home, fake, instance, tags={REPOST_TAG: "true"})
    assert not result.success and step_retries(result) == 0
    assert "no message" in failure_message(result)
    assert fake.count("chat.postMessage") == 0


def test_without_token_writes_the_outbox_only(
    hand_home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    result = materialize(hand_home, fake, instance, slack=slack_for(hand_home, fake, token=None))
    assert result.success and slack_metadata(result)["destination"] == "outbox"
    assert (hand_home.outbox_dir / f"weekly_{fixtures.W1}.json").exists()
    assert fake.count() == 0


# --- client-side retries ----------------------------------------------------------------------------


def test_client_retries_only_failures_that_cannot_have_reached_slack() -> None:
    handler = ConnectPhaseRetryHandler(max_retry_count=2)
    request = HttpRequest(method="POST", url="http://127.0.0.1/api/chat.postMessage", headers={})

    def retried(error: Exception) -> bool:
        return handler.can_retry(state=RetryState(), request=request, error=error)

    assert retried(URLError(ConnectionRefusedError()))  # nothing was sent
    assert retried(URLError(socket.gaierror()))  # name lookup failed before connecting
    assert not retried(http.client.RemoteDisconnected("dropped"))  # sent; Slack may have stored it
    assert not retried(ConnectionResetError())
    assert not retried(TimeoutError("timed out"))
    assert not retried(URLError(TimeoutError("timed out")))  # could be a send that stalled


def test_refused_connection_is_a_retryable_delivery_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    slack = SlackResource(
        token=TOKEN,
        channel_id=CHANNEL,
        base_url=f"http://127.0.0.1:{port}/api/",
        outbox_dir=str(tmp_path / "outbox"),
        timeout_seconds=1,
    )
    with pytest.raises(SlackDeliveryError) as caught:
        slack.publish_weekly(fixtures.W1, [{"type": "divider"}], "text")
    assert caught.value.retryable and TOKEN not in str(caught.value)


# --- the token never leaks ---------------------------------------------------------------------------


def test_token_never_appears_anywhere(
    hand_home: DemoPaths,
    fake: FakeSlack,
    instance: dg.DagsterInstance,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # slack_sdk logs requests and responses at DEBUG
    slack = slack_for(hand_home, fake)
    assert TOKEN not in repr(slack) and TOKEN not in str(slack)

    fake.inject("chat.postMessage", "drop_after_store")  # a retried run
    results = [materialize(hand_home, fake, instance)]
    fake.inject("*", "not_in_channel")  # a failed run
    results.append(materialize(hand_home, fake, instance))
    fake.inject("*", "invalid_auth")
    results.append(materialize(hand_home, fake, instance))
    assert [r.success for r in results] == [True, False, False]
    texts: list[str] = []
    for bad_url in ("http://127.0.0.1:9/api/",):  # refused: the client's own retry path
        with pytest.raises(SlackDeliveryError) as caught:
            slack_for(hand_home, fake, base_url=bad_url).publish_weekly(fixtures.W1, [], "x")
        texts += [str(caught.value), repr(caught.value)]

    for result in results:
        for event in result.all_events:
            texts.append(dg.serialize_value(event))
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        texts += [json.dumps(run.run_config, default=str), json.dumps(run.tags), repr(run)]
        for record in instance.all_logs(result.run_id):
            texts.append(dg.serialize_value(record))
    captured = capsys.readouterr()
    texts += [caplog.text, captured.out, captured.err]
    texts += [repr(r.getMessage()) + repr(r.args) for r in caplog.records]
    # Every file written: outbox, ledger, snapshots, and the instance's storage (event log DBs, compute logs).
    for root in (hand_home.home, Path(instance.root_directory)):
        for folder, _, files in os.walk(root, followlinks=True):  # the shared snapshots are symlinked
            texts += [(Path(folder) / f).read_bytes().decode("utf-8", errors="replace") for f in files]
    assert any("not_in_channel" in t for t in texts)  # the scan did see the failures
    leaks = [t[max(0, t.find(TOKEN) - 80) : t.find(TOKEN) + 40] for t in texts if TOKEN in t]
    assert leaks == []
    # The fake did receive it, so the scan is meaningful: it is there to be leaked.
    assert all(c.authorization == f"Bearer {TOKEN}" for c in fake.calls)
