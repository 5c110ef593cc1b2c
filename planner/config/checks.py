"""Checks of registry.yaml that pydantic cannot express: names, duplicate matchers, references.

They run on the raw data piece by piece when the file has type errors elsewhere (so every problem
is reported at once), and on the validated objects when it has none (no double work). Each
section contributes its own check function (`SECTION_CHECKS`); this module drives them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from mlreg.planner.config.rules import Rules
from mlreg.planner.config.schema import Config, RemovedSpec
from mlreg.planner.config.source import Source
from mlreg.planner.diagnostics import Diagnostic
from mlreg.planner.model import Address


@dataclass
class CheckContext:
    data: dict
    source: Source
    cfg: Config | None
    rules: Rules | None
    # model name -> address keys of its declared versions (filled by the models check)
    declared_keys: dict[str, set[str]] = field(default_factory=dict)
    declared: set[str] = field(default_factory=set)  # every address the file declares
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


def check_models(ctx: CheckContext) -> None:
    from mlreg.planner.config.models import VersionRef, VersionSpec, int_to_ref
    from mlreg.planner.stages import STAGE_TAG

    pattern = re.compile(ctx.rules.model_name_pattern) if ctx.rules else None
    # Validated: read the objects (100,000 versions: no re-validation); else the raw pieces.
    models = ctx.cfg.models if ctx.cfg is not None else ctx.section("models")
    for name, model in models.items():
        if pattern is not None and isinstance(name, str) and not pattern.search(name):
            ctx.error(
                ("models", name),
                f"Model name {name!r} does not match rules.model_name_pattern {ctx.rules.model_name_pattern!r}",
                "the naming convention: e.g. planner_model, meal_ranker_model",
            )
        if ctx.cfg is not None:
            versions = list(enumerate(model.versions))
            aliases = dict(model.aliases)
        else:
            raw = model if isinstance(model, dict) else {}
            listed = raw.get("versions") if isinstance(raw.get("versions"), list) else []
            versions = [(i, v) for i, rv in enumerate(listed) if (v := ctx.valid(VersionSpec, rv)) is not None]
            raw_aliases = raw.get("aliases") if isinstance(raw.get("aliases"), dict) else {}
            aliases = {a: ctx.valid(VersionRef, int_to_ref(r)) for a, r in raw_aliases.items()}
        seen: dict[str, int] = {}
        for i, v in versions:
            if STAGE_TAG in v.tags:
                ctx.error(
                    ("models", name, "versions", i, "tags", STAGE_TAG),
                    "The stage tag is managed by `stage:`, not `tags:`",
                )
            key = v.key
            if key in seen:
                ctx.error(
                    ("models", name, "versions", i), f"Version {key} is declared twice (also versions[{seen[key]}])"
                )
            seen[key] = i
        ctx.declared_keys[name] = set(seen)
        if ctx.track_declared:
            ctx.declared.add(f"model.{name}")
            ctx.declared.update(f"model_version.{name}[{k}]" for k in seen)
        for alias, ref in aliases.items():
            if ref is not None and ref.version is None and ref.key not in seen:
                ctx.error(
                    ("models", name, "aliases", alias),
                    f"Alias {alias!r} points at {ref.key}, which is not declared in models.{name}.versions",
                )


def check_policies(ctx: CheckContext) -> None:
    from mlreg.planner.config.policies import PolicyVersionSpec

    models = ctx.section("models")
    for pname, praw in ctx.section("policies").items():
        versions = praw.get("versions") if isinstance(praw, dict) else None
        for num, pvraw in versions.items() if isinstance(versions, dict) else ():
            if ctx.track_declared:
                ctx.declared.add(f"policy_version.{pname}[{num}]")
            pv = ctx.valid(PolicyVersionSpec, pvraw, "policies", pname, "versions", num)
            if pv is None:
                continue
            path = ("policies", pname, "versions", num)
            if pv.model not in models:
                ctx.error(
                    path + ("model",),
                    f"Model {pv.model!r} is not declared under models",
                    f"declared: {', '.join(map(str, models)) or '(none)'}",
                )
            elif pv.model_version.version is None and pv.model_version.key not in ctx.declared_keys.get(
                pv.model, set()
            ):
                ctx.error(
                    path + ("model_version",), f"{pv.model_version.key} is not declared in models.{pv.model}.versions"
                )


def check_removed(ctx: CheckContext, known_types: dict[str, bool]) -> None:
    """Every removed entry names a known kind, and nothing is both declared and removed."""
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
            section = "models" if addr.type == "model" else "prompts"
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
