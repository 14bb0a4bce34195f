"""Where rendered weekly snapshots are kept (the Slack asset posts exactly what was stored)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg

from paren_pulse.files import write_atomic
from paren_pulse.resources.catalog import SourceError


class ReportStore(dg.ConfigurableResource):
    """Rendered snapshots as `<root>/<week>.json`: {"data": ..., "blocks": [...], "text": ...}."""

    root: str

    def path(self, week_key: str) -> Path:
        return Path(self.root) / f"{week_key}.json"

    def save(self, week_key: str, payload: dict[str, Any]) -> Path:
        return write_atomic(
            self.path(week_key), json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")
        )

    def load(self, week_key: str) -> dict[str, Any]:
        target = self.path(week_key)
        if not target.exists():
            raise SourceError(
                f"report: no rendered snapshot for week {week_key}; materialize weekly_snapshot first"
            )
        payload: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
        return payload
