"""A glance at a registry file before it is parsed: its tracking URI and its model names, so the
registry read can start while the file is validated (a 10,000-version file takes ~0.2 s to
validate; the server is busy meanwhile instead of idle).

Only a hint: it answers for large block-style files and otherwise says None; whatever it found is
checked against the validated file, and whatever it missed is read after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from mlreg.planner.config.defaults import DEFAULT_TRACKING_URI
from mlreg.planner.config.envexpand import VAR
from mlreg.planner.config.fastyaml import ENTRY_LINE, ROOT_LINE

_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
MIN_BYTES = 64 * 1024  # below this, validating takes less than a request


@dataclass(frozen=True)
class Glance:
    tracking_uri: str
    names: dict[str, frozenset[str]]  # section -> the names of its entries (the large section only)


def _section(text: str, roots: list[int], name: str) -> tuple[int, int] | None:
    for i, at in enumerate(roots):
        if text.startswith(f"{name}:", at):
            return at, roots[i + 1] if i + 1 < len(roots) else len(text)
    return None


def glance(text: str, env: dict[str, str]) -> Glance | None:
    if len(text) < MIN_BYTES:
        return None
    roots = [0] + [m.start() + 1 for m in ROOT_LINE.finditer(text)]
    models = _section(text, roots, "models")
    if models is None:
        return None
    mlflow = _section(text, roots, "mlflow")
    raw = DEFAULT_TRACKING_URI
    if mlflow is not None:
        try:
            section = (yaml.safe_load(text[mlflow[0] : mlflow[1]]) or {}).get("mlflow") or {}
        except yaml.YAMLError:
            return None
        raw = section.get("tracking_uri", raw) if isinstance(section, dict) else None
        if not isinstance(raw, str):
            return None
    uri = VAR.sub(lambda m: env.get(m.group(1), m.group(2) or ""), raw)
    names = set()
    for m in ENTRY_LINE.finditer(text, models[0], models[1]):
        name = _NAME.match(text, m.end())
        if name and text.startswith(":", name.end()):
            names.add(name.group())
    return Glance(uri, {"models": frozenset(names)}) if names else None
