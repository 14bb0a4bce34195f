"""A loopback ClickHouse HTTP endpoint over an in-memory chdb engine, with fault injection.

Why: production talks to ClickHouse over HTTP through clickhouse-connect, Debian's server is
too old for it and there is no Docker. The real ClickHouse engine (chdb) answers each request
instead, so the production client code runs unchanged: its handshake, server-side `{name:Type}`
parameters (`param_*` URL parameters), Native result blocks, Native inserts (lz4-compressed,
chunked bodies), commands, settings and HTTP errors in ClickHouse's own shape.

The server runs in a SUBPROCESS: chdb allows one engine per process, and the test process
already owns one (the embedded default). It exits when its stdin closes, so a crashed test
run never leaves it behind.

Faults are set from the test through `POST /__control__` (JSON), which needs no credentials:
  {"fail": n, "status": 503, "match": "FROM sessions"}  next n matching requests get `status`
  {"sleep": seconds, "count": 1, "match": null}       next matching request sleeps first
  {"reset": true}                                      clear faults and counters
Every call returns the counters: requests, failed (injected), slept, auth_failures.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

CONTROL_PATH = "/__control__"
DEFAULT_USER = "pulse"
DEFAULT_PASSWORD = "s3cret-Loopback-pw"

# URL parameters that steer the HTTP interface, not the engine (ClickHouse accepts them all;
# chdb would reject them as unknown settings).
_TRANSPORT_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "buffer_size",
        "session_id",
        "session_timeout",
        "session_check",
        "query_id",
        "quota_key",
        "wait_end_of_query",
        "compress",
        "decompress",
        "client_protocol_version",
        "role",
        "enable_http_compression",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "cancel_http_readonly_queries_on_client_close",
        "http_response_buffer_size",
    }
)
_INSERT = re.compile(rb"^\s*INSERT\s+INTO\s+(?P<target>.+?)\s+FORMAT\s+(?P<fmt>\w+)[ \t]*\r?\n?", re.I | re.S)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.I)
_ERROR_CODE = re.compile(r"Code:\s*(\d+)")
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# ClickHouse's own mapping of a few exception codes to HTTP statuses (HTTPHandler.cpp).
_HTTP_STATUS = {60: 404, 81: 404, 62: 400, 115: 400, 47: 400, 516: 403, 159: 500, 241: 500}


# --------------------------------------------------------------------------------------------
# Server side (runs in the subprocess)
# --------------------------------------------------------------------------------------------


class _Faults:
    """Injected faults, shared by all handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.fail_left = 0
        self.fail_status = 503
        self.fail_match: str | None = None
        self.sleep_left = 0
        self.sleep_seconds = 0.0
        self.sleep_match: str | None = None
        self.requests = 0
        self.failed = 0
        self.slept = 0
        self.auth_failures = 0

    def counters(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "failed": self.failed,
            "slept": self.slept,
            "auth_failures": self.auth_failures,
            "fail_left": self.fail_left,
            "sleep_left": self.sleep_left,
        }

    def take(self, sql_head: str) -> tuple[int | None, float]:
        """The (status to fail with, seconds to sleep) this request draws."""
        with self.lock:
            self.requests += 1
            status: int | None = None
            sleep = 0.0
            if self.fail_left > 0 and (self.fail_match is None or self.fail_match in sql_head):
                self.fail_left -= 1
                self.failed += 1
                status = self.fail_status
            if self.sleep_left > 0 and (self.sleep_match is None or self.sleep_match in sql_head):
                self.sleep_left -= 1
                self.slept += 1
                sleep = self.sleep_seconds
            return status, sleep


class _Engine:
    """One in-memory chdb connection; ClickHouse runs one query at a time per handle."""

    def __init__(self) -> None:
        import chdb

        self.conn = chdb.connect(":memory:")
        self.lock = threading.Lock()
        raw = self.conn.query("SELECT name FROM system.settings", "TabSeparated").bytes()
        self.settings = frozenset(raw.decode().split())
        self.version = self.conn.query("SELECT version()", "TabSeparated").bytes().decode().strip()

    def run(
        self, sql: str, fmt: str, params: dict[str, str], database: str | None, settings: dict[str, str]
    ) -> Any:
        with self.lock:
            # Each request names its database and settings, as over HTTP; nothing leaks between
            # requests that matters, because every request sets what it relies on.
            self.conn.query(f"USE `{(database or 'default').replace('`', '')}`", "TabSeparated")
            for name, value in settings.items():
                quoted = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
                self.conn.query(f"SET {name} = {quoted}", "TabSeparated")
            return self.conn.query(sql, fmt, params=params)


