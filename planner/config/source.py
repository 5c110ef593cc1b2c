"""Load YAML keeping the position of every node, and refuse duplicate keys.

PyYAML silently keeps the last of two equal keys; a registry file where that happens is
almost always a merge mistake, so it is an error here. The loader returns plain Python data
plus a map from key path to (line, column), which config errors use to point at the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlreg.planner.diagnostics import Diagnostic, Severity
from mlreg.planner.render.escape import has_control, text

MERGE_TAG = "tag:yaml.org,2002:merge"
_FAILED = object()  # a scalar that could not be constructed (its error is reported)

# libyaml's parser when PyYAML has it (≈10x faster on large files); marks are the same.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PathPart = str | int
Path = tuple[PathPart, ...]


@dataclass
class Source:
    """A loaded YAML document: its data and where each key path sits in the file."""

    file: str
    data: object
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    # Paths whose parts are sequence indexes, so `versions[1]` renders correctly even when a
    # mapping is keyed by integers (policy versions are).
    seq_paths: set[Path] = field(default_factory=set)

    def mark(self, path: Path) -> tuple[int, int] | None:
        """The position of the deepest node on `path` that exists in the file."""
        for n in range(len(path), -1, -1):
            m = self.marks.get(tuple(path[:n]))
            if m is not None:
                return m
        return None

    def diag(self, path: Path, summary: str, detail: str = "", severity=Severity.ERROR) -> Diagnostic:
        line, col = self.mark(path) or (None, None)
        return Diagnostic(
            severity=severity,
            summary=summary,
            detail=detail,
            file=self.file,
            line=line,
            column=col,
            key_path=self.render_path(path),
        )

    def render_path(self, path: Path) -> str:
        out = ""
        for i, part in enumerate(path):
            if tuple(path[: i + 1]) in self.seq_paths:
                out += f"[{part}]"
            else:
                out += ("." if out else "") + str(part)
        return out


class _Builder:
    def __init__(self, source: Source):
        self.source = source
        self.constructor = SafeConstructor()
        self.errors: list[Diagnostic] = []

    def build(self, node: Node, path: Path) -> object:
        self.source.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, MappingNode):
            out: dict = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    self.errors.append(self.source.diag(path, "Mapping keys must be plain values"))
                    continue
                key = self._scalar(key_node, path) if key_node.tag != MERGE_TAG else "<<"
                if key is _FAILED:
                    continue
                if key == "<<":
                    self.errors.append(self.source.diag(path, "YAML merge keys (<<) are not supported"))
                    continue
                kpath = path + (key,)
                if isinstance(key, str) and has_control(key):
                    self.source.marks[kpath] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                    self.errors.append(
                        self.source.diag(
                            kpath,
                            f"Control characters are not allowed in names and keys: {text(key)!r}",
                            "names and keys become addresses and lines of the plan; use printable text",
                        )
                    )
                    continue
                if key in out:
                    first = self.source.marks.get(kpath)
                    where = f" (first defined at line {first[0]})" if first else ""
                    self.source.marks[kpath] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                    self.errors.append(
                        self.source.diag(kpath, f"Duplicate key {key!r}{where}", "each key may appear once")
                    )
                    continue
                self.source.marks[kpath] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.build(value_node, kpath)
                # Keep the key's own position: errors about a value point at its key line.
                self.source.marks[kpath] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            return out
        if isinstance(node, SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                self.source.seq_paths.add(path + (i,))
                items.append(self.build(item, path + (i,)))
            return items
        value = self._scalar(node, path)
        return None if value is _FAILED else value

    def _scalar(self, node: Node, path: Path):
        """A scalar's value; a tag the safe loader does not know (`!!python/object`) is an error
        at its line, not an exception."""
        try:
            return self.constructor.construct_object(node)
        except yaml.constructor.ConstructorError as e:
            self.source.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
            self.errors.append(self.source.diag(path, f"YAML: {e.problem}", "registry files use plain YAML values"))
            return _FAILED


def load_yaml(text: str, file: str) -> tuple[Source, list[Diagnostic]]:
    source = Source(file=file, data=None)
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = " ".join(p for p in (e.context, e.problem) if p)
        at = (
            text.splitlines()[mark.line][mark.column : mark.column + 1]
            if mark and line <= len(text.splitlines())
            else ""
        )
        if at == "\t":
            problem = "a tab character: YAML indents with spaces only"
        return source, [
            Diagnostic(
                severity=Severity.ERROR,
                summary=f"YAML syntax error: {problem}",
                file=file,
                line=line,
                column=col,
                key_path="",
            )
        ]
    except yaml.YAMLError as e:  # pragma: no cover - PyYAML raises marked errors for text input
        return source, [Diagnostic(severity=Severity.ERROR, summary=f"YAML error: {e}", file=file)]
    if root is None:
        source.data = {}
        return source, []
    builder = _Builder(source)
    source.data = builder.build(root, ())
    return source, builder.errors
