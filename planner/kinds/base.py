"""What a resource kind is: everything about one kind of resource lives in its module (Terraform's
resource schema, Alembic's op class), and the engine, the renderers and the CLI ask the kind
instead of testing its name.

A kind says how its addresses look, where it is declared in registry.yaml (the name of its
section, which config/sections/ registers), what to read live (first from the file and state,
then what its rules need), how to diff desired x live x recorded into changes, which rules its
changes must pass, what holds its objects from being deleted, how to delete one when the file
opts in, what its live values are (for drift), what roles grant on it (`grant`), what a reviewer
must read about its changes, its lineage edges and picture labels, in which order and phases it
applies, and how `mlreg import` writes it.

Kinds import no pydantic: the config types (`Config`, the sections' specs) are imported for
annotations only, and the kinds read the validated objects they are handed (the early read
imports the catalog before pydantic; tests/unit/test_contract.py checks it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mlreg.planner import diagnostics as dg
from mlreg.planner.changes import EMPTY, Action, ActionReason, Address, Change, DriftItem, Highlight, Topic
from mlreg.planner.diagnostics import Diagnostic
from mlreg.planner.kinds.grants import Grant, Grants
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.recorded import ResourceState, StateSnapshot
from mlreg.planner.secrets import Hasher

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.schema import Config
    from mlreg.planner.config.sections.removed import RemovedSpec


# --- phases --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """One step of applying a change. `keys`: the attributes this phase writes (None: all the
    others). `after_refs`: it waits for the resources named in `change.refs` (an alias waits for
    the version it points at). `doing` / `done`: how progress lines name it."""

    name: str
    keys: frozenset[str] | None = None
    after_refs: bool = False
    doing: str = ""
    done: str = ""


MAIN = Phase("main")
ALIASES = Phase("aliases", frozenset({"aliases"}), after_refs=True, doing="Setting aliases...", done="Aliases set")


# --- what a plan learns on the way ----------------------------------------------------------------


@dataclass(slots=True)
class Resolved:
    """A declared object joined with its live match (for kinds that refer to one another: a
    policy version points at a model version; the rules read the run behind a version)."""

    address: str
    name: str  # the NAME of the address (the model a version belongs to)
    number: str | None  # what `refs` resolve to (a version number), None until apply creates it
    live: Any = None
    run: Any = None


@dataclass
class DiffContext:
    """The accumulator the kinds' diffs append to; `freeze()` hands the result on as a `Diff`."""

    cfg: Config
    live: LiveSnapshot
    state: StateSnapshot
    changes: list[Change] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    resolved: dict[str, Resolved] = field(default_factory=dict)
    # Declared objects that matched live and need nothing (the common case): only their number is
    # kept, so a converged registry of 100,000 versions builds no Resolved objects at all.
    numbers: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    skipped: set[str] = field(default_factory=set)  # declared, but not diffed (an error elsewhere)
    # addresses listed under removed with destroy: true (their live objects are being deleted)
    destroying: Mapping[str, RemovedSpec] = EMPTY
    grants: Grants = field(default_factory=Grants)  # what roles can grant on (the catalog's)

    @property
    def hasher(self) -> Hasher:
        """Keyed hashes of secrets with this state's key (planner/secrets.py)."""
        return Hasher(self.state.secret_key)

    def number_of(self, addr: str) -> tuple[bool, str | None]:
        """(declared and resolved, its number: None when only apply will know it)."""
        found = self.resolved.get(addr)
        if found is not None:
            return True, found.number
        number = self.numbers.get(addr)
        return number is not None, number

    def error(self, summary: str, detail: str = "", address: str | None = None) -> None:
        self.diagnostics.append(dg.error(summary, detail, address))

    def freeze(self) -> Diff:
        by_type: dict[str, list[Change]] = {}
        acting = []
        noop = Action.NOOP
        for c in self.changes:  # one pass: the rules read changes by kind, and the few that act
            found = by_type.get(c.type)
            if found is None:
                by_type[c.type] = found = []
            found.append(c)
            if c.action is not noop or c.record_only:
                acting.append(c)
        return Diff(
            cfg=self.cfg,
            state=self.state,
            live=self.live,
            changes=tuple(self.changes),
            diagnostics=tuple(self.diagnostics),
            resolved=dict(self.resolved),
            edges=tuple(self.edges),
            by_address={c.address: c for c in self.changes},
            grants=self.grants,
            by_type=by_type,
            acting=tuple(acting),
        )


