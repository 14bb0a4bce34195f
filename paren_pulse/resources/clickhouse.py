"""ClickHouse through clickhouse-connect: HTTP in production, the in-process engine in the demo.

Curated SQL (paren_pulse/sql/clickhouse) uses server-side `{name:Type}` parameters, so values
travel as bound parameters on both interfaces.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from paren_pulse.resources.catalog import Row, SourceError, normalise_value, with_retries
from paren_pulse.sql import load_sql

# The column list of the sessions contract, used to give the demo's Parquet files the exact
# types the production table has (Parquet alone would surface DateTime64 and Nullable types).
SESSIONS_STRUCTURE = (
    "session_id UInt64, started_at DateTime('UTC'), station_id UInt64, port_id UInt64, "
    "network_key String, country String, outcome String, energy_kwh Float32, "
    "batch_month Date, loaded_at DateTime('UTC')"
)


# HTTP statuses a proxy or an overloaded server answers before doing any work: safe to retry.
_TRANSIENT_HTTP = ("http status 429", "http status 503", "http status 504")


class ClickHouseResource(dg.ConfigurableResource):
    """Production ClickHouse over HTTP(S).

    Time bounds: `connect_timeout` for the TCP/TLS connect, `send_receive_timeout` for each
    wait on the server (a request that gets no answer in time fails), `max_execution_time`
    enforced by the server. Retries: clickhouse-connect retries read-only queries on HTTP
    429/503/504 (`query_retries` times); the connection handshake is retried here on the same
    transient failures; inserts and commands are never retried (not idempotent in general).
    """

    host: str
    port: int = 8123
    username: str = "default"
    password: str = ""
    database: str = "default"
    secure: bool = False
    connect_timeout: int = 10
    send_receive_timeout: int = 300
    # Enforced by the server, so a runaway query stops even if the client gave up waiting.
    max_execution_time: int = 240
    query_retries: int = 2
    retry_backoff_seconds: float = 1.0

    def describe(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"ClickHouse {scheme}://{self.host}:{self.port}/{self.database}"

    def _new_client(self) -> Any:
        import clickhouse_connect

        return clickhouse_connect.get_client(
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            database=self.database,
            secure=self.secure,
            connect_timeout=self.connect_timeout,
            send_receive_timeout=self.send_receive_timeout,
            query_retries=self.query_retries,
            settings={"max_execution_time": self.max_execution_time},
        )

    def get_client(self) -> Any:
        # The handshake (`SELECT version(), timezone()`, the settings list) is sent as a
        # command, which clickhouse-connect never retries: a single 503 from a load balancer
        # would fail the run, so transient failures of the handshake are retried here.
        try:
            return with_retries(
                self._new_client,
                retries=self.query_retries,
                backoff_seconds=self.retry_backoff_seconds,
                retryable=_transient,
            )
        except Exception as exc:
            raise self._error("connect", exc) from exc

    def _error(self, step: str, exc: BaseException) -> SourceError:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = "check CLICKHOUSE_HOST/CLICKHOUSE_PORT/CLICKHOUSE_SECURE and that the server is up"
        lowered = str(exc).lower()
        if "authentication" in lowered or "code: 516" in lowered or "code: 192" in lowered:
            hint = "check CLICKHOUSE_USER/CLICKHOUSE_PASSWORD"
        elif "unknown_table" in lowered or "code: 60" in lowered or "code: 47" in lowered:
            hint = "a contract table or column is missing: run `paren-pulse doctor` (docs/source-contract.md)"
        elif "code: 159" in lowered or "timeout_exceeded" in lowered:
            hint = (
                f"the query ran past max_execution_time={self.max_execution_time} s on the server; "
                "check server load or raise CLICKHOUSE_MAX_EXECUTION_TIME"
            )
        elif "read timed out" in lowered or "timed out" in lowered or "timeout" in lowered:
            hint = (
                f"no answer within send_receive_timeout={self.send_receive_timeout} s "
                f"(connect_timeout={self.connect_timeout} s); check that the server is up and not overloaded"
            )
        elif any(status in lowered for status in _TRANSIENT_HTTP):
            hint = (
                f"the server kept answering 'unavailable' after {self.query_retries} retries; "
                "check the server and any proxy or load balancer in front of it"
            )
        message = f"clickhouse ({self.describe()}) during {step}: {text} — {hint}"
        # clickhouse-connect sends the password in a header, never the URL; scrub anyway.
        if self.password:
            message = message.replace(self.password, "***")
        return SourceError(message)

    def query_rows(self, sql_name: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a curated read query; values bound server-side."""
        client = self.get_client()
        try:
            result = client.query(load_sql(sql_name), parameters=dict(params or {}))
        except Exception as exc:
            raise self._error(f"query {sql_name}", exc) from exc
        return [
            {n: normalise_value(v) for n, v in zip(result.column_names, row, strict=True)}
            for row in result.result_rows
        ]

    def command(self, sql_name: str, params: Mapping[str, Any] | None = None) -> None:
        client = self.get_client()
        try:
            client.command(load_sql(sql_name), parameters=dict(params or {}))
        except Exception as exc:
            raise self._error(f"command {sql_name}", exc) from exc

    def table_columns(self, tables: Sequence[str]) -> dict[str, list[str]]:
        """Column names of those `tables` that exist in the current database (`paren-pulse doctor`)."""
        client = self.get_client()
        try:
            result = client.query(
                "SELECT table, name FROM system.columns "
                "WHERE database = currentDatabase() AND has({tables:Array(String)}, table) "
                "ORDER BY table, position",
                parameters={"tables": list(tables)},
            )
        except Exception as exc:
            raise self._error("inspection", exc) from exc
        found: dict[str, list[str]] = {}
        for table, name in result.result_rows:
            found.setdefault(str(table), []).append(str(name))
        return found

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
        """One insert = one block = atomic in ClickHouse; never retried blindly."""
        client = self.get_client()
        try:
            client.insert(table, list(rows), column_names=list(column_names))
        except Exception as exc:
            raise self._error(f"insert into {table}", exc) from exc


