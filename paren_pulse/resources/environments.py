"""The one environment switch: which concrete resource stands behind each key.

demo (default): the real ClickHouse engine in-process over the demo's Parquet batches, a SQLite
file standing in for MySQL, Parquet history, Slack outbox unless a token is set. No servers.
production: ClickHouse over HTTP, MySQL over PyMySQL, history in ClickHouse. Secrets only as
dagster.EnvVar, so they are read at run time and never stored in the definitions.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from paren_pulse.assets.spine import NrelApiResource
from paren_pulse.dashboard_reference import DashboardExport
from paren_pulse.resources.catalog import MySQLCatalogResource, SQLiteCatalogResource
from paren_pulse.resources.clickhouse import ClickHouseResource, EmbeddedClickHouseResource
from paren_pulse.resources.history import ClickHouseHistoryStore, ParquetHistoryStore
from paren_pulse.resources.reports import ReportStore
from paren_pulse.resources.slack import SlackResource
from paren_pulse.settings import Environment, current_environment, demo_paths, pulse_home


def _optional_env(name: str) -> Any:
    """An EnvVar when the variable is set, else None (e.g. no Slack token: outbox mode)."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def _setting(name: str, default: str) -> str:
    """Non-secret settings with a documented default (see .env.example)."""
    return os.environ.get(name, default)


def slack_resource() -> SlackResource:
    return SlackResource(
        token=_optional_env("SLACK_BOT_TOKEN"),
        channel_id=_setting("SLACK_CHANNEL_ID", "") or None,
        alerts_channel_id=_setting("SLACK_ALERTS_CHANNEL_ID", "") or None,
        base_url=_setting("SLACK_API_BASE_URL", "https://slack.com/api/"),
        outbox_dir=str(pulse_home() / "outbox"),
    )


def dashboard_export() -> DashboardExport:
    return DashboardExport(path=_setting("PAREN_PULSE_DASHBOARD_EXPORT", "") or None)


def demo_resources() -> dict[str, Any]:
    paths = demo_paths()
    return {
        "clickhouse": EmbeddedClickHouseResource(sessions_dir=str(paths.sessions_dir)),
        "catalog": SQLiteCatalogResource(path=str(paths.catalog_db)),
        "history": ParquetHistoryStore(root=str(paths.history_dir)),
        "reports": ReportStore(root=str(paths.snapshots_dir)),
        "slack": slack_resource(),
        "nrel": NrelApiResource(),
        "dashboard_export": dashboard_export(),
    }


def production_resources() -> dict[str, Any]:
    clickhouse = ClickHouseResource(
        host=dg.EnvVar("CLICKHOUSE_HOST"),
        port=int(_setting("CLICKHOUSE_PORT", "8443")),
        username=dg.EnvVar("CLICKHOUSE_USER"),
        password=dg.EnvVar("CLICKHOUSE_PASSWORD"),
        database=_setting("CLICKHOUSE_DATABASE", "default"),
        secure=_setting("CLICKHOUSE_SECURE", "true").lower() in ("1", "true", "yes"),
        max_execution_time=int(_setting("CLICKHOUSE_MAX_EXECUTION_TIME", "240")),
        connect_timeout=int(_setting("CLICKHOUSE_CONNECT_TIMEOUT", "10")),
        send_receive_timeout=int(_setting("CLICKHOUSE_SEND_RECEIVE_TIMEOUT", "300")),
    )
    return {
        "clickhouse": clickhouse,
        "catalog": MySQLCatalogResource(
            host=dg.EnvVar("MYSQL_HOST"),
            port=int(_setting("MYSQL_PORT", "25060")),
            user=dg.EnvVar("MYSQL_USER"),
            password=dg.EnvVar("MYSQL_PASSWORD"),
            database=dg.EnvVar("MYSQL_DATABASE"),
            ssl_ca=_setting("MYSQL_SSL_CA", "") or None,
            connect_timeout=int(_setting("MYSQL_CONNECT_TIMEOUT", "10")),
            read_timeout=int(_setting("MYSQL_READ_TIMEOUT", "120")),
            write_timeout=int(_setting("MYSQL_WRITE_TIMEOUT", "120")),
        ),
        "history": ClickHouseHistoryStore(clickhouse=clickhouse),
        "reports": ReportStore(root=str(pulse_home() / "snapshots")),
        "slack": slack_resource(),
        "nrel": NrelApiResource(),
        "dashboard_export": dashboard_export(),
    }


def resources_for(environment: Environment | None = None) -> dict[str, Any]:
    env = environment or current_environment()
    return demo_resources() if env == "demo" else production_resources()


def unset_variables(resources: dict[str, Any]) -> list[str]:
    """Names of the EnvVars the resources need that are not set (checked before any run starts,
    so a missing variable is one line naming it, not a stack trace per resource)."""
    missing: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dg.EnvVar):
            if not os.environ.get(value.env_var_name):
                missing.add(value.env_var_name)
        elif isinstance(value, dg.ConfigurableResource):
            for field in type(value).model_fields:
                walk(getattr(value, field))

    for resource in resources.values():
        walk(resource)
    return sorted(missing)
