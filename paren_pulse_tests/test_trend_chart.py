"""The weekly trend chart: the series from the history store, the PNG, and its delivery into the
week's Slack thread (exactly one chart per week, whatever fails) through real materializations
against the loopback fake.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import matplotlib as mpl
import matplotlib.image as mpimg
import pytest
from slack_sdk import WebClient

from paren_pulse import constants as c
from paren_pulse.assets.infrastructure import weekly_infrastructure
from paren_pulse.assets.pricing import weekly_pricing
from paren_pulse.assets.reporting import chart_path, weekly_slack_report, weekly_snapshot
from paren_pulse.assets.utilization import weekly_utilization
from paren_pulse.charts import TrendData, TrendSeries, render_trend_png, trend_series
from paren_pulse.metrics import MetricRow
from paren_pulse.resources.history import ParquetHistoryStore
from paren_pulse.resources.reports import ReportStore
from paren_pulse.resources.slack import WEEKLY_EVENT_TYPE, SlackResource
from paren_pulse.settings import DemoPaths
from paren_pulse_tests import fixtures
from paren_pulse_tests.conftest import build_materialized_home, demo_style_resources
from paren_pulse_tests.slack_fake import UPLOAD, FakeSlack
from paren_pulse_tests.test_slack_delivery import CHANNEL, TOKEN, slack_for

ASSETS = [weekly_infrastructure, weekly_utilization, weekly_pricing, weekly_snapshot, weekly_slack_report]
STEP = "weekly_slack_report"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WEEK = dt.timedelta(days=7)


# --- trend_series over a history store filled by hand -------------------------------------------


def _rows(metric: str, us: float | None, ca: float | None) -> list[MetricRow]:
    """Aggregate rows per country, plus a Tesla row that must not be mistaken for the aggregate."""
    return [
        MetricRow(c.US, c.AGGREGATE, metric, us),
        MetricRow(c.US, c.TESLA, metric, 1.0),
        MetricRow(c.CA, c.AGGREGATE, metric, ca),
        MetricRow(c.CA, c.TESLA, metric, 1.0),
    ]


def test_trend_series_reads_the_history_and_keeps_gaps(tmp_path: Path) -> None:
    report = dt.date(2025, 3, 31)
    history = ParquetHistoryStore(root=str(tmp_path / "history"))

    def put(category: str, week: dt.date, metric: str, us: float | None, ca: float | None) -> None:
        history.write_week(category, week, week + 6 * WEEK / 7, _rows(metric, us, ca), week.isoformat(), "r")

    # Tracked ports: the report week, two before it, then a hole (3 weeks back), one 4 back,
    # the oldest week of the window, one just outside it and one after the report week.
    infra = {0: (1000, 100), 1: (990, 98), 2: (985, 97), 4: (970, 95), 11: (900, 80)}
    for back, (us, ca) in infra.items():
        put(c.INFRASTRUCTURE, report - back * WEEK, c.TRACKED_PORTS, us, ca)
    put(c.INFRASTRUCTURE, report - 12 * WEEK, c.TRACKED_PORTS, 1, 1)  # 13 weeks back: outside
    put(c.INFRASTRUCTURE, report + WEEK, c.TRACKED_PORTS, 2, 2)  # after the report week
    # Sessions lag: newest stored week on or before the report is one week earlier; a week whose
    # US aggregate is unknown (None) and a later week are stored too.
    put(c.UTILIZATION, report - 1 * WEEK, c.SESSIONS, 5000, 700)
    put(c.UTILIZATION, report - 2 * WEEK, c.SESSIONS, 4800, 650)
    put(c.UTILIZATION, report - 5 * WEEK, c.SESSIONS, None, 600)
    put(c.UTILIZATION, report + WEEK, c.SESSIONS, 9, 9)

    data = trend_series(history, report)

    assert data.week == report
    ports = data.tracked_ports
    assert ports.weeks == tuple(report - k * WEEK for k in range(11, -1, -1))
    expected_us = tuple(float(infra[k][0]) if k in infra else None for k in range(11, -1, -1))
    expected_ca = tuple(float(infra[k][1]) if k in infra else None for k in range(11, -1, -1))
    assert ports.values[c.US] == expected_us
    assert ports.values[c.CA] == expected_ca
    assert ports.values[c.US][-4] is None  # the hole 3 weeks back is a gap, not a zero

    sessions = data.sessions
    util_end = report - WEEK
    assert sessions.weeks == tuple(util_end - k * WEEK for k in range(11, -1, -1))
    assert sessions.values[c.US][-2:] == (4800.0, 5000.0)
    assert sessions.values[c.CA][-2:] == (650.0, 700.0)
    assert sessions.values[c.US][-5] is None and sessions.values[c.CA][-5] == 600.0  # unknown stays None
    assert sessions.values[c.US][:-5] == (None,) * 7 and sessions.values[c.US][-4:-2] == (None, None)
    assert 0.0 not in sessions.values[c.US]

    # Fewer weeks on request; none stored at all gives empty series that still render.
    assert trend_series(history, report, weeks=2).tracked_ports.values[c.US] == (990.0, 1000.0)
    empty = trend_series(ParquetHistoryStore(root=str(tmp_path / "none")), report)
    assert empty.sessions.weeks == () and not empty.tracked_ports.has_data
    assert render_trend_png(empty).startswith(PNG_SIGNATURE)


# --- the PNG ---------------------------------------------------------------------------------------


@functools.cache
def _sample_png() -> bytes:
    return render_trend_png(_sample())


def _sample(shift: float = 0.0) -> TrendData:
    report = dt.date(2025, 3, 31)
    weeks = tuple(report - k * WEEK for k in range(11, -1, -1))
    return TrendData(
        week=report,
        sessions=TrendSeries(
            c.SESSIONS,
            "Successful sessions per week",
            tuple(w - WEEK for w in weeks),
            {
                c.US: tuple(None if i == 4 else 12_000 + 800 * i + shift for i in range(12)),
                c.CA: tuple(2_000 + 40 * i for i in range(12)),
            },
        ),
        tracked_ports=TrendSeries(
            c.TRACKED_PORTS,
            "Tracked DC fast ports",
            weeks,
            {c.US: tuple(31_000 + 100 * i for i in range(12)), c.CA: (None,) * 3 + (5_200,) * 9},
        ),
    )


def test_png_is_valid_sized_and_deterministic() -> None:
    png = render_trend_png(_sample())
    assert png.startswith(PNG_SIGNATURE)
    pixels = mpimg.imread(io.BytesIO(png), format="png")
    assert pixels.shape[:2] == (560, 1000)
    from PIL import Image  # a matplotlib dependency

    with Image.open(io.BytesIO(png)) as image:
        image.verify()
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (1000, 560) and image.format == "PNG"
        assert "Software" not in image.info  # no matplotlib version stamp

    # Same data, same bytes: also under a different local style, which must not leak in.
    with mpl.rc_context({"font.size": 6, "lines.linewidth": 0.3, "axes.facecolor": "black"}):
        assert render_trend_png(_sample()) == png
    assert mpl.rcParams["font.size"] != 15  # the renderer restored the caller's settings
    assert render_trend_png(_sample(shift=1.0)) != png


# --- delivery: real materializations against the fake ------------------------------------------------


@pytest.fixture(scope="module")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> DemoPaths:
    """The hand fixture with both weeks materialized once (without posting): history, snapshots
    and the snapshots' charts."""
    return build_materialized_home(tmp_path_factory.mktemp("chart"))


