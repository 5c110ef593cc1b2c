"""What both state backends share: the error that names the holder of a lock."""

from __future__ import annotations

from mlreg.planner.errors import StateLocked


def locked(holder, where: str) -> StateLocked:
    text = holder.describe() if holder else "holder unknown"
    hint = f"; if that process is dead, run `mlreg force-unlock {holder.id}`" if holder else ""
    return StateLocked(f"State is locked ({where}): {text}{hint}", holder)
