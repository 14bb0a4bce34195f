"""Pure pre-flight checks of a Block Kit message against Slack's limits, and a fitter that degrades
a too-big message (detail sections move to thread replies) instead of letting Slack reject it.

slack_sdk validates only `Block` objects (our renderer produces dicts, which go out unchecked) and
skips several limits even then; Slack itself rejects roughly 12-13k characters of cumulative block
text with the undocumented `msg_blocks_too_long`. Everything here is plain data in, plain data out.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

Block = dict[str, Any]
Blocks = list[Block]

MAX_BLOCKS = 50
MAX_FALLBACK_TEXT = 40_000
MAX_SECTION_TEXT = 3_000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 3_000
MAX_BLOCK_ID = 255
MAX_IMAGE_URL = 3_000
MAX_ALT_TEXT = 2_000
MAX_ACTIONS_ELEMENTS = 25
MAX_TABLE_ROWS = 100
MAX_TABLE_COLUMNS = 20
# Slack answers `msg_blocks_too_long` somewhere between 12k and 13k characters of block text.
MAX_TOTAL_BLOCK_TEXT = 12_000
# The fitter aims below the observed limit: the exact threshold is undocumented.
FIT_BUDGET = 10_000
ELLIPSIS = "…"
TEXT_TYPES = ("plain_text", "mrkdwn")
# Blocks that frame the message and stay in the main post; everything else may move to the thread.
FRAME_TYPES = ("header", "context")


@dataclass(frozen=True)
class Problem:
    """One broken limit. `slack_error` is what Slack would answer for it."""

    code: str
    path: str
    message: str
    slack_error: str = "invalid_blocks"
    limit: int | None = None
    actual: int | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class ThreadReply:
    """A reply posted under the main message with the blocks that did not fit."""

    blocks: Blocks
    text: str


@dataclass
class _Checker:
    problems: list[Problem] = field(default_factory=list)

    def add(
        self,
        code: str,
        path: str,
        message: str,
        *,
        limit: int | None = None,
        actual: int | None = None,
        slack_error: str = "invalid_blocks",
    ) -> None:
        self.problems.append(Problem(code, path, message, slack_error, limit, actual))

    def text_object(self, obj: Any, path: str, limit: int, *, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.add("missing_text", path, "must be a text object {type, text}")
            return
        kind = obj.get("type")
        if plain_only and kind != "plain_text":
            self.add("not_plain_text", f"{path}.type", f"must be plain_text, not {kind!r}")
        elif kind not in TEXT_TYPES:
            self.add("unknown_text_type", f"{path}.type", f"must be one of {TEXT_TYPES}, not {kind!r}")
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.add("empty_text", f"{path}.text", "must be a non-empty string")
        elif len(text) > limit:
            self.add(
                "text_too_long",
                f"{path}.text",
                f"{len(text)} characters, at most {limit}",
                limit=limit,
                actual=len(text),
            )


def block_text_length(block: Block) -> int:
    """Characters of text a block carries, as Slack counts them towards `msg_blocks_too_long`."""
    return sum(len(t) for t in _texts(block))


def total_block_text(blocks: Blocks) -> int:
    return sum(block_text_length(b) for b in blocks)


def _texts(value: Any) -> list[str]:
    """Every `text` string inside text objects of a block (fields, elements, nested rich text)."""
    found: list[str] = []
    if isinstance(value, dict):
        text = value.get("text")
        if isinstance(text, str):
            found.append(text)
        for key, inner in value.items():
            if key != "text" or isinstance(inner, dict | list):
                found.extend(_texts(inner))
    elif isinstance(value, list):
        for inner in value:
            found.extend(_texts(inner))
    return found


def validate_message(blocks: Blocks, text: str) -> list[Problem]:
    """Every limit the message breaks; an empty list means Slack should accept it."""
    check = _Checker()
    if not isinstance(text, str) or not text.strip():
        # Without fallback text notifications and screen readers show nothing useful.
        check.add("missing_fallback_text", "text", "fallback text is required", slack_error="no_text")
    elif len(text) > MAX_FALLBACK_TEXT:
        check.add(
            "msg_too_long",
            "text",
            f"{len(text)} characters, at most {MAX_FALLBACK_TEXT}",
            limit=MAX_FALLBACK_TEXT,
            actual=len(text),
            slack_error="msg_too_long",
        )
    if len(blocks) > MAX_BLOCKS:
        check.add(
            "too_many_blocks",
            "blocks",
            f"{len(blocks)} blocks, at most {MAX_BLOCKS}",
            limit=MAX_BLOCKS,
            actual=len(blocks),
        )
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        _validate_block(check, block, f"blocks[{i}]", seen_ids)
    total = total_block_text(blocks)
    if total > MAX_TOTAL_BLOCK_TEXT:
        check.add(
            "msg_blocks_too_long",
            "blocks",
            f"{total} characters of block text, Slack rejects more than about {MAX_TOTAL_BLOCK_TEXT}",
            limit=MAX_TOTAL_BLOCK_TEXT,
            actual=total,
            slack_error="msg_blocks_too_long",
        )
    return check.problems


def _validate_block(check: _Checker, block: Any, path: str, seen_ids: set[str]) -> None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        check.add("missing_type", path, "a block must be an object with a type")
        return
    block_id = block.get("block_id")
    if block_id is not None:
        if not isinstance(block_id, str) or len(block_id) > MAX_BLOCK_ID:
            check.add(
                "block_id_too_long",
                f"{path}.block_id",
                f"at most {MAX_BLOCK_ID} characters",
                limit=MAX_BLOCK_ID,
                actual=len(str(block_id)),
            )
        elif block_id in seen_ids:
            check.add("duplicate_block_id", f"{path}.block_id", f"{block_id!r} is used twice")
        seen_ids.add(str(block_id))
    kind = block["type"]
    if kind == "header":
        check.text_object(block.get("text"), f"{path}.text", MAX_HEADER_TEXT, plain_only=True)
    elif kind == "section":
        _validate_section(check, block, path)
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            check.add("missing_elements", f"{path}.elements", "a context needs 1 to 10 elements")
            return
        if len(elements) > MAX_CONTEXT_ELEMENTS:
            check.add(
                "too_many_elements",
                f"{path}.elements",
                f"{len(elements)} elements, at most {MAX_CONTEXT_ELEMENTS}",
                limit=MAX_CONTEXT_ELEMENTS,
                actual=len(elements),
            )
        for j, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") == "image":
                _validate_image(check, element, f"{path}.elements[{j}]")
            else:
                check.text_object(element, f"{path}.elements[{j}]", MAX_CONTEXT_TEXT)
    elif kind == "image":
        _validate_image(check, block, path)
        if "title" in block:
            check.text_object(block["title"], f"{path}.title", MAX_ALT_TEXT, plain_only=True)
    elif kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements or len(elements) > MAX_ACTIONS_ELEMENTS:
            check.add(
                "too_many_elements",
                f"{path}.elements",
                f"1 to {MAX_ACTIONS_ELEMENTS} elements",
                limit=MAX_ACTIONS_ELEMENTS,
                actual=len(elements) if isinstance(elements, list) else 0,
            )
    elif kind == "table":
        rows = block.get("rows")
        if not isinstance(rows, list) or not rows:
            check.add("missing_rows", f"{path}.rows", "a table needs at least one row")
            return
        if len(rows) > MAX_TABLE_ROWS:
            check.add(
                "table_too_large",
                f"{path}.rows",
                f"{len(rows)} rows, at most {MAX_TABLE_ROWS}",
                limit=MAX_TABLE_ROWS,
                actual=len(rows),
            )
        widest = max((len(r) for r in rows if isinstance(r, list)), default=0)
        if widest > MAX_TABLE_COLUMNS:
            check.add(
                "table_too_large",
                f"{path}.rows",
                f"{widest} columns, at most {MAX_TABLE_COLUMNS}",
                limit=MAX_TABLE_COLUMNS,
                actual=widest,
            )


def _validate_section(check: _Checker, block: Block, path: str) -> None:
    has_text = "text" in block
    fields = block.get("fields")
    if not has_text and not fields:
        check.add("missing_text", path, "a section needs text or fields")
    if has_text:
        check.text_object(block["text"], f"{path}.text", MAX_SECTION_TEXT)
    if fields is not None:
        if not isinstance(fields, list):
            check.add("missing_text", f"{path}.fields", "fields must be a list of text objects")
            return
        if len(fields) > MAX_FIELDS:
            check.add(
                "too_many_fields",
                f"{path}.fields",
                f"{len(fields)} fields, at most {MAX_FIELDS}",
                limit=MAX_FIELDS,
                actual=len(fields),
            )
        for j, item in enumerate(fields):
            check.text_object(item, f"{path}.fields[{j}]", MAX_FIELD_TEXT)


def _validate_image(check: _Checker, block: Block, path: str) -> None:
    url = block.get("image_url")
    if not block.get("slack_file") and (not isinstance(url, str) or not url or len(url) > MAX_IMAGE_URL):
        check.add(
            "bad_image_url",
            f"{path}.image_url",
            f"an image needs a URL of at most {MAX_IMAGE_URL} characters",
        )
    alt = block.get("alt_text")
    if not isinstance(alt, str) or not alt or len(alt) > MAX_ALT_TEXT:
        check.add(
            "bad_alt_text", f"{path}.alt_text", f"alt_text is required, at most {MAX_ALT_TEXT} characters"
        )


# --- fitting ---------------------------------------------------------------------------------


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def fit_text(text: str) -> str:
    """The fallback text within Slack's limit (it is a notification, so the start matters most)."""
    return truncate(text, MAX_FALLBACK_TEXT) if text.strip() else "Weekly report"


