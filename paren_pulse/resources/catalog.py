"""The MySQL-side catalog: PyMySQL in production, a SQLite file as the embedded stand-in.

Both run the same `.sql` files (see paren_pulse/sql/mysql). Rows come back as plain dicts with
dates as ISO strings and decimals as floats, so callers never see which engine answered.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol, TypeVar

import dagster as dg

from paren_pulse.sql import load_sql, split_statements, to_sqlite_placeholders

Params = Mapping[str, Any]
Row = dict[str, Any]


class SourceError(Exception):
    """A source could not answer; the message names the source, where, the step and what to check."""


T = TypeVar("T")


def with_retries(
    call: Callable[[], T], *, retries: int, backoff_seconds: float, retryable: Callable[[Exception], bool]
) -> T:
    """Call, retrying `retries` times with exponential backoff (capped at 10 s) while the failure
    is retryable; the last failure is re-raised. For reads only: a write is never retried blindly."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            if attempt >= retries or not retryable(exc):
                raise
            attempt += 1
            time.sleep(min(backoff_seconds * 2 ** (attempt - 1), 10.0))


def normalise_value(value: Any) -> Any:
    # MySQL returns Decimal for SUM() and date objects; SQLite returns floats and ISO strings.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class CatalogCursor(Protocol):
    def run(self, sql_name: str, params: Params | None = None) -> int: ...

    def run_many(self, sql_name: str, rows: Sequence[Params]) -> int: ...

    def fetch(self, sql_name: str, params: Params | None = None) -> list[Row]: ...

    def run_script(self, sql_name: str, tolerate_existing: bool = False) -> None: ...


class _DbApiCursor:
    """Runs named SQL files on one DB-API cursor inside a transaction."""

    def __init__(self, cursor: Any, translate: bool) -> None:
        self._cursor = cursor
        self._translate = translate
        # The file being run, so an error can name the step that failed.
        self.current = "connect"

    def _sql(self, sql_name: str) -> str:
        self.current = sql_name
        sql = load_sql(sql_name)
        return to_sqlite_placeholders(sql) if self._translate else sql

    def run(self, sql_name: str, params: Params | None = None) -> int:
        self._cursor.execute(self._sql(sql_name), dict(params or {}))
        return int(self._cursor.rowcount or 0)

    def run_many(self, sql_name: str, rows: Sequence[Params]) -> int:
        if not rows:
            return 0
        self._cursor.executemany(self._sql(sql_name), [dict(r) for r in rows])
        return len(rows)

    def fetch(self, sql_name: str, params: Params | None = None) -> list[Row]:
        self._cursor.execute(self._sql(sql_name), dict(params or {}))
        names = [d[0] for d in self._cursor.description]
        return [
            {n: normalise_value(v) for n, v in zip(names, row, strict=True)}
            for row in self._cursor.fetchall()
        ]

    def run_script(self, sql_name: str, tolerate_existing: bool = False) -> None:
        # DDL only: schema files take no parameters.
        self.current = sql_name
        for statement in split_statements(load_sql(sql_name)):
            try:
                self._cursor.execute(statement)
            except Exception as exc:
                # MySQL 8 has no CREATE INDEX IF NOT EXISTS: an index that is already there
                # (MySQL 1061 "Duplicate key name", SQLite "already exists") is the goal reached.
                if tolerate_existing and _already_exists(exc):
                    continue
                raise


def _already_exists(exc: BaseException) -> bool:
    code = exc.args[0] if exc.args else None
    return code == 1061 or "already exists" in str(exc).lower() or "duplicate key name" in str(exc).lower()


class CatalogResource(dg.ConfigurableResource):
    """Base of both catalog engines: named-SQL reads and all-or-nothing write transactions."""

    def describe(self) -> str:
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[CatalogCursor]:
        raise NotImplementedError
        yield  # pragma: no cover

    def query(self, sql_name: str, params: Params | None = None) -> list[Row]:
        with self.transaction() as cur:
            return cur.fetch(sql_name, params)

    def ensure_schema(self) -> None:
        """Create the contract tables that are missing (never alters existing ones)."""
        with self.transaction() as cur:
            cur.run_script("mysql/catalog_schema")
            cur.run_script("mysql/project_schema")
            cur.run_script("mysql/catalog_indexes", tolerate_existing=True)

    def table_columns(self, tables: Sequence[str]) -> dict[str, list[str]]:
        """Column names of those `tables` that exist (for `paren-pulse doctor`)."""
        raise NotImplementedError

    def inspect(self, sql: str, params: Params | None = None) -> list[Row]:
        """Run a read-only diagnostic statement (`paren-pulse doctor`), PyMySQL placeholders.

        Not for metrics: those live in paren_pulse/sql. Values are still bound by the driver.
        """
        raise NotImplementedError


