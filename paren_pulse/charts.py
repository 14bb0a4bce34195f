"""The weekly trend chart: sessions and tracked DC fast ports per country over the last 12 weeks.

`trend_series` reads the metrics history (no engines, no Dagster); `render_trend_png` draws it
with matplotlib's Agg canvas and is deterministic: the same data gives the same bytes (fixed size
and fonts, matplotlib's own defaults whatever the local matplotlibrc says, no timestamp or
software version in the PNG), so a re-run can tell "unchanged" from the file's hash.

Each panel covers 12 consecutive weeks. Ports end at the report week; sessions end at the newest
stored utilization week on or before it (utilization lags, so a window ending at the report week
would end in empty weeks). A week without stored rows, or with an unknown aggregate, is a gap in
the line, never a zero.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from paren_pulse import constants as c
from paren_pulse import metrics
from paren_pulse.resources.history import HistoryStore

TREND_WEEKS = 12
# 1000 x 560 px: wide enough for 12 labelled weeks per panel, and Slack scales it to the screen.
FIGURE_INCHES = (10.0, 5.6)
DPI = 100
# Okabe-Ito blue and orange: distinguishable with every common colour-vision deficiency.
COUNTRY_COLORS: Mapping[str, str] = {c.US: "#0072B2", c.CA: "#E69F00"}
COUNTRY_MARKERS: Mapping[str, str] = {c.US: "o", c.CA: "s"}


@dataclass(frozen=True)
class TrendSeries:
    """One metric per country over consecutive weeks; None where the week has no number."""

    metric: str
    label: str
    weeks: tuple[dt.date, ...]
    values: Mapping[str, tuple[float | None, ...]]  # country -> one value per week

    @property
    def has_data(self) -> bool:
        return any(v is not None for values in self.values.values() for v in values)


@dataclass(frozen=True)
class TrendData:
    """What the chart shows for one report week."""

    week: dt.date
    sessions: TrendSeries
    tracked_ports: TrendSeries


def _window(end: dt.date, weeks: int) -> tuple[dt.date, ...]:
    return tuple(end - dt.timedelta(days=7 * i) for i in range(weeks - 1, -1, -1))


def _series(
    history: HistoryStore, category: str, metric: str, label: str, end: dt.date | None, weeks: int
) -> TrendSeries:
    """The aggregate (non-Tesla + Tesla) `metric` per country for the `weeks` weeks ending at `end`."""
    if end is None:
        return TrendSeries(metric, label, (), {country: () for country in c.COUNTRIES})
    window = _window(end, weeks)
    stored = set(history.stored_weeks(category, window[0], window[-1]))
    values: dict[str, list[float | None]] = {country: [] for country in c.COUNTRIES}
    for week in window:
        found = history.read_week(category, week) if week in stored else None
        per_country = metrics.from_rows(found.rows) if found is not None else {}
        for country in c.COUNTRIES:
            value = per_country.get(country, {}).get(c.AGGREGATE, {}).get(metric)
            values[country].append(None if value is None else float(value))
    return TrendSeries(metric, label, window, {k: tuple(v) for k, v in values.items()})


def trend_series(history: HistoryStore, week: dt.date, weeks: int = TREND_WEEKS) -> TrendData:
    """Sessions per country over the `weeks` weeks ending at the newest stored utilization week on
    or before `week`, and tracked ports per country over the `weeks` weeks ending at `week`."""
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, not {weeks}")
    util_end = history.latest_week_on_or_before(c.UTILIZATION, week)
    return TrendData(
        week=week,
        sessions=_series(history, c.UTILIZATION, c.SESSIONS, "Successful sessions per week", util_end, weeks),
        tracked_ports=_series(
            history, c.INFRASTRUCTURE, c.TRACKED_PORTS, "Tracked DC fast ports", week, weeks
        ),
    )


def _thousands(value: float, _pos: int | None = None) -> str:
    return f"{value:,.0f}"


def _short_date(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def _draw(ax: Axes, series: TrendSeries) -> None:
    ax.set_title(series.label, loc="left", fontweight="bold")
    if not series.weeks or not series.has_data:
        ax.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=ax.transAxes, color="#666666")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    x = list(range(len(series.weeks)))
    for country in c.COUNTRIES:
        # NaN breaks the line: a missing week shows as a gap, not a drop to zero.
        ys = [float("nan") if v is None else v for v in series.values[country]]
        ax.plot(
            x,
            ys,
            color=COUNTRY_COLORS[country],
            marker=COUNTRY_MARKERS[country],
            label=country,
            clip_on=False,
        )
        last = next(
            ((i, v) for i, v in reversed(list(enumerate(series.values[country]))) if v is not None), None
        )
        if last is not None:
            ax.annotate(
                _thousands(last[1]),
                xy=last,
                xytext=(0, 9),
                textcoords="offset points",
                ha="right",
                va="bottom",
                color=COUNTRY_COLORS[country],
                fontweight="bold",
                fontsize=13,
            )
    # Every 3rd week labelled, always ending on the newest: 12 labels do not fit a phone.
    step = 3 if len(x) > 6 else 1
    ticks = x[::-1][::step][::-1]
    ax.set_xticks(ticks, [_short_date(series.weeks[i]) for i in ticks])
    ax.set_xlim(-0.4, len(x) - 1 + 0.4)
    # From zero, with headroom for the newest values' labels.
    ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.12)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))


def render_trend_png(data: TrendData) -> bytes:
    """The chart as PNG bytes: 1000 x 560 px, two panels (sessions, tracked ports), same bytes for
    the same data."""
    with mpl.rc_context():
        mpl.rcdefaults()  # ignore any local matplotlibrc/style: the bytes must not depend on it
        # Large type: on a phone the 1000 px image is shown about a third of its size.
        mpl.rcParams.update(
            {
                "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs on every machine
                "font.size": 15,
                "axes.titlesize": 17,
                "axes.labelsize": 15,
                "xtick.labelsize": 13,
                "ytick.labelsize": 13,
                "legend.fontsize": 14,
                "lines.linewidth": 3.0,
                "lines.markersize": 7,
                "axes.spines.top": False,
                "axes.spines.right": False,
                "axes.grid": True,
                "axes.grid.axis": "y",
                "grid.color": "#dddddd",
            }
        )
        fig = Figure(figsize=FIGURE_INCHES, dpi=DPI)
        FigureCanvasAgg(fig)
        axes: Sequence[Axes] = fig.subplots(1, 2)
        _draw(axes[0], data.sessions)
        _draw(axes[1], data.tracked_ports)
        util_end = data.sessions.weeks[-1] if data.sessions.weeks else None
        span = max(len(data.sessions.weeks), len(data.tracked_ports.weeks)) or TREND_WEEKS
        subtitle = f"{span}-week trend, Tesla and non-Tesla together"
        if util_end is not None and util_end != data.week:
            subtitle += f"; sessions to week of {util_end.isoformat()}"
        fig.suptitle(f"Paren Pulse, week of {data.week.isoformat()}", x=0.02, ha="left", fontsize=20, y=0.98)
        fig.text(0.02, 0.885, subtitle, ha="left", fontsize=13, color="#444444")
        # One legend for both panels, top right: inside a panel it would cover a line.
        handles = [
            Line2D(
                [],
                [],
                color=COUNTRY_COLORS[k],
                marker=COUNTRY_MARKERS[k],
                linewidth=3,
                label=c.COUNTRY_NAMES[k],
            )
            for k in c.COUNTRIES
        ]
        fig.legend(handles=handles, loc="upper right", bbox_to_anchor=(0.99, 0.99), ncol=1, frameon=False)
        fig.subplots_adjust(left=0.08, right=0.97, top=0.80, bottom=0.10, wspace=0.25)
        buffer = io.BytesIO()
        # metadata={"Software": None}: no matplotlib version stamp, so the bytes depend on the data only.
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