class _ClickHouseError(Exception):
    def __init__(self, code: int, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status or _HTTP_STATUS.get(code, 500)


def _read_chunked(rfile: Any) -> bytes:
    out = bytearray()
    while True:
        size_line = rfile.readline()
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            # Trailer headers end with an empty line.
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return bytes(out)
        out += rfile.read(size)
        rfile.readline()


def _decompress(data: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding == "identity":
        return data
    if encoding == "lz4":
        import lz4.frame

        # clickhouse-connect sends one LZ4 frame per Native block: decode them all.
        out = bytearray()
        rest = data
        while rest:
            decoder = lz4.frame.LZ4FrameDecompressor()
            out += decoder.decompress(rest)
            rest = decoder.unused_data
        return bytes(out)
    if encoding == "zstd":
        try:
            import zstandard

            return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))
        except ImportError:
            from backports import zstd  # type: ignore[import-not-found,unused-ignore]

            return bytes(zstd.decompress(data))
    if encoding == "gzip":
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompress(data)
    raise _ClickHouseError(0, f"Code: 0. DB::Exception: Unknown Content-Encoding {encoding}.", 400)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the test output is the place for failures, not request logs

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    # -- plumbing ------------------------------------------------------------------------------

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = _read_chunked(self.rfile)
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return _decompress(data, self.headers.get("Content-Encoding"))

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its read timeout): exactly what a timeout test provokes.
            self.close_connection = True

    def _error(self, exc: _ClickHouseError) -> None:
        text = str(exc)
        if "(version " not in text:
            text = f"{text} (version {self.server.engine.version})"
        self._send(
            exc.status,
            (text + "\n").encode(),
            {"X-ClickHouse-Exception-Code": str(exc.code), "Content-Type": "text/plain; charset=UTF-8"},
        )

    def _credentials(self, params: dict[str, str]) -> tuple[str, str]:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return user, password
        if self.headers.get("X-ClickHouse-User"):
            return self.headers["X-ClickHouse-User"], self.headers.get("X-ClickHouse-Key", "")
        return params.get("user", "default"), params.get("password", "")

    # -- request -------------------------------------------------------------------------------

    def _handle(self) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            body = self._body()
        except _ClickHouseError as exc:
            self._error(exc)
            return
        if url.path == CONTROL_PATH:
            self._control(body)
            return
        if url.path in ("/ping", "/ping/"):
            self._send(200, b"Ok.\n")
            return
        query = params.get("query", "")
        payload = (query.encode() + b"\n" + body) if query and body else (query.encode() or body)
        head = payload[:4096].decode("utf-8", errors="replace")
        status, sleep = self.server.faults.take(head)
        if sleep:
            time.sleep(sleep)
        if status is not None:
            self._send(status, f"Injected HTTP {status} by the loopback endpoint\n".encode())
            return
        user, password = self._credentials(params)
        if (user, password) != (self.server.user, self.server.password):
            with self.server.faults.lock:
                self.server.faults.auth_failures += 1
            self._error(
                _ClickHouseError(
                    516,
                    f"Code: 516. DB::Exception: {user}: Authentication failed: password is incorrect, "
                    "or there is no user with such name. (AUTHENTICATION_FAILED)",
                )
            )
            return
        try:
            self._execute(payload, params)
        except _ClickHouseError as exc:
            self._error(exc)

    def _execute(self, payload: bytes, params: dict[str, str]) -> None:
        engine = self.server.engine
        bind = {k[len("param_") :]: v for k, v in params.items() if k.startswith("param_")}
        settings: dict[str, str] = {}
        for name, value in params.items():
            if name in _TRANSPORT_PARAMS or name.startswith("param_"):
                continue
            if not _SETTING_NAME.match(name) or name not in engine.settings:
                message = f"Code: 115. DB::Exception: Unknown setting '{name}'. (UNKNOWN_SETTING)"
                raise _ClickHouseError(115, message)
            settings[name] = value
        database = params.get("database")
        tmp_path: str | None = None
        insert = _INSERT.match(payload)
        try:
            if insert:
                # Native data is binary: hand it to the engine as a file, as chdb's own driver does.
                with tempfile.NamedTemporaryFile(suffix=".data", delete=False) as tmp:
                    tmp.write(payload[insert.end() :])
                    tmp_path = tmp.name
                target = insert.group("target").decode()
                sql = f"INSERT INTO {target} FROM INFILE '{tmp_path}' FORMAT {insert.group('fmt').decode()}"
                fmt = "TabSeparated"
            else:
                sql = payload.decode("utf-8")
                found = _TRAILING_FORMAT.search(sql)
                fmt = found.group(1) if found else params.get("default_format", "TabSeparated")
            try:
                result = engine.run(sql, fmt, bind, database, settings)
            except Exception as exc:
                message = str(exc).strip()
                code = _ERROR_CODE.search(message)
                raise _ClickHouseError(int(code.group(1)) if code else 1002, message) from exc
        finally:
            if tmp_path:
                Path(tmp_path).unlink(missing_ok=True)
        data = result.bytes()
        summary = {
            "read_rows": str(result.rows_read()),
            "read_bytes": str(result.bytes_read()),
            "written_rows": str(getattr(result, "rows_written", lambda: 0)()),
        }
        self._send(
            200,
            data,
            {
                "Content-Type": "application/octet-stream",
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Query-Id": params.get("query_id", str(uuid.uuid4())),
                "X-ClickHouse-Summary": json.dumps(summary),
            },
        )

    def _control(self, body: bytes) -> None:
        command = json.loads(body or b"{}")
        faults = self.server.faults
        with faults.lock:
            if command.get("reset"):
                faults.reset()
            if "fail" in command:
                faults.fail_left = int(command["fail"])
                faults.fail_status = int(command.get("status", 503))
                faults.fail_match = command.get("match")
            if "sleep" in command:
                faults.sleep_seconds = float(command["sleep"])
                faults.sleep_left = int(command.get("count", 1))
                faults.sleep_match = command.get("match")
            counters = faults.counters()
        self._send(200, json.dumps(counters).encode(), {"Content-Type": "application/json"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], user: str, password: str) -> None:
        super().__init__(address, _Handler)
        self.engine = _Engine()
        self.faults = _Faults()
        self.user = user
        self.password = password


