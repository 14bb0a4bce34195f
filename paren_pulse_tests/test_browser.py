"""The operator's path in a real browser: backfill three weeks from the Dagster UI.

Builds a small demo warehouse, starts `dagster dev` (webserver + daemon, as an analyst would),
drives headless Chromium through the asset group page (Materialize all → partition range → Launch
backfill), waits for the backfill, and checks the result twice: in the UI (partitions materialized,
check results shown) and underneath (one history file per category per week, nothing posted).
Screenshots land in test-output/ for a human to look at.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from paren_pulse import constants as c
from paren_pulse.demo.generator import DemoConfig, build_demo_warehouse
from paren_pulse.partitions import Week
from paren_pulse.settings import DemoPaths

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = REPO / "test-output"
CATEGORY_ASSETS = ["weekly_infrastructure", "weekly_utilization", "weekly_pricing"]
# Flags headless Chromium needs as root in a container, and to stay off the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_TIMEOUT_S = 90
# Generous: on a loaded 2-core CI machine three runs took minutes, on an idle one under one.
BACKFILL_TIMEOUT_S = 480


def require_browser() -> None:
    """Skip without Chromium or Playwright, except under CI, where a missing browser is a failure."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium; scripts/services.sh does it)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[dev]')")
    if missing:
        reason = "real-browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason + " — CI is set, so this is a failure, not a skip")
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class DagsterDev:
    """A running `dagster dev` and how to reach it."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base_url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body: dict[str, Any] = json.loads(response.read())
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        data: dict[str, Any] = body["data"]
        return data

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole group (webserver, daemon, code servers, run workers), then SIGKILL.

    `dagster dev` can take >30 s to shut down on a signal (findings.md), so the wait is bounded.
    """
    # No early return when `dagster dev` itself has exited: its children may not have.
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass
    # Children that outlived their parent (run workers, code servers) are still in the group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass(frozen=True)
class DemoHome:
    paths: DemoPaths
    weeks: list[str]  # the three weeks to backfill, oldest first


@pytest.fixture(scope="module")
def demo_home() -> Iterator[DemoHome]:
    require_browser()
    root = Path(tempfile.mkdtemp(prefix="pp_browser_"))
    try:
        paths = DemoPaths(root / "home")
        summary = build_demo_warehouse(paths, DemoConfig(scale=0.002))
        assert summary.sessions_covered_through is not None
        # The newest week whose sessions have all landed, so utilization reports its own week
        # (later weeks fall back to it), then the two weeks before it.
        last_full = Week(
            summary.sessions_covered_through
            + dt.timedelta(days=1)
            - dt.timedelta(days=(summary.sessions_covered_through + dt.timedelta(days=1)).weekday())
            - dt.timedelta(days=7)
        )
        weeks = [Week(last_full.start - dt.timedelta(days=7 * i)).key for i in (2, 1, 0)]
        yield DemoHome(paths, weeks)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def dagster_dev(demo_home: DemoHome) -> Iterator[DagsterDev]:
    dagster_home = demo_home.paths.home / "dagster"
    dagster_home.mkdir(parents=True)
    # Three weeks, three runs at once: more only thrashes a small machine (each run spawns a
    # process per step).
    (dagster_home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: 3\n", encoding="utf-8"
    )
    port = free_port()
    env = dict(
        os.environ,
        PAREN_PULSE_HOME=str(demo_home.paths.home),
        PAREN_PULSE_ENV="demo",
        DAGSTER_HOME=str(dagster_home),
        DAGSTER_WEBSERVER_URL=f"http://127.0.0.1:{port}",
    )
    # No token: even a bug that posted would land in the outbox, which the test inspects.
    env.pop("SLACK_BOT_TOKEN", None)
    log = demo_home.paths.home / "dagster_dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(REPO / ".venv/bin/dagster"),
                "dev",
                "-w",
                "workspace.yaml",
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown reaches every child
        )
    server = DagsterDev(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_for_code_location(server)
        yield server
    finally:
        stop_process_group(process)


def wait_for_code_location(server: DagsterDev) -> None:
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    query = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"dagster dev exited early:\n{server.log_tail()}")
        try:
            if server.graphql(query)["repositoriesOrError"].get("nodes"):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, AssertionError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"dagster dev not ready after {SERVER_TIMEOUT_S} s:\n{server.log_tail()}")


