"""The sections of registry.yaml that declare resources, each registered by its own module in this
package (as Alembic's comparators register beside their op): its type, its cross-reference check,
and what the loaders need to know about it. A leaf: it imports nothing from the kinds (they name
their section by its name) nor from the loader (which asks this registry instead of naming
sections).

A new section is one module here that ends with `register(Section(...))`; the loader, the fast
loader, the merge of a folder's files and `Config` (schema.py) pick it up from the declaration.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Section:
    """A top-level section of registry.yaml that declares resources.

    `spec`: the pydantic type of one entry (NAME -> entry), or of the whole section when `single`
    (one object, such as `access:`). `check(ctx)`: its cross-reference check (names, duplicates,
    references to other sections), given a `config.references.CheckContext`.
    `expanded` / `secrets`: entry keys where `${VAR}` is expanded / that hold secrets (accepted
    only as an environment reference, never echoed). `secret_when_referenced`: expanded keys that
    take a reference only as their whole value, and are then a secret (the loader sets the entry's
    `KEY_sensitive`): a webhook URL from the environment may carry a token.
    `names`: the keys under which a `single` section declares named resources, for "declared in
    two files" (() for a NAME -> entry section: the entry names themselves).
    `streamed`: the fast loader parses its entries batch by batch and validates each as soon as
    it is parsed (a section that may hold 100,000 versions: its raw data never exists at once).
    `integer_keys`: key paths below an entry whose mapping keys YAML reads as integers
    (`("versions",)` for `policies.NAME.versions`), which the fast loader then makes integers too.
    `aliases(raw_entry)`: the aliases a raw entry declares (sections whose kinds have aliases), for
    `removed` entries that name one alias. `protected`: in a folder, only `_*` files may give it
    (True), or these keys of it. `noun`: one entry, in messages ("policy").
    """

    name: str
    spec: type
    description: str
    check: Callable[[Any], None] | None = None  # takes a config.references.CheckContext
    single: bool = False
    expanded: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    secret_when_referenced: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    order: int = 0
    streamed: bool = False
    integer_keys: tuple[tuple[str, ...], ...] = ()
    aliases: Callable[[dict], set[str]] | None = None
    protected: bool | tuple[str, ...] = False
    noun: str = ""

    @property
    def entry_noun(self) -> str:
        return self.noun or self.name.removesuffix("s")


_SECTIONS: dict[str, Section] = {}
_loaded = False
_lock = threading.Lock()


def register(section: Section) -> Section:
    """Declare a section (called by its module as it is imported)."""
    found = _SECTIONS.get(section.name)
    if found is not None and found != section:
        raise ValueError(f"section {section.name!r} is registered twice")
    _SECTIONS[section.name] = section
    return section


def _load() -> None:
    """Import every module of this package (once): they register as they load."""
    global _loaded
    with _lock:
        if _loaded:
            return
        package = importlib.import_module(__package__)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{__package__}.{module.name}")
        _loaded = True


def sections() -> list[Section]:
    """The sections that declare resources, in the order their checks run (models first: the
    others refer to declared versions)."""
    _load()
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.name))


def section(name: str) -> Section | None:
    _load()
    return _SECTIONS.get(name)
