"""The `mlreg` command line: parse options, wire the pieces, map outcomes to exit codes.

Exit codes (binding): 0 success / nothing to do; 1 any error; 2 with --detailed-exitcode when
there are changes or drift.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import click

from planner import __version__, redact, render
from planner.errors import MlregError
from planner.model import Action

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


class UserError(MlregError):
    """Something the user can fix; printed as one line, exit 1."""


class Ctx:
    def __init__(self, file: str, color: bool, debug: bool):
        self.file = file
        self.color = color
        self.debug = debug
        self._loaded = None

    def echo(self, text: str = "", err: bool = False, nl: bool = True) -> None:
        click.echo(redact.redact(text), err=err, nl=nl, color=self.color)

    def loaded(self):
        from planner.config import load_config

        if self._loaded is None:
            loaded, diags = load_config(self.file)
            if diags:
                self.echo(render.diagnostics_text(diags, render.Style(self.color)), err=True, nl=False)
                n = len(diags)
                raise UserError(f"{self.file}: {n} error{'s' if n != 1 else ''}; nothing was read or changed")
            self._loaded = loaded
        return self._loaded

    def providers(self):
        from providers.mlflow import MlflowProvider
        from providers.postgres import DatabaseProvider

        cfg = self.loaded().config
        return MlflowProvider(cfg.mlflow.tracking_uri), DatabaseProvider(cfg.database.url)

    def backend(self):
        from state.factory import make_backend

        loaded = self.loaded()
        return make_backend(loaded.config, loaded.base_dir)


def _guard(fn):
    """Turn every failure into one clear line and exit 1; tracebacks only with --debug."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx: Ctx = click.get_current_context().find_object(Ctx)
        try:
            return fn(*args, **kwargs)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:  # `mlreg … | head`: the reader left; nothing to report
            sys.stderr.close()
            sys.exit(EXIT_OK)
        except Exception as e:  # noqa: BLE001 - the CLI's one place for it
            if ctx is not None and ctx.debug:
                raise
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if not isinstance(e, MlregError):  # a bug or an unexpected library failure
                msg = f"{type(e).__name__}: {msg} (run with --debug for the traceback)"
            click.echo(redact.redact(f"Error: {msg}"), err=True)
            sys.exit(EXIT_ERROR)

    return wrapper


class _Group(click.Group):
    """Global options are also accepted after the command (`mlreg plan --no-color`, as
    `terraform plan -no-color`): they are moved in front of it before parsing."""

    _FLAGS = ("--no-color", "--debug")
    _VALUED = ("-f", "--file")

    def parse_args(self, ctx, args):
        front, rest, i = [], [], 0
        while i < len(args):
            a = args[i]
            if a == "--":
                rest += args[i:]
                break
            if a in self._FLAGS or a.startswith("--file="):
                front.append(a)
            elif a in self._VALUED and i + 1 < len(args):
                front += [a, args[i + 1]]
                i += 1
            else:
                rest.append(a)
            i += 1
        return super().parse_args(ctx, front + rest)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--file", "file", default="registry.yaml", show_default=True, help="Path of registry.yaml.")
@click.option("--no-color", is_flag=True, help="Plain output (also when NO_COLOR is set or stdout is not a terminal).")
@click.option("--debug", is_flag=True, help="Show Python tracebacks.")
@click.version_option(__version__, prog_name="mlreg")
@click.pass_context
def main(click_ctx, file, no_color, debug):
    """mlreg: registry-as-code for MLflow models and policy versions."""
    redact.collect_from_env(dict(os.environ))
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    click_ctx.obj = Ctx(file, color, debug)


pass_ctx = click.make_pass_decorator(Ctx)


@main.command()
@pass_ctx
@_guard
def validate(ctx: Ctx):
    """Check registry.yaml offline (no MLflow, no database)."""
    loaded = ctx.loaded()
    cfg = loaded.config
    n_versions = sum(len(m.versions) for m in cfg.models.values())
    n_policies = sum(len(p.versions) for p in cfg.policies.values())
    ctx.echo(f"Success! {ctx.file} is valid: {len(cfg.models)} models, {n_versions} versions, "
             f"{n_policies} policy versions.")


