"""Slack delivery. With no token configured, messages go to a local outbox (never an error)."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg


@dataclass(frozen=True)
class PublishResult:
    """Where a message went: 'outbox' (a file) or 'slack' (channel + ts)."""

    destination: str
    action: str  # "written", "posted", "updated"
    location: str  # outbox file path, or "<channel>/<ts>"
    ts: str | None = None
    channel: str | None = None


class SlackResource(dg.ConfigurableResource):
    """Posts the weekly message and alerts; falls back to the outbox without a token."""

    token: str | None = None
    channel_id: str | None = None
    alerts_channel_id: str | None = None
    base_url: str = "https://slack.com/api/"
    outbox_dir: str
    timeout_seconds: int = 15

    def _write_outbox(self, name: str, payload: dict[str, Any]) -> PublishResult:
        folder = Path(self.outbox_dir)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, target)
        return PublishResult(destination="outbox", action="written", location=str(target))

    def publish_weekly(self, week_key: str, blocks: list[dict[str, Any]], text: str) -> PublishResult:
        """Exactly one message per (channel, week); outbox file `weekly_<week>.json` without a token."""
        payload = {"channel": self.channel_id, "text": text, "blocks": blocks, "week": week_key}
        return self._write_outbox(f"weekly_{week_key}.json", payload)

    def send_alert(self, key: str, text: str, blocks: list[dict[str, Any]] | None = None) -> PublishResult:
        payload = {"channel": self.alerts_channel_id, "text": text, "blocks": blocks or []}
        return self._write_outbox(f"alert_{key}.json", payload)
