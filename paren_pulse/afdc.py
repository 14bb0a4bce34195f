"""AFDC station exports -> validated, normalised spine rows, and their all-or-nothing load.

Pure parsing and validation (no Dagster). Three inputs end in the same normaliser:
  * the Station Locator CSV download (Title Case headers, `ID`, `EV DC Fast Count`, ...);
  * the API format flattened to CSV (snake_case headers, counts as floats like `2.0`);
  * the API's JSON (`fuel_stations` records, snake_case), fetched by `fetch_from_nrel`.
A file that does not make sense raises `ExportError` naming the file, the row and the column, so
a bad export never becomes a half-right spine. See docs/afdc.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from paren_pulse.resources.catalog import CatalogResource

ExportFormat = Literal["csv", "api"]

NREL_BASE_URL = "https://developer.nrel.gov/api/alt-fuel-stations/v1.json"

# Column widths of afdc_spine (catalog_schema.sql): MySQL in strict mode rejects longer values.
_STATION_NAME_MAX = 255
_NETWORK_MAX = 128
_STATE_MAX = 8
_SOURCE_MAX = 255


class ExportError(Exception):
    """An AFDC export (file or API answer) cannot be loaded; the message says where and what to do."""


@dataclass(frozen=True)
class _Field:
    csv_name: str
    api_name: str
    required: bool


# The fields the spine keeps, by their name in each format. `required` columns must be present in
# the header; optional ones default to empty (older or narrower exports may lack them).
FIELDS: dict[str, _Field] = {
    "id": _Field("ID", "id", True),
    "fuel_type": _Field("Fuel Type Code", "fuel_type_code", True),
    "station_name": _Field("Station Name", "station_name", False),
    "state": _Field("State", "state", False),
    "country": _Field("Country", "country", True),
    "status_code": _Field("Status Code", "status_code", True),
    "access_code": _Field("Access Code", "access_code", True),
    "ev_network": _Field("EV Network", "ev_network", True),
    "dc_fast_ports": _Field("EV DC Fast Count", "ev_dc_fast_num", True),
    "level2_ports": _Field("EV Level2 EVSE Num", "ev_level2_evse_num", True),
    "open_date": _Field("Open Date", "open_date", False),
    "date_last_confirmed": _Field("Date Last Confirmed", "date_last_confirmed", False),
    "updated_at": _Field("Updated At", "updated_at", False),
    "ev_pricing": _Field("EV Pricing", "ev_pricing", False),
}


@dataclass(frozen=True)
class SpineRow:
    """One ELEC station as stored in afdc_spine (without the snapshot date)."""

    station_id: int
    station_name: str | None
    state: str | None
    country: str
    status_code: str
    access_code: str
    ev_network: str | None
    network_key: str | None
    dc_fast_ports: int
    level2_ports: int
    open_date: dt.date | None
    date_last_confirmed: dt.date | None
    ev_pricing: str | None

    def params(self, snapshot_date: dt.date) -> dict[str, Any]:
        return {
            "snapshot_date": snapshot_date.isoformat(),
            "station_id": self.station_id,
            "station_name": self.station_name,
            "state": self.state,
            "country": self.country,
            "status_code": self.status_code,
            "access_code": self.access_code,
            "ev_network": self.ev_network,
            "network_key": self.network_key,
            "dc_fast_ports": self.dc_fast_ports,
            "level2_ports": self.level2_ports,
            "open_date": self.open_date.isoformat() if self.open_date else None,
            "date_last_confirmed": self.date_last_confirmed.isoformat() if self.date_last_confirmed else None,
            "ev_pricing": self.ev_pricing,
        }


@dataclass(frozen=True)
class ParsedExport:
    """A validated export: the rows to store and what the normaliser reported on the way."""

    source_name: str
    export_format: ExportFormat
    snapshot_date: dt.date
    snapshot_date_derived: bool
    rows: list[SpineRow]
    data_rows: int
    # Rows of other fuels (LPG, CNG, ...) that all-fuel exports contain, by fuel code.
    skipped_fuel_rows: dict[str, int] = field(default_factory=dict)
    # Raw `EV Network` labels with no entry in the alias mapping (network_key left NULL), by row
    # count; "" is a blank label. They count as non-Tesla until someone reviews networks.csv.
    unknown_networks: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_rows(self) -> int:
        return sum(self.skipped_fuel_rows.values())


@dataclass(frozen=True)
class LoadSummary:
    snapshot_date: dt.date
    source: str
    rows_inserted: int
    rows_replaced: int
    loaded_at: str
    # infrastructure_spine.sql over the snapshot just written, inside the same transaction: the
    # in-scope numbers exactly as the weekly infrastructure asset will read them.
    in_scope: list[dict[str, Any]]


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_export(
    source: str | Path | bytes,
    *,
    source_name: str,
    aliases: Mapping[str, str] | None = None,
    snapshot_date: dt.date | str | None = None,
    default_country: str | None = None,
) -> ParsedExport:
    """Parse one export (CSV download or API-format CSV; gzip or plain; with or without a BOM).

    `aliases` maps raw `EV Network` labels to network keys (the catalog's network_aliases); labels
    missing from it are reported in `unknown_networks`. `snapshot_date` defaults to the latest
    `Updated At` / `Date Last Confirmed` in the file. `default_country` is used only when the file
    has no `Country` column or a row's country is blank (every export seen so far has it).
    """
    raw = Path(source).read_bytes() if isinstance(source, str | Path) else source
    text = _decode(raw, source_name)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ExportError(f"{source_name}: the file is empty; download the export again") from None
    except csv.Error as exc:
        raise ExportError(f"{source_name}: line 1 (header) is not valid CSV: {exc}") from None
    header = [h.strip() for h in header]
    export_format = _detect_format(header, source_name)
    positions = {name: i for i, name in enumerate(header)}
    index = {key: positions[name] for key, name in _names(export_format).items() if name in positions}

    def records() -> Iterator[tuple[str, dict[str, str]]]:
        row_number = 0
        while True:
            start_line = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                # With strict=True an unterminated quote at the end of the file lands here.
                raise ExportError(
                    f"{source_name}: data row {row_number + 1} (from line {start_line}) is not valid CSV "
                    f"({exc}); the file is probably truncated or has an unbalanced quote - download it again"
                ) from None
            row_number += 1
            where = f"data row {row_number} (line {start_line})"
            if not values or values == [""]:
                continue  # a trailing blank line is not a record
            if len(values) != len(header):
                raise ExportError(
                    f"{source_name}: {where} has {len(values)} fields but the header has {len(header)}; "
                    "the file is truncated or was edited by hand - download the export again"
                )
            yield where, {key: values[index[key]] if key in index else "" for key in FIELDS}

    return _normalise(
        records(),
        source_name=source_name,
        export_format=export_format,
        present=set(index),
        aliases=aliases or {},
        snapshot_date=snapshot_date,
        default_country=default_country,
    )


def _names(export_format: ExportFormat) -> dict[str, str]:
    """Field key -> column name in the given format."""
    return {key: (f.csv_name if export_format == "csv" else f.api_name) for key, f in FIELDS.items()}


def parse_api_records(
    records: Sequence[Mapping[str, Any]],
    *,
    source_name: str,
    aliases: Mapping[str, str] | None = None,
    snapshot_date: dt.date | str | None = None,
) -> ParsedExport:
    """Parse the API's JSON `fuel_stations` records with the same normaliser as the files."""

    def rows() -> Iterator[tuple[str, dict[str, str]]]:
        for i, record in enumerate(records, start=1):
            if not isinstance(record, Mapping):
                raise ExportError(f"{source_name}: record {i} of fuel_stations is not a JSON object")
            yield f"record {i}", {key: _json_cell(record.get(f.api_name)) for key, f in FIELDS.items()}

    present = {key for key, f in FIELDS.items() if any(f.api_name in r for r in records[:50])}
    if not records:
        present = set(FIELDS)  # an empty answer has no columns to check; it fails as "no rows" below
    return _normalise(
        rows(),
        source_name=source_name,
        export_format="api",
        present=present,
        aliases=aliases or {},
        snapshot_date=snapshot_date,
        default_country=None,
    )


def _decode(raw: bytes, source_name: str) -> str:
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ExportError(
                f"{source_name}: the gzip data is damaged ({exc}); download the export again"
            ) from None
    try:
        # utf-8-sig drops the byte-order mark some CSV downloads begin with.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ExportError(
            f"{source_name}: line {line} is not UTF-8 ({exc.reason}); AFDC exports are UTF-8 - "
            "re-download instead of re-saving the file in a spreadsheet"
        ) from None


