"""Realistic faults to put into the demo warehouse, so anyone can watch a check fail.

Each fault is something that really happens upstream; each is caught by a named check.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable

from paren_pulse.settings import DemoPaths


def duplicate_latest_batch(paths: DemoPaths) -> str:
    """A session batch loaded twice: curated counts double, the dashboard's distinct ids do not.
    Caught by utilization_matches_reference (ERROR, blocks the post)."""
    batches = sorted(p for p in paths.sessions_dir.glob("batch_*.parquet") if "_dup" not in p.stem)
    if not batches:
        raise FileNotFoundError(
            f"no session batches under {paths.sessions_dir}; run `paren-pulse demo` first"
        )
    latest = batches[-1]
    copy = latest.with_name(f"{latest.stem}_dup.parquet")
    shutil.copyfile(latest, copy)
    return f"session batch {latest.name} loaded twice ({copy.name})"


def reclassify_network(paths: DemoPaths) -> str:
    """Someone flips Tesla's classification: Tesla stations move to Non-Tesla in the curated
    numbers, the dashboard still splits by network key. Caught by infrastructure/pricing/utilization
    _matches_reference."""
    with sqlite3.connect(paths.catalog_db) as conn:
        conn.execute("UPDATE network_classification SET is_tesla = 0 WHERE network_key = ?", ("TESLA",))
    return "network TESLA reclassified as non-Tesla in network_classification"


def wrong_currency(paths: DemoPaths) -> str:
    """Some US tariffs stored in CAD. Caught by pricing_is_consistent (ERROR) and the reference."""
    with sqlite3.connect(paths.catalog_db) as conn:
        cur = conn.execute(
            "UPDATE tariffs SET currency = ? WHERE audience = ? AND currency = ? AND tariff_id % 5 = 0",
            ("CAD", "non_member", "USD"),
        )
        changed = cur.rowcount
    return f"{changed} US non-member tariffs stored in CAD"


FAULTS: dict[str, Callable[[DemoPaths], str]] = {
    "duplicate-batch": duplicate_latest_batch,
    "reclassify-network": reclassify_network,
    "wrong-currency": wrong_currency,
}


def inject(paths: DemoPaths, fault: str) -> str:
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; choose one of {', '.join(FAULTS)}")
    return FAULTS[fault](paths)