@dataclass(frozen=True)
class Diff:
    """What the diff found, handed on unchanged: the rules read it, the plan is made of it."""

    cfg: Config
    state: StateSnapshot
    live: LiveSnapshot  # what the first read phase read
    changes: tuple[Change, ...]
    diagnostics: tuple[Diagnostic, ...]
    resolved: Mapping[str, Resolved]
    edges: tuple[tuple[str, str], ...]
    by_address: Mapping[str, Change]
    grants: Grants = field(default_factory=Grants)
    by_type: Mapping[str, list[Change]] = EMPTY  # kind type -> its changes, in diff order
    acting: tuple[Change, ...] = ()  # the changes that are not plain no-ops (they act, or only record)

    def of_type(self, type_: str) -> list[Change]:
        return self.by_type.get(type_, [])


@dataclass(frozen=True)
class DriftContext:
    """What the kinds' drift notes look at: recorded state, live, the file when there is one (its
    rules say whether a note counts as drift), and what roles can grant on."""

    state: StateSnapshot
    live: LiveSnapshot
    cfg: Config | None = None
    grants: Grants = field(default_factory=Grants)


@dataclass(frozen=True)
class Findings:
    """What a kind's rules say about a diff; `highlights`: what the review shows beside the
    changes, under the kind's `topics` (promotions); `notes`: unmanaged things next to managed ones
    that the plan mentions without changing them (versions a training pipeline registered)."""

    diagnostics: tuple[Diagnostic, ...] = ()
    highlights: tuple[Highlight, ...] = ()
    notes: tuple[DriftItem, ...] = ()


@dataclass(frozen=True)
class Hold:
    """Something live that keeps an object from being deleted: a policy row pointing at a model
    version, an experiment variant using a policy row. `target` and `holder` are hold keys
    (`Kind.hold_keys`); a holder deleted in the same plan lets go (None: one mlreg never deletes)."""

    target: tuple
    holder: tuple | None
    summary: str  # "Cannot delete: policy versions point at it"
    label: str  # "policy 2f0c… version 7 (-> planner_model 3)"
    hint: str


# --- decisions shared by the kinds ----------------------------------------------------------------


def decide(address: str, type_: str, before, after, recorded: ResourceState | None, identity: Mapping, **kw) -> Change:
    """Pick the action from before/after (compared once), marking adoptions state must record.

    A resource whose live values equal the file but not what state recorded (someone changed it
    and changed it back, or state never had it) is a no-op that apply records. A live value that
    differs from the file while the file equals what was last applied is drift being reverted.
    """
    if before is None:
        return created(address, type_, after, recorded, identity=identity, **kw)
    if before == after:
        record_only = (
            recorded is None
            or recorded.attributes != after
            or recorded.identity != identity
            or kw.get("moved_from") is not None
        )
        return Change(address, type_, Action.NOOP, after, after, identity=identity, record_only=record_only, **kw)
    if recorded is not None and "reason" not in kw and reverts(before, after, recorded.attributes):
        kw["reason"] = ActionReason.REVERT_DRIFT
    return Change(address, type_, Action.UPDATE, before, after, identity=identity, **kw)


def reverts(before: Mapping, after: Mapping, recorded: Mapping) -> bool:
    """Does every attribute this change moves go back to its value last applied (the file did
    not change; live did)?"""
    moved = [k for k, v in after.items() if before.get(k) != v]
    return bool(moved) and all(k in recorded and recorded[k] == after[k] for k in moved)


def created(addr: str, type_: str, after: Mapping[str, Any], recorded: ResourceState | None, **kw) -> Change:
    """A create; of something state has (`recorded`), it says why: it was deleted outside mlreg."""
    if recorded is not None and kw.get("reason") is None:
        kw["reason"] = ActionReason.DELETED_OUTSIDE
    return Change(addr, type_, Action.CREATE, None, after, **kw)


def owned(declared: Iterable[str], recorded: Mapping | None, attribute: str) -> set[str]:
    """The keys of a map attribute (tags) mlreg owns: declared now, or recorded as applied (a
    key taken out of the file is then deleted, because state shows mlreg set it)."""
    return set(declared) | set(((recorded or {}).get(attribute) or {}).keys())