def _detect_format(header: list[str], source_name: str) -> ExportFormat:
    if "ID" in header:
        fmt: ExportFormat = "csv"
    elif "id" in header:
        fmt = "api"
    else:
        raise ExportError(
            f"{source_name}: required column `ID` (CSV download) or `id` (API format) is missing from "
            f"the header (first columns: {', '.join(header[:5])}); is this an AFDC station export?"
        )
    names = _names(fmt)
    missing = [
        names[key]
        for key, f in FIELDS.items()
        if f.required and names[key] not in header and key != "country"
    ]
    if missing:
        raise ExportError(
            f"{source_name}: required column(s) {', '.join(f'`{m}`' for m in missing)} missing from the "
            f"header of this {'CSV download' if fmt == 'csv' else 'API-format'} export; export again with "
            "all columns (the Station Locator's full CSV, or the API with no `fields` filter)"
        )
    return fmt


def _json_cell(value: Any) -> str:
    # The JSON answer has numbers and nulls where the CSV has text; the CSV rules then apply as is.
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _normalise(
    records: Iterable[tuple[str, dict[str, str]]],
    *,
    source_name: str,
    export_format: ExportFormat,
    present: set[str],
    aliases: Mapping[str, str],
    snapshot_date: dt.date | str | None,
    default_country: str | None,
) -> ParsedExport:
    col = _names(export_format)
    if "country" not in present and not default_country:
        raise ExportError(
            f"{source_name}: column `{col['country']}` is missing; pass default_country='US' or 'CA' "
            "(the country the export was filtered on) or export again with all columns"
        )
    if default_country and not re.fullmatch(r"[A-Za-z]{2}", default_country):
        raise ExportError(
            f"{source_name}: default_country must be a two-letter code, not {default_country!r}"
        )

    rows: list[SpineRow] = []
    seen: dict[int, str] = {}
    skipped: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    latest: dt.date | None = None
    data_rows = 0

    for where, cell in records:
        data_rows += 1

        def fail(key: str, problem: str, fix: str, where: str = where) -> ExportError:
            return ExportError(f"{source_name}: {where}, column `{col[key]}`: {problem}; {fix}")

        fuel = cell["fuel_type"].strip().upper()
        if fuel != "ELEC":
            skipped[fuel or "(blank)"] += 1
            continue

        id_text = cell["id"].strip()
        if not re.fullmatch(r"\d+", id_text):
            raise fail("id", f"{id_text!r} is not a whole number", "the export is damaged; download it again")
        station_id = int(id_text)
        if station_id in seen:
            raise fail(
                "id",
                f"station ID {station_id} appears again (first at {seen[station_id]})",
                "AFDC IDs are unique per export: the file was concatenated or edited; download it again",
            )
        seen[station_id] = where

        status = cell["status_code"].strip().upper()
        if not status or len(status) != 1:
            raise fail(
                "status_code",
                f"{cell['status_code']!r} is not a one-letter status (E, P, T)",
                "download the export again",
            )
        access = cell["access_code"].strip().lower()
        if not access or len(access) > 16:
            raise fail(
                "access_code",
                f"{cell['access_code']!r} is not an access code (public, private)",
                "download the export again",
            )
        country = (cell["country"].strip() or (default_country or "")).upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise fail(
                "country",
                f"{cell['country']!r} is not a two-letter country code",
                "pass default_country for exports without it, or download the export again",
            )

        label = cell["ev_network"].strip()
        if len(label) > _NETWORK_MAX:
            raise fail(
                "ev_network",
                f"the label is longer than {_NETWORK_MAX} characters",
                "check the export; network labels are short names or codes",
            )
        network_key = aliases.get(label) if label else None
        if network_key is None:
            # Reported, never guessed: the curated table (paren_pulse/reference/networks.csv) decides.
            unknown[label] += 1

        dc = _count(cell["dc_fast_ports"], lambda p: fail("dc_fast_ports", p, _COUNT_FIX))
        l2 = _count(cell["level2_ports"], lambda p: fail("level2_ports", p, _COUNT_FIX))
        open_date = _date(cell["open_date"], lambda p: fail("open_date", p, _DATE_FIX))
        confirmed = _date(cell["date_last_confirmed"], lambda p: fail("date_last_confirmed", p, _DATE_FIX))
        updated = _date(cell["updated_at"], lambda p: fail("updated_at", p, _DATE_FIX))
        for candidate in (updated, confirmed):
            if candidate and (latest is None or candidate > latest):
                latest = candidate

        name = cell["station_name"].strip()
        state = cell["state"].strip().upper()
        pricing = cell["ev_pricing"].strip()
        rows.append(
            SpineRow(
                station_id=station_id,
                # Display-only columns are cut to the schema width rather than failing the load.
                station_name=name[:_STATION_NAME_MAX] or None,
                state=state[:_STATE_MAX] or None,
                country=country,
                status_code=status,
                access_code=access,
                ev_network=label or None,
                network_key=network_key,
                dc_fast_ports=dc,
                level2_ports=l2,
                open_date=open_date,
                date_last_confirmed=confirmed,
                ev_pricing=pricing or None,
            )
        )

    if not rows:
        raise ExportError(
            f"{source_name}: no electric (Fuel Type Code ELEC) stations in {data_rows} data rows; "
            "check the export's filters"
        )
    if snapshot_date is not None:
        chosen = _explicit_date(snapshot_date, source_name)
        derived = False
    elif latest is not None:
        chosen, derived = latest, True
    else:
        raise ExportError(
            f"{source_name}: no `{col['updated_at']}` or `{col['date_last_confirmed']}` values to date the "
            "snapshot; pass snapshot_date explicitly (the day the export was downloaded)"
        )
    return ParsedExport(
        source_name=source_name,
        export_format=export_format,
        snapshot_date=chosen,
        snapshot_date_derived=derived,
        rows=rows,
        data_rows=data_rows,
        skipped_fuel_rows=dict(sorted(skipped.items())),
        unknown_networks=dict(sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


_COUNT_FIX = "port counts are whole numbers >= 0 (empty means 0); download the export again"
_DATE_FIX = "dates are YYYY-MM-DD or M/D/YYYY; download the export again instead of re-saving it"
_FLOAT_COUNT = re.compile(r"\d+(\.0+)?")
# `2023-03-22`, `2023-03-22 15:46:57 UTC`, `2023-03-22T15:46:57Z`: only the calendar date matters.
_ISO_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: ?UTC|Z|[+-]\d{2}:?\d{2})?)?"
)
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?(?: ?[AP]M)?)?")