def latest_backfill(server: DagsterDev) -> dict[str, Any] | None:
    data = server.graphql(
        """{ partitionBackfillsOrError(limit: 1) { ... on PartitionBackfills {
              results { id status numPartitions partitionNames assetSelection { path } } } } }"""
    )
    results: list[dict[str, Any]] = data["partitionBackfillsOrError"]["results"]
    return results[0] if results else None


def wait_for_backfill(server: DagsterDev, backfill_id: str) -> str:
    deadline = time.monotonic() + BACKFILL_TIMEOUT_S
    query = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
                 ... on PartitionBackfill { status } } }"""
    status = ""
    while time.monotonic() < deadline:
        status = server.graphql(query, {"id": backfill_id})["partitionBackfillOrError"]["status"]
        if status not in ("REQUESTED", "CANCELING", "FAILING"):
            return status
        time.sleep(1)
    raise AssertionError(f"backfill {backfill_id} still {status} after {BACKFILL_TIMEOUT_S} s")


def open_launch_dialog(page: Any) -> Any:
    """Click "Materialize all…" until its dialog is open.

    The community dialog of a fresh instance can pop up right over the first click (the locator
    handler dismisses it, but the click is lost), so the click is retried a few times.
    """
    from playwright.sync_api import expect

    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    for _ in range(3):
        page.get_by_role("button", name="Materialize all…").click()
        try:
            expect(dialog).to_be_visible(timeout=10_000)
            return dialog
        except AssertionError:
            continue
    expect(dialog).to_be_visible()
    return dialog


def test_backfill_three_weeks_from_the_ui(demo_home: DemoHome, dagster_dev: DagsterDev) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    # The UI polls and renders lazily; on a loaded CI machine 5 s (the default) is too tight.
    expect.set_options(timeout=30_000)
    weeks = demo_home.weeks
    with tempfile.TemporaryDirectory(prefix="pp_chromium_") as profile, sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            profile,  # a fresh --user-data-dir every time
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            page: Page = browser.new_page()
            page.set_default_timeout(30_000)
            # A fresh instance greets the first visitor with a newsletter dialog; dismiss it
            # whenever it shows up instead of guessing when.
            page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())

            # 1. The weekly_metrics group: the three category assets and their checks.
            page.goto(f"{dagster_dev.base_url}/locations/paren_pulse.definitions/asset-groups/weekly_metrics")
            for asset in CATEGORY_ASSETS:
                expect(page.get_by_text(asset, exact=True).first).to_be_visible()
            page.screenshot(path=str(OUTPUT / "browser_1_group.png"))

            # 2. Materialize all → the partition dialog → a range of three weeks → Launch backfill.
            dialog = open_launch_dialog(page)
            expect(dialog.get_by_text("Launch runs to materialize 3 assets")).to_be_visible()
            range_input = dialog.locator("input[type=text]").first
            range_input.fill(f"[{weeks[0]}...{weeks[-1]}]")
            range_input.press("Enter")
            expect(dialog.get_by_text("3 partitions", exact=True)).to_be_visible()
            page.screenshot(path=str(OUTPUT / "browser_2_launch_dialog.png"))
            dialog.get_by_role("button", name="Launch backfill").click()
            expect(dialog).to_be_hidden()

            # 3. The daemon runs it (one run per week); the UI's own API says when it is done.
            backfill = latest_backfill(dagster_dev)
            assert backfill is not None, "no backfill was created by the UI"
            assert sorted(backfill["partitionNames"]) == weeks
            assert sorted("/".join(a["path"]) for a in backfill["assetSelection"]) == sorted(CATEGORY_ASSETS)
            status = wait_for_backfill(dagster_dev, backfill["id"])
            assert status == "COMPLETED_SUCCESS", f"backfill ended {status}:\n{dagster_dev.log_tail()}"

            # 4. The backfill page lists it as completed with its three partitions.
            page.goto(f"{dagster_dev.base_url}/runs/b/{backfill['id']}?tab=partitions")
            expect(page.get_by_text("Succeeded", exact=True).first).to_be_visible()
            page.screenshot(path=str(OUTPUT / "browser_3_backfill.png"), full_page=True)

            # 5. The asset's partitions tab counts exactly the three weeks as materialized.
            page.goto(f"{dagster_dev.base_url}/assets/weekly_utilization?view=partitions")
            expect(page.get_by_text("Materialized (3)", exact=True)).to_be_visible()
            expect(page.get_by_text("Failed (0)", exact=True)).to_be_visible()
            page.screenshot(path=str(OUTPUT / "browser_4_partitions.png"), full_page=True)

            # 6. Its checks tab shows every check's result for a backfilled week.
            page.goto(f"{dagster_dev.base_url}/assets/weekly_utilization?view=checks")
            expect(page.get_by_text("Checks (5)", exact=True)).to_be_visible()
            for check in (
                "utilization_is_consistent",
                "utilization_matches_reference",
                "utilization_is_not_restated",
                "utilization_has_no_anomaly",
                "utilization_sessions_are_fresh",
            ):
                expect(page.get_by_text(check, exact=True).first).to_be_visible()
            expect(page.get_by_text("Evaluation result", exact=True)).to_be_visible()
            expect(page.get_by_text("Passed", exact=True).first).to_be_visible()
            latest_partition = page.get_by_text(re.compile(r"^\d{4}-\d{2}-\d{2}$")).last
            expect(latest_partition).to_be_visible()
            assert latest_partition.inner_text() in weeks
            page.screenshot(path=str(OUTPUT / "browser_5_checks.png"), full_page=True)
        finally:
            browser.close()

    assert_materialized_with_checks(dagster_dev, weeks, backfill["id"])
    assert_history_and_no_post(demo_home.paths, weeks)


def assert_materialized_with_checks(server: DagsterDev, weeks: list[str], backfill_id: str) -> None:
    """Underneath the UI: every week of every category materialized, each with passing checks."""
    query = """query($key: AssetKeyInput!, $pks: [String!]) { assetNodeOrError(assetKey: $key) {
        ... on AssetNode {
          assetMaterializations(partitions: $pks) { partition runId }
          assetChecksOrError { ... on AssetChecks { checks { name
            executionForLatestMaterialization { status } } } } } } }"""
    runs = server.graphql(
        """query($id: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
             ... on Runs { results { runId status tags { key value } } } } }""",
        {"id": backfill_id},
    )["runsOrError"]["results"]
    # Multi-run policy: one successful run per week.
    assert (
        sorted(next(t["value"] for t in run["tags"] if t["key"] == "dagster/partition") for run in runs)
        == weeks
    )
    assert {run["status"] for run in runs} == {"SUCCESS"}
    backfill_runs = {run["runId"] for run in runs}
    for asset in CATEGORY_ASSETS:
        node = server.graphql(query, {"key": {"path": [asset]}, "pks": weeks})["assetNodeOrError"]
        materialized = {m["partition"] for m in node["assetMaterializations"]}
        assert materialized == set(weeks), f"{asset}: materialized {sorted(materialized)}"
        assert {m["runId"] for m in node["assetMaterializations"]} <= backfill_runs
        checks = node["assetChecksOrError"]["checks"]
        assert checks, f"{asset} has no checks"
        for check in checks:
            execution = check["executionForLatestMaterialization"]
            assert execution is not None, f"{check['name']} never ran"
            assert execution["status"] in ("SUCCEEDED", "FAILED"), check
    # Per-week verdicts: the history of each check holds one evaluation per backfilled week.
    history = server.graphql(
        """query($key: AssetKeyInput!, $name: String!) { assetCheckExecutions(
             assetKey: $key, checkName: $name, limit: 10) { status evaluation { partition severity } } }""",
        {"key": {"path": ["weekly_utilization"]}, "name": "utilization_is_consistent"},
    )["assetCheckExecutions"]
    assert sorted(e["evaluation"]["partition"] for e in history) == weeks
    assert {e["status"] for e in history} == {"SUCCEEDED"}


def assert_history_and_no_post(paths: DemoPaths, weeks: list[str]) -> None:
    for category in c.CATEGORIES:
        files = sorted(p.stem for p in (paths.history_dir / category).glob("*.parquet"))
        assert files == weeks, f"{category}: history holds {files}"
        for week in weeks:
            frame = pd.read_parquet(paths.history_dir / category / f"{week}.parquet")
            assert not frame.duplicated(["country", "segment", "metric"]).any()
            assert set(frame["partition_key"]) == {week}
    # Backfills never post: no weekly message in the outbox (alerts would be alert_*.json).
    posted = sorted(p.name for p in paths.outbox_dir.glob("*")) if paths.outbox_dir.exists() else []
    assert not [name for name in posted if any(week in name for week in weeks)], posted
