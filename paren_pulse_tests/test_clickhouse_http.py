"""Production ClickHouseResource over HTTP (the loopback endpoint) agrees with the embedded engine."""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paren_pulse import compute
from paren_pulse import constants as c
from paren_pulse.metrics import MetricRow
from paren_pulse.partitions import Week
from paren_pulse.resources.catalog import SourceError, SQLiteCatalogResource
from paren_pulse.resources.clickhouse import ClickHouseResource, EmbeddedClickHouseResource
from paren_pulse.resources.history import ClickHouseHistoryStore
from paren_pulse.sql import load_sql
from paren_pulse_tests import fixtures
from paren_pulse_tests.clickhouse_http import LoopbackClickHouse, endpoint_fixture

pytestmark = pytest.mark.integration


@pytest.fixture
def endpoint() -> Iterator[LoopbackClickHouse]:
    yield from endpoint_fixture()


def load_sessions(endpoint: LoopbackClickHouse, database: str) -> ClickHouseResource:
    """The contract table from sessions_schema.sql, filled with the fixture sessions over HTTP."""
    resource = endpoint.resource(database)
    client = resource.get_client()
    client.command(load_sql("clickhouse/sessions_schema"))
    client.insert_df("sessions", fixtures.session_frame())
    return resource


def test_utilization_and_frontier_match_the_embedded_engine(
    endpoint: LoopbackClickHouse, tmp_path: Path
) -> None:
    http = load_sessions(endpoint, endpoint.new_database())
    sessions_dir = tmp_path / "sessions"
    fixtures.write_sessions(sessions_dir)
    embedded = EmbeddedClickHouseResource(sessions_dir=str(sessions_dir))
    catalog_path = tmp_path / "catalog.sqlite"
    fixtures.write_sqlite_catalog(catalog_path)
    catalog = SQLiteCatalogResource(path=str(catalog_path))

    assert http.query_rows("clickhouse/sessions_frontier") == embedded.query_rows(
        "clickhouse/sessions_frontier"
    )
    params = {
        "tesla_networks": compute.tesla_networks(catalog),
        "countries": list(c.COUNTRIES),
        "from_ts": dt.datetime(2025, 1, 6),
        "until_ts": dt.datetime(2025, 1, 27),
    }
    http_rows = http.query_rows("clickhouse/utilization", params)
    assert http_rows == embedded.query_rows("clickhouse/utilization", params)
    assert len(http_rows) == 8  # W0, W1 and the week after, per country and segment present

    for key in (fixtures.W0, fixtures.W1):
        week = Week.from_key(key)
        over_http = compute.utilization(http, catalog, week)
        in_process = compute.utilization(embedded, catalog, week)
        assert over_http.values == in_process.values
        assert over_http.details == in_process.details
        assert over_http.data_week == in_process.data_week == week
    assert compute.sessions_frontier(http) == compute.sessions_frontier(embedded)


def test_typed_parameters_travel_server_side(endpoint: LoopbackClickHouse) -> None:
    client = endpoint.resource().get_client()
    result = client.query(
        "SELECT {names:Array(String)} AS names, {day:Date} AS day, "
        "{at:DateTime('UTC')} AS at, {n:UInt64} AS n",
        parameters={
            "names": ["a'b", "c"],
            "day": dt.date(2025, 1, 6),
            "at": dt.datetime(2025, 1, 6, 12),
            "n": 7,
        },
    )
    names, day, at, n = result.result_rows[0]
    assert names == ["a'b", "c"] and day == dt.date(2025, 1, 6) and n == 7
    assert at.replace(tzinfo=None) == dt.datetime(2025, 1, 6, 12)


