"""The lineage picture: policy version -> model version -> source run, as Mermaid or DOT.

For a plan the picture is kept small: the resources the plan touches plus their direct
neighbours, at most MAX_NODES nodes. For `mlreg graph` it is the whole desired state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mlreg.planner.changes import Action, Address, Plan
from mlreg.planner.kinds.catalog import KINDS
from mlreg.planner.render import escape

MAX_NODES = 40
_CLASSES = {Action.CREATE: "create", Action.UPDATE: "update", Action.DELETE: "delete", Action.FORGET: "forget"}
_STYLE = {
    "create": "fill:#d4edda,stroke:#28a745",
    "update": "fill:#fff3cd,stroke:#d39e00",
    "delete": "fill:#f8d7da,stroke:#c82333",
    "forget": "fill:#e2e3e5,stroke:#6c757d",
}


def _label(node: str, numbers: Mapping[str, str]) -> str:
    """A node's label: a source run or URI, or what the node's kind calls its resource."""
    if node.startswith("run:"):
        rid = node[4:]
        return f"run {rid[:12]}{'…' if len(rid) > 12 else ''}"
    if node.startswith("source:"):
        return f"source {node[7:]}"
    parsed = Address.parse(node)
    kind = KINDS.get(parsed.type) if parsed is not None else None
    return kind.label(parsed, numbers.get(node)) if kind is not None else node


class Picture:
    def __init__(
        self,
        edges: Iterable[tuple[str, str]],
        classes: Mapping[str, str] | None = None,
        numbers: Mapping[str, str] | None = None,
    ):
        self.edges = list(dict.fromkeys(edges))
        self.classes = dict(classes or {})
        self.numbers = dict(numbers or {})
        self.nodes = list(dict.fromkeys(n for e in self.edges for n in e))
        self.more = 0

    @classmethod
    def of_plan(cls, plan: Plan) -> Picture:
        """What the plan touches and its direct neighbours."""
        classes = {c.address: _CLASSES[c.action] for c in plan.actionable}
        numbers = {}
        for c in plan.changes:  # what MLflow numbered (a version), for the labels
            v = (c.after or c.before or {}).get("version")
            if v:
                numbers[c.address] = str(v)
        touched = set(classes)
        keep = [e for e in plan.edges if e[0] in touched or e[1] in touched]
        pic = cls(keep, classes, numbers)
        pic._bound(touched)
        return pic

    def _bound(self, touched: set[str]) -> None:
        if len(self.nodes) <= MAX_NODES:
            return
        kept: list[str] = []
        for n in self.nodes:  # touched nodes first, then neighbours, in plan order
            if n in touched and len(kept) < MAX_NODES:
                kept.append(n)
        for n in self.nodes:
            if n not in kept and len(kept) < MAX_NODES:
                kept.append(n)
        keep = set(kept)
        self.more = len(self.nodes) - len(kept)
        self.edges = [e for e in self.edges if e[0] in keep and e[1] in keep]
        self.nodes = [n for n in self.nodes if n in keep]

    def mermaid(self) -> str:
        ids = {n: f"n{i}" for i, n in enumerate(self.nodes)}
        lines = ["graph LR"]
        for n in self.nodes:
            shape = ("([", "])") if n.startswith(("run:", "source:")) else ("[", "]")
            label = escape.mermaid(_label(n, self.numbers))
            lines.append(f'  {ids[n]}{shape[0]}"{label}"{shape[1]}')
        for a, b in self.edges:
            lines.append(f"  {ids[a]} --> {ids[b]}")
        if self.more:
            lines.append(f'  more["… and {self.more} more not shown"]')
        used = sorted(set(self.classes.values()))
        for cls_name in used:
            lines.append(f"  classDef {cls_name} {_STYLE[cls_name]}")
        for n in self.nodes:
            if n in self.classes:
                lines.append(f"  class {ids[n]} {self.classes[n]}")
        return "\n".join(lines) + "\n"

    def dot(self) -> str:
        q = escape.dot
        lines = ["digraph mlreg {", "  rankdir=LR;", "  node [shape=box];"]
        for n in self.nodes:
            shape = ", shape=ellipse" if n.startswith(("run:", "source:")) else ""
            lines.append(f"  {q(n)} [label={q(_label(n, self.numbers))}{shape}];")
        for a, b in self.edges:
            lines.append(f"  {q(a)} -> {q(b)};")
        lines.append("}")
        return "\n".join(lines) + "\n"
