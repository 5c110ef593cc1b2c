"""Limits that keep a hostile registry file from costing more than a moment.

Checked before anything is built from the file, each refusal located (`file:line:column`):
- what is read (`read_bounded`): regular files only (a device, a FIFO or a socket is refused by
  name, before it is read), no link out of the configuration's folder, and never more bytes than
  the size limit, for one file and for a folder's files together;
- size: files over MLREG_MAX_FILE_BYTES (default 64 MiB; a 100,000-version registry is ~13 MB);
- nesting: more than MAX_DEPTH levels of mappings and sequences;
- anchors and aliases: an alias inside the node it refers to (self-reference), and aliases that
  would add more than ALIAS_NODE_BUDGET nodes beyond the file's own (the "billion laughs");
- nodes: more than MLREG_MAX_YAML_NODES (default NODE_BUDGET) in a configuration's files together,
  on the exact loader's path (it keeps a position per node: a 100,000-version registry is 1.8M
  nodes, ~30 s and ~900 MB there; a file of short flow lists packs four times as many per byte).
The walk reads PyYAML's event stream (libyaml's parser when present): linear in the file, no
recursion, and it stops at the first problem.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

from mlreg.planner.diagnostics import Diagnostic, Severity

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 100
ALIAS_NODE_BUDGET = 100_000
NODE_BUDGET = 2_500_000

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


def _refused(file: str, summary: str, detail: str = "") -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, detail, file=file)


def read_bounded(path: Path, within: Path | None = None, budget: int | None = None) -> bytes | Diagnostic:
    """A registry file's bytes, read only if it is a regular file (inside `within`, a folder, if
    given) of at most `budget` bytes (default: the size limit); otherwise why not."""
    name = str(path)
    cap = max_file_bytes() if budget is None else budget
    try:
        if within is not None and path.is_symlink() and not path.resolve().is_relative_to(within.resolve()):
            return _refused(name, f"{name} is a symbolic link out of the folder", "registry files are the folder's own")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return _refused(name, f"{name} is not a regular file", "registry files are plain files")
            if st.st_size > cap:
                return _too_big(st.st_size, cap, name, within)
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read(st.st_size + 1)  # never the whole cap up front
                if len(data) > st.st_size:  # it grew while being read
                    data += f.read(cap + 1 - len(data))
        finally:
            os.close(fd)
    except OSError as e:
        return _refused(name, f"Cannot read {name}: {e.strerror}")
    return data if len(data) <= cap else _too_big(len(data), cap, name, within)


def _too_big(size: int, cap: int, name: str, within: Path | None) -> Diagnostic:
    if within is None:
        return check_size(size, name) or _refused(name, "The file is over the size limit")
    return Diagnostic(
        Severity.ERROR,
        f"The folder's files are over the limit of {max_file_bytes():,} bytes together (at {name})",
        "split the registry, or raise the limit with MLREG_MAX_FILE_BYTES",
        file=name,
        line=1,
        column=1,
    )


def _diag(file: str, mark, summary: str, detail: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, detail, file=file, line=mark.line + 1, column=mark.column + 1)


def node_budget() -> int:
    try:
        return int(os.environ.get("MLREG_MAX_YAML_NODES", NODE_BUDGET))
    except ValueError:
        return NODE_BUDGET


class Budget:
    """The nodes a configuration's files may still hold on the exact loader's path."""

    def __init__(self, nodes: int | None = None):
        self.nodes = node_budget() if nodes is None else nodes


def check_structure(text: str, file: str, budget: Budget | None = None) -> Diagnostic | None:
    """The first nesting, alias or size problem in `text`, or None. YAML syntax errors are left
    to the loader, which reports them with their position. `budget`: shared by a folder's files."""
    budget = budget or Budget()
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
                if raw > budget.nodes:
                    return _diag(
                        file,
                        ev.start_mark,
                        f"More than {node_budget():,} YAML nodes in the configuration's files",
                        "registry files this large are split or generated; raise the limit with MLREG_MAX_YAML_NODES",
                    )
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
    budget.nodes -= raw
    return None
