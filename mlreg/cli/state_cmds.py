"""`mlreg state …`, `history`, `force-unlock`: the commands around recorded state."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import click

from mlreg.cli.app import Ctx, format_option, lock_timeout_option, pass_ctx, refuse, reports_errors


def _backend(ctx: Ctx):
    """The state backend alone: these commands read (or move) recorded state, so they need the
    state section's variables, not the file's other `${VAR}` (a webhook's secret, MLflow's URL)."""
    from mlreg.cli import wiring
    from mlreg.planner.config.load import STANDINS

    loaded = ctx.loaded(offline=True)
    cfg = loaded.config
    if cfg.state.backend == "postgres":
        url = cfg.state.url or cfg.database.url
        if not url or url in STANDINS:
            where = "state" if cfg.state.url is not None else "database"
            written = (loaded.raw_backends.get(where) or {}).get("url", "")
            refuse(f"the state backend's URL ({where}.url: {written}) needs its environment variable set")
    return wiring.state_backend(loaded, state_only=True)


@click.group("state")
def state_group():
    """Inspect or edit recorded state."""


def _as_of(option_name: str = "--at"):
    """`--at TIME` / `--serial N`: state as it was recorded then (from the journal)."""

    def decorate(command):
        command = click.option("--serial", "serial", type=int, metavar="N", help="State as recorded at this serial.")(
            command
        )
        return click.option(
            option_name,
            "at",
            metavar="TIME",
            help="State as recorded at this time (ISO 8601, e.g. 2026-11-24T09:00:00Z).",
        )(command)

    return decorate


def _snapshot(ctx: Ctx, at: str | None, serial: int | None):
    from mlreg.planner.recorded import replay

    backend = _backend(ctx)
    if at is None and serial is None:
        return backend.read()
    if at is not None:
        from mlreg.planner.recorded import utc_text

        try:
            utc_text(at)
        except ValueError:
            refuse(f"--at {at!r} is not an ISO 8601 time such as 2026-11-24T09:00:00Z")
    found = replay(backend.journal(), at=at, serial=serial)
    if found is None:
        when = f"at {at}" if at is not None else f"at serial {serial}"
        refuse(f"no state was recorded {when} (see `mlreg history`)")
    return found


@state_group.command("list")
@_as_of()
@pass_ctx
@reports_errors
def state_list(ctx: Ctx, at, serial):
    """The addresses state records (now, or as recorded at --at TIME / --serial N)."""
    for address in sorted(_snapshot(ctx, at, serial).resources):
        ctx.echo(address)


@state_group.command("show")
@click.argument("address")
@_as_of()
@pass_ctx
@reports_errors
def state_show(ctx: Ctx, address, at, serial):
    """One resource as state records it (now, or as recorded at --at TIME / --serial N)."""
    rs = _snapshot(ctx, at, serial).resources.get(address)
    if rs is None:
        refuse(f"{address} is not in state{f' at {at}' if at else ''} (see `mlreg state list`)")
    shown = {"address": address, "type": rs.type, "identity": rs.identity, "attributes": rs.attributes}
    ctx.echo(json.dumps(_published(shown), indent=2, sort_keys=True))


def _published(doc):
    """State as printed: the hashes it keeps of secrets shown as `(sensitive value)`, and its key
    left out (a hash beside its key can be tested offline against guesses)."""
    from mlreg.planner import secrets

    if isinstance(doc, dict):
        return {k: _published(v) for k, v in doc.items() if k != "secret_key"}
    if isinstance(doc, list):
        return [_published(v) for v in doc]
    return secrets.SENSITIVE if secrets.is_hash(doc) else doc


@state_group.command("rm")
@click.argument("addresses", nargs=-1, required=True)
@lock_timeout_option
@pass_ctx
@reports_errors
def state_rm(ctx: Ctx, addresses, lock_timeout):
    """Forget resources (state only; nothing live is touched)."""
    backend = _backend(ctx)
    with backend.lock("state rm", lock_timeout):
        st = backend.read()
        missing = [a for a in addresses if a not in st.resources]
        if missing:
            refuse(f"not in state: {', '.join(missing)}")
        for a in addresses:
            st = st.with_resource(a, None)
        st = st.with_lineage()
        backend.write(replace(st, serial=st.serial + 1))
    for a in addresses:
        ctx.echo(f"Removed {a} from state (nothing live was changed).")


@state_group.command("pull")
@_as_of()
@click.option(
    "--with-secret-hashes",
    is_flag=True,
    help="Include the hashes state keeps of secrets and their key, for `state push` into another backend "
    "(treat the output as a credential). Without it they print as (sensitive value), and after a push the "
    "secrets are re-applied once.",
)
@pass_ctx
@reports_errors
def state_pull(ctx: Ctx, at, serial, with_secret_hashes):
    """Print the recorded state as JSON, or as it was recorded at --at TIME / --serial N. The
    current state comes with its journal and apply history, so that `state push` into another
    backend keeps its past (`history`, `state pull --at`)."""
    doc = _snapshot(ctx, at, serial).to_json()
    if at is None and serial is None:
        backend = _backend(ctx)
        doc["journal"] = backend.journal()
        doc["history"] = backend.history()
    if with_secret_hashes:
        ctx.echo("mlreg: this state holds its secrets' hashes and their key; keep it like a credential", err=True)
    ctx.echo(json.dumps(doc if with_secret_hashes else _published(doc), indent=2, sort_keys=True))


@state_group.command("push")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite state of another lineage or a newer serial.")
@lock_timeout_option
@pass_ctx
@reports_errors
def state_push(ctx: Ctx, path, force, lock_timeout):
    """Replace the backend's state with a state file (e.g. from `state pull` on another backend),
    with the journal and apply history it carries."""
    from mlreg.planner.recorded import StateSnapshot

    doc = json.loads(Path(path).read_text())
    incoming = StateSnapshot.from_json(doc)
    backend = _backend(ctx)
    with backend.lock("state push", lock_timeout):
        lineage, serial = backend.stored_meta()
        if lineage is not None and not force:
            if lineage != incoming.lineage:
                refuse(f"{backend.describe()} holds state of another lineage ({lineage}); use --force to overwrite it")
            if serial >= incoming.serial:
                refuse(
                    f"{backend.describe()} is at serial {serial}, not older than {path} "
                    f"({incoming.serial}); use --force to overwrite it"
                )
        if lineage is not None:
            incoming = replace(incoming, serial=max(serial, incoming.serial) + 1)
        incoming = incoming.with_lineage()
        past = [e for e in doc.get("journal") or () if isinstance(e, dict)]
        records = [r for r in doc.get("history") or () if isinstance(r, dict) and r.get("id")]
        backend.import_past(past, records)  # first: the push's own write then follows its past
        backend.write(incoming)
    kept = f", with {len(past)} journal entries and {len(records)} applies of its history" if past or records else ""
    ctx.echo(f"Pushed {len(incoming.resources)} resources (serial {incoming.serial}){kept} to {backend.describe()}.")


@click.command()
@click.argument("address", required=False)
@format_option(["text", "json"], "text, or json (one object per apply or per recorded change, for scripts).")
@pass_ctx
@reports_errors
def history(ctx: Ctx, address, fmt):
    """Past applies (when, who, the apply's id, outcome, changes), or with ADDRESS every recorded
    change of one resource, newest first."""
    from mlreg.planner.render import audit

    backend = _backend(ctx)
    records = backend.history()
    if address is None:
        ctx.echo(json.dumps(records, indent=2) if fmt == "json" else audit.applies_text(records), nl=fmt == "json")
        return
    from mlreg.planner.audit import address_history

    events = address_history(backend.journal(), records, address)
    if fmt == "json":
        ctx.echo(json.dumps([e.to_json() for e in events], indent=2))
    elif not events:
        refuse(f"nothing was ever recorded for {address} (see `mlreg state list`)")
    else:
        ctx.echo(audit.address_text(address, events), nl=False)


@click.command("force-unlock")
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@reports_errors
def force_unlock(ctx: Ctx, lock_id, force):
    """Release a lock left by a dead process."""
    if not force and sys.stdin.isatty():
        click.confirm(f"Release lock {lock_id}? Only do this if its holder is dead", abort=True)
    if not _backend(ctx).force_unlock(lock_id):
        refuse(f"no lock with id {lock_id} is recorded")
    ctx.echo(f"Lock {lock_id} released.")


COMMANDS = (state_group, history, force_unlock)