def _split_lines(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at line breaks where possible so lists stay whole."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single line longer than the limit: hard cut
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return [p for p in pieces if p.strip()] or [truncate(text, limit)]


def _repair_block(block: Block) -> Blocks:
    """One block made valid on its own; may become several blocks (long sections, many fields)."""
    block = copy.deepcopy(block)
    block_id = block.get("block_id")
    if isinstance(block_id, str) and len(block_id) > MAX_BLOCK_ID:
        # Truncating could create duplicates; the project never relies on block ids.
        del block["block_id"]
    kind = block.get("type")
    if kind == "header" and isinstance(block.get("text"), dict):
        text = block["text"]
        raw = str(text.get("text", ""))
        if text.get("type") != "plain_text" or len(raw) > MAX_HEADER_TEXT:
            # A header only takes plain_text; `verbatim` belongs to mrkdwn and would be rejected.
            kept = {k: v for k, v in text.items() if k not in ("type", "text", "verbatim")}
            block["text"] = {"type": "plain_text", "text": truncate(raw, MAX_HEADER_TEXT) or " ", **kept}
        return [block]
    if kind == "section":
        out: Blocks = []
        text = block.get("text")
        if (
            isinstance(text, dict)
            and isinstance(text.get("text"), str)
            and len(text["text"]) > MAX_SECTION_TEXT
        ):
            for k, piece in enumerate(_split_lines(text["text"], MAX_SECTION_TEXT)):
                part = {
                    key: value
                    for key, value in block.items()
                    if key not in ("fields", "accessory", "block_id")
                }
                part["text"] = {**text, "text": piece}
                if k == 0:
                    part.update({key: block[key] for key in ("accessory", "block_id") if key in block})
                out.append(part)
        fields = block.get("fields")
        if isinstance(fields, list) and fields:
            fields = [
                {**f, "text": truncate(f["text"], MAX_FIELD_TEXT)}
                if isinstance(f, dict) and isinstance(f.get("text"), str)
                else f
                for f in fields
            ]
            if out or len(fields) > MAX_FIELDS:
                head = out[-1] if out else {k: v for k, v in block.items() if k != "fields"}
                if not out:
                    out.append(head)
                head.pop("fields", None)
                chunks = [fields[i : i + MAX_FIELDS] for i in range(0, len(fields), MAX_FIELDS)]
                head["fields"] = chunks[0]
                out.extend({"type": "section", "fields": chunk} for chunk in chunks[1:])
            else:
                block["fields"] = fields
        return out or [block]
    if kind == "context" and isinstance(block.get("elements"), list):
        elements = [
            {**e, "text": truncate(e["text"], MAX_CONTEXT_TEXT)}
            if isinstance(e, dict) and isinstance(e.get("text"), str)
            else e
            for e in block["elements"]
        ]
        chunks = [
            elements[i : i + MAX_CONTEXT_ELEMENTS] for i in range(0, len(elements), MAX_CONTEXT_ELEMENTS)
        ]
        first = {**block, "elements": chunks[0]} if chunks else block
        return [first, *({"type": "context", "elements": chunk} for chunk in chunks[1:])]
    return [block]


def _is_divider(block: Block) -> bool:
    return block.get("type") == "divider"


def _strip_dividers(blocks: Blocks) -> Blocks:
    """No leading, trailing or doubled dividers (left behind when sections move away)."""
    out: Blocks = []
    for block in blocks:
        if _is_divider(block) and (not out or _is_divider(out[-1])):
            continue
        out.append(block)
    while out and _is_divider(out[-1]):
        out.pop()
    return out


def _reply_text(blocks: Blocks, part: int, parts: int) -> str:
    first = next((t for b in blocks for t in _texts(b) if t.strip()), "")
    prefix = f"Detail {part}/{parts}"
    return f"{prefix}: {truncate(first.replace(chr(10), ' '), 150)}" if first else prefix


def continuation_note(replies: int) -> Block:
    noun = "reply" if replies == 1 else "replies"
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"_More detail in the thread ({replies} {noun})._"}],
    }