_ENGINE_LOCK = threading.Lock()
_ENGINE: dict[str, Any] = {}


class EmbeddedClickHouseResource(ClickHouseResource):
    """The real ClickHouse engine in-process (chdb), reading the demo's session Parquet files.

    One engine per process and an in-memory database: a chdb *path* can be open in only one
    process, but in-memory engines in many processes can read the same files side by side,
    which is what concurrent Dagster runs (a backfill) need.
    """

    host: str = "embedded"
    sessions_dir: str

    def describe(self) -> str:
        return f"embedded ClickHouse over {self.sessions_dir}"

    def get_client(self) -> Any:
        with _ENGINE_LOCK:
            client = _ENGINE.get("client")
            if client is None:
                import clickhouse_connect

                client = clickhouse_connect.get_client(interface="chdb")
                client.command("CREATE DATABASE IF NOT EXISTS pulse")
                _ENGINE["client"] = client
            if _ENGINE.get("sessions_dir") != self.sessions_dir:
                self._bind_sessions_view(client)
                _ENGINE["sessions_dir"] = self.sessions_dir
            return client

    def _bind_sessions_view(self, client: Any) -> None:
        directory = Path(self.sessions_dir)
        if not directory.is_dir() or not any(directory.glob("*.parquet")):
            raise SourceError(
                f"sessions: no session batches under {directory}; run `paren-pulse demo` to build the demo"
            )
        # DDL cannot bind parameters; the path is our own configuration, quoted defensively.
        glob = _quote(str(directory / "*.parquet"))
        structure = _quote(SESSIONS_STRUCTURE)
        client.command(
            f"CREATE OR REPLACE VIEW pulse.sessions AS SELECT * FROM file({glob}, 'Parquet', {structure})"
        )
        client.command("USE pulse")


def _transient(exc: BaseException) -> bool:
    """A failure before the server did any work: refused/reset connection or HTTP 429/503/504."""
    lowered = str(exc).lower()
    if any(status in lowered for status in _TRANSIENT_HTTP):
        return True
    return "connection refused" in lowered or "connection reset" in lowered or "remotely closed" in lowered


def _quote(text: str) -> str:
    """A ClickHouse string literal (for DDL, which takes no bound parameters)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
