"""Slack delivery: exactly one message per (channel, week), whatever fails.

With no token configured, messages go to a local outbox (never an error).

With a token, every delivery starts with a lookup: the ts stored in a small ledger next to the
outbox, then the channel's history scanned for our message metadata
(`event_type` + the week in `event_payload`). Found -> `chat.update`; not found ->
`chat.postMessage` carrying that metadata. Slack has no idempotency key, so the SDK's own retries
are cut down to failures that cannot have reached Slack (refused connection, DNS) plus 429s
(honouring Retry-After). Anything ambiguous (timeout after sending, 5xx, dropped connection)
raises `SlackDeliveryError(retryable=True)`: the Dagster step is re-run, starts again from the
lookup and edits what the lost attempt may have posted. Configuration problems raise
`SlackConfigurationError`, which says what to fix and must not be retried.

The weekly trend chart (a PNG) goes into the week's thread through Slack's files upload v2 flow.
Its file name carries the week and a hash of the bytes, so the thread scan that starts every
attempt tells "already there" from "stale" from "missing": one chart per week, whatever failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import http.client
import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse
from urllib.request import Request, urlopen

import dagster as dg
from pydantic import Field
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from paren_pulse.files import write_atomic
from paren_pulse.slack_validation import ThreadReply, fit_message, fit_text, validate_message

log = logging.getLogger(__name__)

WEEKLY_EVENT_TYPE = "paren_pulse_weekly"
DETAIL_EVENT_TYPE = "paren_pulse_weekly_detail"
ALERT_EVENT_TYPE = "paren_pulse_alert"
# Chart files are named `paren_pulse_trend_<week>_<sha256[:12]>.png`: the week finds ours in the
# thread, the hash says whether it shows the current numbers.
CHART_PREFIX = "paren_pulse_trend_"
CHART_LEDGER_KEY = "paren_pulse_weekly_chart"
# Deleting a file that is already gone is success.
FILE_GONE_ERRORS = frozenset({"file_not_found", "file_deleted"})
# Run tag for an explicit re-post of a past week: edit that week's message, never post a new one.
REPOST_TAG = "paren_pulse/repost"
# Step retries for ambiguous failures (each retry starts again from the lookup).
SLACK_MAX_RETRIES = 3
HISTORY_PAGE_SIZE = 200
# A bound on the history scan: a week whose message cannot be ruled out is not posted blindly.
HISTORY_MAX_PAGES = 100
ALERT_LOOKBACK = dt.timedelta(days=14)

# What each configuration error means and what to do about it. `{channel}` and `{bot}` are filled in.
CONFIGURATION_ERRORS: dict[str, str] = {
    "not_authed": "no token reached Slack: set SLACK_BOT_TOKEN to the bot token (xoxb-...)",
    "invalid_auth": "Slack does not accept SLACK_BOT_TOKEN: copy the Bot User OAuth Token (xoxb-...) "
    "from the app's 'OAuth & Permissions' page",
    "token_revoked": "the token in SLACK_BOT_TOKEN was revoked (app uninstalled or token rotated): "
    "reinstall the app to the workspace and update SLACK_BOT_TOKEN",
    "token_expired": "the token in SLACK_BOT_TOKEN expired (token rotation is on): issue a new token "
    "and update SLACK_BOT_TOKEN",
    "account_inactive": "the bot's user or workspace is deactivated: "
    "reinstall the app and update SLACK_BOT_TOKEN",
    "missing_scope": "the token lacks a scope ({needed}): add chat:write, channels:history "
    "(groups:history for a private channel) and files:write (the trend chart) under "
    "'OAuth & Permissions', reinstall, update SLACK_BOT_TOKEN",
    "no_permission": "the token may not use this channel: "
    "check the app's scopes and the channel's posting rules",
    "channel_not_found": "channel {channel} does not exist or the bot cannot see it: set SLACK_CHANNEL_ID "
    "to the channel's id (C..., from 'View channel details'), not its name; "
    "for a private channel invite the bot first",
    "not_in_channel": "invite the bot to the channel {channel}: /invite @{bot}",
    "is_archived": "channel {channel} is archived: unarchive it or set SLACK_CHANNEL_ID to another channel",
    "restricted_action": "the workspace does not let the bot post in {channel}: "
    "ask an admin, or pick another channel",
}
# Transient on Slack's side; re-running the step (from the lookup) is safe.
TRANSIENT_ERRORS = frozenset(
    {
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "ratelimited",
        "message_not_found",
    }
)


class SlackDeliveryError(Exception):
    """Delivery failed. `retryable` says whether re-running the step (from the lookup) may help."""

    def __init__(self, message: str, *, retryable: bool, slack_error: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.slack_error = slack_error


class SlackConfigurationError(SlackDeliveryError):
    """A setting is wrong (token, scope, channel); the message says what to fix. Never retried."""

    def __init__(self, message: str, *, slack_error: str | None = None) -> None:
        super().__init__(message, retryable=False, slack_error=slack_error)


class ConnectPhaseRetryHandler(RetryHandler):
    """Retries only failures in which the request cannot have reached Slack.

    urllib wraps errors raised while connecting/sending in URLError; a refused connection or a
    failed name lookup happens before a byte is sent, so sending again cannot duplicate a message.
    A connection dropped or timed out after sending (RemoteDisconnected, ConnectionResetError,
    socket timeout) is deliberately NOT retried here, unlike slack_sdk's default
    ConnectionErrorRetryHandler: Slack may already have stored the message.
    """

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None or not isinstance(error, URLError):
            return False
        return isinstance(error.reason, ConnectionRefusedError | socket.gaierror)


@dataclass(frozen=True)
class PublishResult:
    """Where a message went: 'outbox' (a file) or 'slack' (channel + ts)."""

    destination: str
    action: str  # "written", "posted", "updated"
    location: str  # outbox file path, or "<channel>/<ts>"
    ts: str | None = None
    channel: str | None = None
    thread_replies: int = 0
    notes: tuple[str, ...] = ()
    # The trend chart: "uploaded", "replaced", "unchanged", "written" (outbox), "skipped", or None.
    chart_action: str | None = None
    chart_location: str | None = None  # Slack file id, or the outbox PNG path


class SlackResource(dg.ConfigurableResource):
    """Posts the weekly message and alerts; falls back to the outbox without a token."""

    # repr=False: Dagster and pydantic print resources (errors, logs); the token must never show.
    token: str | None = Field(
        default=None, repr=False, description="Bot token (xoxb-...); unset: outbox only."
    )
    channel_id: str | None = None
    alerts_channel_id: str | None = None
    base_url: str = "https://slack.com/api/"
    outbox_dir: str
    timeout_seconds: int = 15
    retry_delay_seconds: float = Field(
        default=30.0,
        description="Wait before the step is re-run after an ambiguous failure (doubles each time).",
    )
    rate_limit_retries: int = Field(
        default=3, description="429 answers retried in the client after Retry-After."
    )

    # --- outbox ---------------------------------------------------------------------------

    def _write_outbox(self, name: str, payload: dict[str, Any]) -> PublishResult:
        target = write_atomic(
            Path(self.outbox_dir) / name, json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")
        )
        return PublishResult(destination="outbox", action="written", location=str(target))

    # --- public interface -------------------------------------------------------------------

    def publish_weekly(
        self,
        week_key: str,
        blocks: list[dict[str, Any]],
        text: str,
        *,
        allow_new: bool = True,
        chart: bytes | None = None,
    ) -> PublishResult:
        """Exactly one message per (channel, week); outbox file `weekly_<week>.json` without a token.

        `chart` (PNG bytes) goes into the message's thread, exactly one per week (or beside the
        outbox file as `weekly_<week>.png`). `allow_new=False` (an explicit re-post of a past
        week) only edits an existing message and raises if the week has none, so a re-post can
        never add a second message.
        """
        if not self.token:
            payload = {"channel": self.channel_id, "text": text, "blocks": blocks, "week": week_key}
            if chart is None:
                # No stale picture of an earlier run next to this one.
                (Path(self.outbox_dir) / f"weekly_{week_key}.png").unlink(missing_ok=True)
                return self._write_outbox(f"weekly_{week_key}.json", payload)
            png = write_atomic(Path(self.outbox_dir) / f"weekly_{week_key}.png", chart)
            payload["chart"] = png.name
            result = self._write_outbox(f"weekly_{week_key}.json", payload)
            return dataclasses.replace(result, chart_action="written", chart_location=str(png))
        channel = self._require_channel(self.channel_id, "SLACK_CHANNEL_ID")
        return self._deliver(
            channel=channel,
            event_type=WEEKLY_EVENT_TYPE,
            payload={"week": week_key},
            blocks=blocks,
            text=text,
            oldest=_week_oldest(week_key),
            allow_new=allow_new,
            label=f"week {week_key}",
            chart=chart,
        )

    def send_alert(self, key: str, text: str, blocks: list[dict[str, Any]] | None = None) -> PublishResult:
        """One message per alert key in the alerts channel (edited if sent again within 14 days).
        Outbox without a token or without SLACK_ALERTS_CHANNEL_ID."""
        if not self.token or not self.alerts_channel_id:
            payload = {"channel": self.alerts_channel_id, "text": text, "blocks": blocks or []}
            return self._write_outbox(f"alert_{key}.json", payload)
        oldest = f"{(dt.datetime.now(dt.UTC) - ALERT_LOOKBACK).timestamp():.6f}"
        return self._deliver(
            channel=self.alerts_channel_id,
            event_type=ALERT_EVENT_TYPE,
            payload={"key": key},
            blocks=blocks or [],
            text=text,
            oldest=oldest,
            allow_new=True,
            label=f"alert {key}",
        )

    # --- delivery ---------------------------------------------------------------------------

    def _require_channel(self, channel: str | None, setting: str) -> str:
        if not channel:
            raise SlackConfigurationError(
                f"a Slack token is set but {setting} is not: set it to the channel id (C...)"
            )
        return channel

    def _client(self) -> WebClient:
        return WebClient(
            token=self.token,
            base_url=self.base_url if self.base_url.endswith("/") else self.base_url + "/",
            timeout=self.timeout_seconds,
            # Replaces the SDK defaults on purpose: its ConnectionErrorRetryHandler resends after a
            # dropped connection and ServerErrorRetryHandler after a 500, both of which can
            # duplicate a message Slack already stored. All handlers share one attempt counter.
            retry_handlers=[
                ConnectPhaseRetryHandler(max_retry_count=2),
                RateLimitErrorRetryHandler(max_retry_count=self.rate_limit_retries),
            ],
            logger=log,
        )

    def _deliver(
        self,
        *,
        channel: str,
        event_type: str,
        payload: dict[str, str],
        blocks: list[dict[str, Any]],
        text: str,
        oldest: str | None,
        allow_new: bool,
        label: str,
        chart: bytes | None = None,
    ) -> PublishResult:
        main_blocks, replies = fit_message(blocks, text)
        text = fit_text(text)
        problems = [str(p) for p in validate_message(main_blocks, text)]
        for i, reply in enumerate(replies, start=1):
            problems += [f"reply {i}: {p}" for p in validate_message(reply.blocks, reply.text)]
        if problems:
            # A rendering bug: retrying cannot help and Slack would answer invalid_blocks.
            raise SlackDeliveryError(
                f"the {label} message breaks Slack limits even after fitting: " + "; ".join(problems[:10]),
                retryable=False,
                slack_error="invalid_blocks",
            )
        notes = (f"{len(replies)} detail block group(s) moved to thread replies",) if replies else ()

        client = self._client()
        ledger = _Ledger(Path(self.outbox_dir).parent / "slack_ledger.json")
        ledger_key = f"{event_type}:{json.dumps(payload, sort_keys=True)}"
        metadata = {"event_type": event_type, "event_payload": payload}

        existing = self._find(client, channel, metadata, ledger.get(channel, ledger_key), oldest)
        if existing is not None:
            ts = existing["ts"]
            self._call(
                client,
                "chat.update",
                channel=channel,
                ts=ts,
                text=text,
                blocks=main_blocks,
                metadata=metadata,
            )
            action = "updated"
        elif not allow_new:
            raise SlackDeliveryError(
                f"the {label} has no message in channel {channel} to edit; a re-post only edits "
                f"(run without the {REPOST_TAG} tag to post it for the first time)",
                retryable=False,
            )
        else:
            response = self._call(
                client,
                "chat.postMessage",
                channel=channel,
                text=text,
                blocks=main_blocks,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
            ts = str(response["ts"])
            action = "posted"
        # Only a hint for the next lookup: the metadata in Slack stays the source of truth.
        ledger.put(channel, ledger_key, ts)
        thread = self._thread(client, channel, ts)
        self._sync_thread(client, channel, ts, payload, replies, thread)
        chart_action: str | None = None
        chart_location: str | None = None
        if chart is not None:
            try:
                chart_action, chart_location = self._sync_chart(
                    client, ledger, channel, ts, payload["week"], chart, thread
                )
            except SlackConfigurationError as err:
                # The message is out; a token without files:write must not fail (and re-run) the
                # weekly post. Loud in the log and the asset metadata, not fatal.
                log.warning("%s: the trend chart was not attached: %s", label, err)
                chart_action = "skipped"
                notes = (*notes, f"trend chart not attached: {err}")
        return PublishResult(
            destination="slack",
            action=action,
            location=f"{channel}/{ts}",
            ts=ts,
            channel=channel,
            thread_replies=len(replies),
            notes=notes,
            chart_action=chart_action,
            chart_location=chart_location,
        )

    def _find(
        self,
        client: WebClient,
        channel: str,
        metadata: dict[str, Any],
        hint_ts: str | None,
        oldest: str | None,
    ) -> dict[str, Any] | None:
        """The channel's message carrying `metadata`, via the stored ts first, else a history scan."""
        if hint_ts:
            response = self._call(
                client,
                "conversations.history",
                channel=channel,
                latest=hint_ts,
                oldest=hint_ts,
                inclusive=True,
                limit=1,
                include_all_metadata=True,
            )
            for message in response.get("messages", []):
                if message.get("ts") == hint_ts and _matches(message, metadata):
                    return dict(message)
        matches: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(HISTORY_MAX_PAGES):
            args: dict[str, Any] = {
                "channel": channel,
                "limit": HISTORY_PAGE_SIZE,
                "include_all_metadata": True,
            }
            if oldest:
                args["oldest"] = oldest
            if cursor:
                args["cursor"] = cursor
            response = self._call(client, "conversations.history", **args)
            matches += [dict(m) for m in response.get("messages", []) if _matches(m, metadata)]
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                break
        else:
            raise SlackDeliveryError(
                f"channel {channel} has more than {HISTORY_MAX_PAGES * HISTORY_PAGE_SIZE} messages since "
                "the week began; cannot rule out an existing message, so nothing was posted",
                retryable=False,
            )
        if len(matches) > 1:
            # Only possible if something outside this resource posted; edit the oldest, keep going.
            log.warning("%d messages carry %s in %s; editing the oldest", len(matches), metadata, channel)
        return min(matches, key=lambda m: float(m["ts"])) if matches else None

    def _thread(self, client: WebClient, channel: str, parent_ts: str) -> list[dict[str, Any]]:
        """The message and its replies (with metadata and shared files), in thread order."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(HISTORY_MAX_PAGES):
            args: dict[str, Any] = {
                "channel": channel,
                "ts": parent_ts,
                "limit": HISTORY_PAGE_SIZE,
                "include_all_metadata": True,
            }
            if cursor:
                args["cursor"] = cursor
            response = self._call(client, "conversations.replies", **args)
            messages += [dict(m) for m in response.get("messages", [])]
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                break
        return messages

    def _sync_thread(
        self,
        client: WebClient,
        channel: str,
        parent_ts: str,
        payload: dict[str, str],
        replies: list[ThreadReply],
        thread: list[dict[str, Any]],
    ) -> None:
        """Replies under the message, one per part: edited if present, posted if missing, and
        parts left over from a bigger earlier version deleted. Idempotent like the main message."""
        existing: dict[int, str] = {}
        for message in thread:
            meta = message.get("metadata") or {}
            body = meta.get("event_payload") or {}
            if meta.get("event_type") == DETAIL_EVENT_TYPE and all(
                body.get(k) == v for k, v in payload.items()
            ):
                existing.setdefault(int(body.get("part", 0)), str(message["ts"]))
        for part, reply in enumerate(replies, start=1):
            metadata = {"event_type": DETAIL_EVENT_TYPE, "event_payload": {**payload, "part": part}}
            if part in existing:
                self._call(
                    client,
                    "chat.update",
                    channel=channel,
                    ts=existing[part],
                    text=reply.text,
                    blocks=reply.blocks,
                    metadata=metadata,
                )
            else:
                self._call(
                    client,
                    "chat.postMessage",
                    channel=channel,
                    thread_ts=parent_ts,
                    text=reply.text,
                    blocks=reply.blocks,
                    metadata=metadata,
                    unfurl_links=False,
                )
        for part, ts in sorted(existing.items()):
            if part > len(replies):
                with contextlib.suppress(SlackDeliveryError):  # already gone is fine
                    self._call(client, "chat.delete", channel=channel, ts=ts)

    def _sync_chart(
        self,
        client: WebClient,
        ledger: _Ledger,
        channel: str,
        parent_ts: str,
        week_key: str,
        png: bytes,
        thread: list[dict[str, Any]],
    ) -> tuple[str, str]:
        """Exactly one trend chart in the week's thread: kept if the thread already holds these
        bytes (same hash in the name), else uploaded; then every other chart of the week deleted.

        Upload before delete, so readers never see the thread without a chart. Any attempt that
        fails half way (upload lost, delete lost) converges on the next one, which starts from the
        thread scan again. Returns (action, file id)."""
        digest = hashlib.sha256(png).hexdigest()
        name = f"{CHART_PREFIX}{week_key}_{digest[:12]}.png"
        ledger_key = f"{CHART_LEDGER_KEY}:{week_key}"
        # The ledger's file id also counts as ours (a hint, like the message ts).
        known_id = ledger.entry(channel, ledger_key).get("file_id")
        ours: dict[str, dict[str, Any]] = {}
        for message in thread:
            for file in message.get("files") or []:
                file_id = str(file.get("id") or "")
                if not file_id or file.get("mode") == "tombstone":  # deleted, shown as a placeholder
                    continue
                if (
                    str(file.get("name") or "").startswith(f"{CHART_PREFIX}{week_key}_")
                    or file_id == known_id
                ):
                    ours.setdefault(file_id, dict(file))
        keep = next((fid for fid, f in ours.items() if f.get("name") == name), None)
        if keep is not None:
            action = "unchanged"
        else:
            keep = self._upload_file(
                client,
                channel=channel,
                thread_ts=parent_ts,
                filename=name,
                title=f"Trend to the week of {week_key}: sessions and tracked DC fast ports",
                alt_txt=f"Line charts of weekly successful sessions and tracked DC fast ports for "
                f"the United States and Canada over the 12 weeks to {week_key}",
                data=png,
            )
            action = "replaced" if ours else "uploaded"
        ledger.put(channel, ledger_key, parent_ts, file_id=keep, sha256=digest)
        for file_id in ours:
            if file_id != keep:
                self._delete_file(client, file_id)
        return action, keep

    def _upload_file(
        self,
        client: WebClient,
        *,
        channel: str,
        thread_ts: str,
        filename: str,
        title: str,
        alt_txt: str,
        data: bytes,
    ) -> str:
        """Slack's files upload v2 flow, step by step, so that every step gets the retry rules of
        `_call` (slack_sdk's files_upload_v2 runs all three as one call and sends the bytes with a
        bare urlopen). Returns the file id."""
        response = self._call(
            client, "files.getUploadURLExternal", filename=filename, length=len(data), alt_txt=alt_txt
        )
        upload_url = str(response.get("upload_url") or "")
        file_id = str(response.get("file_id") or "")
        if not upload_url or not file_id:
            raise SlackDeliveryError(
                "files.getUploadURLExternal answered without upload_url/file_id", retryable=True
            )
        self._post_bytes(upload_url, data)
        # Until this call the file is private and invisible; after it, it is in the thread. If the
        # answer is lost the next attempt's thread scan finds it by name.
        self._call(
            client,
            "files.completeUploadExternal",
            files=json.dumps([{"id": file_id, "title": title}]),
            channel_id=channel,
            thread_ts=thread_ts,
        )
        return file_id

    def _post_bytes(self, url: str, data: bytes) -> None:
        """Step 2 of the upload: the raw bytes to the pre-signed upload_url (no token: the URL
        comes from the server and must not receive it). Nothing is visible in Slack before the
        completion call, so every failure here is safe to retry from the start."""
        if urlparse(url).scheme not in ("https", "http"):
            raise SlackDeliveryError(f"refusing the upload URL scheme of {url[:40]!r}", retryable=False)
        request = Request(url, data=data, method="POST", headers={"Content-Type": "application/octet-stream"})
        try:
            with urlopen(request, timeout=self.timeout_seconds) as response:
                response.read()
                status = int(response.status)
        except HTTPError as err:
            status = err.code
        except (URLError, OSError, http.client.HTTPException) as err:
            raise SlackDeliveryError(
                f"the chart upload got no answer ({type(err).__name__}); the step will start again",
                retryable=True,
            ) from None
        if status != 200:
            raise SlackDeliveryError(
                f"the chart upload failed with HTTP {status}",
                retryable=status == 429 or status >= 500,
                slack_error=f"http_{status}",
            )

    def _delete_file(self, client: WebClient, file_id: str) -> None:
        try:
            self._call(client, "files.delete", file=file_id)
        except SlackDeliveryError as err:
            if err.slack_error not in FILE_GONE_ERRORS:
                raise

    def _call(self, client: WebClient, method: str, **kwargs: Any) -> dict[str, Any]:
        """One Web API call; every failure becomes a SlackDeliveryError that says whether to retry."""
        channel = str(kwargs.get("channel") or kwargs.get("channel_id") or "")
        try:
            response = (
                client.api_call(method, json=kwargs)
                if method.startswith("chat.")
                else client.api_call(method, params=kwargs)
            )
            return dict(response.data) if isinstance(response.data, dict) else {}
        except SlackApiError as err:
            raise self._classify(client, method, channel, err) from None
        except (URLError, OSError, http.client.HTTPException) as err:
            # Timeouts, resets and dropped connections after sending: Slack may have acted.
            raise SlackDeliveryError(
                self._redact(
                    f"{method} got no answer ({type(err).__name__}: {err}); Slack may or may not "
                    "have acted, the step will start again from the lookup"
                ),
                retryable=True,
            ) from None
        except SlackClientError as err:
            raise SlackDeliveryError(self._redact(f"{method}: {err}"), retryable=False) from None

    def _classify(
        self, client: WebClient, method: str, channel: str, err: SlackApiError
    ) -> SlackDeliveryError:
        status = err.response.status_code
        data = err.response.data if isinstance(err.response.data, dict) else {}
        code = str(data.get("error") or f"http_{status}")
        if code in CONFIGURATION_ERRORS:
            bot = self._bot_name(client) if code == "not_in_channel" else ""
            advice = CONFIGURATION_ERRORS[code].format(
                channel=channel, bot=bot or "<your bot>", needed=data.get("needed") or "see the error"
            )
            return SlackConfigurationError(
                self._redact(f"Slack {method} failed with {code}: {advice}"), slack_error=code
            )
        if status == 429 or status >= 500 or code in TRANSIENT_ERRORS:
            return SlackDeliveryError(
                f"Slack {method} failed with {code} (HTTP {status}); Slack may or may not have acted, "
                "the step will start again from the lookup",
                retryable=True,
                slack_error=code,
            )
        detail = "; ".join(str(m) for m in (data.get("response_metadata") or {}).get("messages", []))
        return SlackDeliveryError(
            self._redact(
                f"Slack {method} failed with {code} (HTTP {status})" + (f": {detail}" if detail else "")
            ),
            retryable=False,
            slack_error=code,
        )

    def _bot_name(self, client: WebClient) -> str:
        """The bot's user name for the /invite hint; best effort (an extra call, only on that error)."""
        try:
            return str(client.auth_test().get("user") or "")
        except (SlackClientError, URLError, OSError, http.client.HTTPException):
            return ""

    def _redact(self, message: str) -> str:
        """Belt and braces: no message built here should contain the token, but make sure."""
        return message.replace(self.token, "xoxb-[redacted]") if self.token else message


