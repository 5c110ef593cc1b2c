"""Checks of registry.yaml that pydantic cannot express: names, duplicate matchers, references.

They run on the raw data piece by piece when the file has type errors elsewhere (so every problem
is reported at once), and on the validated objects when it has none (no double work). Each
section's check lives beside its types (`config/sections/`, registered with its `Section`);
this module holds what they share (`CheckContext`) and the check of `removed` entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from mlreg.planner.config.schema import Config
from mlreg.planner.config.sections import registry as sections
from mlreg.planner.config.sections.removed import RemovedSpec
from mlreg.planner.config.sections.rules import Rules
from mlreg.planner.config.source import Source
from mlreg.planner.diagnostics import Diagnostic


@dataclass
class CheckContext:
    data: dict
    source: Source
    cfg: Config | None
    rules: Rules | None
    # section -> entry name -> the keys of what the entry declares under it (a model's versions:
    # the address keys `v3`, `run:…`), for the sections that refer to them (policies)
    declared_keys: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    declared: set[str] = field(default_factory=set)  # every address the file declares
    # (section, entry name): entries with a part that cannot be read (a version without a readable
    # matcher): nothing is reported about references to their parts
    incomplete: set[tuple[str, str]] = field(default_factory=set)
    track_declared: bool = True  # only needed (and only filled) when the file has `removed` entries
    # the resource types whose glob grants mlreg expands (the kinds' `Grant`, handed in by the loader)
    expandable: tuple[str, ...] = ()
    diags: list[Diagnostic] = field(default_factory=list)

    def keys_of(self, section: str, name: str) -> set[str]:
        return self.declared_keys.get(section, {}).get(name, set())

    def section(self, name: str) -> dict:
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}

    def valid(self, model_cls, raw, *where):
        """The validated object at `where` (from cfg), or `raw` validated alone (None if invalid:
        its own errors are reported by the whole-file validation)."""
        if self.cfg is None or not where:
            try:
                return model_cls.model_validate(raw)
            except ValidationError:
                return None
        obj = self.cfg
        for step in where:
            obj = obj[step] if isinstance(obj, (dict, list)) else getattr(obj, step)
        return obj

    def error(self, path: tuple, summary: str, detail: str = "") -> None:
        self.diags.append(self.source.diag(path, summary, detail))


def rules_of(data: dict, cfg: Config | None) -> Rules | None:
    if cfg is not None:
        return cfg.rules
    raw = data.get("rules") or {}
    if not isinstance(raw, dict):
        return None
    try:
        return Rules.model_validate(raw)
    except ValidationError:
        return None


def check_removed(ctx: CheckContext) -> None:
    """Every removed entry names a known kind, and nothing is both declared and removed."""
    from mlreg.planner.kinds.catalog import KINDS

    known_types = {k.type: k.keyed for k in KINDS.values()}
    removed = ctx.data.get("removed") if isinstance(ctx.data.get("removed"), list) else []
    for i, raw in enumerate(removed):
        try:
            r = RemovedSpec.model_validate(raw)
        except ValidationError:
            continue
        addr = r.at
        path = ("removed", i, "address")
        if addr.type not in known_types or known_types[addr.type] != (addr.key is not None):
            shapes = ", ".join(f"{t}.NAME[KEY]" if keyed else f"{t}.NAME" for t, keyed in known_types.items())
            ctx.error(path, f"Unknown address {r.address!r}", f"expected one of: {shapes}")
            continue
        if r.alias is not None:
            kind = KINDS[addr.type]
            if "aliases" not in kind.per_key:
                with_aliases = ", ".join(f"{t}.NAME" for t, k in KINDS.items() if "aliases" in k.per_key)
                ctx.error(path, f"`alias` goes with an address of a kind that has aliases ({with_aliases})")
                continue
            section = kind.section
            owner = ctx.section(section).get(addr.name)
            declared = sections.section(section)
            if not isinstance(owner, dict):
                ctx.error(path, f"{r.address} must stay declared to delete one of its aliases")
            elif declared is not None and declared.aliases is not None and r.alias in declared.aliases(owner):
                ctx.error(path, f"Alias {r.alias!r} is still declared in {section}.{addr.name}")
            continue
        if r.address in ctx.declared:
            ctx.error(
                path,
                f"{r.address} is declared in this file and listed under removed",
                "take it out of the file to remove it",
            )
