"""Text for `mlreg history`: past applies, and the recorded changes of one address."""

from __future__ import annotations

from mlreg.planner.audit import AddressEvent
from mlreg.planner.redact import redact
from mlreg.planner.render.escape import text as esc
from mlreg.planner.render.text import flat, value

LEGEND = "(= adopted, + added, ~ changed, - deleted, . forgotten)"


def applies_text(records: list[dict]) -> str:
    if not records:
        return "No applies recorded yet.\n"
    header = ("finished", "outcome", "apply id", "who", "changes")
    rows = []
    for r in records:
        s = r.get("summary") or {}
        counts = (
            f"={s.get('adopt', 0)} +{s.get('create', 0)} ~{s.get('update', 0)} -{s.get('delete', 0)} "
            f".{s.get('forget', 0)}"
        )
        who = f"{esc(r.get('who'))}@{esc(r.get('host'))}"
        rows.append(((str(r.get("finished")), str(r.get("outcome")), str(r.get("id")), who, counts), r))
    widths = [max(len(c[i]) for c in [header, *(cells for cells, _ in rows)]) for i in range(len(header) - 1)]

    def line(cells) -> str:
        return "  ".join([*(c.ljust(w) for c, w in zip(cells, widths)), cells[-1]])

    lines = [line(header)]
    for cells, r in rows:
        lines.append(line(cells))
        for a in r.get("changed", []):
            lines.append(f"    {esc(a)}")
    lines.append(f"changes: {LEGEND}")
    return redact("\n".join(lines) + "\n")


def address_text(address: str, events: list[AddressEvent]) -> str:
    lines = [f"{esc(address)}: {len(events)} recorded change(s), newest first", ""]
    for e in events:
        by = f" by {esc(e.who)}" if e.who else ""
        apply = f" ({esc(e.operation)} {e.apply}{f', {e.outcome}' if e.outcome else ''})" if e.apply else ""
        what = e.action
        if e.moved_from:
            what = f"moved from {esc(e.moved_from)} to {esc(e.address)}"
        elif e.address != address:  # a version of the model asked for, or an address it had before
            what = f"{e.action} {esc(e.address)}"
        lines.append(f"{e.at}  serial {e.serial}  {what}{by}{apply}")
        before, after = flat(e.before, ("tags", "aliases")), flat(e.after, ("tags", "aliases"))
        for k in dict.fromkeys([*before, *after]):
            if k not in before:
                lines.append(f"    + {esc(k)} = {value(after[k])}")
            elif k not in after:
                lines.append(f"    - {esc(k)} = {value(before[k])}")
            elif before[k] != after[k]:
                lines.append(f"    ~ {esc(k)} = {value(before[k])} -> {value(after[k])}")
        if e.drift_put_back:
            changed = ", ".join(
                f"{esc(k)} = {value(v)}" for k, v in flat(e.drift_put_back, ("tags", "aliases")).items()
            )
            lines.append(f"    (drift put back: live had {changed})")
        lines.append("")
    return redact("\n".join(lines))