def _count(text: str, fail: Any) -> int:
    value = text.strip()
    if not value:
        return 0
    # The API format writes counts as floats (`2.0`); a fractional or negative count is damage.
    if not _FLOAT_COUNT.fullmatch(value):
        raise fail(f"{value!r} is not a whole number of ports")
    return int(value.split(".")[0])


def _date(text: str, fail: Any) -> dt.date | None:
    value = text.strip()
    if not value:
        return None
    try:
        if m := _ISO_DATE.fullmatch(value):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if m := _US_DATE.fullmatch(value):
            return dt.date(int(m[3]), int(m[1]), int(m[2]))
    except ValueError:
        pass  # e.g. 2023-02-30: falls through to the error below
    raise fail(f"{value!r} is not a date")


def _explicit_date(value: dt.date | str, source_name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ExportError(f"{source_name}: snapshot_date {value!r} is not YYYY-MM-DD") from None


# ---------------------------------------------------------------------------------------------
# Loading


def load_snapshot(catalog: CatalogResource, parsed: ParsedExport) -> LoadSummary:
    """Write one snapshot, all or nothing: delete the date's rows, insert the new ones, record the
    load. A re-load of the same date replaces it; a failure leaves the previous state untouched."""
    day = parsed.snapshot_date.isoformat()
    loaded_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    source = parsed.source_name[:_SOURCE_MAX]
    with catalog.transaction() as cur:
        replaced = cur.run("mysql/spine_delete_snapshot", {"snapshot_date": day})
        inserted = cur.run_many(
            "mysql/spine_insert_row", [r.params(parsed.snapshot_date) for r in parsed.rows]
        )
        # Recorded last: infrastructure SQL reads only snapshots listed in afdc_spine_loads.
        cur.run(
            "mysql/spine_record_load",
            {"snapshot_date": day, "source": source, "row_count": inserted, "loaded_at": loaded_at},
        )
        in_scope = cur.fetch("mysql/infrastructure_spine", {"snapshot_date": day})
    return LoadSummary(
        snapshot_date=parsed.snapshot_date,
        source=source,
        rows_inserted=inserted,
        rows_replaced=max(replaced, 0),
        loaded_at=loaded_at,
        in_scope=in_scope,
    )


def read_aliases(catalog: CatalogResource) -> dict[str, str]:
    """The curated alias -> network_key mapping from the catalog (network_aliases)."""
    return {str(r["alias"]): str(r["network_key"]) for r in catalog.query("mysql/network_aliases_all")}


# ---------------------------------------------------------------------------------------------
# NREL API


def redact(text: str, secret: str | None) -> str:
    """Remove an API key from a message, whether it appears raw or URL-encoded."""
    if not secret:
        return text
    for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}:
        text = text.replace(form, "***")
    return re.sub(r"(api_key=)[^&\s\"']+", r"\1***", text)


