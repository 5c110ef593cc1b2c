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

from mlreg.planner.config.merge import PROTECTED
from mlreg.planner.kinds.base import Chosen
from mlreg.planner.kinds.catalog import KINDS
from mlreg.planner.live import LiveSnapshot

HEADER = [
    "# Written by `mlreg import` from what is live; review it, then commit it.",
    "# `mlreg plan` right after the import prints no changes.",
]
SETTINGS_FILE = "_settings.yaml"


def _settings(live: LiveSnapshot, chosen: Mapping[str, list[Chosen]], backends: str) -> list[str]:
    lines = [*HEADER, "version: 1", "", backends.rstrip()]
    for type_, kind in KINDS.items():
        if kind.importer is not None and chosen.get(type_):
            extra = kind.importer.settings(live, chosen[type_])
            if extra:
                lines += ["", *extra]
    return lines


def render_registry(live: LiveSnapshot, chosen: Mapping[str, list[Chosen]], backends: str) -> str:
    """One file: a header, the backend sections as written, then each importable kind's section
    in the catalog's order."""
    lines = _settings(live, chosen, backends)
    for type_, kind in KINDS.items():
        if kind.importer is not None and chosen.get(type_):
            lines += ["", *kind.importer.render(live, chosen[type_])]
    return "\n".join(lines) + "\n"


def render_files(live: LiveSnapshot, chosen: Mapping[str, list[Chosen]], backends: str) -> dict[str, str]:
    """File name -> text: the settings, a file per model and prompt (`<section>.<name>.yaml`),
    and a file per other section, each file declaring what it holds and nothing else."""
    files = {SETTINGS_FILE: "\n".join(_settings(live, chosen, backends)) + "\n"}
    for type_, kind in KINDS.items():
        picked = chosen.get(type_) or []
        if kind.importer is None or not picked:
            continue
        groups = [[c] for c in picked] if kind.importer.one_file_each else [picked]
        for group in groups:
            stem = (
                kind.section.name if not kind.importer.one_file_each else f"{kind.section.name}.{_safe(group[0].label)}"
            )
            if (kind.section.name,) in PROTECTED:  # access, workspaces: the platform team's `_*` files
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
