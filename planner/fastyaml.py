"""A fast path for loading large registry files, that answers only when it is sure.

PyYAML builds Python objects node by node: a registry of 100,000 versions (13 MB) takes ~15 s.
rapidyaml parses in C++ and emits JSON, which the standard library reads in C: ~0.5 s. The two
disagree on a few plain scalars (YAML 1.1 vs 1.2: `yes`, `~`, `010`, `12:30`, dates, `1e3`,
normalised floats), so `fast_load` returns exactly what `yaml.safe_load` would, or None, and the
caller then takes the slow, exact path (which also has the line numbers errors need):
- any anchor, alias, tag, merge key or second document: None;
- a duplicate key: None (the slow path reports it with its line);
- a string PyYAML would read as another type if it were unquoted: every occurrence of it in the
  source must be quoted, else None;
- a float whose text is not in the source as written (rapidyaml normalises `.5` to `0.5`) or that
  PyYAML would not read as a float (`1e3`): None;
- a mapping key PyYAML would not read as a string: None, except the integer keys of
  `policies.<name>.versions`, which become ints as PyYAML makes them.
"""

from __future__ import annotations

import json
import re

from yaml.resolver import Resolver

_RISKY_SYNTAX = re.compile(r"(?:^|[\s\[\{,:])[&*!][^\s,\]\}]|<<\s*:|^(?:---|\.\.\.)(?:\s|$)", re.M)
_STR = "tag:yaml.org,2002:str"
# PyYAML's implicit resolvers, indexed by first character as PyYAML itself does.
_BY_FIRST = {first: [rx for tag, rx in resolvers if tag != _STR]
             for first, resolvers in Resolver.yaml_implicit_resolvers.items()}
_FLOAT = next(rx for rs in Resolver.yaml_implicit_resolvers.values() for tag, rx in rs if tag.endswith(":float"))
_INT = next(rx for rs in Resolver.yaml_implicit_resolvers.values() for tag, rx in rs if tag.endswith(":int"))
_seen: dict[str, bool] = {}


class _Unsure(Exception):
    pass


def _typed_if_plain(s: str) -> bool:
    """Would PyYAML read this text as something other than a string, if it were unquoted?

    "" only comes out of a quoted scalar (an empty plain one is null in both parsers).
    """
    hit = _seen.get(s)
    if hit is None:
        rxs = _BY_FIRST.get(s[:1], ()) if s else ()
        hit = any(rx.match(s) for rx in rxs)
        if len(_seen) < 100_000:
            _seen[s] = hit
    return hit


_OPEN = frozenset(" \t\n[{,:")
_CLOSE = frozenset(" \t\r\n]},:#")


def _quoted_everywhere(text: str, s: str) -> bool:
    """Is every standalone occurrence of `s` in the source quoted? (Occurrences inside longer
    words, such as a date inside a run name, are not scalars of their own.)"""
    for m in re.finditer(re.escape(s), text):
        before = text[m.start() - 1] if m.start() else "\n"
        after = text[m.end()] if m.end() < len(text) else "\n"
        if before in ("'", '"'):
            if after != before:
                return False
        elif before in _OPEN and after in _CLOSE:
            return False
    return True


def fast_load(text: str):
    try:
        import ryml
    except ImportError:  # optional: without it every load takes the exact path
        return None
    if any(c in text for c in "&*!<") or "---" in text or "..." in text:
        if _RISKY_SYNTAX.search(text):
            return None
    floats: set[str] = set()

    def parse_float(lit: str) -> float:
        if not _FLOAT.match(lit):
            raise _Unsure
        floats.add(lit)
        return float(lit)

    def pairs(items):
        d = dict(items)
        if len(d) != len(items):
            raise _Unsure
        return d

    try:
        tree = ryml.parse_in_arena(text.encode())
        emitted = ryml.emit_json(tree)
        del tree  # the C++ tree is as large as the objects about to be built
        data = json.loads(emitted, object_pairs_hook=pairs, parse_float=parse_float)
        del emitted
    except Exception:  # noqa: BLE001 - unsure about anything: the exact path decides
        return None
    if any(lit not in text for lit in floats):
        return None
    suspicious: set[str] = set()
    try:
        data = _walk(data, (), suspicious)
    except _Unsure:
        return None
    if any(not _quoted_everywhere(text, s) for s in suspicious):
        return None
    return data


def _walk(node, path: tuple, suspicious: set[str]):
    """Check every key and string; `path` is tracked only as deep as it matters (3 levels)."""
    if isinstance(node, dict):
        int_keys = len(path) == 3 and path[0] == "policies" and path[2] == "versions"
        out = {}
        for k, v in node.items():
            if _typed_if_plain(k):
                if not (int_keys and _INT.match(k) and k.lstrip("-+").isdigit() and not k.startswith("0")):
                    raise _Unsure
                k = int(k)
            if isinstance(v, (dict, list)):
                v = _walk(v, path + (k,) if len(path) < 3 else path, suspicious)
            elif isinstance(v, str) and _typed_if_plain(v):
                suspicious.add(v)
            out[k] = v
        return out
    for i, v in enumerate(node):
        if isinstance(v, (dict, list)):
            node[i] = _walk(v, path + (i,) if len(path) < 3 else path, suspicious)
        elif isinstance(v, str) and _typed_if_plain(v):
            suspicious.add(v)
    return node