class SQLiteCatalogResource(CatalogResource):
    """Embedded stand-in for the MySQL catalog: a SQLite file under PAREN_PULSE_HOME."""

    path: str
    busy_timeout_seconds: float = 30.0

    def describe(self) -> str:
        return f"SQLite catalog at {self.path}"

    @contextmanager
    def transaction(self) -> Iterator[CatalogCursor]:
        if not Path(self.path).exists():
            raise SourceError(
                f"catalog: the demo warehouse is missing ({self.path}); run `paren-pulse demo` to build it"
            )
        # Several runs may share the file (a backfill); writers wait for the lock instead of failing.
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_seconds, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _DbApiCursor(conn.cursor(), translate=True)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise SourceError(f"catalog (SQLite {self.path}): {exc}") from exc
        finally:
            conn.close()

    def _read(self, sql: str, params: Sequence[Any] | Params) -> list[Row]:
        if not Path(self.path).exists():
            raise SourceError(
                f"catalog: the demo warehouse is missing ({self.path}); run `paren-pulse demo` to build it"
            )
        # Read-only: the URI form never creates a file and never takes the write lock.
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=self.busy_timeout_seconds)
        try:
            cursor = conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [{n: normalise_value(v) for n, v in zip(names, r, strict=True)} for r in cursor.fetchall()]
        except sqlite3.Error as exc:
            raise SourceError(f"catalog (SQLite {self.path}): {exc}") from exc
        finally:
            conn.close()

    def table_columns(self, tables: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for table in tables:
            # pragma_table_info() takes the table name as a bound argument.
            rows = self._read("SELECT name FROM pragma_table_info(?) ORDER BY cid", [table])
            if rows:
                found[table] = [str(r["name"]) for r in rows]
        return found

    def inspect(self, sql: str, params: Params | None = None) -> list[Row]:
        return self._read(to_sqlite_placeholders(sql), dict(params or {}))


# PyMySQL client error codes (pymysql.constants.CR) that mean "the network path failed before
# any work was done": a read is safe to try again on a fresh connection.
_CR_CONN_HOST_ERROR, _CR_SERVER_GONE_ERROR, _CR_SERVER_LOST = 2003, 2006, 2013
# Deadlock victim: MySQL rolled the transaction back, so running it again is safe.
_ER_LOCK_DEADLOCK = 1213


class MySQLCatalogResource(CatalogResource):
    """The production catalog over PyMySQL, with TLS and a timeout on every phase.

    Time bounds: the TCP connect AND the handshake/authentication are bounded by
    `connect_timeout` (PyMySQL alone bounds the handshake by `read_timeout`, so a server that
    accepts TCP and never speaks would hold a run for the whole read timeout); each later read
    by `read_timeout`, each write by `write_timeout`. Reads (`query`) are retried on transient
    network failures with a fresh connection; timeouts, credentials and missing tables are not.
    """

    host: str
    port: int = 3306
    user: str
    password: str
    database: str
    ssl_ca: str | None = None
    connect_timeout: int = 10
    # PyMySQL has no read/write timeout by default: a silent server would hang the run forever.
    read_timeout: int = 120
    write_timeout: int = 120
    query_retries: int = 2
    retry_backoff_seconds: float = 1.0

    def describe(self) -> str:
        return f"MySQL {self.host}:{self.port}/{self.database}"

    def _connect(self) -> Any:
        import pymysql

        ssl = {"ca": self.ssl_ca} if self.ssl_ca else None
        conn: Any = pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database,
            ssl=ssl,
            connect_timeout=self.connect_timeout,
            # PyMySQL reads the server greeting and the auth exchange with the READ timeout;
            # connecting with the connect timeout bounds the whole handshake by it.
            read_timeout=self.connect_timeout,
            write_timeout=self.write_timeout,
            autocommit=False,
            charset="utf8mb4",
        )
        # From here on queries get the (longer) read timeout. PyMySQL has no public setter:
        # it re-applies `_read_timeout` to the socket before every read (Connection._read_packet).
        conn._read_timeout = self.read_timeout
        return conn

    def _error(self, step: str, exc: BaseException) -> SourceError:
        hint = "check MYSQL_HOST/MYSQL_PORT, the network path and that the server is up"
        code = getattr(exc, "args", [None])[0] if getattr(exc, "args", None) else None
        text = str(exc)
        if code in (1044, 1045):
            hint = "check MYSQL_USER/MYSQL_PASSWORD and the user's grants"
        elif code in (1049,):
            hint = "check MYSQL_DATABASE"
        elif code in (1146, 1054):
            hint = (
                "a contract table or column is missing: run `paren-pulse doctor` "
                "and see docs/source-contract.md"
            )
        elif "timed out" in text.lower():
            limit = self.connect_timeout if step == "connect" else self.read_timeout
            hint = (
                f"no answer within {limit} s ({'connect' if step == 'connect' else 'read'} timeout); "
                "check that the server is up and not overloaded"
            )
        # PyMySQL's messages never carry the password; scrub anyway so no future text can leak it.
        message = f"catalog ({self.describe()}) during {step}: {text} — {hint}"
        if self.password:
            message = message.replace(self.password, "***")
        return SourceError(message)

    @contextmanager
    def transaction(self) -> Iterator[CatalogCursor]:
        import pymysql

        try:
            conn = self._connect()
        except (pymysql.err.MySQLError, OSError) as exc:
            raise self._error("connect", exc) from exc
        cur: _DbApiCursor | None = None
        try:
            with conn.cursor() as cursor:
                cur = _DbApiCursor(cursor, translate=False)
                yield cur
                cur.current = "commit"
            conn.commit()
        except pymysql.err.MySQLError as exc:
            _safe_rollback(conn)
            raise self._error(f"query {cur.current if cur else ''}".strip(), exc) from exc
        except BaseException:
            _safe_rollback(conn)
            raise
        finally:
            _safe_close(conn)

    def _read(self, sql: str, params: Sequence[Any] | Params) -> list[Row]:
        import pymysql

        try:
            conn = self._connect()
        except (pymysql.err.MySQLError, OSError) as exc:
            raise self._error("connect", exc) from exc
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                names = [d[0] for d in cursor.description]
                return [
                    {n: normalise_value(v) for n, v in zip(names, row, strict=True)}
                    for row in cursor.fetchall()
                ]
        except pymysql.err.MySQLError as exc:
            raise self._error("inspection", exc) from exc
        finally:
            _safe_close(conn)

    def table_columns(self, tables: Sequence[str]) -> dict[str, list[str]]:
        if not tables:
            return {}
        marks = ", ".join(["%s"] * len(tables))
        rows = self._read(
            "SELECT table_name AS t, column_name AS c FROM information_schema.columns "
            f"WHERE table_schema = DATABASE() AND table_name IN ({marks}) "
            "ORDER BY table_name, ordinal_position",
            list(tables),
        )
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(str(row["t"]), []).append(str(row["c"]))
        return found

    def inspect(self, sql: str, params: Params | None = None) -> list[Row]:
        return self._read(sql, dict(params or {}))

    @staticmethod
    def _retryable(exc: SourceError) -> bool:
        cause = exc.__cause__
        if isinstance(cause, OSError):
            return True
        code = getattr(cause, "args", (None,))[0] if getattr(cause, "args", None) else None
        if code == _ER_LOCK_DEADLOCK:
            return True
        if code in (_CR_CONN_HOST_ERROR, _CR_SERVER_GONE_ERROR, _CR_SERVER_LOST):
            # A timeout already waited its full budget: trying again would multiply it.
            return "timed out" not in str(cause).lower()
        return False

    def query(self, sql_name: str, params: Params | None = None) -> list[Row]:
        # Reads are safe to retry; a connection that failed is unusable, so each try reconnects.
        return with_retries(
            lambda: super(MySQLCatalogResource, self).query(sql_name, params),
            retries=self.query_retries,
            backoff_seconds=self.retry_backoff_seconds,
            retryable=lambda exc: isinstance(exc, SourceError) and self._retryable(exc),
        )


def _safe_rollback(conn: Any) -> None:
    # The original error matters; a rollback on a dead connection adds nothing.
    with suppress(Exception):
        conn.rollback()


def _safe_close(conn: Any) -> None:
    with suppress(Exception):
        conn.close()