@main.command()
@pass_ctx
def schema(ctx: Ctx):
    """Print the JSON Schema of registry.yaml (for editors)."""
    from planner.config import Config

    doc = Config.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "mlreg registry.yaml"
    ctx.echo(json.dumps(doc, indent=2))


def _make_plan(ctx: Ctx, targets=(), state=None):
    from planner.plan import build_plan, read_live

    loaded = ctx.loaded()
    registry, database = ctx.providers()
    given = state  # apply reads state under its lock first; plan reads it while MLflow answers
    live, state = read_live(loaded, (lambda: given) if given is not None else ctx.backend().read, registry, database)
    return build_plan(loaded, state, live, registry=registry, targets=targets), state, registry, database


def _emit_plan(ctx: Ctx, plan, fmt: str) -> None:
    if fmt == "json":
        ctx.echo(render.plan_json(plan), nl=False)
    elif fmt == "markdown":
        ctx.echo(render.plan_markdown(plan), nl=False)
    else:
        ctx.echo(render.plan_text(plan, ctx.color), nl=False)


def _save_plan(plan, path: str) -> None:
    Path(path).write_text(render.plan_json(plan))


@main.command()
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Save the plan for `mlreg apply FILE`.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none.")
@click.option("--target", "targets", multiple=True, metavar="ADDRESS", help="Plan only these (repeatable).")
@pass_ctx
@_guard
def plan(ctx: Ctx, out, fmt, detailed_exitcode, targets):
    """Compare registry.yaml with live MLflow, the database and state; print the plan."""
    p, _, _, _ = _make_plan(ctx, targets)
    _emit_plan(ctx, p, fmt)
    if out:
        if p.has_errors:
            raise UserError("the plan has errors; it was not saved")
        _save_plan(p, out)
        ctx.echo(f"\nSaved the plan to {out}. Apply exactly this plan with: mlreg apply {out}", err=fmt != "text")
    if p.has_errors:
        sys.exit(EXIT_ERROR)
    if detailed_exitcode and p.has_changes:
        sys.exit(EXIT_CHANGES)


class StalePlan(MlregError):
    """A saved plan made against other state or live values than there are now."""


def _check_saved_plan(ctx: Ctx, saved, state, fresh) -> None:
    """A saved plan applies only to the state and live values it was made from."""
    if saved.config.get("digest") != ctx.loaded().digest:
        raise StalePlan(f"the saved plan is stale: {ctx.file} changed since it was made; run `mlreg plan` again")
    if saved.state.get("lineage") not in (None, state.lineage) or saved.state.get("serial") != state.serial:
        raise StalePlan(f"the saved plan is stale: state moved from serial {saved.state.get('serial')} to "
                        f"{state.serial} since it was made; run `mlreg plan` again")
    now = {c.address: c for c in fresh.resource_changes}
    for c in saved.changes:
        other = now.get(c.address)
        if c.action is Action.FORGET:
            continue
        if other is None or other.before != c.before:
            raise StalePlan(f"the saved plan is stale: {c.address} changed live since it was made; "
                            "run `mlreg plan` again")


def _plan_digest(plan) -> str:
    return "sha256:" + hashlib.sha256(render.plan_json(plan).encode()).hexdigest()


def _history_record(plan, digest: str, lock_info, outcome: str, result=None) -> dict:
    return {
        "id": lock_info.id, "operation": "apply", "who": lock_info.who, "host": lock_info.host,
        "pid": lock_info.pid, "started": lock_info.since,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "config_digest": plan.config.get("digest"), "plan_digest": digest, "outcome": outcome,
        "summary": plan.summary.model_dump(),
        "changed": sorted(result.done) if result else [],
        "failed": dict(result.failed) if result else {},
        "serial": result.state.serial if result else None,
    }


