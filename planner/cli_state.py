"""`mlreg import`, `state …`, `history`, `force-unlock`: the commands around recorded state."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from planner import render
from planner.cli import Ctx, UserError, _guard, main, pass_ctx


BACKENDS_TEMPLATE = """mlflow:
  tracking_uri: ${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}
database:
  url: ${MLREG_DATABASE_URL:-sqlite:///mlreg.db}
"""


def _backends_text(ctx: Ctx) -> str:
    """The backend sections of the current file as written (variables unexpanded), or the defaults."""
    import yaml

    if not Path(ctx.file).exists():
        return BACKENDS_TEMPLATE
    sections = ctx.loaded().raw_backends
    return yaml.safe_dump(sections, sort_keys=False) if sections else BACKENDS_TEMPLATE


def _parse_or_fail(ctx: Ctx, text: str, file: str, base_dir: str):
    from planner.config import parse_config

    loaded, diags = parse_config(text.encode(), file, base_dir)
    if diags:
        ctx.echo(render.diagnostics_text(diags, render.Style(ctx.color)), err=True, nl=False)
        raise UserError(f"{file}: the generated file is not valid")
    return loaded


@main.command("import")
@click.option("--model", "model_globs", multiple=True, metavar="NAME_OR_GLOB", help="Models to import (repeatable).")
@click.option("--policy", "policy_globs", multiple=True, metavar="[NAME=]UUID_OR_GLOB",
              help="Policy ids to import (repeatable); NAME= names the policy in the file.")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write here instead of standard output.")
@click.option("--lock-timeout", default=0.0, type=float, metavar="SECONDS")
@pass_ctx
@_guard
def import_(ctx: Ctx, model_globs, policy_globs, out, lock_timeout):
    """Write a registry.yaml from what is live, and adopt it into state."""
    from fnmatch import fnmatchcase

    from planner.apply import apply_plan
    from planner.importer import ImportedPolicy, render_registry
    from planner.model import DatabaseSnapshot, LiveSnapshot, ReadRequest
    from planner.plan import build_plan
    from state.factory import make_backend

    backends = _backends_text(ctx)
    base_dir = str(Path(out).resolve().parent) if out else str(Path(ctx.file).resolve().parent)
    boot = _parse_or_fail(ctx, "version: 1\n" + backends, out or ctx.file, base_dir)
    ctx._loaded = boot
    registry, database = ctx.providers()

    names = sorted(n for n in registry.list_model_names() if any(fnmatchcase(n, g) for g in model_globs))
    wanted_policies = []
    if policy_globs:
        ids = database.list_policy_ids()
        for g in policy_globs:
            label, _, pattern = g.rpartition("=")
            for pid in ids:
                if fnmatchcase(pid, pattern) and pid not in {p.policy_id for p in wanted_policies}:
                    wanted_policies.append(ImportedPolicy(label or f"policy_{pid[:8]}", pid))
    if not names and not wanted_policies:
        raise UserError("nothing matched: give --model NAME_OR_GLOB and/or --policy UUID_OR_GLOB")
    db_snap = database.read(ReadRequest(policy_ids=frozenset(p.policy_id for p in wanted_policies))) \
        if wanted_policies else DatabaseSnapshot()
    names = sorted(set(names) | {r.model_name for r in db_snap.policy_versions.values()})
    reg = registry.read(ReadRequest(model_names=frozenset(names)))
    run_ids = {v.run_id for vs in reg.versions.values() for v in vs if v.run_id}
    runs = registry.read_runs(run_ids)
    from dataclasses import replace

    reg = replace(reg, runs=runs, logged_model_names=registry.logged_model_names(reg.versions, runs))
    missing = [n for n in names if n not in reg.models]
    if missing:
        raise UserError(f"policy versions point at models that do not exist: {', '.join(missing)}")
    live = LiveSnapshot(reg, db_snap)
    text = render_registry(live, names, wanted_policies, backends)

    loaded = _parse_or_fail(ctx, text, out or ctx.file, base_dir)
    backend = make_backend(loaded.config, loaded.base_dir)
    with backend.lock("import", lock_timeout):
        # The snapshot just read is what the file describes: plan against it (no second read).
        state = backend.read()
        p = build_plan(loaded, state, live, registry=registry)
        if p.has_changes or p.has_errors:
            ctx.echo(render.plan_text(p, ctx.color), err=True)
            raise UserError("the imported file does not match live exactly (see the plan above); nothing adopted")
        result = apply_plan(p, state, registry, database, backend)
    if out:
        Path(out).write_text(text)
        ctx.echo(f"Wrote {out}: {len(names)} models, {sum(len(reg.versions.get(n, [])) for n in names)} versions, "
                 f"{len(db_snap.policy_versions)} policy versions; adopted into {backend.describe()} "
                 f"(serial {result.state.serial}).", err=True)
    else:
        ctx.echo(text, nl=False)


@main.group("state")
def state_group():
    """Inspect or edit recorded state."""


@state_group.command("list")
@pass_ctx
@_guard
def state_list(ctx: Ctx):
    for address in sorted(ctx.backend().read().resources):
        ctx.echo(address)


@state_group.command("show")
@click.argument("address")
@pass_ctx
@_guard
def state_show(ctx: Ctx, address):
    rs = ctx.backend().read().resources.get(address)
    if rs is None:
        raise UserError(f"{address} is not in state (see `mlreg state list`)")
    ctx.echo(json.dumps({"address": address, "type": rs.type, "identity": rs.identity,
                         "attributes": rs.attributes}, indent=2, sort_keys=True))


@state_group.command("rm")
@click.argument("addresses", nargs=-1, required=True)
@click.option("--lock-timeout", default=0.0, type=float, metavar="SECONDS")
@pass_ctx
@_guard
def state_rm(ctx: Ctx, addresses, lock_timeout):
    """Forget resources (state only; nothing live is touched)."""
    from dataclasses import replace

    backend = ctx.backend()
    with backend.lock("state rm", lock_timeout):
        st = backend.read()
        missing = [a for a in addresses if a not in st.resources]
        if missing:
            raise UserError(f"not in state: {', '.join(missing)}")
        for a in addresses:
            st = st.with_resource(a, None)
        st = st.with_lineage()
        backend.write(replace(st, serial=st.serial + 1))
    for a in addresses:
        ctx.echo(f"Removed {a} from state (nothing live was changed).")


@state_group.command("pull")
@pass_ctx
@_guard
def state_pull(ctx: Ctx):
    """Print the recorded state as JSON (to move it to another backend with `state push`)."""
    ctx.echo(json.dumps(ctx.backend().read().to_json(), indent=2, sort_keys=True))


@state_group.command("push")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite state of another lineage or a newer serial.")
@click.option("--lock-timeout", default=0.0, type=float, metavar="SECONDS")
@pass_ctx
@_guard
def state_push(ctx: Ctx, path, force, lock_timeout):
    """Replace the backend's state with a state file (e.g. from `state pull` on another backend)."""
    from dataclasses import replace

    from planner.statedata import StateSnapshot

    incoming = StateSnapshot.from_json(json.loads(Path(path).read_text()))
    backend = ctx.backend()
    with backend.lock("state push", lock_timeout):
        lineage, serial = backend.stored_meta()
        if lineage is not None and not force:
            if lineage != incoming.lineage:
                raise UserError(f"{backend.describe()} holds state of another lineage ({lineage}); "
                                "use --force to overwrite it")
            if serial >= incoming.serial:
                raise UserError(f"{backend.describe()} is at serial {serial}, not older than {path} "
                                f"({incoming.serial}); use --force to overwrite it")
        if lineage is not None:
            incoming = replace(incoming, serial=max(serial, incoming.serial) + 1)
        incoming = incoming.with_lineage()
        backend.write(incoming)
    ctx.echo(f"Pushed {len(incoming.resources)} resources (serial {incoming.serial}) to {backend.describe()}.")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_ctx
@_guard
def history(ctx: Ctx, fmt):
    """Past applies: when, who, plan digest, outcome, changes."""
    records = ctx.backend().history()
    if fmt == "json":
        ctx.echo(json.dumps(records, indent=2))
        return
    if not records:
        ctx.echo("No applies recorded yet.")
    for r in records:
        s = r.get("summary") or {}
        ctx.echo(f"{r.get('finished')}  {r.get('outcome'):<11} {r.get('who')}@{r.get('host')}  "
                 f"+{s.get('create', 0)} ~{s.get('update', 0)} -{s.get('delete', 0)} .{s.get('forget', 0)}  "
                 f"plan {str(r.get('plan_digest'))[:19]}")
        for a in r.get("changed", []):
            ctx.echo(f"    {a}")


@main.command("force-unlock")
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@_guard
def force_unlock(ctx: Ctx, lock_id, force):
    """Release a lock left by a dead process."""
    if not force and sys.stdin.isatty():
        click.confirm(f"Release lock {lock_id}? Only do this if its holder is dead", abort=True)
    if not ctx.backend().force_unlock(lock_id):
        raise UserError(f"no lock with id {lock_id} is recorded")
    ctx.echo(f"Lock {lock_id} released.")
