"""`paren-pulse doctor`: can this environment's sources answer, and do they honour the contract?

For the current environment (PAREN_PULSE_ENV) it checks, each within a time bound:
  - each source is reachable (where: host:port or path);
  - every contract table and column exists (names parsed from the schema .sql files, so the
    check can never drift from the DDL; missing ones are named);
  - the frontiers: latest session start, latest session batch load, latest AFDC spine snapshot,
    latest tariff change;
  - the metrics history store is writable.
Exit 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from paren_pulse.sql import load_sql, split_statements

DEFAULT_TIMEOUT_SECONDS = 30.0
OK, FAIL, SKIP = "ok", "FAIL", "skipped"

_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(\w+)`?\s*\(", re.I)
_NOT_A_COLUMN = ("PRIMARY", "KEY", "INDEX", "UNIQUE", "CONSTRAINT", "FOREIGN", "CHECK")

# The project's own tables: created by the project, not delivered by a source team.
PROJECT_TABLES = frozenset({"pulse_tracked_roster", "metrics_history"})

# Read-only diagnostics, portable MySQL/SQLite subset; values bound by the driver (none needed).
LATEST_TARIFF_CHANGE_SQL = (
    "SELECT MAX(valid_from) AS latest_valid_from, MAX(valid_to) AS latest_valid_to, "
    "COUNT(*) AS tariffs FROM tariffs"
)
FAR_FUTURE = "9999-12-31"


def contract_columns(schema_sql_name: str) -> dict[str, list[str]]:
    """Table -> column names, parsed from a `CREATE TABLE` schema file under paren_pulse/sql."""
    tables: dict[str, list[str]] = {}
    for statement in split_statements(load_sql(schema_sql_name)):
        found = _CREATE_TABLE.search(statement)
        if not found:
            continue
        columns = []
        for line in _top_level_items(_parenthesised(statement, found.end() - 1)):
            first = line.split()[0].strip("`") if line.split() else ""
            if first and first.upper() not in _NOT_A_COLUMN:
                columns.append(first)
        tables[found.group(1)] = columns
    return tables


def _parenthesised(text: str, start: int) -> str:
    """The text inside the parenthesis opening at `start` (the column list, not ORDER BY (...))."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1 : index]
    return text[start + 1 :]


def _top_level_items(body: str) -> list[str]:
    """Split a column list on commas outside parentheses (DECIMAL(8, 4), DateTime('UTC'))."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in body:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        items.append("".join(current).strip())
    return items


@dataclass
class Check:
    source: str
    check: str
    status: str
    detail: str


class _Deadline(Exception):
    pass


def bounded(seconds: float, call: Callable[[], str]) -> str:
    """Run `call` with a deadline. A daemon thread: a hung driver can never keep the CLI alive."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _Deadline(f"no answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return str(outcome.get("value", ""))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text


class Doctor:
    """Collects the checks for one environment's resources."""

    def __init__(self, resources: dict[str, Any], timeout: float) -> None:
        self.resources = resources
        self.timeout = timeout
        self.checks: list[Check] = []

    def run(self, source: str, check: str, call: Callable[[], str]) -> bool:
        try:
            detail = bounded(self.timeout, call)
        except _MissingContract as exc:
            self.checks.append(Check(source, check, FAIL, str(exc)))
            return False
        except Exception as exc:
            self.checks.append(Check(source, check, FAIL, _one_line(exc)))
            return False
        self.checks.append(Check(source, check, OK, detail))
        return True

    def skip(self, source: str, check: str, why: str) -> None:
        self.checks.append(Check(source, check, SKIP, why))

    # -- sources ---------------------------------------------------------------------------

    def catalog(self) -> None:
        catalog = self.resources["catalog"]
        source = "catalog"
        contract = {**contract_columns("mysql/catalog_schema"), **contract_columns("mysql/project_schema")}
        present: dict[str, list[str]] = {}

        def reach() -> str:
            present.update(catalog.table_columns(sorted(contract)))
            return catalog.describe()

        if not self.run(source, "reachable", reach):
            for check in ("contract", "latest spine snapshot", "latest tariff change"):
                self.skip(source, check, "source not reachable")
            return
        # Frontier checks run even when a column is missing: they report their own error.
        self.run(source, "contract", lambda: _compare(contract, present))

        def spine() -> str:
            row = catalog.query("mysql/spine_snapshot_for_week", {"as_of": FAR_FUTURE})[0]
            if row["snapshot_date"] is None:
                raise RuntimeError("no AFDC spine snapshot loaded (afdc_spine_loads is empty)")
            return f"{row['snapshot_date']}"

        def tariffs() -> str:
            row = catalog.inspect(LATEST_TARIFF_CHANGE_SQL)[0]
            if not row["tariffs"]:
                raise RuntimeError("the tariffs table is empty")
            latest = max(str(v) for v in (row["latest_valid_from"], row["latest_valid_to"]) if v is not None)
            return f"{latest} ({row['tariffs']} tariffs)"

        self.run(source, "latest spine snapshot", spine)
        self.run(source, "latest tariff change", tariffs)

    def clickhouse(self) -> None:
        from paren_pulse import compute

        clickhouse = self.resources["clickhouse"]
        source = "sessions"
        contract = contract_columns("clickhouse/sessions_schema")
        present: dict[str, list[str]] = {}

        def reach() -> str:
            present.update(clickhouse.table_columns(sorted(contract)))
            return str(clickhouse.describe())

        if not self.run(source, "reachable", reach):
            for check in ("contract", "latest session start", "latest batch load"):
                self.skip(source, check, "source not reachable")
            return
        if not self.run(source, "contract", lambda: _compare(contract, present)):
            for check in ("latest session start", "latest batch load"):
                self.skip(source, check, "contract not met")
            return
        frontier: dict[str, Any] = {}

        def started() -> str:
            found = compute.sessions_frontier(clickhouse)
            frontier["value"] = found
            if not found.session_rows:
                raise RuntimeError("the sessions table is empty")
            return f"{found.latest_started_at} ({found.session_rows} sessions)"

        if self.run(source, "latest session start", started):
            found = frontier["value"]
            self.checks.append(
                Check(
                    source,
                    "latest batch load",
                    OK,
                    f"{found.latest_loaded_at} (batch month {found.latest_batch_month}, "
                    f"covers until {found.covered_until})",
                )
            )
        else:
            self.skip(source, "latest batch load", "frontier query failed")

    def history(self) -> None:
        history = self.resources["history"]

        def writable() -> str:
            history.ensure_ready()
            return str(history.describe())

        self.run("history", "writable", writable)

    def all(self) -> list[Check]:
        self.catalog()
        self.clickhouse()
        self.history()
        return self.checks