@pytest.fixture
def home(built_home: DemoPaths, tmp_path: Path) -> DemoPaths:
    """Per test: the warehouse shared (read only), history and snapshots copied (tests change them)."""
    paths = DemoPaths(tmp_path / "home")
    paths.home.mkdir(parents=True)
    (paths.home / "warehouse").symlink_to(built_home.warehouse, target_is_directory=True)
    shutil.copytree(built_home.history_dir, paths.history_dir)
    shutil.copytree(built_home.snapshots_dir, paths.snapshots_dir)
    return paths


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN, slow_seconds=1.6) as server:
        yield server


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    """One instance for the module (each test inspects only its own runs): creating one per test
    costs seconds on a busy machine."""
    with dg.instance_for_test() as inst:
        yield inst


def materialize(
    paths: DemoPaths,
    fake: FakeSlack,
    instance: dg.DagsterInstance,
    *,
    full: bool = False,
    slack: SlackResource | None = None,
) -> dg.ExecuteInJobResult:
    resources = demo_style_resources(paths)
    resources["slack"] = slack or slack_for(paths, fake)
    if not full:
        resources = {key: resources[key] for key in ("slack", "reports")}
    return dg.materialize(
        ASSETS if full else [weekly_slack_report],
        partition_key=fixtures.W1,
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )


