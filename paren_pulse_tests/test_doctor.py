"""`paren-pulse doctor` in the demo (hand fixture) and in production (MariaDB + loopback ClickHouse)."""

from __future__ import annotations

import argparse
import sqlite3
import time
import uuid
from collections.abc import Iterator

import pytest

from paren_pulse.doctor import add_parser, contract_columns, run_doctor
from paren_pulse.settings import DemoPaths
from paren_pulse_tests.clickhouse_http import LoopbackClickHouse, endpoint_fixture
from paren_pulse_tests.test_clickhouse_http import load_sessions
from paren_pulse_tests.test_faults import SilentServer
from paren_pulse_tests.test_mysql_parity import MariaDB, require_mariadb, scratch_database

SECRET = "Doctor-Secret-4410"


def doctor(capsys: pytest.CaptureFixture[str], timeout: float = 10.0) -> tuple[int, str]:
    code = run_doctor(argparse.Namespace(timeout=timeout))
    return code, capsys.readouterr().out


def status_of(output: str, source: str, check: str) -> str:
    for line in output.splitlines():
        if line.startswith(source) and f" {check} " in f" {line} ":
            return line
    raise AssertionError(f"no row for {source}/{check} in:\n{output}")


def test_parser_registers_doctor_with_help() -> None:
    parser = argparse.ArgumentParser(prog="paren-pulse")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["doctor", "--timeout", "5"])
    assert args.func is run_doctor and args.timeout == 5.0
    assert "contract" in parser.format_help()


def test_contract_is_parsed_from_the_schema_files() -> None:
    catalog = contract_columns("mysql/catalog_schema")
    assert catalog["tariffs"][-2:] == ["valid_from", "valid_to"]
    assert "PRIMARY" not in catalog["afdc_spine"]
    assert contract_columns("clickhouse/sessions_schema")["sessions"][-1] == "loaded_at"  # not ORDER BY's


# ------------------------------------------------------------------------------------------ demo


@pytest.fixture
def demo_env(hand_home: DemoPaths, monkeypatch: pytest.MonkeyPatch) -> DemoPaths:
    monkeypatch.setenv("PAREN_PULSE_HOME", str(hand_home.home))
    monkeypatch.setenv("PAREN_PULSE_ENV", "demo")
    return hand_home


def test_demo_all_well(demo_env: DemoPaths, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(capsys)
    assert code == 0, out
    assert "environment: demo" in out and "all checks passed" in out
    assert "ok" in status_of(out, "catalog", "reachable") and str(demo_env.catalog_db) in out
    assert "2025-01-19" in status_of(out, "catalog", "latest spine snapshot")
    assert "2025-01-14" in status_of(out, "catalog", "latest tariff change")
    assert "2025-01-20 00:00:00" in status_of(out, "sessions", "latest session start")
    assert "2025-02-20" in status_of(out, "sessions", "latest batch load")
    assert "ok" in status_of(out, "history", "writable")


def test_demo_missing_column_is_named(demo_env: DemoPaths, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(demo_env.catalog_db) as conn:
        conn.execute("ALTER TABLE tariffs DROP COLUMN price_per_minute")
        conn.execute("DROP TABLE tracked_ports")
    code, out = doctor(capsys)
    assert code == 1
    row = status_of(out, "catalog", "contract")
    assert "FAIL" in row and "tariffs.price_per_minute" in row and "missing tables: tracked_ports" in row


# ------------------------------------------------------------------------------------ production


@pytest.fixture
def endpoint() -> Iterator[LoopbackClickHouse]:
    yield from endpoint_fixture()


@pytest.fixture
def production_env(
    endpoint: LoopbackClickHouse, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> Iterator[tuple[MariaDB, str, LoopbackClickHouse]]:
    server = require_mariadb()
    user = f"pulse_doc_{uuid.uuid4().hex[:8]}"
    with scratch_database(server, prefix="pulse_doctor") as database:
        admin = server.connect()
        with admin.cursor() as cur:
            # A real user with a password, so the test proves the password never shows.
            cur.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (SECRET,))
            cur.execute(f"GRANT ALL ON `{database}`.* TO '{user}'@'%'")
        try:
            clickhouse_db = load_sessions(endpoint, endpoint.new_database()).database
            for name, value in {
                "PAREN_PULSE_ENV": "production",
                "PAREN_PULSE_HOME": str(tmp_path),
                "MYSQL_HOST": server.host,
                "MYSQL_PORT": str(server.port),
                "MYSQL_USER": user,
                "MYSQL_PASSWORD": SECRET,
                "MYSQL_DATABASE": database,
                "MYSQL_SSL_CA": "",
                "CLICKHOUSE_HOST": endpoint.host,
                "CLICKHOUSE_PORT": str(endpoint.port),
                "CLICKHOUSE_USER": endpoint.user,
                "CLICKHOUSE_PASSWORD": endpoint.password,
                "CLICKHOUSE_DATABASE": clickhouse_db,
                "CLICKHOUSE_SECURE": "false",
            }.items():
                monkeypatch.setenv(name, value)
            yield server, database, endpoint
        finally:
            with admin.cursor() as cur:
                cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            admin.close()


@pytest.mark.integration
def test_production_all_well_then_missing_column(
    production_env: tuple[MariaDB, str, LoopbackClickHouse], capsys: pytest.CaptureFixture[str]
) -> None:
    server, database, endpoint = production_env
    code, out = doctor(capsys)
    assert code == 0, out
    assert f"MySQL {server.host}:{server.port}/{database}" in status_of(out, "catalog", "reachable")
    assert f"http://{endpoint.host}:{endpoint.port}/" in status_of(out, "sessions", "reachable")
    assert "metrics_history" in status_of(out, "history", "writable")
    assert "2025-01-19" in status_of(out, "catalog", "latest spine snapshot")
    assert SECRET not in out

    conn = server.connect(database)
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE afdc_spine DROP COLUMN ev_pricing")
        cur.execute("DROP TABLE pulse_tracked_roster")
    conn.close()
    code, out = doctor(capsys)
    assert code == 1
    row = status_of(out, "catalog", "contract")
    assert "FAIL" in row and "afdc_spine.ev_pricing" in row
    assert "missing project tables" in row and "pulse_tracked_roster" in row
    assert "ok" in status_of(out, "sessions", "contract")


@pytest.mark.integration
def test_production_wrong_password_and_silent_mysql_are_bounded(
    production_env: tuple[MariaDB, str, LoopbackClickHouse],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", SECRET)
    silent = SilentServer()
    monkeypatch.setenv("MYSQL_PORT", str(silent.port))
    try:
        start = time.monotonic()
        code, out = doctor(capsys, timeout=1.5)
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert code == 1
    assert elapsed < 6, elapsed  # catalog, sessions, history: each within its bound
    assert "no answer within 1.5 s" in status_of(out, "catalog", "reachable")
    assert "skipped" in status_of(out, "catalog", "contract")
    assert "CLICKHOUSE_USER/CLICKHOUSE_PASSWORD" in status_of(out, "sessions", "reachable")
    assert SECRET not in out


@pytest.mark.integration
def test_production_missing_setting_is_reported(
    production_env: tuple[MariaDB, str, LoopbackClickHouse],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MYSQL_HOST")
    code, out = doctor(capsys)
    assert code == 1
    assert "MYSQL_HOST" in status_of(out, "configuration", "resources")