class _MissingContract(Exception):
    pass


def _compare(contract: dict[str, list[str]], present: dict[str, list[str]]) -> str:
    missing_tables = [t for t in contract if t not in present]
    missing_columns = [
        f"{table}.{column}"
        for table, columns in contract.items()
        if table in present
        for column in columns
        if column not in present[table]
    ]
    if missing_tables or missing_columns:
        parts = []
        if missing_tables:
            own = [t for t in missing_tables if t in PROJECT_TABLES]
            theirs = [t for t in missing_tables if t not in PROJECT_TABLES]
            if theirs:
                parts.append("missing tables: " + ", ".join(theirs))
            if own:
                parts.append(
                    "missing project tables (the first weekly_infrastructure run creates them, or apply paren_pulse/sql/mysql/project_schema.sql): "
                    + ", ".join(own)
                )
        if missing_columns:
            parts.append("missing columns: " + ", ".join(missing_columns))
        raise _MissingContract("; ".join(parts) + " — see docs/source-contract.md")
    columns = sum(len(c) for c in contract.values())
    return f"{len(contract)} table(s), {columns} columns present"


_UNSET_VARIABLE = re.compile(r'environment variable "(\w+)" which is not set')
_SECRET_NAMES = ("PASSWORD", "TOKEN", "SECRET")


def _configuration_problem(exc: BaseException) -> str:
    # Dagster lists every unset EnvVar with a stack trace each; the names are what helps.
    unset = sorted(set(_UNSET_VARIABLE.findall(str(exc))))
    if unset:
        return f"environment variables not set: {', '.join(unset)} (see .env.example, docs/production.md)"
    return _one_line(exc)


def _redact(text: str) -> str:
    """No secret from the environment is ever printed, whatever a driver put in its message."""
    for name, value in os.environ.items():
        if value and len(value) >= 4 and any(word in name.upper() for word in _SECRET_NAMES):
            text = text.replace(value, "***")
    return text


def render(checks: list[Check]) -> str:
    headers = ("SOURCE", "CHECK", "STATUS", "DETAIL")
    rows = [(c.source, c.check, c.status, c.detail) for c in checks]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers[:3])]
    lines = []
    for row in (headers, *rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
    return _redact("\n".join(lines))


def _built_resources(stack: Any) -> dict[str, Any]:
    """This environment's resources with EnvVar settings resolved (as a run would see them)."""
    import dagster as dg

    from paren_pulse.resources.environments import resources_for

    built = stack.enter_context(dg.build_resources(resources_for()))
    return {key: getattr(built, key) for key in ("catalog", "clickhouse", "history")}


def run_doctor(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from paren_pulse.settings import current_environment

    timeout = float(getattr(args, "timeout", DEFAULT_TIMEOUT_SECONDS) or DEFAULT_TIMEOUT_SECONDS)
    environment = current_environment()
    print(f"paren-pulse doctor — environment: {environment}")
    with ExitStack() as stack:
        try:
            resources = _built_resources(stack)
        except Exception as exc:
            print(render([Check("configuration", "resources", FAIL, _configuration_problem(exc))]))
            return 1
        checks = Doctor(resources, timeout).all()
    print(render(checks))
    failed = [c for c in checks if c.status == FAIL]
    skipped = [c for c in checks if c.status == SKIP]
    if failed or skipped:
        print(
            f"\n{len(failed)} check(s) failed, {len(skipped)} skipped: see docs/production.md and "
            "docs/source-contract.md"
        )
        return 1
    print("\nall checks passed")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register `paren-pulse doctor` on the CLI's subparsers."""
    parser = subparsers.add_parser(
        "doctor",
        help="check that this environment's sources are reachable and honour the source contract",
        description=(
            "For the current environment (PAREN_PULSE_ENV): is each source reachable, are all contract "
            "tables and columns present (missing ones are named), how far do the sources reach (latest "
            "session start, batch load, spine snapshot, tariff change), is the metrics history "
            "writable. Exit 0 when all is well, 1 otherwise."
        ),
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"seconds allowed per check (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.set_defaults(func=run_doctor)
