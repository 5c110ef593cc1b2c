"""The engine's vocabulary: addresses, actions, changes and plans. No I/O.

In-memory types are slotted frozen dataclasses (a plan of a 100,000-version registry holds that
many changes); the JSON shapes users' tools read are built at the edge (`planfile.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from mlreg.planner.diagnostics import Diagnostic


class _Empty(Mapping):
    """The shared empty mapping that frozen dataclasses may take as a default (it is hashable)."""

    __slots__ = ()

    def __getitem__(self, key):
        raise KeyError(key)

    def __iter__(self) -> Iterator:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"


EMPTY: Mapping[str, Any] = _Empty()

# --- addresses -------------------------------------------------------------------------------------

_ADDRESS = re.compile(r"^([a-z_]+)\.([^\[\]]+?)(?:\[(.+)\])?$")


@dataclass(frozen=True, slots=True)
class Address:
    """`TYPE.NAME` or `TYPE.NAME[KEY]`: the shape users' scripts rely on (`--target`, `state show`).

    Parsed once where an address comes in as text (a `removed` entry, a target, a saved plan,
    history); a change parses its own on first use (`Change.at`)."""

    type: str
    name: str
    key: str | None = None

    def __str__(self) -> str:
        return f"{self.type}.{self.name}" if self.key is None else f"{self.type}.{self.name}[{self.key}]"

    @classmethod
    def parse(cls, text: str) -> Address | None:
        m = _ADDRESS.match(text)
        return cls(m.group(1), m.group(2), m.group(3)) if m else None


def address(type_: str, name: str, key: str | int | None = None) -> str:
    return f"{type_}.{name}" if key is None else f"{type_}.{name}[{key}]"


# --- actions and changes ---------------------------------------------------------------------------


class Action(str, Enum):
    """Terraform's words; the symbol is what the text plan shows."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    FORGET = "forget"
    NOOP = "no-op"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_SYMBOLS = {Action.CREATE: "+", Action.UPDATE: "~", Action.DELETE: "-", Action.FORGET: ".", Action.NOOP: " "}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a change is planned, for people (Terraform's `action_reason`); apply never reads it.
    `value`: the JSON plan's `action_reason`; `text`: the words the text plan shows. The engine's
    own are `ActionReason`'s; a kind declares its own beside it (the access kinds: a grant added
    by hand is taken away)."""

    value: str
    text: str


class ActionReason:
    """The engine's reasons (Terraform's own, and `removed` blocks')."""

    DELETED_OUTSIDE = Reason("create_because_deleted_outside", "because it was deleted outside mlreg")
    REVERT_DRIFT = Reason(
        "update_because_changed_outside", "because it changed outside mlreg: putting back the values last applied"
    )
    NOT_IN_CONFIG = Reason(
        "forget_because_no_resource_config", "because it is not in registry.yaml; nothing live is deleted"
    )
    REMOVED_DESTROY = Reason("delete_because_removed_block", "because it is listed under removed with destroy: true")


