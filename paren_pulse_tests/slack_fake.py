"""A loopback stand-in for the Slack Web API, with fault injection.

Speaks the methods the project calls (auth.test, chat.postMessage, chat.update, chat.delete,
conversations.history, conversations.replies) the way slack_sdk's WebClient talks to Slack: POST,
JSON bodies for chat.*, form-encoded bodies for the rest, Bearer token auth, HTTP 200 with
`{"ok": false, "error": ...}` for API errors, 429 + Retry-After for rate limits. Messages are kept
per channel with ts, thread_ts and metadata; history and replies come back like Slack's (newest
first / parent first, metadata only with include_all_metadata, cursor pagination).

Faults are queued per method (or "*" for whichever call comes next) and consumed one per call.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

# Faults that act before the method does anything (configuration-style API errors).
ERROR_FAULTS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "account_inactive",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_blocks_too_long",
        "internal_error",
    }
)
# Faults that let the method take effect (store/update the message) and then fail the response.
AFTER_STORE_FAULTS = frozenset({"server_error_after_store", "drop_after_store", "slow_after_store"})
FAULTS = ERROR_FAULTS | AFTER_STORE_FAULTS | {"rate_limited"}

# Same counting as Slack's undocumented limit: cumulative text of the blocks.
MAX_TOTAL_BLOCK_TEXT = 12_000
MAX_BLOCKS = 50
MAX_TEXT = 40_000


@dataclass
class Channel:
    member: bool = True
    archived: bool = False


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    authorization: str | None
    fault: str | None


@dataclass
class FakeSlack:
    """Start with `with FakeSlack(token=...) as fake:`; point WebClient at `fake.base_url`."""

    token: str
    bot_user: str = "paren_pulse"
    channels: dict[str, Channel] = field(default_factory=lambda: {"C0PULSE": Channel()})
    retry_after_seconds: int = 1
    slow_seconds: float = 2.5
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._faults: dict[str, deque[str | None]] = defaultdict(deque)
        self._lock = threading.RLock()  # _new_ts is called while holding it
        self._last_ts = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    # --- test helpers -------------------------------------------------------------------------

    def inject(self, method: str, fault: str, times: int = 1, *, after: int = 0) -> None:
        """Queue `fault` for `times` calls of `method` ("*" = any method), after `after` clean calls."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {sorted(FAULTS)}")
        with self._lock:
            self._faults[method].extend([None] * after + [fault] * times)

    def count(self, method: str | None = None) -> int:
        return sum(1 for c in self.calls if method is None or c.method == method)

    def top_level(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.messages[channel] if "thread_ts" not in m]

    def replies(self, channel: str, parent_ts: str) -> list[dict[str, Any]]:
        return [m for m in self.messages[channel] if m.get("thread_ts") == parent_ts]

    # --- request handling (server threads) ------------------------------------------------------

    def _next_fault(self, method: str) -> str | None:
        with self._lock:
            for key in (method, "*"):
                if self._faults[key]:
                    return self._faults[key].popleft()
        return None

    def _new_ts(self) -> str:
        with self._lock:
            self._last_ts = max(time.time(), self._last_ts + 0.000001)
            return f"{self._last_ts:.6f}"

    def handle(
        self, method: str, params: dict[str, Any], authorization: str | None
    ) -> tuple[int, dict[str, Any], str | None]:
        """(HTTP status, JSON body, after-store fault to apply to the response)."""
        fault = self._next_fault(method)
        self.calls.append(Call(method, params, authorization, fault))
        if fault == "rate_limited":
            return 429, {"ok": False, "error": "ratelimited"}, None
        if fault == "internal_error":
            return 500, {"ok": False, "error": "internal_error"}, None
        if fault in ERROR_FAULTS:
            body: dict[str, Any] = {"ok": False, "error": fault}
            if fault == "missing_scope":
                body.update(needed="chat:write", provided="channels:history")
            return 200, body, None
        if authorization is None or not authorization.startswith("Bearer "):
            return 200, {"ok": False, "error": "not_authed"}, None
        if authorization != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}, None
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return 404, {"ok": False, "error": "unknown_method"}, None
        status, body = handler(params)
        return status, body, fault if body.get("ok") or fault in AFTER_STORE_FAULTS else None

    def _channel(self, params: dict[str, Any], *, write: bool) -> tuple[str, dict[str, Any] | None]:
        channel_id = str(params.get("channel") or "")
        channel = self.channels.get(channel_id)
        if channel is None:
            return channel_id, {"ok": False, "error": "channel_not_found"}
        if write and channel.archived:
            return channel_id, {"ok": False, "error": "is_archived"}
        if not channel.member:
            return channel_id, {"ok": False, "error": "not_in_channel"}
        return channel_id, None

    def _check_content(self, params: dict[str, Any]) -> dict[str, Any] | None:
        blocks = _decode(params.get("blocks")) or []
        text = str(params.get("text") or "")
        if not blocks and not text:
            return {"ok": False, "error": "no_text"}
        if len(text) > MAX_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "response_metadata": {
                    "messages": [f"[ERROR] must provide at most {MAX_BLOCKS} items [json-pointer:/blocks]"]
                },
            }
        if sum(len(t) for t in _texts(blocks)) > MAX_TOTAL_BLOCK_TEXT:
            return {"ok": False, "error": "msg_blocks_too_long"}
        return None

    def _api_auth_test(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {
            "ok": True,
            "url": "https://paren.slack.com/",
            "team": "Paren",
            "user": self.bot_user,
            "team_id": "T0PAREN",
            "user_id": "U0BOT",
            "bot_id": "B0BOT",
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel_id, error = self._channel(params, write=True)
        if error:
            return 200, error
        error = self._check_content(params)
        if error:
            return 200, error
        thread_ts = params.get("thread_ts")
        if thread_ts and not any(m["ts"] == thread_ts for m in self.messages[channel_id]):
            return 200, {"ok": False, "error": "thread_not_found"}
        message: dict[str, Any] = {
            "type": "message",
            "user": "U0BOT",
            "bot_id": "B0BOT",
            "ts": self._new_ts(),
            "text": str(params.get("text") or ""),
            "blocks": _decode(params.get("blocks")) or [],
        }
        metadata = _decode(params.get("metadata"))
        if metadata:
            message["metadata"] = metadata
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self._lock:
            self.messages[channel_id].append(message)
        return 200, {"ok": True, "channel": channel_id, "ts": message["ts"], "message": message}

    def _api_chat_update(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel_id, error = self._channel(params, write=True)
        if error:
            return 200, error
        error = self._check_content(params)
        if error:
            return 200, error
        target = next((m for m in self.messages[channel_id] if m["ts"] == params.get("ts")), None)
        if target is None:
            return 200, {"ok": False, "error": "message_not_found"}
        with self._lock:
            target["text"] = str(params.get("text") or "")
            target["blocks"] = _decode(params.get("blocks")) or []
            target["edited"] = {"user": "U0BOT", "ts": self._new_ts()}
            metadata = _decode(params.get("metadata"))
            if metadata:
                target["metadata"] = metadata
        return 200, {
            "ok": True,
            "channel": channel_id,
            "ts": target["ts"],
            "text": target["text"],
            "message": target,
        }

    def _api_chat_delete(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel_id, error = self._channel(params, write=True)
        if error:
            return 200, error
        with self._lock:
            before = len(self.messages[channel_id])
            self.messages[channel_id] = [m for m in self.messages[channel_id] if m["ts"] != params.get("ts")]
        if len(self.messages[channel_id]) == before:
            return 200, {"ok": False, "error": "message_not_found"}
        return 200, {"ok": True, "channel": channel_id, "ts": params.get("ts")}

    def _api_conversations_history(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel_id, error = self._channel(params, write=False)
        if error:
            return 200, error
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or time.time() + 1)
        inclusive = _truthy(params.get("inclusive"))
        selected = [
            m
            for m in self.top_level(channel_id)
            if (oldest <= float(m["ts"]) <= latest if inclusive else oldest < float(m["ts"]) < latest)
        ]
        selected.sort(key=lambda m: float(m["ts"]), reverse=True)  # newest first, like Slack
        return 200, self._page(selected, params)

    def _api_conversations_replies(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel_id, error = self._channel(params, write=False)
        if error:
            return 200, error
        parent = next((m for m in self.top_level(channel_id) if m["ts"] == params.get("ts")), None)
        if parent is None:
            return 200, {"ok": False, "error": "thread_not_found"}
        thread = [parent, *sorted(self.replies(channel_id, parent["ts"]), key=lambda m: float(m["ts"]))]
        return 200, self._page(thread, params)

    def _page(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        page = messages[start : start + limit]
        if not _truthy(params.get("include_all_metadata")):
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        has_more = start + limit < len(messages)
        return {
            "ok": True,
            "messages": json.loads(json.dumps(page)),
            "has_more": has_more,
            "response_metadata": {"next_cursor": str(start + limit) if has_more else ""},
        }


class _Handler(BaseHTTPRequestHandler):
    owner: FakeSlack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlparse(self.path)
        method = url.path.rsplit("/", 1)[-1]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(url.query).items()}
        content_type = self.headers.get("Content-Type", "")
        if raw and content_type.startswith("application/json"):
            params.update(json.loads(raw))
        elif raw:
            params.update({k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()})
        status, body, fault = self.owner.handle(method, params, self.headers.get("Authorization"))
        if fault == "drop_after_store":
            # The message is stored; the client never hears back (RemoteDisconnected on its side).
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "slow_after_store":
            time.sleep(self.owner.slow_seconds)  # past the client's timeout
        if fault == "server_error_after_store":
            status, body = 500, {"ok": False, "error": "internal_error"}
        payload = json.dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if status == 429:
                self.send_header("Retry-After", str(self.owner.retry_after_seconds))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up (timeout); Slack would not notice either


def _decode(value: Any) -> Any:
    """Slack accepts blocks/metadata as JSON values or as JSON strings (form-encoded calls)."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        return json.loads(value)
    return value


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def _texts(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "text" and isinstance(inner, str):
                found.append(inner)
            else:
                found.extend(_texts(inner))
    elif isinstance(value, list):
        for inner in value:
            found.extend(_texts(inner))
    return found
