"""Measure a multi-week backfill of the category assets under `dagster dev` (embedded default).

Builds a demo warehouse in a scratch home, starts `dagster dev` (webserver + daemon), launches a
backfill through the webserver's GraphQL API (the call the UI's "Launch backfill" makes), waits,
then verifies the history store (one file per category per week, one row per metric) and that
nothing was posted. Prints a Markdown table. Usage:

    .venv/bin/python scripts/measure_backfill.py [--weeks 52] [--scale 0.01] [--max-runs 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

from paren_pulse import constants as c
from paren_pulse.demo.generator import DemoConfig, build_demo_warehouse
from paren_pulse.partitions import PARTITIONS_START, Week
from paren_pulse.settings import DemoPaths

REPO = Path(__file__).resolve().parents[1]
CATEGORY_ASSETS = ["weekly_infrastructure", "weekly_utilization", "weekly_pricing"]
LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill {
  status partitionStatuses { results { partitionName runStatus } } } } }"""


def graphql(base: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body: dict[str, Any] = json.loads(response.read())
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    data: dict[str, Any] = body["data"]
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--max-runs", type=int, default=2)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="pp_backfill_"))
    paths = DemoPaths(root / "home")
    summary = build_demo_warehouse(paths, DemoConfig(scale=args.scale))
    covered = summary.sessions_covered_through
    assert covered is not None
    last = Week(
        covered
        + dt.timedelta(days=1)
        - dt.timedelta(days=(covered + dt.timedelta(days=1)).weekday())
        - dt.timedelta(days=7)
    )
    weeks = [Week(last.start - dt.timedelta(days=7 * i)).key for i in range(args.weeks)][::-1]
    assert dt.date.fromisoformat(weeks[0]) >= PARTITIONS_START, "not enough weeks of data"

    dagster_home = paths.home / "dagster"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text(
        f"telemetry:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: {args.max_runs}\n",
        encoding="utf-8",
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ, PAREN_PULSE_HOME=str(paths.home), PAREN_PULSE_ENV="demo", DAGSTER_HOME=str(dagster_home)
    )
    env.pop("SLACK_BOT_TOKEN", None)
    log = (root / "dagster_dev.log").open("wb")
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/dagster"), "dev", "-w", "workspace.yaml", "-p", str(port), "-h", "127.0.0.1"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if graphql(
                    base, "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"
                ):
                    break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        started = time.monotonic()
        launched = graphql(
            base,
            LAUNCH,
            {
                "params": {
                    "partitionNames": weeks,
                    "assetSelection": [{"path": [name]} for name in CATEGORY_ASSETS],
                }
            },
        )["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(launched)
        status = ""
        while status not in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
            time.sleep(5)
            result = graphql(base, STATUS, {"id": launched["backfillId"]})["partitionBackfillOrError"]
            status = result["status"]
        elapsed = time.monotonic() - started
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except Exception:
            os.killpg(proc.pid, signal.SIGKILL)

    rows_ok = True
    for category in c.CATEGORIES:
        expected = len(c.COUNTRIES) * len(c.SEGMENTS) * len(c.METRICS_BY_CATEGORY[category])
        for week in weeks:
            frame = pd.read_parquet(paths.history_dir / category / f"{week}.parquet")
            rows_ok &= len(frame) == expected and not frame.duplicated(["country", "segment", "metric"]).any()
    posted = list(paths.outbox_dir.glob("weekly_*")) if paths.outbox_dir.exists() else []
    print(
        "| weeks | scale | max concurrent runs | status | wall time | per week | history one row per metric | posted |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {len(weeks)} | {args.scale:g} | {args.max_runs} | {status} | {elapsed:.0f} s | {elapsed / len(weeks):.1f} s "
        f"| {'yes' if rows_ok else 'NO'} | {len(posted)} |"
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