@dataclass(slots=True)
class Change:
    """One resource's planned change. Treated as immutable: the diff builds it, nothing changes
    it after (not `frozen=True` only because a plan of 100,000 versions builds that many, and a
    frozen dataclass takes four times as long to construct).

    before: the live values of the managed attributes (None for create, and for forget the values
        last recorded); apply refuses a saved plan when live no longer gives the same.
    after:  the values apply will leave (None for delete and forget); keys in `after_unknown` are
        known only after apply (e.g. a version number MLflow assigns).
    sensitive: attributes whose values are never shown (a webhook secret: after holds a keyed hash).
    identity: what apply needs to find or create the object (model name, version number, matcher,
        policy row id, webhook id); never shown as a diff.
    refs: attribute -> address whose identity (its `version`) fills that attribute during apply.
    secrets: values apply needs but nothing may keep (a webhook secret): never shown, never
        written to a plan file, state or history; `after` holds only a salted hash of them.
    record_only: live already matches but state does not record it yet (adoption): apply records
        it without writing to any live system.
    moved_from: the address state records this same live object under (the file now names it
        another way, e.g. `run_id:` -> `version: N`): apply records it under the new address and
        drops the old one, keeping its history (Terraform's `moved`); nothing live is written for
        the move itself.
    reason / note: for people only (`note`: words from the file, e.g. a removed entry's reason).
    """

    address: str
    type: str
    action: Action
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    after_unknown: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    reason: Reason | None = None
    note: str | None = None
    depends_on: tuple[str, ...] = ()
    identity: Mapping[str, Any] = EMPTY
    refs: Mapping[str, str] = EMPTY
    record_only: bool = False
    secrets: Mapping[str, str] = EMPTY
    moved_from: str | None = None
    _at: Address | None = field(default=None, repr=False, compare=False)

    @property
    def at(self) -> Address:
        """The address, parsed (once: most of a large plan's no-ops never need it)."""
        if self._at is None:
            self._at = Address.parse(self.address)
        return self._at

    def filled_after(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """`after` with the attributes only apply knows filled in: `values` maps the keys of
        `refs` (`model_version`, `aliases.NAME`) to what the referenced resources became."""
        after = dict(self.after or {})
        for attr, value in values.items():
            head, _, sub = attr.partition(".")
            if sub:
                after[head] = {**after.get(head, {}), sub: value}
            elif attr in after:
                after[attr] = value
        return after


@dataclass(frozen=True, slots=True)
class DriftItem:
    """One attribute that live no longer has as last applied (attribute None: the whole resource
    is gone, or a note about something unmanaged that appeared). `last_updated` / `user`: when
    and by whom, only where MLflow records it for that attribute. `counts`: False for a note that
    is not drift (a version a training pipeline registered): shown, but `drift
    --detailed-exitcode` does not exit 2 for it."""

    address: str
    type: str
    attribute: str | None
    recorded: Any = None
    live: Any = None
    last_updated: int | None = None
    user: str | None = None
    note: str | None = None
    counts: bool = True

    @property
    def vanished(self) -> bool:
        return self.attribute is None and self.note is not None and self.live is None

    @property
    def is_note(self) -> bool:
        """Something unmanaged that appeared, rather than a managed attribute that changed."""
        return self.attribute is None and not self.vanished

    def to_json(self) -> dict:
        return {
            "address": self.address,
            "type": self.type,
            "attribute": self.attribute,
            "recorded": self.recorded,
            "live": self.live,
            "last_updated": self.last_updated,
            "user": self.user,
            "note": self.note,
            "counts_as_drift": self.counts,
        }


@dataclass(frozen=True, slots=True)
class Topic:
    """A section of the review beside the changes, which kinds contribute to (`Highlight`s): the
    promotions with their gate metrics, the gateway's traffic moves. `key`: the JSON plan's key
    (`promotions` is binding); `title`: the heading; `columns`: the Markdown table's header."""

    key: str
    title: str
    columns: tuple[str, ...]


class Highlight(Protocol):
    """One item a kind contributes to a `Topic` of the review (a promotion). Plain text: the
    renderers escape it."""

    topic: Topic

    def lines(self) -> list[str]:
        """The text plan's lines: a headline, then details (indented by the renderer)."""

    def cells(self) -> list[str]:
        """The Markdown table's row, one cell per column of its topic."""

    def to_json(self) -> dict:
        """Its entry under the topic's key in the JSON plan."""


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts by action; `adopt` counts live objects the plan starts managing (Terraform's "to
    import"), some of which are also updated and so counted under `update` too; `move` counts
    objects state now records under another address (some also updated)."""

    create: int = 0
    update: int = 0
    delete: int = 0
    forget: int = 0
    adopt: int = 0
    move: int = 0

    @property
    def total(self) -> int:
        return self.create + self.update + self.delete + self.forget

    def to_json(self) -> dict:
        return {
            "adopt": self.adopt,
            "create": self.create,
            "update": self.update,
            "delete": self.delete,
            "forget": self.forget,
            "move": self.move,
        }

    @classmethod
    def of(cls, changes, recorded: Mapping[str, Any] = EMPTY) -> Summary:
        counts = dict.fromkeys(("create", "update", "delete", "forget"), 0)
        noop, update = Action.NOOP, Action.UPDATE
        adopt = move = 0
        for c in changes:
            if c.action is not noop:
                counts[c.action.value] += 1
            if c.moved_from is not None:
                move += 1
            elif (c.record_only or c.action is update) and c.address not in recorded:
                adopt += 1
        return cls(**counts, adopt=adopt, move=move)


@dataclass(frozen=True, slots=True)
class Plan:
    """What apply would do, and why. `changes` holds every declared or recorded resource in apply
    order, no-ops included (they carry the identities apply needs and what adoption records)."""

    config_path: str
    config_digest: str
    lineage: str | None
    serial: int
    changes: tuple[Change, ...] = ()
    drift: tuple[DriftItem, ...] = ()
    highlights: tuple[Highlight, ...] = ()  # what the kinds' rules contribute to the review (promotions)
    diagnostics: tuple[Diagnostic, ...] = ()
    # lineage edges for the picture: (from address, to node), e.g. a policy version -> a model
    # version address, a model version -> "run:ID" or "source:URI"
    edges: tuple[tuple[str, str], ...] = ()
    # what it read, for people: {"mlflow": "...", "database": "...", "state": "..."}
    backends: Mapping[str, str] = EMPTY
    targets: tuple[str, ...] = ()
    summary: Summary = field(default_factory=Summary)
    # where each resource is declared (declared.Declared: file and line, computed when asked)
    declared: Any = None
    # the state this plan was made against (recorded.StateSnapshot): Terraform's prior_state
    prior: Any = None

    def about(self, topic: str) -> list[Highlight]:
        """The highlights of one topic (by its key: `promotions`)."""
        return [h for h in self.highlights if h.topic.key == topic]

    @property
    def actionable(self) -> list[Change]:
        """Changes that do something live or in state for people to review (not no-ops)."""
        return [c for c in self.changes if c.action is not Action.NOOP]

    @property
    def adoptions(self) -> list[Change]:
        """Live objects the file declares that state does not record yet, which the plan starts
        managing (Terraform's import): as they are (apply only records them), or updated."""
        recorded = self.prior.resources if self.prior is not None else {}
        return [
            c
            for c in self.changes
            if c.address not in recorded and c.moved_from is None and (c.record_only or c.action is Action.UPDATE)
        ]

    @property
    def moves(self) -> list[Change]:
        """Objects state records under another address than the file now gives them."""
        return [c for c in self.changes if c.moved_from is not None]

    @property
    def reviewed(self) -> list[Change]:
        """What a reviewer reads: actionable changes, and the adoptions and moves apply only records."""
        shown = {c.address for c in self.adoptions} | {c.address for c in self.moves}
        return [c for c in self.changes if c.action is not Action.NOOP or c.address in shown]

    @property
    def pending(self) -> list[Change]:
        """What apply executes: actionable changes plus adoptions that only state records."""
        return [c for c in self.changes if c.action is not Action.NOOP or c.record_only]

    @property
    def has_changes(self) -> bool:
        return self.summary.total > 0 or self.summary.adopt > 0 or self.summary.move > 0

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    @property
    def applyable(self) -> bool:
        return not self.has_errors
