"""Pure reconciliation rules, table-driven."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from paren_pulse import constants as c
from paren_pulse import metrics, reconcile

CONFIG = reconcile.load_config()


@pytest.mark.parametrize(
    ("delta", "warn", "error", "expected"),
    [
        (0.0, 0.5, 2.0, "ok"),
        (0.5, 0.5, 2.0, "ok"),
        (0.6, 0.5, 2.0, "warn"),
        (2.0, 0.5, 2.0, "warn"),
        (2.01, 0.5, 2.0, "error"),
        (None, 0.5, 2.0, "error"),
        (0.1, 0.0, 0.5, "warn"),
    ],
)
def test_classify(delta: float | None, warn: float, error: float, expected: str) -> None:
    assert reconcile.classify(delta, warn, error) == expected


def infra(us_nt: int, us_t: int, ca_nt: int, ca_t: int) -> metrics.CountryMetrics:
    def rows(country: str, nt: int, t: int) -> list[dict[str, Any]]:
        return [
            {
                "country": country,
                "is_tesla": 0,
                c.SPINE_STATIONS: nt,
                c.SPINE_PORTS: nt * 4,
                c.TRACKED_STATIONS: nt,
                c.TRACKED_PORTS: nt * 4,
            },
            {
                "country": country,
                "is_tesla": 1,
                c.SPINE_STATIONS: t,
                c.SPINE_PORTS: t * 12,
                c.TRACKED_STATIONS: t,
                c.TRACKED_PORTS: t * 12,
            },
        ]

    r = rows("US", us_nt, us_t) + rows("CA", ca_nt, ca_t)
    return metrics.infrastructure(r, r, [])


def dashboard(values: metrics.CountryMetrics) -> metrics.CountryMetrics:
    shaped = copy.deepcopy(values)
    shaped["CA"][c.NON_TESLA] = dict(shaped["CA"][c.AGGREGATE])
    return shaped


def statuses(comparisons: list[reconcile.Comparison]) -> dict[str, str]:
    return {f"{x.country}.{x.segment}.{x.metric}": x.status for x in comparisons}


def test_known_difference_is_mapped_not_alarmed() -> None:
    ours = infra(9000, 2500, 1800, 271)
    result = statuses(reconcile.compare(c.INFRASTRUCTURE, ours, dashboard(ours), CONFIG))
    assert result["CA.non_tesla.spine_stations"] == "known"
    assert set(result.values()) == {"ok", "known"}


def test_known_difference_does_not_hide_real_drift() -> None:
    ours = infra(9000, 2500, 1800, 271)
    theirs = dashboard(infra(9000, 2500, 1850, 271))  # the dashboard has 50 more CA non-Tesla stations
    result = statuses(reconcile.compare(c.INFRASTRUCTURE, ours, theirs, CONFIG))
    assert result["CA.non_tesla.spine_stations"] == "error"
    assert result["US.aggregate.spine_stations"] == "ok"


def test_without_the_mapping_the_ca_cell_would_alarm() -> None:
    ours = infra(9000, 2500, 1800, 271)
    unmapped = reconcile.ReconciliationConfig(**{**CONFIG.__dict__, "known_differences": ()})
    assert (
        statuses(reconcile.compare(c.INFRASTRUCTURE, ours, dashboard(ours), unmapped))[
            "CA.non_tesla.spine_stations"
        ]
        == "error"
    )


def test_sessions_in_warning_band_warn() -> None:
    rows = [{"country": "US", "is_tesla": 0, "sessions": 100_000, "attempts": 115_000}]
    ref = [{"country": "US", "is_tesla": 0, "sessions": 100_500, "attempts": 115_000}]  # 0.5 % apart
    ours, theirs = metrics.utilization(rows, []), dashboard(metrics.utilization(ref, []))
    assert statuses(reconcile.compare(c.UTILIZATION, ours, theirs, CONFIG))["US.non_tesla.sessions"] == "warn"


@pytest.mark.parametrize(
    ("category", "mutate", "expected"),
    [
        (c.INFRASTRUCTURE, lambda v: v["US"][c.AGGREGATE].update({c.SPINE_STATIONS: 1}), "aggregate"),
        (c.INFRASTRUCTURE, lambda v: v["US"][c.TESLA].update({c.PORT_COVERAGE_PCT: 101.0}), "outside 0-100"),
        (c.INFRASTRUCTURE, lambda v: v["US"][c.TESLA].update({c.SPINE_PORTS: 1}), "ports 1 < stations"),
        (c.INFRASTRUCTURE, lambda v: v["CA"][c.TESLA].pop(c.SPINE_PORTS), "missing"),
        (c.UTILIZATION, lambda v: v["US"][c.TESLA].update({c.SUCCESS_RATE: 1.2}), "outside 0-1"),
        (c.UTILIZATION, lambda v: v["US"][c.TESLA].update({c.SESSIONS: 10**9}), "sessions"),
        (c.PRICING, lambda v: v["US"][c.TESLA].update({c.AVG_PRICE_PER_KWH: 4.5}), "plausible band"),
        (
            c.PRICING,
            lambda v: v["CA"][c.AGGREGATE].update({c.WRONG_CURRENCY_PORTS: 3}),
            "currency other than CAD",
        ),
    ],
)
def test_consistency_rules(category: str, mutate: Any, expected: str) -> None:
    values = good_values()[category]
    assert reconcile.consistency(category, values, CONFIG) == []
    mutate(values)
    problems = reconcile.consistency(category, values, CONFIG)
    assert any(expected in p for p in problems), problems


def good_values() -> dict[str, metrics.CountryMetrics]:
    util = [
        {"country": k, "is_tesla": t, "sessions": 900 + t, "attempts": 1000 + t}
        for k in ("US", "CA")
        for t in (0, 1)
    ]
    price = [
        {
            "country": k,
            "is_tesla": t,
            "price_sum": 0.5 * 10,
            "priced_ports": 10,
            "per_minute_only_ports": 0,
            "wrong_currency_ports": 0,
        }
        for k in ("US", "CA")
        for t in (0, 1)
    ]
    return {
        c.INFRASTRUCTURE: infra(9000, 2500, 1800, 271),
        c.UTILIZATION: metrics.utilization(util, util),
        c.PRICING: metrics.pricing(price),
    }


def test_anomaly_flags_big_jumps_only() -> None:
    util = [{"country": "US", "is_tesla": 0, "sessions": 150, "attempts": 160}]
    prev = [{"country": "US", "is_tesla": 0, "sessions": 100}]
    assert reconcile.anomalies(c.UTILIZATION, metrics.utilization(util, prev), None, CONFIG) == [
        "US: sessions +50.0% week over week"
    ]
    steady = [{"country": "US", "is_tesla": 0, "sessions": 105}]
    assert reconcile.anomalies(c.UTILIZATION, metrics.utilization(steady, prev), None, CONFIG) == []
