"""How a provider finds the code for each kind: readers, writers and listers register themselves
next to their implementation (as Alembic's `@comparators.dispatch_for` does), in the provider's
per-kind modules (`<provider>/kinds/*.py`), which the provider imports on first use. A provider
answers only what is registered and raises `TypeError` for anything else, never routing a request
or a change somewhere by guess.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from typing import Any


class Dispatch:
    def __init__(self, provider: str, package: str):
        self.provider = provider
        self.package = package  # where the per-kind modules live
        self.readers: dict[type, Callable[..., Any]] = {}
        self.writers: dict[str, Callable[..., Any]] = {}
        self.batch_writers: dict[str, Callable[..., Any]] = {}
        self.listers: dict[str, Callable[..., Any]] = {}
        self._loaded = False
        self._lock = threading.Lock()

    # -- registration --------------------------------------------------------------------------------
    def reads(self, request_type: type):
        """`@DISPATCH.reads(SomeRequest)` on `fn(context, request) -> facts`."""

        def register(fn):
            self.readers[request_type] = fn
            return fn

        return register

    def writes(self, *types: str, batch: bool = False):
        """`@DISPATCH.writes("model")` on `fn(context, request: WriteRequest) -> WriteResult`; with
        `batch=True`, `fn(context, requests: list[WriteRequest]) -> {address: WriteResult}`
        (planner/ports.py)."""

        def register(fn):
            for t in types:
                (self.batch_writers if batch else self.writers)[t] = fn
            return fn

        return register

    def lists(self, type_: str):
        """`@DISPATCH.lists("model")` on `fn(context) -> [name]` (for `mlreg import`)."""

        def register(fn):
            self.listers[type_] = fn
            return fn

        return register

    # -- use ------------------------------------------------------------------------------------------
    def load(self) -> Dispatch:
        """Import every per-kind module of the package (once): they register as they load."""
        with self._lock:
            if not self._loaded:
                package = importlib.import_module(self.package)
                for module in pkgutil.iter_modules(package.__path__):
                    importlib.import_module(f"{self.package}.{module.name}")
                self._loaded = True
        return self

    def reader(self, request_type: type):
        found = self.load().readers.get(request_type)
        if found is None:
            raise TypeError(f"{self.provider} cannot answer {request_type.__name__}")
        return found

    def writer(self, type_: str):
        found = self.load().writers.get(type_)
        if found is None:
            raise TypeError(f"{self.provider} cannot apply {type_}")
        return found

    def batch_writer(self, type_: str):
        found = self.load().batch_writers.get(type_)
        if found is None:
            raise TypeError(f"{self.provider} applies no {type_} in batches")
        return found

    def lister(self, type_: str):
        found = self.load().listers.get(type_)
        if found is None:
            raise TypeError(f"{self.provider} cannot list {type_}")
        return found

    def kinds(self) -> set[str]:
        self.load()
        return set(self.writers) | set(self.batch_writers)