def fit_message(blocks: Blocks, text: str, *, budget: int = FIT_BUDGET) -> tuple[Blocks, list[ThreadReply]]:
    """The main message within every limit, plus thread replies carrying what did not fit.

    Each block is first repaired on its own (long sections split at line breaks, extra fields and
    context elements moved to new blocks, headers made plain_text and shortened). If the message
    is still too big (blocks or cumulative text), the leading header/context blocks and a trailing
    context (caveats) stay; the other blocks are kept in order while they fit and the rest, in
    order, become thread replies, each within the same limits. Nothing is reordered or dropped.
    """
    repaired = [piece for block in blocks for piece in _repair_block(block)]
    note_size = block_text_length(continuation_note(99))
    if len(repaired) <= MAX_BLOCKS and total_block_text(repaired) <= budget:
        return repaired, []

    lead: Blocks = []
    while len(lead) < len(repaired) and repaired[len(lead)].get("type") in FRAME_TYPES and len(lead) < 3:
        lead.append(repaired[len(lead)])
    rest = repaired[len(lead) :]
    tail: Blocks = [rest.pop()] if rest and rest[-1].get("type") == "context" else []

    used_blocks = len(lead) + len(tail) + 1  # + the continuation note
    used_text = total_block_text(lead) + total_block_text(tail) + note_size
    kept: Blocks = []
    index = 0
    while index < len(rest):
        block = rest[index]
        size = block_text_length(block)
        if used_blocks + 1 > MAX_BLOCKS or used_text + size > budget:
            break
        kept.append(block)
        used_blocks += 1
        used_text += size
        index += 1
    moved = _strip_dividers(rest[index:])
    replies_blocks = _pack(moved, budget)
    main = _strip_dividers(lead + kept) + tail
    if replies_blocks:
        main.append(continuation_note(len(replies_blocks)))
    replies = [
        ThreadReply(blocks=chunk, text=_reply_text(chunk, i + 1, len(replies_blocks)))
        for i, chunk in enumerate(replies_blocks)
    ]
    return main, replies


def _pack(blocks: Blocks, budget: int) -> list[Blocks]:
    """Consecutive chunks, each within the block count and the text budget."""
    chunks: list[Blocks] = []
    current: Blocks = []
    size = 0
    for block in blocks:
        block_size = block_text_length(block)
        if current and (len(current) + 1 > MAX_BLOCKS or size + block_size > budget):
            chunks.append(_strip_dividers(current))
            current, size = [], 0
        if _is_divider(block) and not current:
            continue
        current.append(block)
        size += block_size
    if current:
        chunks.append(_strip_dividers(current))
    return [c for c in chunks if c]
