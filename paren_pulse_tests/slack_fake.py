"""A loopback stand-in for the Slack Web API, with fault injection.

Speaks the methods the project calls (auth.test, chat.postMessage, chat.update, chat.delete,
conversations.history, conversations.replies, and the files upload v2 flow: files.getUploadURLExternal,
a POST of the bytes to the returned upload_url, files.completeUploadExternal; files.delete) the way
slack_sdk's WebClient talks to Slack: POST, JSON bodies for chat.*, form-encoded bodies for the
rest, Bearer token auth, HTTP 200 with `{"ok": false, "error": ...}` for API errors, 429 +
Retry-After for rate limits. Messages are kept per channel with ts, thread_ts and metadata; history
and replies come back like Slack's (newest first / parent first, metadata only with
include_all_metadata, cursor pagination). A file completed into a channel (and thread) appears
there as a message carrying `files`, like Slack's file shares; files.delete removes it again.

The upload_url points back at this server (`/upload/v1/<key>`) and, like Slack's, takes the raw
bytes without the token. Its faults are queued under UPLOAD ("upload"); it never takes "*" faults.

Faults are queued per method (or "*" for whichever call comes next) and consumed one per call.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
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
# The fault queue of the upload endpoint (not a Web API method).
UPLOAD = "upload"
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
class StoredFile:
    """A file from files.getUploadURLExternal on: bytes once uploaded, shares once completed."""

    id: str
    name: str
    length: int
    upload_key: str
    alt_txt: str = ""
    title: str = ""
    data: bytes | None = None
    completed: bool = False

    def public(self) -> dict[str, Any]:
        """The file object as Slack shows it inside a message."""
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": "image/png" if self.name.endswith(".png") else "application/octet-stream",
            "filetype": self.name.rsplit(".", 1)[-1] if "." in self.name else "binary",
            "size": len(self.data or b""),
            "user": "U0BOT",
            "mode": "hosted",
            "alt_txt": self.alt_txt,
        }


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
    # Upload POSTs (no token: Slack's upload URLs are pre-signed), kept apart from the API calls.
    uploads: list[Call] = field(default_factory=list)
    files: dict[str, StoredFile] = field(default_factory=dict)

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

    def replies(self, channel: str, parent_ts: str, *, uploads: bool = False) -> list[dict[str, Any]]:
        """The message replies in a thread; file shares only with `uploads` (see thread_files)."""
        return [
            m
            for m in self.messages[channel]
            if m.get("thread_ts") == parent_ts and (uploads or not m.get("upload"))
        ]

    def thread_files(self, channel: str, parent_ts: str) -> list[dict[str, Any]]:
        """The files shared into a message's thread, oldest first."""
        replies = sorted(self.replies(channel, parent_ts, uploads=True), key=lambda m: float(m["ts"]))
        return [f for m in replies for f in m.get("files", [])]

    # --- request handling (server threads) ------------------------------------------------------

    def _next_fault(self, method: str, *, wildcard: bool = True) -> str | None:
        with self._lock:
            for key in (method, "*") if wildcard else (method,):
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
        thread = [
            parent,
            *sorted(self.replies(channel_id, parent["ts"], uploads=True), key=lambda m: float(m["ts"])),
        ]
        return 200, self._page(thread, params)

    def _api_files_getUploadURLExternal(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        filename = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or 0)
        except ValueError:
            length = 0
        if not filename or length <= 0:
            return 200, {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            file_id = f"F{len(self.files) + 1:09d}"
            key = f"{file_id}-{uuid.uuid4().hex}"
            self.files[file_id] = StoredFile(
                file_id, filename, length, key, alt_txt=str(params.get("alt_txt") or "")
            )
        upload_url = self.base_url.replace("/api/", f"/upload/v1/{key}")
        return 200, {"ok": True, "upload_url": upload_url, "file_id": file_id}

    def receive_upload(self, key: str, data: bytes) -> tuple[int, str]:
        """The upload_url's POST: stores the bytes (status, plain-text body like Slack's)."""
        with self._lock:
            stored = next((f for f in self.files.values() if f.upload_key == key), None)
            if stored is None:
                return 404, "file not found"
            if stored.completed:
                return 400, "upload already completed"
            stored.data = data
        return 200, f"OK - {len(data)}"

    def _api_files_completeUploadExternal(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        entries = _decode(params.get("files"))
        if not isinstance(entries, list) or not entries:
            return 200, {"ok": False, "error": "invalid_arguments"}
        channel_id = params.get("channel_id")
        thread_ts = params.get("thread_ts")
        if channel_id:
            channel_id, error = self._channel({"channel": channel_id}, write=True)
            if error:
                return 200, error
            if thread_ts and not any(m["ts"] == thread_ts for m in self.top_level(channel_id)):
                return 200, {"ok": False, "error": "invalid_thread_ts"}
        with self._lock:
            stored: list[StoredFile] = []
            for entry in entries:
                found = self.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
                if found is None or found.completed:
                    return 200, {"ok": False, "error": "file_not_found"}
                if found.data is None or len(found.data) != found.length:
                    return 200, {"ok": False, "error": "file_upload_size_mismatch"}
                stored.append(found)
            for found, entry in zip(stored, entries, strict=True):
                found.completed = True
                found.title = str(entry.get("title") or found.name)
            if channel_id:
                message: dict[str, Any] = {
                    "type": "message",
                    "user": "U0BOT",
                    "bot_id": "B0BOT",
                    "ts": self._new_ts(),
                    "text": str(params.get("initial_comment") or ""),
                    "upload": True,
                    "files": [f.public() for f in stored],
                }
                if thread_ts:
                    message["thread_ts"] = thread_ts
                self.messages[channel_id].append(message)
        return 200, {"ok": True, "files": [{"id": f.id, "title": f.title} for f in stored]}

    def _api_files_delete(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        file_id = str(params.get("file") or "")
        with self._lock:
            if self.files.pop(file_id, None) is None:
                return 200, {"ok": False, "error": "file_not_found"}
            for channel_id, messages in self.messages.items():
                kept = []
                for message in messages:
                    if "files" in message:
                        message["files"] = [f for f in message["files"] if f["id"] != file_id]
                        if not message["files"] and not message.get("text"):
                            continue  # a share with nothing else in it goes with the file
                    kept.append(message)
                self.messages[channel_id] = kept
        return 200, {"ok": True}

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
        if url.path.startswith("/upload/v1/"):
            self._serve_upload(method, raw)
            return
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(url.query).items()}
        content_type = self.headers.get("Content-Type", "")
        if raw and content_type.startswith("application/json"):
            params.update(json.loads(raw))
        elif raw:
            params.update({k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()})
        status, body, fault = self.owner.handle(method, params, self.headers.get("Authorization"))
        self._respond(status, json.dumps(body).encode("utf-8"), "application/json; charset=utf-8", fault)

    def _serve_upload(self, key: str, raw: bytes) -> None:
        owner = self.owner
        fault = owner._next_fault(UPLOAD, wildcard=False)
        call = Call(UPLOAD, {"key": key, "bytes": len(raw)}, self.headers.get("Authorization"), fault)
        owner.uploads.append(call)
        if fault == "rate_limited":
            self._respond(429, b"rate limited", "text/plain", None)
        elif fault in ERROR_FAULTS:
            self._respond(500, b"internal error", "text/plain", None)
        else:
            status, text = owner.receive_upload(key, raw)
            self._respond(status, text.encode("utf-8"), "text/plain; charset=utf-8", fault)

    def _respond(self, status: int, payload: bytes, content_type: str, fault: str | None) -> None:
        if fault == "drop_after_store":
            # The message is stored; the client never hears back (RemoteDisconnected on its side).
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "slow_after_store":
            time.sleep(self.owner.slow_seconds)  # past the client's timeout
        if fault == "server_error_after_store":
            status, content_type = 500, "application/json; charset=utf-8"
            payload = json.dumps({"ok": False, "error": "internal_error"}).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
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
