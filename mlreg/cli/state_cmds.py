"""`mlreg state …`, `history`, `force-unlock`: the commands around recorded state."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import click

from mlreg.cli.app import Ctx, guard, pass_ctx, refuse


def _backend(ctx: Ctx):
    from mlreg.cli import wiring

    return wiring.state_backend(ctx.loaded())


@click.group("state")
def state_group():
    """Inspect or edit recorded state."""


@state_group.command("list")
@pass_ctx
@guard
def state_list(ctx: Ctx):
    for address in sorted(_backend(ctx).read().resources):
        ctx.echo(address)


@state_group.command("show")
@click.argument("address")
@pass_ctx
@guard
def state_show(ctx: Ctx, address):
    rs = _backend(ctx).read().resources.get(address)
    if rs is None:
        refuse(f"{address} is not in state (see `mlreg state list`)")
    ctx.echo(
        json.dumps(
            {"address": address, "type": rs.type, "identity": rs.identity, "attributes": rs.attributes},
            indent=2,
            sort_keys=True,
        )
    )


@state_group.command("rm")
@click.argument("addresses", nargs=-1, required=True)
@click.option("--lock-timeout", default=0.0, type=float, metavar="SECONDS")
@pass_ctx
@guard
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
@pass_ctx
@guard
def state_pull(ctx: Ctx):
    """Print the recorded state as JSON (to move it to another backend with `state push`)."""
    ctx.echo(json.dumps(_backend(ctx).read().to_json(), indent=2, sort_keys=True))


@state_group.command("push")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite state of another lineage or a newer serial.")
@click.option("--lock-timeout", default=0.0, type=float, metavar="SECONDS")
@pass_ctx
@guard
def state_push(ctx: Ctx, path, force, lock_timeout):
    """Replace the backend's state with a state file (e.g. from `state pull` on another backend)."""
    from mlreg.planner.statedata import StateSnapshot

    incoming = StateSnapshot.from_json(json.loads(Path(path).read_text()))
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
        backend.write(incoming)
    ctx.echo(f"Pushed {len(incoming.resources)} resources (serial {incoming.serial}) to {backend.describe()}.")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_ctx
@guard
def history(ctx: Ctx, fmt):
    """Past applies: when, who, plan digest, outcome, changes."""
    records = _backend(ctx).history()
    if fmt == "json":
        ctx.echo(json.dumps(records, indent=2))
        return
    if not records:
        ctx.echo("No applies recorded yet.")
    for r in records:
        s = r.get("summary") or {}
        ctx.echo(
            f"{r.get('finished')}  {r.get('outcome'):<11} {r.get('who')}@{r.get('host')}  "
            f"+{s.get('create', 0)} ~{s.get('update', 0)} -{s.get('delete', 0)} .{s.get('forget', 0)}  "
            f"plan {str(r.get('plan_digest'))[:19]}"
        )
        for a in r.get("changed", []):
            ctx.echo(f"    {a}")


@click.command("force-unlock")
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@guard
def force_unlock(ctx: Ctx, lock_id, force):
    """Release a lock left by a dead process."""
    if not force and sys.stdin.isatty():
        click.confirm(f"Release lock {lock_id}? Only do this if its holder is dead", abort=True)
    if not _backend(ctx).force_unlock(lock_id):
        refuse(f"no lock with id {lock_id} is recorded")
    ctx.echo(f"Lock {lock_id} released.")


COMMANDS = (state_group, history, force_unlock)
