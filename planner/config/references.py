"""Checks of registry.yaml that pydantic cannot express: names, duplicate matchers, references.

They run on the raw data piece by piece when the file has type errors elsewhere (so every problem
is reported at once), and on the validated objects when it has none (no double work). Each
section's check lives beside its types (`config/sections/`, named by its kind's `Section.check`);
this module holds what they share (`CheckContext`) and the check of `removed` entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from mlreg.planner.changes import Address
from mlreg.planner.config.schema import Config
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
    # model name -> address keys of its declared versions (filled by the models check)
    declared_keys: dict[str, set[str]] = field(default_factory=dict)
    declared: set[str] = field(default_factory=set)  # every address the file declares
    incomplete: set[str] = field(default_factory=set)  # models with an unreadable version entry
    track_declared: bool = True  # only needed (and only filled) when the file has `removed` entries
    diags: list[Diagnostic] = field(default_factory=list)

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
        addr = Address.parse(r.address)
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
            section = kind.section.name
            owner = ctx.section(section).get(addr.name)
            if not isinstance(owner, dict):
                ctx.error(path, f"{r.address} must stay declared to delete one of its aliases")
            elif r.alias in _aliases_of(owner):
                ctx.error(path, f"Alias {r.alias!r} is still declared in {section}.{addr.name}")
            continue
        if r.address in ctx.declared:
            ctx.error(
                path,
                f"{r.address} is declared in this file and listed under removed",
                "take it out of the file to remove it",
            )


def _aliases_of(owner: dict) -> set:
    aliases = owner.get("aliases")
    if isinstance(aliases, dict):
        return set(aliases)
    out = set()
    for v in owner.get("versions") or []:  # prompts list aliases on their versions
        if isinstance(v, dict) and isinstance(v.get("aliases"), list):
            out.update(a for a in v["aliases"] if isinstance(a, str))
    return out
