"""A glance at a registry file before it is parsed: its tracking URI and the names of the entries
of its sections (`models:` and the others), so the read of what the kinds can read by name
(`Kind.named_requests`) can start while the file is validated (a 10,000-version file takes ~0.2 s
to validate; the server is busy meanwhile instead of idle).

Only a hint: it answers for large block-style files and otherwise says None; whatever it found is
checked against the validated file, and whatever it missed is read after. The tracking URI obeys
the same rules as in the validated file (a `${VAR}` only as the whole value, only MLflow's,
mlreg's and libpq's variables): the early read sends requests before validation, so a value the
file may not have is no value at all here. It reads only a plain `tracking_uri: VALUE` line, never
parsing YAML itself (a hostile nesting is the validation's to refuse, with its line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlreg.planner.config.defaults import DEFAULT_TRACKING_URI
from mlreg.planner.config.envexpand import WHOLE_VAR, backend_variable
from mlreg.planner.config.fastyaml import ENTRY_LINE, ROOT_LINE

_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
MIN_BYTES = 64 * 1024  # below this, validating takes less than a request


@dataclass(frozen=True)
class Glance:
    tracking_uri: str
    names: dict[str, frozenset[str]]  # section -> the names of its entries (block-style sections)


_HEAD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):[ \t]*(?:#[^\n]*)?(?=\n|$)")


def _root(text: str, roots: list[int], name: str) -> tuple[int, int] | None:
    """The span of the first top-level line that starts with `name:`, whatever follows."""
    for i, at in enumerate(roots):
        if text.startswith(f"{name}:", at):
            return at, roots[i + 1] if i + 1 < len(roots) else len(text)
    return None


def _sections(text: str, roots: list[int]) -> dict[str, tuple[int, int]]:
    """Each top-level key written alone on its line (a block below it): its span."""
    out = {}
    for i, at in enumerate(roots):
        m = _HEAD.match(text, at)
        if m is not None:
            out[m.group(1)] = (at, roots[i + 1] if i + 1 < len(roots) else len(text))
    return out


_URI_LINE = re.compile(
    r"""^[ ]+tracking_uri:[ ]*(?:'(?P<q1>[^'\n]*)'|"(?P<q2>[^"\\\n]*)"|(?P<plain>[^'"#\s][^#\s]*))[ ]*(?:\#.*)?$"""
)


def backend_value(raw: str, env: dict[str, str]) -> str | None:
    """A backend setting's value as the validated file will have it, or None where the rules
    refuse it (a reference inside a longer string, or to a variable a backend may not use)."""
    if "${" not in raw:
        return raw
    m = WHOLE_VAR.match(raw)
    if m is None or backend_variable(m.group(1)) is not None:
        return None
    return env.get(m.group(1), m.group(2) or "")


def glance(text: str, env: dict[str, str]) -> Glance | None:
    if len(text) < MIN_BYTES:
        return None
    roots = [0] + [m.start() + 1 for m in ROOT_LINE.finditer(text)]
    spans = _sections(text, roots)
    mlflow = _root(text, roots, "mlflow")
    raw = DEFAULT_TRACKING_URI
    if mlflow is not None:  # a plain `tracking_uri:` line below it, or no answer
        lines = text[mlflow[0] : mlflow[1]].splitlines()[1:]
        found = [m for line in lines if (m := _URI_LINE.match(line))]
        if len(found) != 1:
            return None
        raw = found[0].group("q1") or found[0].group("q2") or found[0].group("plain")
    uri = backend_value(raw, env)
    if uri is None:
        return None
    names = {section: _names(text, *span) for section, span in spans.items()}
    names = {section: found for section, found in names.items() if found}
    return Glance(uri, names) if names else None


def _names(text: str, start: int, end: int) -> frozenset[str]:
    found = set()
    for m in ENTRY_LINE.finditer(text, start, end):
        name = _NAME.match(text, m.end())
        if name and text.startswith(":", name.end()):
            found.add(name.group())
    return frozenset(found)