def picked(live: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    """The live values of `keys`, sorted, leaving out the ones live does not have."""
    return {k: live[k] for k in sorted(keys) if k in live}


def version_number_meant(state: StateSnapshot, addr: str, key: str | None) -> str | None:
    """The version number an address of a versioned kind means: the one state recorded, or N
    from a `vN` key; None when neither tells."""
    recorded = state.resources.get(addr)
    if recorded is not None:
        return str(recorded.identity.get("version"))
    if key and key.startswith("v") and key[1:].isdigit():
        return key[1:]
    return None


def alias_deletions(diff: Diff, type_: str) -> list[Diagnostic]:
    """A warning for each alias a change of this kind deletes (only a removed entry does)."""
    out = []
    for c in diff.acting:
        if c.type == type_ and c.before and c.after:
            for alias in sorted(set(c.before.get("aliases", {})) - set(c.after.get("aliases", {}))):
                out.append(
                    dg.warning(f"Deletes alias {alias!r} (listed under removed with destroy: true)", "", c.address)
                )
    return out


# --- importing ------------------------------------------------------------------------------------


def dump(value) -> str:
    """One value in YAML flow style, on one line (for the sections `mlreg import` writes)."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000)
    return text.removesuffix("\n...\n").strip()


@dataclass(frozen=True)
class Chosen:
    """One live object `mlreg import` writes: its live name and the name it gets in the file."""

    name: str
    label: str


class Importer:
    """How `mlreg import` writes a kind's section. `option` is the CLI option (`--model`)."""

    option: ClassVar[str] = ""
    metavar: ClassVar[str] = "NAME_OR_GLOB"
    help: ClassVar[str] = ""
    one_file_each: ClassVar[bool] = False  # `import --out DIR`: a file per object (else one per kind)
    # the read of the chosen objects by name, when one request type does it: the type, and its
    # field that takes the names
    by_names: ClassVar[type | None] = None
    names_field: ClassVar[str] = "names"

    def choose(self, names: list[str], patterns: Iterable[str]) -> list[Chosen]:
        """The live names matching the patterns (shell globs)."""
        from fnmatch import fnmatchcase

        pats = list(patterns)
        return [Chosen(n, n) for n in sorted(names) if any(fnmatchcase(n, p) for p in pats)]

    def requests(self, chosen: list[Chosen]) -> Iterable[Request]:
        """What to read for the chosen objects."""
        if self.by_names is None:
            return ()
        return (self.by_names(**{self.names_field: frozenset(c.name for c in chosen)}),)

    def follow(self, live: LiveSnapshot, chosen: list[Chosen]) -> Mapping[str, set[str]]:
        """Names of other kinds the chosen objects need in the file (kind type -> names): the
        models that imported policy versions point at."""
        return {}

    def missing(self, live: LiveSnapshot, chosen: list[Chosen]) -> list[str]:
        """Chosen names that turned out not to exist live (named by another kind's `follow`)."""
        return []

    def rules(self, live: LiveSnapshot, chosen: list[Chosen], rules: Any) -> tuple[dict[str, Any], list[str]]:
        """What the chosen objects need of the rules in effect (`rules`, a `Rules`): rule key ->
        the value the written file must have for them (a naming rule their names break), and
        comment lines a reviewer should read above the rules (runs that lack what they demand)."""
        return {}, []

    def render(self, live: LiveSnapshot, chosen: list[Chosen]) -> list[str]:
        """The section's YAML lines, reproducing exactly what is live."""
        return []


# --- the kind --------------------------------------------------------------------------------------


class Kind:
    type: ClassVar[str]
    provider: ClassVar[str]  # the provider that reads and writes it: "mlreg/mlflow", "mlreg/postgres"
    rank: ClassVar[int]  # apply order: lower first (a model before its versions)
    keyed: ClassVar[bool] = True  # addresses are TYPE.NAME[KEY] (False: TYPE.NAME)
    batch: ClassVar[bool] = False  # all its changes go to the provider in one call (one transaction)
    phases: ClassVar[tuple[Phase, ...]] = (MAIN,)
    sensitive: ClassVar[tuple[str, ...]] = ()  # attributes never shown (values in state are hashes)
    needs: ClassVar[tuple[str, ...]] = ()  # kinds whose resolutions its diff reads (diffed first)
    parent: ClassVar[str | None] = None  # `--target PARENT.NAME` takes this kind's NAME resources too
    section: ClassVar[str | None] = None  # the section of registry.yaml that declares it (config/sections/)
    per_key: ClassVar[tuple[str, ...]] = ()  # map attributes compared and shown key by key (tags)
    context: ClassVar[tuple[str, ...]] = ()  # attributes shown in an update even when unchanged
    importer: ClassVar[Importer | None] = None
    first: ClassVar[bool] = False  # its changes are applied before any other kind's (a workspace)
    ref_field: ClassVar[str] = "version"  # the identity field a change of another kind may refer to
    # the key path of the NAME -> entry mapping that declares it, for a kind addressed TYPE.NAME
    # (("access", "roles") for role.NAME): its declared addresses and their lines
    entries: ClassVar[tuple[str, ...]] = ()
    grant: ClassVar[Grant | None] = None  # how roles grant on it (kinds/grants.py); None: they do not
    # the review's sections its rules contribute to (`Findings.highlights`): promotions
    topics: ClassVar[tuple[Topic, ...]] = ()

    # -- read -------------------------------------------------------------------------------------
    def declared_requests(self, cfg: Config) -> Iterable[Request]:
        """What the file names (declared and `removed` entries): read before state is known."""
        return ()

    def recorded_requests(self, resources: Sequence[tuple[str, ResourceState]]) -> Iterable[Request]:
        """What these recorded resources of this kind need read (forgotten ones for a plan,
        written ones for apply's read-back)."""
        return ()

    def named_requests(self, names: frozenset[str]) -> Iterable[Request]:
        """What to read for these names of its section, known before the file is validated
        (the early read of a large file's models)."""
        return ()

    def more_reads(self, diff: Diff) -> Iterable[Request]:
        """The second read phase: what this kind's rules need that the first read did not bring
        (the runs behind versions being promoted)."""
        return ()

    # -- diff -------------------------------------------------------------------------------------
    def diff(self, ctx: DiffContext) -> None:
        """For every resource the file declares: append its change (no-ops included), or report a
        diagnostic with its address, or add the address to `ctx.skipped` (its error is reported
        elsewhere). What state records and none of these names is forgotten."""
        raise NotImplementedError

    def destroy(
        self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec
    ) -> tuple[Mapping, Mapping] | None:
        """(before, identity) of the live object a `removed: destroy: true` entry deletes, or
        None when it is already gone. Kinds that cannot be deleted say so."""
        ctx.error(f"{self.type} resources cannot be deleted by mlreg", "take it out of the file to forget it", addr)
        return None

    # -- rules ------------------------------------------------------------------------------------
    def judge(self, diff: Diff, live: LiveSnapshot) -> Findings:
        """This kind's rules on the whole diff, with everything read (both phases)."""
        return Findings()

    def holds(self, diff: Diff, live: LiveSnapshot) -> Iterable[Hold]:
        """What this kind's live objects keep from being deleted."""
        return ()

    def hold_keys(self, change: Change) -> tuple[tuple, ...]:
        """The hold keys a change of this kind stands for (what its deletion takes away)."""
        return ()

    # -- pictures and documents ---------------------------------------------------------------------
    def lineage(self, cfg: Config) -> Iterable[tuple[str, str]]:
        """Edges of the lineage picture that the file alone gives (for `mlreg graph`)."""
        return ()

    def access_note(self, change: Change) -> str | None:
        """Who gains or loses what through this change, for the review's Access section (kinds
        that grant: roles' permissions and members, users)."""
        return None

    def review_lines(self, change: Change) -> list[str]:
        """What a reviewer must not miss in this change, in words, for the warnings above a
        pull-request comment: who gains or loses access (`access_note`), else a deletion or a
        forget. Kinds add their own (a production move); plain text, escaped by the renderer."""
        note = self.access_note(change)
        if note:
            return [note]
        if change.action is Action.DELETE:
            return [f"{change.address} is deleted live"]
        if change.action is Action.FORGET:
            return [f"{change.address} is forgotten: mlreg stops managing it (nothing live is deleted)"]
        return []

    def label(self, address: Address, number: str | None) -> str:
        """How the lineage picture names a node of this kind."""
        return str(address)

    def index(self, key: str) -> str | int:
        """The address key as the JSON plan's `index`."""
        return key

    def import_id(self, change: Change) -> str | None:
        """What identifies the live object a plan adopts (Terraform's `importing.id`)."""
        return change.identity.get("name")

    def count(self, cfg: Config) -> int:
        """How many resources of this kind the file declares."""
        return len(self.declared_addresses(cfg))

    def declared_addresses(self, cfg: Config) -> list[Address]:
        """The addresses the file declares for this kind, in file order (by default: one per
        entry of the `entries` mapping)."""
        return [Address(self.type, name) for name in self._entries(cfg)] if self.entries else []

    def config_path(self, cfg: Config, addr: Address) -> tuple | None:
        """The key path in registry.yaml that declares this address (for file and line); None
        when the file does not declare it."""
        return (*self.entries, addr.name) if self.entries and addr.name in self._entries(cfg) else None

    def declared_names(self, cfg: Config) -> list[str]:
        """The names of the objects of this kind the file declares, in file order (by default:
        the entries of the `entries` mapping): what a glob grant on it expands over."""
        return list(self._entries(cfg)) if self.entries else []

    def granted_as(self, name: str, live: LiveSnapshot) -> str | None:
        """What a grant on the object named `name` is written on: its name (the default), or the
        id MLflow keys its grants by (gateway resources), None while it has none."""
        return name

    def grant_name(self, pattern: str, live: LiveSnapshot) -> str:
        """The name of the object a live grant's exact pattern names (the inverse of `granted_as`)."""
        return pattern

    def _entries(self, cfg: Config) -> Mapping[str, Any]:
        node = cfg
        for key in self.entries:
            node = getattr(node, key)
        return node

    # -- drift ------------------------------------------------------------------------------------
    def live_values(self, rs: ResourceState, live: LiveSnapshot) -> tuple[Mapping | None, int | None, str | None]:
        """(live values of the recorded attributes or None if the object is gone, last updated
        in ms, user) for drift. The time and user are shown only for the attributes in `timed`."""
        raise NotImplementedError

    # attributes whose change MLflow's last-updated time (and user) records; None: all of them.
    # MLflow does not touch a version's time when a tag is set, so a tag's drift shows no time
    # rather than one that is not the change's.
    timed: ClassVar[tuple[str, ...] | None] = None

    def drift_notes(self, ctx: DriftContext) -> list[DriftItem]:
        """Notes on unmanaged things that appeared next to managed ones (default: none)."""
        return []

    def assigned(self, identity: Mapping[str, Any]) -> str | None:
        """What the live system assigned a new object that people need to know (a version
        number: `version 4`), from the identity apply returned; None when nothing is worth it."""
        return None

    def number_label(self, change: Change) -> str | None:
        """A short label of the number a change's object has live (`v4`), or `new` when apply
        will assign it; None for kinds without numbers."""
        return None

    def same_object(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        """Do two recorded identities name the same live object (the history of an address
        follows its object when the file names it another way)? Default: never."""
        return False

    def gone_note(self, rs: ResourceState) -> str:
        return f"{self.type.replace('_', ' ')} no longer exists"

    # -- helpers for kinds -------------------------------------------------------------------------
    def destroyed_names(self, cfg: Config, types: Iterable[str] | None = None) -> set[str]:
        """Names of this kind's (or `types`') addresses listed under removed with destroy: true."""
        wanted = set(types or (self.type,))
        return {entry.at.name for entry in cfg.destroyed().values() if entry.at.type in wanted}

    @staticmethod
    def recorded_names(resources: Iterable[tuple[str, ResourceState]]) -> set[str]:
        return {rs.identity.get("name") for _, rs in resources} - {None}

    def number_to_delete(self, ctx: DiffContext, addr: str, name: str, key: str | None) -> str | None:
        """The version number a `removed` entry of a versioned kind means; an error when unknown."""
        number = version_number_meant(ctx.state, addr, key)
        if number is None:
            ctx.error(
                f"{addr} is not in state, so which live version it means is unknown",
                f"name the version by number: {self.type}.{name}[vN]",
                addr,
            )
        return number
