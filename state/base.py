"""What both state backends share: state as diffable JSON text, encoded incrementally."""

from __future__ import annotations

from mlreg.planner.statedata import STATE_FORMAT, StateSnapshot


class StateEncoder:
    """State as JSON text, one resource per line (readable, diffable), re-encoding only the
    resources that changed since the last call: apply persists state after every change, and
    re-encoding 10,000 unchanged resources each time would starve the threads doing the work."""

    def __init__(self):
        self._lines: dict[str, tuple[object, str]] = {}

    def encode(self, snapshot: StateSnapshot) -> str:
        import json

        lines = []
        cache = {}
        for address in sorted(snapshot.resources):
            rs = snapshot.resources[address]
            hit = self._lines.get(address)
            if hit is None or hit[0] is not rs:
                body = json.dumps(
                    {"attributes": rs.attributes, "identity": rs.identity, "type": rs.type}, sort_keys=True
                )
                hit = (rs, f"  {json.dumps(address)}: {body}")
            cache[address] = hit
            lines.append(hit[1])
        self._lines = cache
        head = json.dumps({"format_version": STATE_FORMAT, "lineage": snapshot.lineage, "serial": snapshot.serial})[:-1]
        if not lines:
            return f'{head}, "resources": {{}}}}\n'
        return f'{head}, "resources": {{\n' + ",\n".join(lines) + "\n}}\n"


def locked(holder, where: str):
    from mlreg.planner.errors import StateLocked

    text = holder.describe() if holder else "holder unknown"
    hint = f"; if that process is dead, run `mlreg force-unlock {holder.id}`" if holder else ""
    return StateLocked(f"State is locked ({where}): {text}{hint}", holder)