def the_message(fake: FakeSlack) -> dict[str, Any]:
    [message] = [
        m
        for m in fake.top_level(CHANNEL)
        if (m.get("metadata") or {}).get("event_type") == WEEKLY_EVENT_TYPE
        and m["metadata"]["event_payload"]["week"] == fixtures.W1
    ]
    return message


def the_chart(fake: FakeSlack) -> bytes:
    """Asserts the week's thread holds exactly one file and returns its bytes."""
    [shared] = fake.thread_files(CHANNEL, the_message(fake)["ts"])
    data = fake.files[shared["id"]].data
    assert data is not None
    return data


def step_retries(result: dg.ExecuteInJobResult) -> int:
    return sum(
        1 for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY" and e.step_key == STEP
    )


def metadata_of(result: dg.ExecuteInJobResult, node: str) -> dict[str, Any]:
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def snapshot_png(paths: DemoPaths) -> bytes:
    return chart_path(ReportStore(root=str(paths.snapshots_dir)), fixtures.W1).read_bytes()


def test_trend_series_over_the_materialized_hand_fixture(home: DemoPaths) -> None:
    data = trend_series(ParquetHistoryStore(root=str(home.history_dir)), dt.date.fromisoformat(fixtures.W1))
    # Worked out in fixtures.py: W0 then W1, the ten weeks before them never stored (gaps).
    assert data.tracked_ports.values[c.US][-2:] == (21.0, 23.0)
    assert data.tracked_ports.values[c.CA][-2:] == (13.0, 15.0)
    assert data.sessions.values[c.US][-2:] == (6.0, 8.0)
    assert data.sessions.values[c.CA][-2:] == (1.0, 3.0)
    assert data.sessions.values[c.US][:-2] == (None,) * 10


