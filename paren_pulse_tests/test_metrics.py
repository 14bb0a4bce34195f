"""Pure metric arithmetic, table-driven; expectations computed by hand."""

from __future__ import annotations

import pytest

from paren_pulse import constants as c
from paren_pulse import metrics


@pytest.mark.parametrize(
    ("num", "den", "scale", "expected"),
    [
        (3, 12, 100.0, 25.0),
        (23, 32, 100.0, 71.875),
        (0, 5, 1.0, 0.0),
        (5, 0, 1.0, None),
        (None, 3, 1.0, None),
        (3, None, 1.0, None),
    ],
)
def test_ratio(num: float | None, den: float | None, scale: float, expected: float | None) -> None:
    assert metrics.ratio(num, den, scale) == expected


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [(8, 6, 100 / 3), (3, 0, None), (0, 4, -100.0), (5, 5, 0.0), (None, 5, None)],
)
def test_pct_change(current: float | None, previous: float | None, expected: float | None) -> None:
    result = metrics.pct_change(current, previous)
    assert result == pytest.approx(expected) if expected is not None else result is None


def test_split_fills_missing_segments_with_zero_and_ignores_other_countries() -> None:
    rows = [
        {"country": "US", "is_tesla": 1, "n": 4},
        {"country": "US", "is_tesla": 1, "n": 1},  # a second row for the same cell adds up
        {"country": "MX", "is_tesla": 0, "n": 99},
    ]
    split = metrics.split_by_segment(rows, ("n",))
    assert split["US"] == {c.NON_TESLA: {"n": 0}, c.TESLA: {"n": 5}}
    assert split["CA"] == {c.NON_TESLA: {"n": 0}, c.TESLA: {"n": 0}}


def test_pricing_aggregate_is_port_weighted_not_mean_of_means() -> None:
    rows = [
        {
            "country": "US",
            "is_tesla": 1,
            "price_sum": 8.8,
            "priced_ports": 20,
            "per_minute_only_ports": 0,
            "wrong_currency_ports": 0,
        },
        {
            "country": "US",
            "is_tesla": 0,
            "price_sum": 1.8,
            "priced_ports": 3,
            "per_minute_only_ports": 0,
            "wrong_currency_ports": 0,
        },
    ]
    us = metrics.pricing(rows)["US"]
    assert us[c.TESLA][c.AVG_PRICE_PER_KWH] == pytest.approx(0.44)
    assert us[c.NON_TESLA][c.AVG_PRICE_PER_KWH] == pytest.approx(0.60)
    assert us[c.AGGREGATE][c.AVG_PRICE_PER_KWH] == pytest.approx(10.6 / 23)  # not (0.44 + 0.60) / 2
    assert metrics.pricing([])["CA"][c.AGGREGATE][c.AVG_PRICE_PER_KWH] is None


def test_infrastructure_without_previous_roster_reports_unknown_opened() -> None:
    spine = [{"country": "US", "is_tesla": 0, "spine_stations": 3, "spine_ports": 12}]
    tracked = [{"country": "US", "is_tesla": 0, "tracked_stations": 1, "tracked_ports": 3}]
    result = metrics.infrastructure(spine, tracked, None)
    assert result["US"][c.AGGREGATE][c.OPENED_THIS_WEEK] is None
    assert result["US"][c.NON_TESLA][c.PORT_COVERAGE_PCT] == 25.0
    assert result["US"][c.TESLA][c.PORT_COVERAGE_PCT] is None  # no Tesla spine ports: undefined, not 0


def test_utilization_success_rate_and_wow() -> None:
    current = [
        {"country": "US", "is_tesla": 1, "sessions": 5, "attempts": 6},
        {"country": "US", "is_tesla": 0, "sessions": 3, "attempts": 5},
    ]
    previous = [
        {"country": "US", "is_tesla": 1, "sessions": 4},
        {"country": "US", "is_tesla": 0, "sessions": 2},
    ]
    us = metrics.utilization(current, previous)["US"]
    assert us[c.AGGREGATE][c.SESSIONS] == 8
    assert us[c.AGGREGATE][c.SUCCESS_RATE] == pytest.approx(8 / 11)
    assert us[c.AGGREGATE][c.SESSIONS_WOW_PCT] == pytest.approx(100 / 3)
    assert us[c.TESLA][c.SESSIONS_WOW_PCT] == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("us", "ca", "expected"),
    [(10, 5, 15), (None, 5, None), (0, 0, 0)],
)
def test_grand_total(us: int | None, ca: int | None, expected: int | None) -> None:
    per_country = {"US": {c.AGGREGATE: {c.SESSIONS: us}}, "CA": {c.AGGREGATE: {c.SESSIONS: ca}}}
    assert metrics.grand_total(per_country, [c.SESSIONS]) == {c.SESSIONS: expected}


def test_grand_total_refuses_prices() -> None:
    with pytest.raises(ValueError, match="not additive"):
        metrics.grand_total({}, [c.AVG_PRICE_PER_KWH])


def test_rows_round_trip_keeps_counts_integral() -> None:
    values = {"US": {c.AGGREGATE: {c.SESSIONS: 12, c.SUCCESS_RATE: 0.5, c.SESSIONS_WOW_PCT: None}}}
    back = metrics.from_rows(metrics.to_rows(values))
    assert back == values
    assert isinstance(back["US"][c.AGGREGATE][c.SESSIONS], int)
