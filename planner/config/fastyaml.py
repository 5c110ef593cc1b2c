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
- a mapping key PyYAML would not read as a string: None, except where the sections declare
  integer keys (`policies.<name>.versions`), which become ints as PyYAML makes them;
- anything rapidyaml or json refuse (nesting over 64 levels included): None.
The checks run inside json's object hook, once per mapping, instead of walking the result.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Collection, Mapping
from contextlib import contextmanager
from sys import intern as _intern
from typing import Any

from yaml.resolver import Resolver

_RISKY_SYNTAX = re.compile(r"(?:^|[\s\[\{,:])[&*!][^\s,\]\}]|<<\s*:|^(?:---|\.\.\.)(?:\s|$)", re.M)
_STR = "tag:yaml.org,2002:str"
# PyYAML's implicit resolvers, indexed by first character as PyYAML itself does.
_BY_FIRST = {
    first: [rx for tag, rx in resolvers if tag != _STR] for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
_FLOAT = next(rx for rs in Resolver.yaml_implicit_resolvers.values() for tag, rx in rs if tag.endswith(":float"))
_INT = next(rx for rs in Resolver.yaml_implicit_resolvers.values() for tag, rx in rs if tag.endswith(":int"))
_seen: dict[str, bool] = {}


@contextmanager
def _stderr_silenced():
    """Point fd 2 at /dev/null for a moment (the C++ parser writes there before it raises)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _Unsure(Exception):
    pass


_PLAIN_ASCII = bytes(range(32, 127)) + b"\n\r"


def _control_possible(text: str) -> bool:
    """Could a parsed key hold a control character? Only if the text has one written raw (a tab
    included), an escape in a double-quoted scalar (a backslash), or non-ASCII text (Unicode
    separators, direction marks). Checked in C over the whole text: a few milliseconds."""
    if not text.isascii() or "\\" in text:
        return True
    return bool(text.encode("ascii").translate(None, _PLAIN_ASCII))


_LONE_CR = re.compile(r"\r(?!\n)")
_OPEN = frozenset(" \t\n[{,:")
_CLOSE = frozenset(" \t\r\n]},:#")


def _unquoted_somewhere(text: str, strings: set[str]) -> bool:
    """Does any of `strings` stand unquoted in the source? (Occurrences inside longer words, such
    as a date inside a run name, are not scalars of their own.) One pass for all of them."""
    if not strings:
        return False
    pattern = re.compile("|".join(re.escape(x) for x in sorted(strings, key=len, reverse=True)))
    n = len(text)
    for m in pattern.finditer(text):
        start, end = m.span()
        before = text[start - 1] if start else "\n"
        after = text[end] if end < n else "\n"
        if before in ("'", '"'):
            if after != before:
                return True
        elif before in _OPEN and after in _CLOSE:
            return True
    return False


class _Loader:
    """One fast load: rapidyaml parses, json's C decoder builds, and every mapping is checked in
    json's object hook (duplicate keys, keys and strings PyYAML would type differently)."""

    def __init__(self, ryml, control_possible: bool = True):
        self.ryml = ryml
        # no control character, and no escape that could make one, anywhere in the text: no key
        # can hold one, and the check per key is skipped
        self.control_possible = control_possible
        self.floats: set[str] = set()
        self.suspicious: set[str] = set()
        self.typed_keys = 0
        self.plain_keys: set[str] = set()  # keys PyYAML reads as strings too
        self.copies: dict[str, str] = {}  # short values met: the one copy each shares

    def typed(self, x: str) -> bool:
        hit = _seen.get(x)
        if hit is None:
            hit = any(rx.match(x) for rx in _BY_FIRST.get(x[:1], ())) if x else False
            if len(_seen) < 100_000:
                _seen[x] = hit
        return hit

    def _scan_list(self, items: list) -> None:
        for v in items:
            if v.__class__ is str:
                if self.typed(v):
                    self.suspicious.add(v)
            elif v.__class__ is list:
                self._scan_list(v)

    def _float(self, lit: str) -> float:
        if not _FLOAT.match(lit):
            raise _Unsure
        self.floats.add(lit)
        return float(lit)

    def _pairs(self, items):
        d = dict(items)
        if len(d) != len(items):
            raise _Unsure
        keys, copies = self.plain_keys, self.copies
        control = self.control_possible
        for k, v in items:
            if control and not k.isprintable():  # control characters in a name: the exact loader reports it
                raise _Unsure
            if k not in keys:
                self._first_key(k)
            if v.__class__ is str:
                one = copies.get(v)
                if one is not None:
                    d[k] = one  # short values repeat (stages, teams, dates): one copy of each
                else:
                    self._first_value(v)
            elif v.__class__ is list:
                self._scan_list(v)
        return d

    def _first_key(self, k: str) -> None:
        """A key not met before as a plain one: counted if PyYAML would type it, else known."""
        if self.typed(k):
            self.typed_keys += 1
        else:
            self.plain_keys.add(k)

    def _first_value(self, v: str) -> None:
        """A value met for the first time: remembered to be found quoted in the source if PyYAML
        would type it; kept, if short, as the copy later ones share."""
        if self.typed(v):
            self.suspicious.add(v)
        if len(v) < 48:
            self.copies[v] = _intern(v)

    def parse(self, text: str):
        with _stderr_silenced():  # rapidyaml reports its refusals (e.g. depth) on fd 2 too
            tree = self.ryml.parse_in_arena(text.encode())
            emitted = self.ryml.emit_json(tree)
        del tree  # the C++ tree is as large as the objects about to be built
        return json.loads(emitted, object_pairs_hook=self._pairs, parse_float=self._float)


# Patterns start with a literal newline, which the regex engine finds with memchr: a 13 MB file is
# scanned in milliseconds. A root line starts at column 0; a section's entry at column 2.
ROOT_LINE = re.compile(r"\n(?=[^ \t#\n])")
_ROOT_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*:(?:[ \t]|$)")
ENTRY_LINE = re.compile(r"\n  (?=[^ \t#\n-])")
_SHALLOW = re.compile(r"\n (?=[^ \t#\n])")  # a line indented by one space
BATCH_BYTES = 128 * 1024


def _chunks(text: str, streamed: Collection[str]) -> tuple[str, dict[str, list[str]]] | None:
    """Split a block-style file into everything but its streamed sections (`streamed`, e.g.
    `models:`), and each streamed section's batches of whole entries (each entry starts at
    column 2); None when the file is not shaped so, or has none of them. Parsing in batches keeps
    the parser's tree small: it takes ~15x the text's size."""
    roots = [0] + [m.start() + 1 for m in ROOT_LINE.finditer(text)]
    lines = [text[at : text.find("\n", at) if "\n" in text[at : at + 200] else at + 200] for at in roots]
    keyed = [i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")]
    if not all(_ROOT_KEY.match(lines[i]) for i in keyed):
        return None
    heads = {i: lines[i].split("#", 1)[0].strip().removesuffix(":") for i in keyed}
    found = [i for i in keyed if heads[i] in streamed and lines[i].split("#", 1)[0].strip().endswith(":")]
    if not found or len({heads[i] for i in found}) != len(found):
        return None
    spans, sections = [], {}
    for i in found:
        start = roots[i]
        body_start = text.find("\n", start) + 1
        after = [roots[j] for j in keyed if j > i]
        end = after[0] if after else len(text)
        batches = _batches(text, body_start, end)
        if batches is None:
            return None
        spans.append((start, end))
        sections[heads[i]] = batches
    rest, at = [], 0
    for start, end in spans:
        rest.append(text[at:start])
        at = end
    rest.append(text[at:])
    return "".join(rest), sections


def _batches(text: str, body_start: int, end: int) -> list[str] | None:
    """The entries of one section's body (`text[body_start:end]`), in batches of whole entries."""
    if body_start <= 0 or body_start >= end:
        return None
    # Searched in place (from the newline before the first entry line): no copy of the body.
    first = ENTRY_LINE.search(text, body_start - 1, end)
    if first is None or _SHALLOW.search(text, body_start - 1, end):
        return None
    lead = text[body_start : first.start()]
    if lead.strip(" \t\n") and not lead.lstrip().startswith("#"):
        return None
    batches, at = [], first.start() + 1
    while at < end:
        nxt = ENTRY_LINE.search(text, min(at + BATCH_BYTES, end), end)
        stop = nxt.start() + 1 if nxt else end
        batches.append(text[at:stop])
        at = stop
    return batches


Convert = Callable[[Any, Any], Any]


def fast_load(text: str, streamed: Mapping[str, Convert] | None = None, integer_keys: Collection[tuple] = ()):
    """`streamed`: section name -> `convert(name, raw)`, which turns each entry of that section
    into its validated object as soon as its batch is parsed, so the raw data of all entries
    never exists at once; it raises to say "unsure" (the exact path then reports the problem with
    its line). `integer_keys`: key paths (`("policies", "*", "versions")`, `*` any entry) whose
    mapping keys PyYAML reads as integers."""
    try:
        import ryml
    except ImportError:  # optional: without it every load takes the exact path
        return None
    if (any(c in text for c in "&*!<") or "---" in text or "..." in text) and _RISKY_SYNTAX.search(text):
        return None
    if "\r" in text and _LONE_CR.search(text):  # a line break to PyYAML, part of a key to rapidyaml
        return None
    streamed = streamed or {}
    loader = _Loader(ryml, _control_possible(text))
    # what "unsure" looks like: our checks, rapidyaml's refusals, json's and the entries' validation
    unsure = (_Unsure, ryml.ExceptionBasic, ValueError, TypeError, RecursionError)
    try:
        split = _chunks(text, streamed) if streamed and len(text) > BATCH_BYTES else None
        if split is None:
            data = loader.parse(text)
            for name, convert in streamed.items():
                if isinstance(data, dict) and isinstance(data.get(name), dict):
                    data[name] = {k: convert(k, v) for k, v in data[name].items()}
        else:
            data = _parse_split(loader, split, streamed)
    except unsure:
        return None
    if not isinstance(data, dict) or any(lit not in text for lit in loader.floats):
        return None
    if loader.typed_keys != sum(_integer_keys(data, path) for path in integer_keys):
        return None  # a typed key somewhere else than where integer keys are declared
    if _unquoted_somewhere(text, loader.suspicious):
        return None
    return data


def _parse_split(loader: _Loader, split: tuple[str, dict[str, list[str]]], streamed: Mapping[str, Convert]):
    rest, sections = split
    data = loader.parse(rest) or {}
    if not isinstance(data, dict) or sections.keys() & data.keys():
        raise _Unsure
    for name, batches in sections.items():
        entries: dict = {}
        convert = streamed[name]
        for batch in batches:
            typed_before = loader.typed_keys
            part = loader.parse(batch)
            if not isinstance(part, dict) or loader.typed_keys != typed_before or entries.keys() & part.keys():
                raise _Unsure
            for k, v in part.items():
                entries[k] = convert(k, v)
            del part
        data[name] = entries
    return data


def _integer_keys(data: dict, path: tuple) -> int:
    """Turn the keys of the mappings at `path` (`*`: every entry) into ints as PyYAML does;
    returns how many."""
    if not path:
        return 0
    nodes = [data]
    for part in path[:-1]:
        nodes = [v for n in nodes for k, v in n.items() if part in ("*", k) and isinstance(v, dict)]
    n = 0
    last = path[-1]
    for node in nodes:
        for name in [k for k in node if last in ("*", k)]:
            mapping = node[name]
            if not isinstance(mapping, dict):
                continue
            keys = [k for k in mapping if _INT.match(k) and k.lstrip("-+").isdigit() and not k.startswith("0")]
            if keys:
                node[name] = {(int(k) if k in keys else k): v for k, v in mapping.items()}
                n += len(keys)
    return n
