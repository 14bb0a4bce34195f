"""Names shared by SQL result handling, metric arithmetic, checks and the Slack renderer.

Everything that names a country, segment, category or metric is a constant here so a rename
is one edit and a typo is an import error, not a silently empty cell.
"""

from typing import Final

# Countries in scope, in message order.
US: Final = "US"
CA: Final = "CA"
COUNTRIES: Final = (US, CA)
COUNTRY_NAMES: Final = {US: "United States", CA: "Canada"}
# Prices are reported in local currency and never converted (domain brief, pricing).
CURRENCY: Final = {US: "USD", CA: "CAD"}

# Segments. Aggregate is always Non-Tesla + Tesla, never a third query.
NON_TESLA: Final = "non_tesla"
TESLA: Final = "tesla"
AGGREGATE: Final = "aggregate"
SEGMENTS: Final = (NON_TESLA, TESLA, AGGREGATE)
SEGMENT_LABELS: Final = {NON_TESLA: "Non-Tesla", TESLA: "Tesla", AGGREGATE: "Aggregate"}

# Categories (one weekly asset each).
INFRASTRUCTURE: Final = "infrastructure"
UTILIZATION: Final = "utilization"
PRICING: Final = "pricing"
CATEGORIES: Final = (INFRASTRUCTURE, UTILIZATION, PRICING)

# Infrastructure metrics.
SPINE_STATIONS: Final = "spine_stations"
SPINE_PORTS: Final = "spine_ports"
TRACKED_STATIONS: Final = "tracked_stations"
TRACKED_PORTS: Final = "tracked_ports"
PORT_COVERAGE_PCT: Final = "port_coverage_pct"
OPENED_THIS_WEEK: Final = "opened_this_week"
INFRASTRUCTURE_METRICS: Final = (
    SPINE_STATIONS,
    SPINE_PORTS,
    TRACKED_STATIONS,
    TRACKED_PORTS,
    PORT_COVERAGE_PCT,
    OPENED_THIS_WEEK,
)

# Utilization metrics.
SESSIONS: Final = "sessions"
ATTEMPTS: Final = "attempts"
SUCCESS_RATE: Final = "success_rate"
SESSIONS_PREV_WEEK: Final = "sessions_prev_week"
SESSIONS_WOW_PCT: Final = "sessions_wow_pct"
UTILIZATION_METRICS: Final = (SESSIONS, ATTEMPTS, SUCCESS_RATE, SESSIONS_PREV_WEEK, SESSIONS_WOW_PCT)

# Pricing metrics.
AVG_PRICE_PER_KWH: Final = "avg_price_per_kwh"
PRICED_PORTS: Final = "priced_ports"
PER_MINUTE_ONLY_PORTS: Final = "per_minute_only_ports"
WRONG_CURRENCY_PORTS: Final = "wrong_currency_ports"
PRICING_METRICS: Final = (AVG_PRICE_PER_KWH, PRICED_PORTS, PER_MINUTE_ONLY_PORTS, WRONG_CURRENCY_PORTS)

METRICS_BY_CATEGORY: Final = {
    INFRASTRUCTURE: INFRASTRUCTURE_METRICS,
    UTILIZATION: UTILIZATION_METRICS,
    PRICING: PRICING_METRICS,
}

# Metrics that are sums of counts: aggregate = non-Tesla + Tesla, and they enter the grand total.
ADDITIVE_METRICS: Final = frozenset(
    {
        SPINE_STATIONS,
        SPINE_PORTS,
        TRACKED_STATIONS,
        TRACKED_PORTS,
        OPENED_THIS_WEEK,
        SESSIONS,
        ATTEMPTS,
        SESSIONS_PREV_WEEK,
        PRICED_PORTS,
        PER_MINUTE_ONLY_PORTS,
        WRONG_CURRENCY_PORTS,
    }
)
# What the grand total (US + CA) carries, per category: additive counts only, never prices
# across currencies (each category keeps its own as-of date).
GRAND_TOTAL_BY_CATEGORY: Final = {
    INFRASTRUCTURE: (SPINE_STATIONS, SPINE_PORTS, TRACKED_STATIONS, TRACKED_PORTS, OPENED_THIS_WEEK),
    UTILIZATION: (SESSIONS, ATTEMPTS),
}