def _matches(message: dict[str, Any], metadata: dict[str, Any]) -> bool:
    meta = message.get("metadata") or {}
    body = meta.get("event_payload") or {}
    return bool(
        meta.get("event_type") == metadata["event_type"]
        and all(body.get(k) == v for k, v in metadata["event_payload"].items())
    )


def _week_oldest(week_key: str) -> str | None:
    """The week's message cannot be older than the week itself: scan history from a day before its
    start (time zones), which bounds the scan for old weeks too."""
    try:
        start = dt.datetime.combine(dt.date.fromisoformat(week_key), dt.time(), tzinfo=dt.UTC)
    except ValueError:
        return None
    return f"{(start - dt.timedelta(days=1)).timestamp():.6f}"


class _Ledger:
    """channel -> key -> ts, in one JSON file written atomically under an exclusive lock, so two
    runs of different weeks do not lose each other's entries. Never holds the token."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, dict[str, dict[str, str]]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return data.get("channels", {}) if isinstance(data, dict) else {}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def entry(self, channel: str, key: str) -> dict[str, str]:
        entry = self._read().get(channel, {}).get(key)
        return dict(entry) if isinstance(entry, dict) else {}

    def get(self, channel: str, key: str) -> str | None:
        return self.entry(channel, key).get("ts")

    def put(self, channel: str, key: str, ts: str, **extra: str) -> None:
        with self._locked():
            channels = self._read()
            channels.setdefault(channel, {})[key] = {
                "ts": ts,
                **extra,
                "at": dt.datetime.now(dt.UTC).isoformat(),
            }
            write_atomic(
                self.path,
                json.dumps({"version": 1, "channels": channels}, indent=2, sort_keys=True).encode("utf-8"),
            )
