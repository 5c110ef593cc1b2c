"""Limits that keep a hostile registry file from costing more than a moment.

Checked before anything is built from the file, each refusal located (`file:line:column`):
- size: files over MLREG_MAX_FILE_BYTES (default 64 MiB; a 100,000-version registry is ~13 MB);
- nesting: more than MAX_DEPTH levels of mappings and sequences;
- anchors and aliases: an alias inside the node it refers to (self-reference), and aliases that
  would add more than ALIAS_NODE_BUDGET nodes beyond the file's own (the "billion laughs").
The walk reads PyYAML's event stream (libyaml's parser when present): linear in the file, no
recursion, and it stops at the first problem.
"""

from __future__ import annotations

import os

import yaml

from mlreg.planner.diagnostics import Diagnostic, Severity

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 100
ALIAS_NODE_BUDGET = 100_000

_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def max_file_bytes() -> int:
    try:
        return int(os.environ.get("MLREG_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES))
    except ValueError:
        return DEFAULT_MAX_FILE_BYTES


def check_size(size: int, file: str) -> Diagnostic | None:
    cap = max_file_bytes()
    if size <= cap:
        return None
    return Diagnostic(
        Severity.ERROR,
        f"The file is {size:,} bytes, over the limit of {cap:,} bytes",
        "split it, or raise the limit with MLREG_MAX_FILE_BYTES",
        file=file,
        line=1,
        column=1,
    )


def _diag(file: str, mark, summary: str, detail: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, detail, file=file, line=mark.line + 1, column=mark.column + 1)


def check_structure(text: str, file: str) -> Diagnostic | None:
    """The first nesting or alias problem in `text`, or None. YAML syntax errors are left to the
    loader, which reports them with their position."""
    frames: list[list] = []  # [anchor or None, expanded node count]
    sizes: dict[str, int] = {}
    open_anchors: set[str] = set()
    raw = expanded = 0
    try:
        for ev in yaml.parse(text, Loader=_PARSER):
            if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                raw += 1
                if len(frames) >= MAX_DEPTH:
                    return _diag(
                        file,
                        ev.start_mark,
                        f"Nesting deeper than {MAX_DEPTH} levels",
                        "registry files are a few levels deep; this looks generated or hostile",
                    )
                frames.append([ev.anchor, 1])
                if ev.anchor:
                    open_anchors.add(ev.anchor)
            elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                anchor, count = frames.pop()
                if anchor:
                    sizes[anchor] = count
                    open_anchors.discard(anchor)
                if frames:
                    frames[-1][1] += count
            elif isinstance(ev, yaml.ScalarEvent):
                raw += 1
                if ev.anchor:
                    sizes[ev.anchor] = 1
                if frames:
                    frames[-1][1] += 1
            elif isinstance(ev, yaml.AliasEvent):
                if ev.anchor in open_anchors:
                    return _diag(
                        file,
                        ev.start_mark,
                        f"Alias *{ev.anchor} refers to a node that contains it",
                        "recursive aliases are not allowed",
                    )
                size = sizes.get(ev.anchor, 1)
                expanded += size
                if frames:
                    frames[-1][1] += size
                if expanded > ALIAS_NODE_BUDGET + raw:
                    return _diag(
                        file,
                        ev.start_mark,
                        "Aliases expand to too many nodes",
                        f"aliases may add at most {ALIAS_NODE_BUDGET:,} nodes beyond the file's own "
                        f"{raw:,}; write the values out or use fewer nested aliases",
                    )
    except yaml.YAMLError:
        return None  # the loader reports syntax errors with their position
    return None
