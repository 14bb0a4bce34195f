"""The pure pre-flight validator and the fitter: one row per Slack limit."""

from __future__ import annotations

from typing import Any

import pytest

from paren_pulse import slack_validation as sv
from paren_pulse.slack_blocks import render_blocks, render_fallback_text

Block = dict[str, Any]


def section(text: str, **extra: Any) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


def field(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


HEADER: Block = {"type": "header", "text": {"type": "plain_text", "text": "Weekly"}}
LINES = "\n".join(f"• line {i} " + "x" * 40 for i in range(100))  # ~5k characters, many lines


@pytest.mark.parametrize(
    ("blocks", "text", "codes"),
    [
        pytest.param([HEADER, section("ok")], "fallback", [], id="valid"),
        pytest.param([HEADER], "", ["missing_fallback_text"], id="no fallback text"),
        pytest.param([HEADER], "x" * 40_001, ["msg_too_long"], id="fallback over 40k"),
        pytest.param([section("a")] * 51, "t", ["too_many_blocks"], id="51 blocks"),
        pytest.param([section("x" * 3001)], "t", ["text_too_long"], id="section text over 3000"),
        pytest.param([section("")], "t", ["empty_text"], id="empty section text"),
        pytest.param(
            [{"type": "section", "fields": [field("f")] * 11}], "t", ["too_many_fields"], id="11 fields"
        ),
        pytest.param(
            [{"type": "section", "fields": [field("x" * 2001)]}], "t", ["text_too_long"], id="field over 2000"
        ),
        pytest.param([{"type": "section"}], "t", ["missing_text"], id="section without text or fields"),
        pytest.param(
            [{"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}],
            "t",
            ["not_plain_text"],
            id="mrkdwn header",
        ),
        pytest.param(
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "t",
            ["text_too_long"],
            id="header over 150",
        ),
        pytest.param([context(*["c"] * 11)], "t", ["too_many_elements"], id="context with 11 elements"),
        pytest.param([{"type": "context", "elements": []}], "t", ["missing_elements"], id="empty context"),
        pytest.param([section("a", block_id="b" * 256)], "t", ["block_id_too_long"], id="block_id over 255"),
        pytest.param(
            [section("a", block_id="x"), section("b", block_id="x")],
            "t",
            ["duplicate_block_id"],
            id="duplicate block_id",
        ),
        pytest.param(
            [{"type": "section", "text": {"type": "markdown", "text": "a"}}],
            "t",
            ["unknown_text_type"],
            id="unknown text type",
        ),
        pytest.param([{"text": "a"}], "t", ["missing_type"], id="block without type"),
        pytest.param(
            [{"type": "image", "image_url": "https://x/y.png"}], "t", ["bad_alt_text"], id="image no alt"
        ),
        pytest.param(
            [{"type": "table", "rows": [[{"type": "raw_text", "text": "c"}]] * 101}],
            "t",
            ["table_too_large"],
            id="table over 100 rows",
        ),
        pytest.param([section("x" * 2500)] * 5, "t", ["msg_blocks_too_long"], id="cumulative text over 12k"),
        pytest.param([section("x" * 2400)] * 5, "t", [], id="cumulative text at 12k"),
    ],
)
def test_validate_message(blocks: list[Block], text: str, codes: list[str]) -> None:
    assert [p.code for p in sv.validate_message(blocks, text)] == codes


def test_problems_name_what_slack_would_answer() -> None:
    [problem] = sv.validate_message([section("x" * 2500)] * 5, "t")
    assert problem.slack_error == "msg_blocks_too_long" and problem.actual == 12_500
    [problem] = sv.validate_message([section("a")] * 51, "t")
    assert problem.slack_error == "invalid_blocks" and "51 blocks" in str(problem)


def all_text(blocks: list[Block]) -> str:
    return "".join(sv._texts(blocks))


@pytest.mark.parametrize(
    ("blocks", "expect_replies"),
    [
        pytest.param([HEADER, section("small")], False, id="already fine: unchanged"),
        pytest.param([HEADER, section(LINES)], False, id="long section split at line breaks"),
        pytest.param(
            [HEADER, {"type": "section", "fields": [field(f"f{i}") for i in range(23)]}],
            False,
            id="23 fields into 3 sections",
        ),
        pytest.param([HEADER, context(*[f"c{i}" for i in range(12)])], False, id="12 context elements"),
        pytest.param(
            [HEADER, *[section(f"s{i}") for i in range(70)], context("caveats")], True, id="70 blocks"
        ),
        pytest.param(
            [
                HEADER,
                context("intro"),
                *[section(f"*{i}*\n" + "y" * 2000) for i in range(20)],
                context("caveats"),
            ],
            True,
            id="40k of block text",
        ),
        pytest.param([HEADER, section(LINES * 8)], True, id="one 40k section"),
    ],
)
def test_fit_message_yields_valid_messages_and_loses_nothing(
    blocks: list[Block], expect_replies: bool
) -> None:
    main, replies = sv.fit_message(blocks, "fallback")
    assert sv.validate_message(main, "fallback") == []
    for reply in replies:
        assert sv.validate_message(reply.blocks, reply.text) == []
        assert sv.total_block_text(reply.blocks) <= sv.FIT_BUDGET
    assert bool(replies) is expect_replies
    # Every character of the original text survives, in order (the note is the only addition;
    # a trailing context, the caveats, stays at the end of the main message).
    body = main[:-1] if replies else main
    assert not replies or (body[-1] != main[-1] and main[-1] == sv.continuation_note(len(replies)))
    tail = [body.pop()] if replies and blocks[-1].get("type") == "context" else []
    rebuilt = all_text(body) + "".join(all_text(r.blocks) for r in replies) + all_text(tail)
    assert rebuilt.replace("\n", "") == all_text(blocks).replace("\n", "")


def test_fit_keeps_header_intro_and_caveats_in_the_main_message() -> None:
    blocks = [
        HEADER,
        context("intro"),
        *[section(f"*{i}*\n" + "y" * 2000) for i in range(20)],
        context("caveats"),
    ]
    main, replies = sv.fit_message(blocks, "fallback")
    assert main[:2] == blocks[:2]
    assert main[-2] == context("caveats") and "thread" in all_text([main[-1]])
    assert [r.text.split(":")[0] for r in replies] == [
        f"Detail {i}/{len(replies)}" for i in range(1, len(replies) + 1)
    ]


def test_fit_repairs_headers_and_shortens_fields() -> None:
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "mrkdwn", "text": "h" * 200}},
        {"type": "section", "fields": [field("x" * 2500)]},
        section("a", block_id="b" * 300),
    ]
    main, replies = sv.fit_message(blocks, "t")
    assert replies == [] and sv.validate_message(main, "t") == []
    assert main[0]["text"] == {"type": "plain_text", "text": "h" * 149 + "…"}
    assert len(main[1]["fields"][0]["text"]) == 2000 and "block_id" not in main[2]