def test_errors_carry_clickhouse_code_and_text(endpoint: LoopbackClickHouse) -> None:
    request = urllib.request.Request(
        endpoint.url + "/?database=default",
        data=b"SELECT * FROM no_such_table",
        method="POST",
        headers={"X-ClickHouse-User": endpoint.user, "X-ClickHouse-Key": endpoint.password},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 404
    assert caught.value.headers["X-ClickHouse-Exception-Code"] == "60"
    assert "UNKNOWN_TABLE" in caught.value.read().decode()

    with pytest.raises(SourceError) as error:
        endpoint.resource(endpoint.new_database()).query_rows("clickhouse/sessions_frontier")
    assert "UNKNOWN_TABLE" in str(error.value) and "paren-pulse doctor" in str(error.value)


def ordered(found: list[MetricRow]) -> list[MetricRow]:
    return sorted(found, key=lambda r: (r.country, r.segment, r.metric))


def rows(value: float) -> list[MetricRow]:
    return [
        MetricRow(country, segment, "sessions", value if segment != c.TESLA else None)
        for country in c.COUNTRIES
        for segment in c.SEGMENTS
    ]


def test_history_store_round_trip_and_replace(endpoint: LoopbackClickHouse) -> None:
    store = ClickHouseHistoryStore(clickhouse=endpoint.resource(endpoint.new_database()))
    w0, w1 = dt.date(2025, 1, 6), dt.date(2025, 1, 13)
    assert store.read_week(c.UTILIZATION, w0) is None  # creates the table on first use
    store.write_week(
        c.UTILIZATION, w0, dt.date(2025, 1, 12), rows(1.0), partition_key="2025-01-06", run_id="r1"
    )
    store.write_week(
        c.UTILIZATION, w1, dt.date(2025, 1, 19), rows(2.0), partition_key="2025-01-13", run_id="r2"
    )
    store.write_week(c.PRICING, w1, dt.date(2025, 1, 19), rows(0.5), partition_key="2025-01-13", run_id="r2")

    stored = store.read_week(c.UTILIZATION, w1)
    assert stored is not None
    assert (
        stored.run_id == "r2"
        and stored.partition_key == "2025-01-13"
        and stored.as_of == dt.date(2025, 1, 19)
    )
    assert ordered(stored.rows) == ordered(rows(2.0))
    assert store.stored_weeks(c.UTILIZATION, dt.date(2025, 1, 1), dt.date(2025, 2, 1)) == [w0, w1]
    assert store.stored_weeks(c.UTILIZATION, dt.date(2025, 1, 7), dt.date(2025, 1, 13)) == [w1]  # inclusive
    assert store.latest_week_on_or_before(c.UTILIZATION, dt.date(2025, 1, 12)) == w0

    # A re-run writes the whole week again: readers see only the newest write, never both.
    store.write_week(
        c.UTILIZATION, w1, dt.date(2025, 1, 19), rows(3.0)[:4], partition_key="2025-01-13", run_id="r3"
    )
    again = store.read_week(c.UTILIZATION, w1)
    assert again is not None and again.run_id == "r3"
    assert ordered(again.rows) == ordered(rows(3.0)[:4])
    assert len({(r.country, r.segment, r.metric) for r in again.rows}) == len(again.rows) == 4
    assert store.stored_weeks(c.UTILIZATION, w1, w1) == [w1]
    assert store.read_week(c.PRICING, w1) is not None and store.read_week(c.PRICING, w0) is None
    assert again.computed_at > stored.computed_at


def test_inserted_types_survive_the_http_round_trip(endpoint: LoopbackClickHouse) -> None:
    http = load_sessions(endpoint, endpoint.new_database())
    frame = http.get_client().query_df("SELECT * FROM sessions ORDER BY session_id")
    expected = fixtures.session_frame()
    assert len(frame) == len(expected)
    assert frame["session_id"].tolist() == expected["session_id"].tolist()
    got: list[Any] = [ts.isoformat() for ts in frame["started_at"].dt.tz_localize(None)]
    want: list[Any] = [ts.isoformat() for ts in expected["started_at"].dt.tz_localize(None)]
    assert got == want
    assert frame["network_key"].tolist() == expected["network_key"].tolist()
