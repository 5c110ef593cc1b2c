"""`mlreg import`: write registry.yaml (or a folder of registry files) for what is live, with
stable matchers.

Pure: a live snapshot in, YAML text out. Each importable kind writes its own section (its
`Importer.render`, beside the kind) and the settings it needs (`Importer.settings`); this module
assembles one file, or one file per model and prompt plus a file per other section and a
settings file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mlreg.planner.config.sections.registry import section
from mlreg.planner.kinds.base import Chosen
from mlreg.planner.kinds.catalog import KINDS
from mlreg.planner.live import LiveSnapshot

HEADER = [
    "# Written by `mlreg import` from what is live; review it, then commit it.",
    "# `mlreg plan` right after the import prints no changes.",
]
SETTINGS_FILE = "_settings.yaml"


RULES_NOTE = [
    "# The rules in effect, every one written out (`mlreg rules` says where each comes from). A rule",
    "# given here replaces its default whole; `defaults: none` starts from no conventions at all.",
]


def _settings(live: LiveSnapshot, chosen: Mapping[str, list[Chosen]], backends: str, rules=None) -> list[str]:
    """The settings: the backend sections as written (environment references, never their
    values) and the rules in effect (`rules`, default the seed's), each written out, adjusted to
    what the chosen objects need."""
    from mlreg.planner.config.sections.rules import Rules, rules_lines

    rules = rules if rules is not None else Rules()
    overrides: dict = {}
    notes: list[str] = []
    for type_, kind in KINDS.items():
        if kind.importer is not None and chosen.get(type_):
            more, said = kind.importer.rules(live, chosen[type_], rules)
            overrides.update(more)
            notes += said
    if overrides:
        rules = Rules.model_validate({**rules.model_dump(mode="json"), **overrides})
    return [*HEADER, "version: 1", "", backends.rstrip(), "", *RULES_NOTE, *notes, *rules_lines(rules)]


def render_registry(live: LiveSnapshot, chosen: Mapping[str, list[Chosen]], backends: str, rules=None) -> str:
    """One file: a header, the backend sections as written, the rules, then each importable
    kind's section in the catalog's order."""
    lines = _settings(live, chosen, backends, rules)
    for type_, kind in KINDS.items():
        if kind.importer is not None and chosen.get(type_):
            lines += ["", *kind.importer.render(live, chosen[type_])]
    return "\n".join(lines) + "\n"


def render_files(live: LiveSnapshot, chosen: Mapping[str, list[Chosen]], backends: str, rules=None) -> dict[str, str]:
    """File name -> text: the settings, a file per model and prompt (`<section>.<name>.yaml`),
    and a file per other section, each file declaring what it holds and nothing else."""
    files = {SETTINGS_FILE: "\n".join(_settings(live, chosen, backends, rules)) + "\n"}
    for type_, kind in KINDS.items():
        picked = chosen.get(type_) or []
        if kind.importer is None or not picked:
            continue
        groups = [[c] for c in picked] if kind.importer.one_file_each else [picked]
        for group in groups:
            stem = kind.section if not kind.importer.one_file_each else f"{kind.section}.{_safe(group[0].label)}"
            if section(kind.section).protected is True:  # access, workspaces: the platform team's `_*` files
                stem = f"_{stem}"
            name = _unique(f"{stem}.yaml", files)
            files[name] = "\n".join([*HEADER, "", *kind.importer.render(live, group)]) + "\n"
    return files


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "_"


def _unique(name: str, taken: Mapping[str, str]) -> str:
    stem, n = name.removesuffix(".yaml"), 2
    while name in taken:
        name, n = f"{stem}-{n}.yaml", n + 1
    return name