def test_fit_text_caps_the_fallback() -> None:
    assert len(sv.fit_text("x" * 50_000)) == sv.MAX_FALLBACK_TEXT
    assert sv.fit_text("short") == "short"
    assert sv.fit_text("  ") == "Weekly report"


def test_the_real_weekly_message_passes_unchanged() -> None:
    """The renderer's own output is valid as is, so the fitter never touches a normal week."""
    data = _sample_snapshot()
    blocks = render_blocks(data)
    text = render_fallback_text(data)
    assert sv.validate_message(blocks, text) == []
    assert sv.fit_message(blocks, text) == (blocks, [])


def _sample_snapshot() -> dict[str, Any]:
    from paren_pulse import constants as c

    cell = {
        c.SPINE_STATIONS: 1234,
        c.SPINE_PORTS: 5678,
        c.PORT_COVERAGE_PCT: 71.9,
        c.OPENED_THIS_WEEK: 12,
        c.TRACKED_PORTS: 4000,
        c.SESSIONS: 2_712_345,
        c.SESSIONS_WOW_PCT: 3.2,
        c.SUCCESS_RATE: 0.93,
        c.AVG_PRICE_PER_KWH: 0.46,
        c.PRICED_PORTS: 3000,
        c.PER_MINUTE_ONLY_PORTS: 2,
    }
    dates = {"as_of": "2025-01-19", "week_start": "2025-01-13", "currency": "USD"}
    country = {category: {**dates, **{s: cell for s in c.SEGMENTS}} for category in c.CATEGORIES}
    return {
        "week": {"start": "2025-01-13", "end": "2025-01-19"},
        c.US: country,
        c.CA: country,
        "grand_total": {
            c.INFRASTRUCTURE: {**cell, "as_of": "2025-01-19"},
            c.UTILIZATION: {**cell, "as_of": "2025-01-19"},
        },
        "caveats": ["Utilization comes in monthly batches."],
    }
