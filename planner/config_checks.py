"""Checks of registry.yaml that pydantic cannot express: names, duplicate matchers, references.

They run on the raw data piece by piece when the file has type errors elsewhere, so every
problem is reported at once, and on the validated objects when it has none (no double work).
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from planner.config import Config, PolicyVersionSpec, RemovedSpec, VersionRef, VersionSpec, _int_to_ref
from planner.diagnostics import Diagnostic
from planner.rulespec import Rules
from planner.source import Source
from planner.stages import STAGE_TAG


def _valid(model_cls, raw):
    try:
        return model_cls.model_validate(raw)
    except ValidationError:
        return None  # its own errors are reported by the whole-file validation


def reference_checks(data: dict, source: Source, cfg: Config | None = None) -> list[Diagnostic]:
    """Cross-references pydantic cannot see: duplicate matchers, undeclared models, names.

    With `cfg` (the file validated) the checks read its objects; without, they validate the raw
    data piece by piece, so they are reported alongside type errors elsewhere.
    """
    def valid(model_cls, raw, *where):
        if cfg is None:
            return _valid(model_cls, raw)
        obj = cfg
        for step in where:
            obj = getattr(obj, step) if isinstance(step, str) and not isinstance(obj, (dict, list)) else obj[step]
        return obj

    diags = []
    rules = cfg.rules if cfg else (
        _valid(Rules, data.get("rules") or {}) if isinstance(data.get("rules") or {}, dict) else None)
    pattern = re.compile(rules.model_name_pattern) if rules else None
    models = data.get("models") if isinstance(data.get("models"), dict) else {}
    declared_keys: dict[str, set[str]] = {}
    for name, raw in models.items():
        if pattern is not None and isinstance(name, str) and not pattern.search(name):
            diags.append(source.diag(("models", name), f"Model name {name!r} does not match "
                                     f"rules.model_name_pattern {rules.model_name_pattern!r}",
                                     "seed §4.2 naming: e.g. planner_model, meal_ranker_model"))
        raw = raw if isinstance(raw, dict) else {}
        seen: dict[str, int] = {}
        for i, rv in enumerate(raw.get("versions") or [] if isinstance(raw.get("versions"), list) else []):
            v = valid(VersionSpec, rv, "models", name, "versions", i)
            if v is None:
                continue
            if STAGE_TAG in v.tags:
                diags.append(source.diag(("models", name, "versions", i, "tags", STAGE_TAG),
                                         "The stage tag is managed by `stage:`, not `tags:`"))
            if v.key in seen:
                diags.append(source.diag(("models", name, "versions", i),
                                         f"Version {v.key} is declared twice (also versions[{seen[v.key]}])"))
            seen[v.key] = i
        declared_keys[name] = set(seen)
        for alias, rref in (raw.get("aliases") or {}).items() if isinstance(raw.get("aliases"), dict) else []:
            ref = valid(VersionRef, _int_to_ref(rref), "models", name, "aliases", alias)
            if ref is not None and ref.version is None and ref.key not in seen:
                diags.append(source.diag(("models", name, "aliases", alias),
                                         f"Alias {alias!r} points at {ref.key}, which is not declared "
                                         f"in models.{name}.versions"))
    policies = data.get("policies") if isinstance(data.get("policies"), dict) else {}
    for pname, praw in policies.items():
        versions = praw.get("versions") if isinstance(praw, dict) else None
        for num, pvraw in (versions or {}).items() if isinstance(versions, dict) else []:
            pv = valid(PolicyVersionSpec, pvraw, "policies", pname, "versions", num)
            if pv is None:
                continue
            path = ("policies", pname, "versions", num)
            if pv.model not in models:
                diags.append(source.diag(path + ("model",), f"Model {pv.model!r} is not declared under models",
                                         f"declared: {', '.join(map(str, models)) or '(none)'}"))
            elif pv.model_version.version is None and pv.model_version.key not in declared_keys.get(pv.model, set()):
                diags.append(source.diag(path + ("model_version",),
                                         f"{pv.model_version.key} is not declared in models.{pv.model}.versions"))
    diags.extend(_removed_checks(data, source, declared_keys))
    return diags


def _removed_checks(data: dict, source: Source, declared_keys: dict[str, set[str]]) -> list[Diagnostic]:
    """A resource cannot be both declared and removed."""
    from planner.model import ResourceType, parse_address

    diags = []
    removed = data.get("removed") if isinstance(data.get("removed"), list) else []
    models = data.get("models") if isinstance(data.get("models"), dict) else {}
    policies = data.get("policies") if isinstance(data.get("policies"), dict) else {}
    for i, raw in enumerate(removed):
        r = _valid(RemovedSpec, raw)
        if r is None:
            continue
        rtype, name, key = parse_address(r.address)
        path = ("removed", i, "address")
        if r.alias is not None:
            aliases = (models.get(name) or {}).get("aliases") or {} if isinstance(models.get(name), dict) else {}
            if name not in models:
                diags.append(source.diag(path, f"Model {name!r} must stay declared to delete one of its aliases"))
            elif r.alias in aliases:
                diags.append(source.diag(path, f"Alias {r.alias!r} is still declared in models.{name}.aliases"))
            continue
        declared = ((rtype is ResourceType.MODEL and name in models)
                    or (rtype is ResourceType.MODEL_VERSION and key in declared_keys.get(name, set()))
                    or (rtype is ResourceType.POLICY_VERSION and isinstance(policies.get(name), dict)
                        and str(key) in {str(k) for k in (policies[name].get("versions") or {})}))
        if declared:
            diags.append(source.diag(path, f"{r.address} is declared in this file and listed under removed",
                                     "take it out of the file to remove it"))
    return diags
