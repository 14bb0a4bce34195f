"""The one environment switch and the local state directory.

`PAREN_PULSE_ENV` selects the resource set (demo: embedded engines, no servers, no secrets;
production: ClickHouse over HTTP, MySQL over PyMySQL). `PAREN_PULSE_HOME` holds every piece of
local state, so deleting it resets the demo completely.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Environment = Literal["demo", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("demo", "production")


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message says which and what to do."""


def current_environment() -> Environment:
    value = os.environ.get("PAREN_PULSE_ENV", "demo").strip().lower() or "demo"
    if value not in ENVIRONMENTS:
        raise ConfigurationError(
            f"PAREN_PULSE_ENV={value!r} is not one of {', '.join(ENVIRONMENTS)}; unset it for the demo."
        )
    return "demo" if value == "demo" else "production"


def pulse_home() -> Path:
    return Path(os.environ.get("PAREN_PULSE_HOME", ".paren_pulse")).expanduser().resolve()


@dataclass(frozen=True)
class DemoPaths:
    """Where the embedded default keeps its warehouse, history and outputs."""

    home: Path

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse"

    @property
    def catalog_db(self) -> Path:
        # The file-backed stand-in for the MySQL catalog.
        return self.warehouse / "catalog.sqlite"

    @property
    def sessions_dir(self) -> Path:
        # One Parquet file per monthly session batch; every process reads them with its own
        # in-memory ClickHouse engine (a chdb path can be open in only one process).
        return self.warehouse / "sessions"

    @property
    def manifest(self) -> Path:
        return self.warehouse / "manifest.json"

    @property
    def history_dir(self) -> Path:
        return self.home / "history"

    @property
    def snapshots_dir(self) -> Path:
        return self.home / "snapshots"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"


def demo_paths(home: Path | None = None) -> DemoPaths:
    return DemoPaths(home or pulse_home())