def fetch_from_nrel(
    api_key: str,
    *,
    base_url: str = NREL_BASE_URL,
    countries: Sequence[str] = ("US", "CA"),
    status: str = "all",
    access: str = "all",
    timeout: float = 300.0,
    aliases: Mapping[str, str] | None = None,
    snapshot_date: dt.date | str | None = None,
) -> ParsedExport:
    """Fetch every electric station for `countries` from the AFDC API and parse it.

    One request per country (the API takes one country at a time). The key travels only in the
    query string and is redacted from every message this function raises.
    """
    if not api_key:
        raise ExportError(
            "NREL API: no API key; set NREL_API_KEY (free at https://developer.nrel.gov/signup/)"
        )
    records: list[Mapping[str, Any]] = []
    for country in countries:
        params = {
            "fuel_type": "ELEC",
            "country": country,
            "status": status,
            "access": access,
            "limit": "all",
            "api_key": api_key,
        }
        url = f"{base_url}?{urllib.parse.urlencode(params)}"
        shown = redact(url, api_key)
        body = _http_get(url, shown, api_key, timeout)
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ExportError(f"NREL API {shown}: the answer is not JSON ({exc}); retry later") from None
        stations = payload.get("fuel_stations") if isinstance(payload, dict) else None
        if not isinstance(stations, list):
            got = ", ".join(sorted(payload)) if isinstance(payload, dict) else type(payload).__name__
            raise ExportError(f"NREL API {shown}: the answer has no `fuel_stations` list (got: {got})")
        total = payload.get("total_results")
        if isinstance(total, int) and total != len(stations):
            # limit=all should return everything; fewer records means a cut-off answer.
            raise ExportError(
                f"NREL API {shown}: total_results says {total} but {len(stations)} records came back; retry"
            )
        records.extend(stations)
    query = f"fuel_type=ELEC, country={','.join(countries)}, status={status}, access={access}"
    name = f"NREL API {base_url} ({query})"
    return parse_api_records(records, source_name=name, aliases=aliases, snapshot_date=snapshot_date)


def _http_get(url: str, shown: str, api_key: str, timeout: float) -> bytes:
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "Accept-Encoding": "gzip", "User-Agent": "paren-pulse"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read()
            if response.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            return body
    except urllib.error.HTTPError as exc:
        detail = redact(exc.read(500).decode("utf-8", "replace"), api_key)
        hint = {
            401: "check NREL_API_KEY",
            403: "check NREL_API_KEY (invalid or disabled key)",
            429: "the key's hourly rate limit is used up; retry in an hour",
        }.get(
            exc.code, "retry later; see https://developer.nrel.gov/docs/transportation/alt-fuel-stations-v1/"
        )
        # `from None`: the HTTPError carries the full URL (with the key) in its attributes.
        raise ExportError(
            f"NREL API {shown}: HTTP {exc.code} {exc.reason}: {detail.strip()} - {hint}"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = redact(str(getattr(exc, "reason", exc)), api_key)
        raise ExportError(
            f"NREL API {shown}: request failed ({reason}); check the network and retry"
        ) from None
