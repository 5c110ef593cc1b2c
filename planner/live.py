"""What the engine knows of the live systems: facts, and the requests that read them.

Each resource kind declares the facts it needs (a frozen dataclass, e.g. the MLflow registry's
models and versions) and a request type saying what to read (e.g. these model names). Requests
of one type merge field by field; providers answer the request types they serve and fail loudly
on any other. `LiveSnapshot` holds one facts object per type.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, TypeVar

F = TypeVar("F")


@dataclass(frozen=True)
class Request:
    """What to read, as sets (fields are frozensets): merged by union, compared by difference.

    `provider` names the provider that answers it; `facts` is the facts type it fills.
    """

    provider: ClassVar[str] = ""
    facts: ClassVar[type] = object

    def merge(self, other: Request) -> Request:
        if type(other) is not type(self):
            raise TypeError(f"cannot merge {type(self).__name__} with {type(other).__name__}")
        return replace(self, **{f.name: getattr(self, f.name) | getattr(other, f.name) for f in fields(self)})

    def minus(self, other: Request) -> Request:
        return replace(self, **{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True)
class Reads:
    """One read phase: a request per type, everything asked for merged."""

    requests: Mapping[type, Request] = field(default_factory=dict)

    @classmethod
    def of(cls, requests: Iterable[Request]) -> Reads:
        out: dict[type, Request] = {}
        for r in requests:
            out[type(r)] = out[type(r)].merge(r) if type(r) in out else r
        return cls(out)

    def plus(self, other: Reads) -> Reads:
        return Reads.of([*self.requests.values(), *other.requests.values()])

    def minus(self, done: Reads) -> Reads:
        """What is left to read once `done` has been read."""
        return Reads({t: (r.minus(done.requests[t]) if t in done.requests else r) for t, r in self.requests.items()})

    def __iter__(self) -> Iterator[Request]:
        return (r for r in self.requests.values() if r)

    def __bool__(self) -> bool:
        return any(self.requests.values())


def merge_facts(a, b):
    """Facts of one type combined, field by field: dicts updated, sets and tuples joined."""
    values = {}
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, Mapping):
            values[f.name] = {**x, **y}
        elif isinstance(x, (frozenset, set)):
            values[f.name] = x | y
        elif isinstance(x, tuple):
            values[f.name] = x + tuple(v for v in y if v not in x)
        else:
            values[f.name] = y if y not in (None, "", ()) else x
    return type(a)(**values)


class LiveSnapshot:
    """Facts by type; a type that was not read answers with its empty facts."""

    __slots__ = ("_facts",)

    def __init__(self, facts: Mapping[type, Any] | None = None):
        self._facts = dict(facts or {})

    def __getitem__(self, facts_type: type[F]) -> F:
        found = self._facts.get(facts_type)
        return found if found is not None else facts_type()

    def with_facts(self, more: Mapping[type, Any]) -> LiveSnapshot:
        """This snapshot with more facts read (facts of one type combined field by field)."""
        facts = dict(self._facts)
        for t, f in more.items():
            facts[t] = merge_facts(facts[t], f) if t in facts else f
        return LiveSnapshot(facts)

    def facts(self) -> dict[type, Any]:
        return dict(self._facts)

    def notes(self) -> list[str]:
        """What the readers want people to know (e.g. an embedded store that does not exist yet)."""
        return list(dict.fromkeys(f.note for f in self._facts.values() if getattr(f, "note", "")))
