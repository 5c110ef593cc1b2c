"""One registry in many files: every `*.yaml` / `*.yml` directly in a folder, read in name order and
merged into one configuration, as Terraform reads every `*.tf` of a module.

Every model, prompt, webhook, policy, role, user and workspace is declared in exactly one file;
the settings (`mlflow`, `database`, `state`, `rules`, `workspace`) in one file only; `version`
in at least one (others may repeat it, with the same value); `removed` entries come from any
file. `MergedSource` routes a diagnostic about a key path to the file that declares it, at its
line, so every message names the right file.

In a folder, what decides where and under which rules and rights everything runs (the settings,
and the sections that declare themselves `protected`: workspaces, access, …) is accepted only in
files whose name begins with `_` (`_settings.yaml`, `_access.yaml`), so that one CODEOWNERS line
(`/registry/_*`) puts all of it under the platform team's review: a team's own file cannot claim
a setting just because no other file gives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from mlreg.planner.config.sections.registry import Section
from mlreg.planner.config.source import Path, Source, load_yaml
from mlreg.planner.diagnostics import Diagnostic, Severity

SETTINGS = ("mlflow", "database", "state", "rules", "workspace")


def protected_paths(declared: Sequence[Section]) -> list[tuple[str, ...]]:
    """The key paths only `_*` files of a folder may give: the settings, and what the sections
    declare protected (a whole section, or some of its keys)."""
    out = [(k,) for k in SETTINGS]
    for s in declared:
        at = tuple(s.name.split("."))  # gateway.secrets: the key secrets under gateway
        if s.protected is True:
            out.append(at)
        elif s.protected:
            out += [(*at, key) for key in s.protected]
    return out


@dataclass
class ParsedFile:
    """One file, parsed: its data, and its positions (None when the fast loader read it; they
    are then read again only if something needs a line)."""

    name: str  # as shown in messages (relative to where mlreg was started)
    text: str | None  # None: a large file not kept in memory (read again from disk if needed)
    data: dict
    source: Source | None = None
    fast: bool = False  # read by the fast loader (its data may hold validated objects, not raw YAML)
    sha: str | None = None  # SHA-256 of the file's bytes as read

    def full_text(self) -> str:
        """Its text: kept, or read again from disk if it is still the same file ("" if not)."""
        if self.text is not None:
            return self.text
        import hashlib

        try:
            data = FsPath(self.name).read_bytes()
        except OSError:
            return ""
        return data.decode("utf-8", errors="replace") if hashlib.sha256(data).hexdigest() == self.sha else ""

    def located(self) -> Source:
        """Its positions, from the exact loader (read now if the fast loader read it)."""
        if self.source is None:
            self.source, _ = load_yaml(self.full_text(), self.name)
        return self.source


@dataclass
class MergedSource:
    """Diagnostics and positions for the merged data, answered by the file that declares each
    key path. `owners` maps an ownership key (see `owner_key`) to the index of its file;
    `removed` maps a merged `removed` index to (file index, index in that file)."""

    files: list[ParsedFile]
    owners: dict[tuple, int] = field(default_factory=dict)
    removed: list[tuple[int, int]] = field(default_factory=list)
    named_sections: dict[str, tuple[str, ...]] = field(default_factory=dict)  # section -> sub-keys of names

    @property
    def file(self) -> str:
        return self.files[0].name if len(self.files) == 1 else ", ".join(f.name for f in self.files)

    def owner_key(self, path: Path) -> tuple | None:
        if not path:
            return None
        head = path[0]
        if head in self.named_sections:
            subs = self.named_sections[head]
            if subs:
                return tuple(path[:3]) if len(path) >= 3 and path[1] in subs else (head,)
            return tuple(path[:2]) if len(path) >= 2 else (head,)
        return (head,)

    def locate(self, path: Path) -> tuple[ParsedFile | None, Path]:
        """The file that declares `path`, and the path as that file has it."""
        if len(path) >= 2 and path[0] == "removed" and isinstance(path[1], int) and path[1] < len(self.removed):
            i, local = self.removed[path[1]]
            return self.files[i], ("removed", local, *path[2:])
        key = self.owner_key(path)
        while key:
            if key in self.owners:
                return self.files[self.owners[key]], path
            key = key[:-1]
        return (self.files[0] if len(self.files) == 1 else None), path

    def diag(self, path: Path, summary: str, detail: str = "", severity=Severity.ERROR) -> Diagnostic:
        found, local = self.locate(path)
        if found is None:
            return Diagnostic(severity=severity, summary=summary, detail=detail, key_path=render(path))
        return found.located().diag(local, summary, detail, severity)

    def value_text(self, path: Path) -> str | None:
        """The value at `path` as written on its line (`off` for `status: off`), if simple."""
        found, local = self.locate(path)
        mark = found.located().mark(local) if found is not None else None
        if mark is None:
            return None
        lines = found.full_text().splitlines()
        line = lines[mark[0] - 1] if mark[0] - 1 < len(lines) else ""
        key = str(path[-1]) if path else ""
        _, sep, rest = line.partition(f"{key}:")
        value = rest.split("#", 1)[0].strip().rstrip(",}").strip() if sep else ""
        return value or None

    def where(self, path: Path) -> tuple[str | None, int | None]:
        """(file, line) of the deepest node of `path` that exists."""
        found, local = self.locate(path)
        if found is None:
            return None, None
        mark = found.located().mark(local)
        return found.name, (mark[0] if mark else None)

    def file_of(self, path: Path) -> str | None:
        """The file that declares `path` (without reading positions)."""
        found, _ = self.locate(path)
        return found.name if found is not None else None


def render(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def protected(f: ParsedFile, paths: Sequence[tuple[str, ...]]) -> list[Diagnostic]:
    """Settings and protected sections (`paths`) in a folder's file whose name does not begin with `_`."""
    if FsPath(f.name).name.startswith("_") or not isinstance(f.data, dict):
        return []
    out = []
    for path in paths:
        node = f.data
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            shown = ".".join(path)
            out.append(
                f.located().diag(
                    path,
                    f"`{shown}` may be given only in a file whose name begins with `_` (such as _settings.yaml), "
                    f"not in {FsPath(f.name).name}",
                    "where and under which rules and rights everything runs is kept in the `_*` files, which one "
                    "CODEOWNERS line (/registry/_*) puts under the platform team's review",
                )
            )
    return out


