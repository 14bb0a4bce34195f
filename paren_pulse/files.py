"""Local files written so that a reader sees the old content or the new one, never half."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomic(target: Path, data: bytes) -> Path:
    """Write beside the target, then rename over it (atomic on one filesystem)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