def test_post_carries_one_chart_and_reruns_keep_it_one(
    home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    first = materialize(home, fake, instance, full=True)
    assert first.success
    png = snapshot_png(home)
    # The snapshot shows the chart in the UI as a Markdown image of exactly that file.
    snap = metadata_of(first, "weekly_snapshot")
    prefix = "![trend](data:image/png;base64,"
    assert snap["chart"].startswith(prefix) and snap["chart"].endswith(")")
    assert base64.b64decode(snap["chart"][len(prefix) : -1]) == png
    assert snap["chart_path"] == str(chart_path(ReportStore(root=str(home.snapshots_dir)), fixtures.W1))
    # The Slack post: one message, one chart in its thread, the very bytes of the snapshot's PNG.
    assert the_chart(fake) == png
    meta = metadata_of(first, STEP)
    assert meta["chart"] == "uploaded" and meta["chart_location"] in fake.files
    [shared] = fake.thread_files(CHANNEL, the_message(fake)["ts"])
    assert shared["name"] == f"paren_pulse_trend_{fixtures.W1}_{hashlib.sha256(png).hexdigest()[:12]}.png"
    # The bytes went to the upload_url the server handed out, without the token.
    assert [u.authorization for u in fake.uploads] == [None]

    second = materialize(home, fake, instance)
    assert second.success and metadata_of(second, STEP)["chart"] == "unchanged"
    assert the_chart(fake) == png
    assert fake.count("files.getUploadURLExternal") == 1 and len(fake.uploads) == 1

    # Lost ledger: the thread scan still finds the chart by its name.
    (home.outbox_dir.parent / "slack_ledger.json").unlink()
    third = materialize(home, fake, instance)
    assert third.success and metadata_of(third, STEP)["chart"] == "unchanged"
    assert fake.count("files.getUploadURLExternal") == 1


def test_changed_chart_replaces_the_old_one(
    home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    assert materialize(home, fake, instance).success
    old_id = fake.thread_files(CHANNEL, the_message(fake)["ts"])[0]["id"]
    new_png = _sample_png()  # new numbers since the first post
    chart_path(ReportStore(root=str(home.snapshots_dir)), fixtures.W1).write_bytes(new_png)
    result = materialize(home, fake, instance)
    assert result.success and metadata_of(result, STEP)["chart"] == "replaced"
    assert the_chart(fake) == new_png
    assert old_id not in fake.files and fake.count("files.delete") == 1


@pytest.mark.parametrize(
    ("method", "fault"),
    [
        ("files.completeUploadExternal", "server_error_after_store"),  # shared, then a 500
        ("files.completeUploadExternal", "drop_after_store"),  # shared, then the connection dropped
        (UPLOAD, "server_error_after_store"),  # bytes stored, then a 500
        (UPLOAD, "drop_after_store"),
        ("files.getUploadURLExternal", "internal_error"),
    ],
)
def test_upload_faults_end_with_exactly_one_chart(
    method: str, fault: str, home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    fake.inject(method, fault)
    result = materialize(home, fake, instance)
    assert result.success
    assert step_retries(result) == 1  # the RetryPolicy re-ran the step from the lookup
    assert the_chart(fake) == snapshot_png(home)
    assert len(fake.top_level(CHANNEL)) == 1 and fake.count("chat.postMessage") == 1
    shared_before_failing = method == "files.completeUploadExternal"
    # A completion that was stored is found by the retry's thread scan and never repeated; one
    # that never happened is done once by the retry.
    assert fake.count("files.completeUploadExternal") == 1
    assert fake.count("files.getUploadURLExternal") == (1 if shared_before_failing else 2)
    assert metadata_of(result, STEP)["chart"] == ("unchanged" if shared_before_failing else "uploaded")


def test_lost_delete_during_a_replace_still_ends_with_one_chart(
    home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    assert materialize(home, fake, instance).success
    chart_path(ReportStore(root=str(home.snapshots_dir)), fixtures.W1).write_bytes(_sample_png())
    fake.inject("files.delete", "drop_after_store")
    result = materialize(home, fake, instance)
    assert result.success and step_retries(result) == 1
    assert the_chart(fake) == _sample_png()
    assert fake.count("files.getUploadURLExternal") == 2  # the new chart was uploaded once


def test_token_without_files_scope_posts_the_message_and_says_so(
    home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    fake.inject("files.getUploadURLExternal", "missing_scope")
    result = materialize(home, fake, instance)
    assert result.success and step_retries(result) == 0
    meta = metadata_of(result, STEP)
    assert meta["chart"] == "skipped" and "files:write" in meta["notes"]
    assert fake.thread_files(CHANNEL, the_message(fake)["ts"]) == []


def test_without_token_the_png_goes_to_the_outbox(
    home: DemoPaths, fake: FakeSlack, instance: dg.DagsterInstance
) -> None:
    result = materialize(home, fake, instance, slack=slack_for(home, fake, token=None))
    assert result.success
    png_file = home.outbox_dir / f"weekly_{fixtures.W1}.png"
    assert png_file.read_bytes() == snapshot_png(home)
    outbox = json.loads((home.outbox_dir / f"weekly_{fixtures.W1}.json").read_text(encoding="utf-8"))
    assert outbox["chart"] == png_file.name
    meta = metadata_of(result, STEP)
    assert (meta["chart"], meta["chart_location"]) == ("written", str(png_file))
    assert fake.count() == 0 and fake.uploads == []


def test_fake_speaks_the_sdks_files_upload_v2_flow(fake: FakeSlack) -> None:
    """slack_sdk's own files_upload_v2 runs against the fake: base_url for both API steps, the
    server's upload_url for the bytes (what the resource's step-by-step flow mirrors)."""
    client = WebClient(token=TOKEN, base_url=fake.base_url, retry_handlers=[])
    parent = client.chat_postMessage(channel=CHANNEL, text="parent")["ts"]
    png = _sample_png()
    response = client.files_upload_v2(
        channel=CHANNEL, thread_ts=parent, content=png, filename="trend.png", title="Trend"
    )
    assert response["file"]["title"] == "Trend"
    [shared] = fake.thread_files(CHANNEL, parent)
    assert shared["name"] == "trend.png" and fake.files[shared["id"]].data == png
    assert [c.method for c in fake.calls][1:] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
