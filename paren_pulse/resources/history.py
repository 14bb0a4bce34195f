"""Metrics history: one row per (category, week, country, segment, metric).

Production keeps it in a ClickHouse table; the demo keeps one Parquet file per category and
week. Both replace a week as a whole in one atomic step (a single ClickHouse insert; a file
rename), so a re-run never duplicates a week and a failed run never leaves half of one.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd

from paren_pulse.files import write_atomic
from paren_pulse.metrics import MetricRow
from paren_pulse.resources.catalog import SourceError
from paren_pulse.resources.clickhouse import ClickHouseResource

HISTORY_COLUMNS = ("country", "segment", "metric", "value")

# ClickHouse targets (by describe()) whose history table this process already ensured.
_CLICKHOUSE_READY: set[str] = set()


@dataclass(frozen=True)
class StoredWeek:
    """A category's stored week: its rows plus when and by which run it was written."""

    category: str
    week_start: dt.date
    as_of: dt.date
    rows: list[MetricRow]
    partition_key: str
    run_id: str
    computed_at: dt.datetime


class HistoryStore(dg.ConfigurableResource):
    """Interface of both stores."""

    def describe(self) -> str:
        raise NotImplementedError

    def write_week(
        self,
        category: str,
        week_start: dt.date,
        as_of: dt.date,
        rows: Sequence[MetricRow],
        partition_key: str,
        run_id: str,
    ) -> None:
        raise NotImplementedError

    def read_week(self, category: str, week_start: dt.date) -> StoredWeek | None:
        raise NotImplementedError

    def stored_weeks(self, category: str, start: dt.date, end: dt.date) -> list[dt.date]:
        """Week starts in [start, end] that hold rows for the category, ascending."""
        raise NotImplementedError

    def ensure_ready(self) -> None:
        """Create what the store needs; raise SourceError when it is not writable."""

    def latest_week_on_or_before(self, category: str, day: dt.date) -> dt.date | None:
        weeks = self.stored_weeks(category, dt.date(2000, 1, 3), day)
        return weeks[-1] if weeks else None


class ParquetHistoryStore(HistoryStore):
    """Demo store: `<root>/<category>/<week_start>.parquet`, replaced by atomic rename."""

    root: str

    def describe(self) -> str:
        return f"Parquet history at {self.root}"

    def _path(self, category: str, week_start: dt.date) -> Path:
        return Path(self.root) / category / f"{week_start.isoformat()}.parquet"

    def ensure_ready(self) -> None:
        try:
            Path(self.root).mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root):
                pass
        except OSError as exc:
            raise SourceError(f"history store ({self.root}) is not writable: {exc}") from exc

    def write_week(
        self,
        category: str,
        week_start: dt.date,
        as_of: dt.date,
        rows: Sequence[MetricRow],
        partition_key: str,
        run_id: str,
    ) -> None:
        frame = pd.DataFrame(
            [(r.country, r.segment, r.metric, r.value) for r in rows], columns=list(HISTORY_COLUMNS)
        )
        frame["value"] = frame["value"].astype("float64")
        meta = {
            "as_of": as_of.isoformat(),
            "partition_key": partition_key,
            "run_id": run_id,
            "computed_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        for key, value in meta.items():
            frame[key] = value
        # One rename: readers see the old week or the new one, never half of it.
        write_atomic(self._path(category, week_start), frame.to_parquet(index=False))

    def read_week(self, category: str, week_start: dt.date) -> StoredWeek | None:
        path = self._path(category, week_start)
        if not path.exists():
            return None
        frame = pd.read_parquet(path)
        first = frame.iloc[0] if len(frame) else None
        rows = [
            MetricRow(str(country), str(segment), str(metric), None if value is None else float(value))
            for country, segment, metric, value in zip(
                frame["country"], frame["segment"], frame["metric"], _nullable(frame["value"]), strict=True
            )
        ]
        return StoredWeek(
            category=category,
            week_start=week_start,
            as_of=dt.date.fromisoformat(str(first["as_of"])) if first is not None else week_start,
            rows=rows,
            partition_key=str(first["partition_key"]) if first is not None else "",
            run_id=str(first["run_id"]) if first is not None else "",
            computed_at=dt.datetime.fromisoformat(str(first["computed_at"]))
            if first is not None
            else dt.datetime.now(dt.UTC),
        )

    def stored_weeks(self, category: str, start: dt.date, end: dt.date) -> list[dt.date]:
        folder = Path(self.root) / category
        if not folder.is_dir():
            return []
        weeks = []
        for path in folder.glob("*.parquet"):
            try:
                week = dt.date.fromisoformat(path.stem)
            except ValueError:
                continue
            if start <= week <= end:
                weeks.append(week)
        return sorted(weeks)


def _nullable(values: pd.Series) -> list[float | None]:
    """Parquet NaN back to None (a stored undefined ratio)."""
    return [None if pd.isna(v) else float(v) for v in values.tolist()]


class ClickHouseHistoryStore(HistoryStore):
    """Production store: the `metrics_history` ReplacingMergeTree table."""

    # A nested resource (not ResourceDependency[...], which rejects a resource instance and made
    # production_resources() fail to build): the store shares the configured ClickHouse.
    clickhouse: ClickHouseResource
    table: str = "metrics_history"

    def describe(self) -> str:
        return f"{self.table} in {self.clickhouse.describe()}"

    def ensure_ready(self) -> None:
        self.clickhouse.command("clickhouse/history_schema")
        _CLICKHOUSE_READY.add(self.clickhouse.describe())

    def _ready(self) -> None:
        # The table is the project's own: nothing else creates it on a fresh server, so the
        # first read or write in a process creates it (CREATE TABLE IF NOT EXISTS, once).
        if self.clickhouse.describe() not in _CLICKHOUSE_READY:
            self.ensure_ready()

    def write_week(
        self,
        category: str,
        week_start: dt.date,
        as_of: dt.date,
        rows: Sequence[MetricRow],
        partition_key: str,
        run_id: str,
    ) -> None:
        self._ready()
        computed_at = dt.datetime.now(dt.UTC)
        data = [
            [
                category,
                week_start,
                r.country,
                r.segment,
                r.metric,
                r.value,
                as_of,
                partition_key,
                run_id,
                computed_at,
            ]
            for r in rows
        ]
        self.clickhouse.insert_rows(
            self.table,
            data,
            (
                "category",
                "week_start",
                "country",
                "segment",
                "metric",
                "value",
                "as_of",
                "partition_key",
                "run_id",
                "computed_at",
            ),
        )

    def read_week(self, category: str, week_start: dt.date) -> StoredWeek | None:
        self._ready()
        found = self.clickhouse.query_rows(
            "clickhouse/history_read_week", {"category": category, "week_start": week_start}
        )
        if not found:
            return None
        first = found[0]
        return StoredWeek(
            category=category,
            week_start=week_start,
            as_of=dt.date.fromisoformat(first["as_of"]),
            rows=[MetricRow(r["country"], r["segment"], r["metric"], r["value"]) for r in found],
            partition_key=first["partition_key"],
            run_id=first["run_id"],
            computed_at=dt.datetime.fromisoformat(first["computed_at"]),
        )

    def stored_weeks(self, category: str, start: dt.date, end: dt.date) -> list[dt.date]:
        self._ready()
        found = self.clickhouse.query_rows(
            "clickhouse/history_weeks", {"category": category, "start": start, "end": end}
        )
        return [dt.date.fromisoformat(r["week_start"]) for r in found]