def merge(
    files: list[ParsedFile], declared: Sequence[Section], folder: bool = False
) -> tuple[dict, MergedSource, list[Diagnostic]]:
    """The files' data as one configuration, who owns what, and every conflict (named in both
    files, at both lines). `declared`: the sections that declare named resources (each name in
    one file). `folder`: the files are a folder's (settings only in `_*` files)."""
    m = _Merge(files, declared)
    if folder:
        paths = protected_paths(declared)
        m.diags += [d for f in files for d in protected(f, paths)]
    for i, f in enumerate(files):
        if not isinstance(f.data, dict):
            m.diags.append(f.located().diag((), "The file must be a mapping"))
            continue
        for key, value in f.data.items():
            m.take(i, key, value)
    if len(files) > 1 and "version" not in m.merged:
        m.diags.append(
            Diagnostic(
                Severity.ERROR,
                "No file gives `version: 1`",
                "put it in one file (conventionally _settings.yaml)",
                file=files[0].name,
            )
        )
    return m.merged, m.source, m.diags


class _Merge:
    """One merge: the configuration so far, who owns each key, the first place each was given."""

    def __init__(self, files: list[ParsedFile], declared: Sequence[Section]):
        self.files = files
        self.named = {s.name: s.names for s in declared if not s.single or s.names}
        self.nouns = {s.name: s.entry_noun for s in declared}
        for s in declared:  # `PARENT.CHILD` sections: PARENT's entries are claimed per CHILD name
            parent, dot, child = s.name.rpartition(".")
            if dot:
                self.named[parent] = (*self.named.get(parent, ()), child)
        self.source = MergedSource(files, named_sections=self.named)
        self.merged: dict = {}
        self.diags: list[Diagnostic] = []
        self.first_at: dict[tuple, tuple[int, Path]] = {}

    def claim(self, key: tuple, index: int, path: Path, what: str) -> bool:
        """Is file `index` the first to give `key`? (A second one is a conflict, at both lines.)"""
        if key in self.first_at:
            j, other_path = self.first_at[key]
            here, there = _at(self.files[index], path), _at(self.files[j], other_path)
            self.diags.append(
                self.files[index]
                .located()
                .diag(path, f"{what} is declared in two files: {there} and {here}", "each is declared in one file only")
            )
            return False
        self.first_at[key] = (index, path)
        self.source.owners[key] = index
        return True

    def take(self, i: int, key, value) -> None:
        """One top-level key of file `i`."""
        if key == "version":
            self.version(i, value)
        elif key == "removed":
            self.merged.setdefault("removed", [])
            for local, item in enumerate(value if isinstance(value, list) else [value]):
                self.source.removed.append((i, local))
                self.merged["removed"].append(item)
        elif key in self.named and isinstance(value, dict):
            self.section(i, key, value)
        else:
            what = f"`{key}`" if key in SETTINGS else f"the top-level key `{key}`"
            if self.claim((key,), i, (key,), what):
                self.merged[key] = value

    def version(self, i: int, value) -> None:
        merged = self.merged
        if "version" in merged and merged["version"] != value:
            self.diags.append(
                self.files[i]
                .located()
                .diag(
                    ("version",),
                    f"version: {value!r} differs from {merged['version']!r} in another file",
                    "every file that gives `version` gives the same",
                )
            )
        merged.setdefault("version", value)
        self.source.owners.setdefault(("version",), i)

    def section(self, i: int, key: str, value: dict) -> None:
        """A section that declares named resources: each name claimed by one file."""
        subs = self.named[key]
        target = self.merged.setdefault(key, {})
        if not isinstance(target, dict):
            return
        if not subs:
            for name, entry in value.items():
                if self.claim((key, name), i, (key, name), f"{self.nouns[key]} {name!r}"):
                    target[name] = entry
            return
        for sub, entries in value.items():
            if sub in subs and isinstance(entries, dict):
                into = target.setdefault(sub, {})
                for name, entry in entries.items():
                    if self.claim((key, sub, name), i, (key, sub, name), f"{key}.{sub} {name!r}"):
                        into[name] = entry
            elif self.claim((key, sub), i, (key, sub), f"`{key}.{sub}`"):
                target[sub] = entries


def _at(f: ParsedFile, path: Path) -> str:
    mark = f.located().mark(path)
    return f"{f.name}:{mark[0]}" if mark else f.name
