"""Where each resource is declared: the file (always, cheaply) and the line (only when asked: a
large file read by the fast loader has no positions until something needs one).

Used for Terraform's `configuration` in the JSON plan, the Markdown plan grouped by file, and
diagnostics that name the file holding the resource.
"""

from __future__ import annotations

from mlreg.planner.changes import Address
from mlreg.planner.config.schema import LoadedConfig
from mlreg.planner.kinds.catalog import KINDS


class Declared:
    def __init__(self, loaded: LoadedConfig):
        self.loaded = loaded

    def _path(self, at: Address | None) -> tuple | None:
        kind = KINDS.get(at.type) if at is not None else None
        return kind.config_path(self.loaded.config, at) if kind is not None else None

    def file_of(self, at: Address) -> str | None:
        """The file that declares `at`, or the one whose `removed` entry names it (None: no file
        does, e.g. a forgotten resource)."""
        path = self._path(at)
        if path is not None:
            return self.loaded.file_of(path)
        for i, entry in enumerate(self.loaded.config.removed):
            if entry.at == at:
                return self.loaded.file_of(("removed", i))
        return None

    def where(self, at: Address | None) -> tuple[str | None, int | None]:
        path = self._path(at)
        return self.loaded.where(path) if path is not None else (None, None)

    def resources(self) -> list[dict]:
        """Terraform's `configuration.root_module.resources`, with mlreg's `file` and `line`."""
        out = []
        for kind in KINDS.values():
            for at in kind.declared_addresses(self.loaded.config):
                path = kind.config_path(self.loaded.config, at)
                file, line = self.loaded.where(path) if path else (None, None)
                entry = {"address": str(at), "mode": "managed", "type": kind.type, "name": at.name}
                if at.key is not None:
                    entry["index"] = kind.index(at.key)
                entry.update({"provider_config_key": kind.provider, "file": file, "line": line})
                out.append(entry)
        return out