@main.command()
@click.argument("planfile", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--parallelism", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--lock-timeout", default=0.0, type=float, show_default=True, metavar="SECONDS")
@click.option("--target", "targets", multiple=True, metavar="ADDRESS")
@pass_ctx
@_guard
def apply(ctx: Ctx, planfile, auto_approve, parallelism, lock_timeout, targets):
    """Execute a saved plan, or plan, ask for `yes` and execute."""
    from planner.apply import apply_plan
    from planner.model import Plan

    backend = ctx.backend()
    if planfile is None and not auto_approve and not sys.stdin.isatty():
        raise UserError("apply needs confirmation but stdin is not a terminal; pass --auto-approve "
                        "or apply a saved plan (mlreg plan --out FILE; mlreg apply FILE)")
    with backend.lock("apply", lock_timeout) as lock_info:
        state = backend.read()
        p, state, registry, database = _make_plan(ctx, targets, state=state)
        if planfile is not None:
            saved = Plan.model_validate_json(Path(planfile).read_text())
            _check_saved_plan(ctx, saved, state, p)
            if p.has_errors:  # the rules are checked again at apply time, on today's live values
                ctx.echo(render.diagnostics_text(p.diagnostics, render.Style(ctx.color)), err=True, nl=False)
                raise UserError("the saved plan no longer passes the rules; nothing was applied")
            p = saved
        else:
            _emit_plan(ctx, p, "text")
        if p.has_errors:
            sys.exit(EXIT_ERROR)
        pending = [c for c in p.resource_changes if c.action is not Action.NOOP or c.record_only]
        if not pending:
            return
        if p.has_changes and planfile is None and not auto_approve:
            ctx.echo("\nDo you want to perform these actions? Only 'yes' will be accepted.")
            if click.prompt("  Enter a value", default="", show_default=False).strip() != "yes":
                raise UserError("apply cancelled")
        if p.has_changes:
            ctx.echo("")

        def progress(event, step, change, detail):
            line = render.progress_line(event, step, change, detail)
            if line:
                ctx.echo(line)

        digest = _plan_digest(p)
        backend.append_history(_history_record(p, digest, lock_info, "running"))
        try:
            result = apply_plan(p, state, registry, database, backend, parallelism, progress)
        except BaseException:
            backend.append_history(_history_record(p, digest, lock_info, "interrupted"))
            raise
        outcome = "failed" if result.failed else "succeeded"
        backend.append_history(_history_record(p, digest, lock_info, outcome, result))
        s = p.summary
        if result.failed:
            raise UserError(f"apply failed for {len(result.failed)} step(s); state records what completed; "
                            "fix the cause and run `mlreg plan` again")
        if p.has_changes:
            ctx.echo("\n" + render.apply_summary(s.create, s.update, s.delete, s.forget))


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there is drift, 0 when none.")
@pass_ctx
@_guard
def drift(ctx: Ctx, fmt, detailed_exitcode):
    """Report what changed live, outside mlreg, since the last apply."""
    from planner.drift import detect
    from planner.plan import read_live

    registry, database = ctx.providers()
    live, state = read_live(ctx.loaded(), ctx.backend().read, registry, database)
    items = detect(state, live)
    ctx.echo({"json": render.drift_json, "markdown": render.drift_markdown}.get(fmt, render.drift_text)(items),
             nl=False)
    if detailed_exitcode and items:
        sys.exit(EXIT_CHANGES)


@main.group()
def db():
    """The experimentation schema (exp.policy_versions, exp.variants)."""


@db.command("init")
@pass_ctx
@_guard
def db_init(ctx: Ctx):
    """Create exp.policy_versions / exp.variants if missing."""
    _, database = ctx.providers()
    created = database.init()
    ctx.echo(f"Created {', '.join(created)} in {redact.url(database.url)}." if created
             else f"Nothing to do: the tables already exist in {redact.url(database.url)}.")


# The state, history and import commands live in cli_state.py; importing it registers them.
from planner import cli_state  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover - `python -m planner.cli`: run the registered group
    from planner.cli import main as _main

    _main()