def serve(host: str, port: int, user: str, password: str) -> None:
    server = _Server((host, port), user, password)

    def watch_parent() -> None:
        # The parent holds our stdin: EOF means it is gone, so we go too.
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


# --------------------------------------------------------------------------------------------
# Test side
# --------------------------------------------------------------------------------------------


class LoopbackClickHouse:
    """Starts the endpoint in a subprocess and drives its faults."""

    def __init__(self, user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD) -> None:
        self.user = user
        self.password = password
        self.host = "127.0.0.1"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> LoopbackClickHouse:
        root = Path(__file__).resolve().parents[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "paren_pulse_tests.clickhouse_http",
                "--port",
                "0",
                "--user",
                self.user,
                "--password",
                self.password,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=root,
            env=env,
        )
        assert self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._proc.stdout], [], [], 0.5)
            if ready:
                line = self._proc.stdout.readline()
                break
            if self._proc.poll() is not None:
                break
        if not line.startswith(b"READY "):
            self.stop()
            raise RuntimeError(f"loopback ClickHouse did not start (got {line!r})")
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)
        self._proc = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def control(self, **command: Any) -> dict[str, int]:
        request = urllib.request.Request(
            self.url + CONTROL_PATH,
            data=json.dumps(command).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            counters: dict[str, int] = json.loads(response.read())
        return counters

    def fail_next(self, count: int, status: int = 503, match: str | None = None) -> None:
        self.control(fail=count, status=status, match=match)

    def sleep_next(self, seconds: float, count: int = 1, match: str | None = None) -> None:
        self.control(sleep=seconds, count=count, match=match)

    def reset(self) -> dict[str, int]:
        return self.control(reset=True)

    def counters(self) -> dict[str, int]:
        return self.control()

    def resource(self, database: str = "default", **overrides: Any) -> Any:
        """The production ClickHouseResource pointed at this endpoint."""
        from paren_pulse.resources.clickhouse import ClickHouseResource

        settings: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "username": self.user,
            "password": self.password,
            "database": database,
            "secure": False,
            "connect_timeout": 5,
            "send_receive_timeout": 30,
        }
        settings.update(overrides)
        return ClickHouseResource(**settings)

    def new_database(self, prefix: str = "pulse") -> str:
        """A fresh database, so tests sharing the endpoint never see each other's tables."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.resource().get_client().command(f"CREATE DATABASE {name}")
        return name


_SHARED: list[LoopbackClickHouse] = []
_SHARED_LOCK = threading.Lock()


def shared_endpoint() -> LoopbackClickHouse:
    """One endpoint per test process (the engine takes ~1 s to start); faults reset per use."""
    with _SHARED_LOCK:
        if not _SHARED:
            endpoint = LoopbackClickHouse().start()
            atexit.register(endpoint.stop)
            _SHARED.append(endpoint)
        return _SHARED[0]


def endpoint_fixture() -> Iterator[LoopbackClickHouse]:
    """Body of the per-test fixture in each module: the shared endpoint, faults cleared."""
    endpoint = shared_endpoint()
    endpoint.reset()
    try:
        yield endpoint
    finally:
        endpoint.reset()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Loopback ClickHouse HTTP endpoint over chdb (tests only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default=DEFAULT_USER)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.user, args.password)


if __name__ == "__main__":
    main()
