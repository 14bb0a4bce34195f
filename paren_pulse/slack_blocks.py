"""Pure rendering of the weekly snapshot: Block Kit blocks, a notification fallback, a preview.

Lines are kept short (one segment per line) so the message reads in a phone's Slack client
without horizontal scrolling; tables in code blocks wrap badly there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from paren_pulse import constants as c

Blocks = list[dict[str, Any]]
COUNTRY_FLAGS = {c.US: ":flag-us:", c.CA: ":flag-ca:"}
CURRENCY_SYMBOL = {"USD": "$", "CAD": "CA$"}


def fmt_int(value: Any) -> str:
    return "n/a" if value is None else f"{round(value):,}"


def plural(count: Any, noun: str) -> str:
    """'1 station', '2 stations', 'n/a stations'."""
    return f"{fmt_int(count)} {noun}" + ("" if count == 1 else "s")


def fmt_compact(value: Any) -> str:
    """2,712,345 -> 2.71M, 12,345 -> 12.3k; below 10,000 numbers stay exact."""
    if value is None:
        return "n/a"
    v = float(value)
    # (threshold, divisor, suffix): "k" only from 10,000 so that 9,999 stays readable as is.
    for threshold, divisor, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(v) >= threshold:
            scaled = v / divisor
            return f"{scaled:.3g}{suffix}" if abs(scaled) < 100 else f"{scaled:,.0f}{suffix}"
    return f"{round(v):,}"


def fmt_pct(value: Any, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.{digits}f}%" if signed else f"{value:.{digits}f}%"


def fmt_price(value: Any, currency: str) -> str:
    if value is None:
        return "n/a"
    return f"{CURRENCY_SYMBOL.get(currency, currency + ' ')}{value:.2f}/kWh"


def fmt_date(iso: str) -> str:
    return dt.date.fromisoformat(iso).strftime("%a %d %b %Y")


def infrastructure_line(cell: dict[str, Any]) -> str:
    opened = cell.get(c.OPENED_THIS_WEEK)
    return (
        f"{plural(cell[c.SPINE_STATIONS], 'station')} · {plural(cell[c.SPINE_PORTS], 'port')} · "
        f"{fmt_pct(cell[c.PORT_COVERAGE_PCT])} tracked · "
        + ("+n/a opened" if opened is None else f"+{fmt_int(opened)} opened")
    )


def utilization_line(cell: dict[str, Any]) -> str:
    return (
        f"{fmt_compact(cell[c.SESSIONS])} session{'' if cell[c.SESSIONS] == 1 else 's'} ({fmt_pct(cell[c.SESSIONS_WOW_PCT], signed=True)} WoW) · "
        f"{fmt_pct(None if cell[c.SUCCESS_RATE] is None else cell[c.SUCCESS_RATE] * 100)} success"
    )


def pricing_line(cell: dict[str, Any], currency: str) -> str:
    line = f"{fmt_price(cell[c.AVG_PRICE_PER_KWH], currency)} over {plural(cell[c.PRICED_PORTS], 'port')}"
    if cell.get(c.PER_MINUTE_ONLY_PORTS):
        line += f" · {fmt_int(cell[c.PER_MINUTE_ONLY_PORTS])} per-minute only"
    return line


def category_text(country: str, category: str, block: dict[str, Any]) -> str:
    titles = {
        c.INFRASTRUCTURE: f"*Infrastructure* · as of {fmt_date(block['as_of'])}",
        c.UTILIZATION: f"*Utilization* · week of {fmt_date(block['week_start'])}",
        c.PRICING: f"*Pricing* (non-member, {block.get('currency', '')}) · as of {fmt_date(block['as_of'])}",
    }
    lines = [titles[category]]
    for segment in c.SEGMENTS:
        cell = block[segment]
        if category == c.INFRASTRUCTURE:
            body = infrastructure_line(cell)
        elif category == c.UTILIZATION:
            body = utilization_line(cell)
        else:
            body = pricing_line(cell, block.get("currency", c.CURRENCY[country]))
        label = c.SEGMENT_LABELS[segment]
        lines.append(f"• *{label}:* {body}" if segment == c.AGGREGATE else f"• {label}: {body}")
    return "\n".join(lines)


def grand_total_text(data: dict[str, Any]) -> str:
    infra = data["grand_total"][c.INFRASTRUCTURE]
    util = data["grand_total"][c.UTILIZATION]
    return (
        "*US + Canada*\n"
        f"• {fmt_int(infra[c.SPINE_STATIONS])} stations · {fmt_int(infra[c.SPINE_PORTS])} ports "
        f"(as of {fmt_date(infra['as_of'])})\n"
        f"• {fmt_int(infra[c.TRACKED_PORTS])} ports tracked · +{fmt_int(infra[c.OPENED_THIS_WEEK])} stations opened\n"
        f"• {fmt_compact(util[c.SESSIONS])} sessions (week ending {fmt_date(util['as_of'])})"
    )


def header_text(data: dict[str, Any]) -> str:
    start = dt.date.fromisoformat(data["week"]["start"])
    end = dt.date.fromisoformat(data["week"]["end"])
    return f"⚡ DC fast charging · week of {start:%d %b} – {end:%d %b %Y}"


def render_blocks(data: dict[str, Any]) -> Blocks:
    """The weekly Block Kit message: header, per country three categories, grand total, footer."""
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": header_text(data), "emoji": True}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Public, open DC fast charging in the USA and Canada · Non-Tesla / Tesla / Aggregate",
                }
            ],
        },
    ]
    for country in c.COUNTRIES:
        blocks.append({"type": "divider"})
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{COUNTRY_FLAGS[country]} *{c.COUNTRY_NAMES[country]}*"},
            }
        )
        for category in c.CATEGORIES:
            blocks.append(
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": category_text(country, category, data[country][category]),
                    },
                }
            )
    blocks.append({"type": "divider"})
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": grand_total_text(data)}})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "\n".join(f"_{note}_" for note in data["caveats"])}],
        }
    )
    return blocks


def render_fallback_text(data: dict[str, Any]) -> str:
    """The notification text: short, and meaningful without the blocks."""
    us = data[c.US]
    ca = data[c.CA]
    return (
        f"DC fast charging, week of {data['week']['start']}: "
        f"US {fmt_int(us[c.INFRASTRUCTURE][c.AGGREGATE][c.SPINE_STATIONS])} stations, "
        f"{fmt_compact(us[c.UTILIZATION][c.AGGREGATE][c.SESSIONS])} sessions, "
        f"{fmt_price(us[c.PRICING][c.AGGREGATE][c.AVG_PRICE_PER_KWH], c.CURRENCY[c.US])}; "
        f"Canada {fmt_int(ca[c.INFRASTRUCTURE][c.AGGREGATE][c.SPINE_STATIONS])} stations, "
        f"{fmt_compact(ca[c.UTILIZATION][c.AGGREGATE][c.SESSIONS])} sessions, "
        f"{fmt_price(ca[c.PRICING][c.AGGREGATE][c.AVG_PRICE_PER_KWH], c.CURRENCY[c.CA])}."
    )


def render_preview(data: dict[str, Any]) -> str:
    """Plain-text / Markdown preview of the message (CLI --text, Dagster UI metadata)."""
    parts = [f"## {header_text(data)}"]
    for country in c.COUNTRIES:
        parts.append(f"### {c.COUNTRY_NAMES[country]}")
        for category in c.CATEGORIES:
            parts.append(category_text(country, category, data[country][category]).replace("• ", "- "))
    parts.append(grand_total_text(data).replace("• ", "- "))
    parts.extend(f"_{note}_" for note in data["caveats"])
    return "\n\n".join(parts)
