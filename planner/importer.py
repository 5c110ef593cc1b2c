"""`mlreg import`: write a registry.yaml for what is live, with stable matchers.

Pure: a live snapshot in, YAML text out. Versions are matched by `run_id` (+ artifact path)
where MLflow recorded the run, else by `source`; `version: N` only where neither is unique.
Pipeline tags (`mlflow.*`), mlreg's own (`mlreg.*`) and the `stage` tag (managed through
`stage:`) are left out of `tags`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from mlreg.planner.config.rules import Rules
from mlreg.planner.kinds.policy_version import PolicyFacts
from mlreg.planner.kinds.prompt import PromptFacts
from mlreg.planner.kinds.registry import APPLY_TOKEN_TAG, LiveVersion, RegistryFacts, artifact_path_of
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.stages import STAGE_TAG, Stage

_STAGES = {s.value for s in Stage} - {Stage.NONE.value}


@dataclass(frozen=True)
class ImportedPolicy:
    name: str
    policy_id: str


def _managed_tags(tags: dict[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in sorted(tags.items())
        if k not in (STAGE_TAG, APPLY_TOKEN_TAG) and not k.startswith(("mlflow.", "mlreg."))
    }


def _version_entry(v: LiveVersion, live: LiveSnapshot, unique: set[tuple]) -> tuple[dict, str]:
    """The YAML entry for one version and a comment saying where it came from."""
    path = artifact_path_of(v, live[RegistryFacts].logged_model_names) if v.run_id else None
    entry: dict = {}
    if v.run_id and path is not None and ("run", v.run_id, path) in unique:
        entry["run_id"] = v.run_id
        if path != "model":
            entry["artifact_path"] = path
    elif not v.run_id and v.source and ("source", v.source) in unique:
        entry["source"] = v.source
    else:
        entry["version"] = int(v.version)
    stage = v.tags.get(STAGE_TAG)
    if stage is None:
        entry["stage"] = "none"
    elif stage in _STAGES:
        entry["stage"] = stage
    if v.description:
        entry["description"] = v.description
    tags = _managed_tags(v.tags)
    if tags:
        entry["tags"] = tags
    note = f"version {v.version}" + (
        f" (stage tag {stage!r} is not a known stage: left unmanaged)"
        if stage is not None and stage not in _STAGES
        else ""
    )
    return entry, note


def _unique_keys(versions: list[LiveVersion], live: LiveSnapshot) -> set[tuple]:
    counts: dict[tuple, int] = {}
    for v in versions:
        if v.run_id:
            key = ("run", v.run_id, artifact_path_of(v, live[RegistryFacts].logged_model_names))
        else:
            key = ("source", v.source)
        counts[key] = counts.get(key, 0) + 1
    return {k for k, n in counts.items() if n == 1}


def _dump(value) -> str:
    """One value in YAML flow style, on one line."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000)
    return text.removesuffix("\n...\n").strip()


def _prompt_lines(live: LiveSnapshot, prompts: list[str]) -> list[str]:
    """Prompt versions by template (the number where two versions share one), with their aliases."""
    facts = live[PromptFacts]
    lines = ["", "prompts:"]
    for name in prompts:
        lp = facts.prompts[name]
        lines.append(f"  {_dump(name)}:")
        if lp.tags:
            lines.append(f"    tags: {_dump(dict(sorted(lp.tags.items())))}")
        versions = sorted(facts.versions.get(name, []), key=lambda v: int(v.version))
        lines.append("    versions:" if versions else "    versions: []")
        repeated = {t for t in (v.template for v in versions) if [w.template for w in versions].count(t) > 1}
        by_number: dict[str, list[str]] = {}
        for alias, number in sorted(lp.aliases.items()):
            by_number.setdefault(number, []).append(alias)
        for v in versions:
            entry: dict = {}
            if v.template is None or v.template in repeated:
                entry["version"] = int(v.version)
            else:
                entry["template"] = v.template
                if v.description:
                    entry["commit_message"] = v.description
            tags = _managed_tags(v.tags)
            if tags:
                entry["tags"] = tags
            if v.version in by_number:
                entry["aliases"] = by_number[v.version]
            lines.append(f"      - {_dump(entry)}   # version {v.version}")
    return lines


def render_registry(
    live: LiveSnapshot, models: list[str], policies: list[ImportedPolicy], backends: str, prompts: list[str] = ()
) -> str:
    lines = [
        "# Written by `mlreg import` from what is live; review it, then commit it.",
        "# `mlreg plan` right after the import prints no changes.",
        "version: 1",
        "",
        backends.rstrip(),
        "",
    ]
    pattern = re.compile(Rules().model_name_pattern)
    odd = [m for m in models if not pattern.search(m)]
    if odd:
        lines += [
            f"# These names do not follow the <name>_model convention: {', '.join(odd)}",
            "rules:",
            "  model_name_pattern: '^.+$'",
            "",
        ]
    lines.append("models:" if models else "models: {}")
    for name in models:
        lm = live[RegistryFacts].models[name]
        lines.append(f"  {_dump(name)}:")
        if lm.description:
            lines.append(f"    description: {_dump(lm.description)}")
        tags = _managed_tags(lm.tags)
        if tags:
            lines.append(f"    tags: {_dump(tags)}")
        if lm.aliases:
            lines.append(f"    aliases: {_dump({a: int(v) for a, v in sorted(lm.aliases.items())})}")
        versions = live[RegistryFacts].versions.get(name, [])
        if not versions:
            lines.append("    versions: []")
            continue
        lines.append("    versions:")
        unique = _unique_keys(versions, live)
        for v in sorted(versions, key=lambda v: int(v.version)):
            entry, note = _version_entry(v, live, unique)
            lines.append(f"      - {_dump(entry)}   # {note}")
    if policies:
        lines += ["", "policies:"]
        for p in policies:
            lines += [f"  {_dump(p.name)}:", f"    id: {p.policy_id}", "    versions:"]
            rows = sorted(
                (r for (pid, _), r in live[PolicyFacts].policy_versions.items() if pid == p.policy_id),
                key=lambda r: r.version,
            )
            for r in rows:
                mv = int(r.model_version) if str(r.model_version).isdigit() else r.model_version
                row = {"model": r.model_name, "model_version": mv, "config_defaults": r.config_defaults}
                lines.append(f"      {r.version}: {_dump(row)}")
    if prompts:
        lines += _prompt_lines(live, prompts)
    return "\n".join(lines) + "\n"
