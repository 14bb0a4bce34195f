"""The pure Block Kit renderer: formats, structure, and Slack's own block models."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from paren_pulse import constants as c
from paren_pulse import slack_blocks as sb
from paren_pulse.slack_validation import validate_message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "n/a"),
        (0, "0"),
        (9_999, "9,999"),
        (12_345, "12.3k"),
        (2_712_345, "2.71M"),
        (141_000_000, "141M"),
    ],
)
def test_fmt_compact(value: float | None, expected: str) -> None:
    assert sb.fmt_compact(value) == expected


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [(0.4608, "USD", "$0.46/kWh"), (0.5731, "CAD", "CA$0.57/kWh"), (None, "USD", "n/a")],
)
def test_fmt_price_keeps_the_currency(value: float | None, currency: str, expected: str) -> None:
    assert sb.fmt_price(value, currency) == expected


@pytest.mark.parametrize(
    ("value", "signed", "expected"),
    [(33.333, True, "+33.3%"), (-7.65, True, "-7.7%"), (71.875, False, "71.9%"), (None, True, "n/a")],
)
def test_fmt_pct(value: float | None, signed: bool, expected: str) -> None:
    assert sb.fmt_pct(value, signed=signed) == expected


@pytest.mark.parametrize(("count", "expected"), [(1, "1 station"), (2, "2 stations"), (None, "n/a stations")])
def test_plural(count: int | None, expected: str) -> None:
    assert sb.plural(count, "station") == expected


def sample_data() -> dict[str, Any]:
    """A snapshot shaped like build_snapshot's output (numbers from the hand fixture, W1)."""

    def cells(metrics: tuple[str, ...], values: list[list[Any]]) -> dict[str, dict[str, Any]]:
        return {
            seg: dict(zip(metrics, row, strict=True)) for seg, row in zip(c.SEGMENTS, values, strict=True)
        }

    infra = cells(
        c.INFRASTRUCTURE_METRICS,
        [[3, 12, 1, 3, 25.0, 0], [2, 20, 2, 20, 100.0, 1], [5, 32, 3, 23, 71.875, 1]],
    )
    util = cells(
        c.UTILIZATION_METRICS, [[3, 5, 0.6, 2, 50.0], [5, 6, 5 / 6, 4, 25.0], [8, 11, 8 / 11, 6, 100 / 3]]
    )
    price = cells(c.PRICING_METRICS, [[0.6, 3, 0, 0], [0.44, 20, 0, 0], [10.6 / 23, 23, 0, 0]])
    country = {
        c.INFRASTRUCTURE: {"as_of": "2025-01-19", "week_start": "2025-01-13", **infra},
        c.UTILIZATION: {"as_of": "2025-01-19", "week_start": "2025-01-13", **util},
        c.PRICING: {"as_of": "2025-01-19", "week_start": "2025-01-13", "currency": "USD", **price},
    }
    ca = copy.deepcopy(country)
    ca[c.PRICING]["currency"] = "CAD"
    ca[c.PRICING][c.AGGREGATE][c.PER_MINUTE_ONLY_PORTS] = 2
    return {
        "week": {"start": "2025-01-13", "end": "2025-01-19", "as_of": "2025-01-19"},
        c.US: country,
        c.CA: ca,
        "grand_total": {
            c.INFRASTRUCTURE: {
                "as_of": "2025-01-19",
                c.SPINE_STATIONS: 10,
                c.SPINE_PORTS: 64,
                c.TRACKED_STATIONS: 6,
                c.TRACKED_PORTS: 46,
                c.OPENED_THIS_WEEK: 2,
            },
            c.UTILIZATION: {"as_of": "2025-01-19", c.SESSIONS: 16, c.ATTEMPTS: 22},
        },
        "sources": {},
        "caveats": ["Prices: non-member, local currency.", "Coverage = tracked / spine."],
    }


def test_blocks_parse_as_slack_sdk_models_and_pass_the_preflight() -> None:
    data = sample_data()
    blocks = sb.render_blocks(data)
    for block in blocks:
        model = Block.parse(block)
        assert model is not None
        model.validate_json()  # slack_sdk's own limits for the block type
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["type"] == "plain_text"
    assert validate_message(blocks, sb.render_fallback_text(data)) == []
    assert len(blocks) <= 50


def test_message_carries_every_category_segment_date_and_the_total() -> None:
    text = json.dumps(sb.render_blocks(sample_data()), ensure_ascii=False)
    for label in ("United States", "Canada", "Infrastructure", "Utilization", "Pricing", "US + Canada"):
        assert label in text
    for segment in ("Non-Tesla", "Tesla", "Aggregate"):
        assert segment in text
    assert "as of Sun 19 Jan 2025" in text and "week of Mon 13 Jan 2025" in text
    assert "$0.46/kWh" in text and "CA$0.46/kWh" in text  # CAD is labelled, never shown as $
    assert "71.9% tracked" in text and "+1 opened" in text
    assert "2 per-minute only" in text


def test_lines_stay_short_enough_for_a_phone() -> None:
    for block in sb.render_blocks(sample_data()):
        text = block.get("text", {}).get("text", "")
        for line in text.splitlines():
            assert len(line) <= 110, line


def test_fallback_text_reads_alone() -> None:
    text = sb.render_fallback_text(sample_data())
    assert text.startswith("DC fast charging, week of 2025-01-13: US 5 stations, 8 sessions, $0.46/kWh")
    assert "Canada 5 stations" in text and "CA$0.46/kWh" in text


def test_preview_is_markdown(tmp_path: Path) -> None:
    preview = sb.render_preview(sample_data())
    assert preview.startswith("## ⚡ DC fast charging · week of 13 Jan – 19 Jan 2025")
    assert "### Canada" in preview and "- *Aggregate:*" in preview
