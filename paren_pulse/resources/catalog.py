"""The MySQL-side catalog: PyMySQL in production, a SQLite file as the embedded stand-in.

Both run the same `.sql` files (see paren_pulse/sql/mysql). Rows come back as plain dicts with
dates as ISO strings and decimals as floats, so callers never see which engine answered.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import dagster as dg

from paren_pulse.sql import load_sql, split_statements, to_sqlite_placeholders

Params = Mapping[str, Any]
Row = dict[str, Any]


class SourceError(Exception):
    """A source could not answer; the message names the source, where, the step and what to check."""


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

    def run_script(self, sql_name: str) -> None: ...


class _DbApiCursor:
    """Runs named SQL files on one DB-API cursor inside a transaction."""

    def __init__(self, cursor: Any, translate: bool) -> None:
        self._cursor = cursor
        self._translate = translate

    def _sql(self, sql_name: str) -> str:
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

    def run_script(self, sql_name: str) -> None:
        # DDL only: schema files take no parameters.
        for statement in split_statements(load_sql(sql_name)):
            self._cursor.execute(statement)


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


class MySQLCatalogResource(CatalogResource):
    """The production catalog over PyMySQL, with TLS and a timeout on every phase."""

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

    def describe(self) -> str:
        return f"MySQL {self.host}:{self.port}/{self.database}"

    def _connect(self) -> Any:
        import pymysql

        ssl = {"ca": self.ssl_ca} if self.ssl_ca else None
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database,
            ssl=ssl,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            write_timeout=self.write_timeout,
            autocommit=False,
            charset="utf8mb4",
        )

    def _error(self, step: str, exc: BaseException) -> SourceError:
        hint = "check MYSQL_HOST/MYSQL_PORT, the network path and that the server is up"
        code = getattr(exc, "args", [None])[0]
        if code in (1044, 1045):
            hint = "check MYSQL_USER/MYSQL_PASSWORD and the user's grants"
        elif code in (1049,):
            hint = "check MYSQL_DATABASE"
        elif code in (1146, 1054):
            hint = "a contract table or column is missing: run `paren-pulse doctor` and see docs/source-contract.md"
        # The exception text from PyMySQL never contains the password; we still never add it.
        return SourceError(f"catalog ({self.describe()}) during {step}: {exc} — {hint}")

    @contextmanager
    def transaction(self) -> Iterator[CatalogCursor]:
        import pymysql

        try:
            conn = self._connect()
        except (pymysql.err.MySQLError, OSError) as exc:
            raise self._error("connect", exc) from exc
        try:
            with conn.cursor() as cursor:
                yield _DbApiCursor(cursor, translate=False)
            conn.commit()
        except pymysql.err.MySQLError as exc:
            _safe_rollback(conn)
            raise self._error("query", exc) from exc
        except BaseException:
            _safe_rollback(conn)
            raise
        finally:
            _safe_close(conn)

    def query(self, sql_name: str, params: Params | None = None) -> list[Row]:
        # Reads are safe to retry; a connection that timed out is unusable, so each try reconnects.
        attempt = 0
        while True:
            try:
                return super().query(sql_name, params)
            except SourceError as exc:
                retryable = isinstance(exc.__cause__, OSError) or "Lost connection" in str(exc)
                if attempt >= self.query_retries or not retryable:
                    raise
                attempt += 1
                time.sleep(min(2.0**attempt, 10.0))


def _safe_rollback(conn: Any) -> None:
    try:
        conn.rollback()
    except Exception:
        pass


def _safe_close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:
        pass
