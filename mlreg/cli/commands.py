"""`validate`, `plan`, `apply`, `drift`, `graph`, `schema`, `db init`: parse options, call the
engine's workflow, format the outcome, pick the exit code. Nothing else."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from mlreg.cli import early as early_read
from mlreg.cli import in_ci
from mlreg.cli.app import (
    EXIT_CHANGES,
    EXIT_ERROR,
    Ctx,
    backend_timeout_option,
    error_message,
    format_option,
    lock_timeout_option,
    pass_ctx,
    reconfigure_option,
    refuse,
    reports_errors,
    target_option,
)
from mlreg.planner.errors import PlanRefused, UserError

SIGNING_KEY = "MLREG_PLAN_SIGNING_KEY"


@click.command()
@pass_ctx
@reports_errors
def validate(ctx: Ctx):
    """Check registry.yaml offline (no MLflow, no database)."""
    from mlreg.planner.kinds.catalog import declared_counts

    counts = ", ".join(f"{n} {what}" for what, n in declared_counts(ctx.loaded(offline=True).config))
    ctx.echo(f"Success! {ctx.file} is valid: {counts}.")


@click.command("rules")
@pass_ctx
@reports_errors
def rules_(ctx: Ctx):
    """Print the rules in effect (naming, required run logging, stage transitions, gates), each
    with where it comes from: the file's line, or the defaults it starts from. Offline."""
    from mlreg.planner.config.sections.rules import origins, rules_lines

    loaded = ctx.loaded(offline=True, missing_ok=True)
    rules = loaded.config.rules
    found = "" if Path(ctx.file).exists() else f" ({ctx.file} does not exist: the defaults)"
    head = f"# The rules in effect for {ctx.file}{found}; each says where it comes from (`mlreg rules`)."
    ctx.echo("\n".join([head, *rules_lines(rules, origins(rules, loaded.where))]))


@click.command()
@pass_ctx
def schema(ctx: Ctx):
    """Print the JSON Schema of registry.yaml (for editors)."""
    from mlreg.planner.config.schema import Config

    doc = Config.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "mlreg registry.yaml"
    ctx.echo(json.dumps(doc, indent=2))


def emit_plan(ctx: Ctx, plan, fmt: str) -> None:
    from mlreg.planner.render import json as render_json
    from mlreg.planner.render import markdown, text

    if fmt == "json":
        ctx.echo(render_json.plan_json(plan), nl=False)
    elif fmt == "markdown":
        ctx.echo(markdown.plan_markdown(plan), nl=False)
    else:
        ctx.echo(text.plan_text(plan, ctx.color), nl=False)


label_option = click.option(
    "--label",
    metavar="NAME",
    help="Which comment or issue is mlreg's (one per label; default: the path given to -f).",
)


@click.command()
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Save the plan for `mlreg apply FILE`.")
@format_option(
    ["text", "json", "markdown"],
    "text (Terraform's shape), json (Terraform's plan JSON) or markdown (a pull-request comment).",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none.")
@click.option(
    "--comment",
    is_flag=True,
    help="In a CI job on a pull request (GitHub Actions, GitLab CI): keep one comment with this plan on it, "
    "edited on every push.",
)
@label_option
@target_option
@backend_timeout_option
@reconfigure_option
@pass_ctx
@reports_errors
def plan(ctx: Ctx, out, fmt, detailed_exitcode, comment, label, targets, backend_timeout, reconfigure):
    """Compare registry.yaml with live MLflow, the database and state; print the plan. Read-only."""
    from mlreg.cli import publish, wiring

    if label and not comment:
        refuse("--label names the comment of --comment; give both")
    publisher = publish.Publisher.for_plan(ctx.file, label, os.environ) if comment else None
    # the server works while the engine is imported and the file validated
    early = early_read.start(ctx.file, lambda uri: wiring.early_provider(uri, backend_timeout))
    from mlreg.planner.render.json import plan_json
    from mlreg.planner.workflow import make_plan

    try:
        loaded = ctx.loaded()
        in_ci.require_configured(loaded, os.environ)
        session = wiring.session(loaded, backend_timeout, early, read_only=True, reconfigure=reconfigure)
        p, _ = make_plan(session, targets, prefetch=wiring.usable(loaded, early))
    except Exception as e:  # still a document where the plan would be, then the error line
        _plan_failed(ctx, e, fmt, publisher)
        raise
    emit_plan(ctx, p, fmt)
    if out and not p.has_errors:
        from mlreg.state import files

        target, base = files.within([loaded.base_dir, os.getcwd()], out, "--out")
        files.write_atomic(target, plan_json(p, os.environ.get(SIGNING_KEY)), base)
        signed = " (signed)" if os.environ.get(SIGNING_KEY) else ""
        ctx.echo(
            f"\nSaved the plan to {out}{signed}. Apply exactly this plan with: mlreg apply {out}", err=fmt != "text"
        )
    code = EXIT_ERROR if p.has_errors else EXIT_CHANGES if detailed_exitcode and p.has_changes else 0
    if publisher is not None:
        code = publisher.plan(ctx, p, code)
    if out and p.has_errors:
        refuse("the plan has errors; it was not saved")
    if code:
        sys.exit(code)


def _plan_failed(ctx: Ctx, e: Exception, fmt: str, publisher) -> None:
    """A plan that could not be made: Markdown output gets the errors (never an empty document),
    and the pull request's comment says so in place of the last plan."""
    from mlreg.planner.render.markdown import failure_markdown

    message, diagnostics = error_message(e), getattr(e, "diagnostics", ())
    if fmt == "markdown":
        ctx.echo(failure_markdown(message, diagnostics), nl=False)
    if publisher is not None:
        publisher.failed(ctx, message, diagnostics)


@click.command()
@click.argument("planfile", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--parallelism",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Changes applied at once, within the dependency order (a model before its versions).",
)
@lock_timeout_option
@target_option
@backend_timeout_option
@reconfigure_option
@pass_ctx
@reports_errors
def apply(ctx: Ctx, planfile, auto_approve, parallelism, lock_timeout, targets, backend_timeout, reconfigure):
    """Execute a saved plan (only if registry.yaml, state and live still give exactly that plan),
    or plan, ask for `yes` and execute."""
    from mlreg.planner import planfile as planfiles
    from mlreg.planner.render import text
    from mlreg.planner.workflow import apply as run_apply

    if planfile is None and not auto_approve and not sys.stdin.isatty():
        refuse(
            "apply needs confirmation but stdin is not a terminal; pass --auto-approve "
            "or apply a saved plan (mlreg plan --out FILE; mlreg apply FILE)"
        )
    saved = planfiles.load(Path(planfile).read_text(), planfile, os.environ.get(SIGNING_KEY)) if planfile else None
    from mlreg.cli import wiring

    loaded = ctx.loaded()
    in_ci.require_configured(loaded, os.environ)
    session = wiring.session(loaded, backend_timeout, reconfigure=reconfigure)

    def show(p) -> None:
        if planfile is None or p.has_errors:
            ctx.echo(
                text.plan_text(p, ctx.color) if planfile is None else text.diagnostics_text(p.diagnostics),
                err=planfile is not None,
                nl=False,
            )

    def confirm(p) -> bool:
        if planfile is not None or auto_approve:
            return True
        ctx.echo("\nDo you want to perform these actions? Only 'yes' will be accepted.")
        return click.prompt("  Enter a value", default="", show_default=False).strip() == "yes"

    def progress(event):
        line = text.progress_line(event)
        if line:
            ctx.echo(line)

    try:
        outcome = run_apply(
            session,
            targets=targets,
            saved=saved,
            show=show,
            confirm=confirm,
            parallelism=parallelism,
            lock_timeout=lock_timeout,
            progress=progress,
        )
    except PlanRefused as e:
        raise PlanRefused(("the saved plan no longer passes the rules; " if planfile else "") + str(e)) from None
    result = outcome.result
    if result is None:
        return
    done = sum(result.executed.values())
    if result.stopped:
        raise UserError(
            f"{result.stopped}. Applied and recorded in state: {done} change(s); failed: "
            f"{len(result.failed)}; not started: {len(result.not_started)}."
        )
    if result.failed:
        raise UserError(
            f"apply failed for {len(result.failed)} step(s); state records what completed; "
            "fix the cause and run `mlreg plan` again"
        )
    if outcome.plan.has_changes:
        ctx.echo("\n" + text.apply_summary(result.executed))


@click.command()
@format_option(
    ["text", "json", "markdown"], "text, json (for scripts and alerting) or markdown (an issue or chat report)."
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there is drift, 0 when none (notes such as versions a pipeline registered are not "
    "drift, unless rules.unmanaged_versions is fail).",
)
@click.option(
    "--issue",
    is_flag=True,
    help="In a scheduled CI job (GitHub Actions, GitLab CI): keep one open issue with the drift report, "
    "closed when drift is gone.",
)
@label_option
@backend_timeout_option
@reconfigure_option
@pass_ctx
@reports_errors
def drift(ctx: Ctx, fmt, detailed_exitcode, issue, label, backend_timeout, reconfigure):
    """Report what changed live, outside mlreg, since the last apply. Read-only."""
    from mlreg.cli import publish, wiring
    from mlreg.planner.render import json as render_json
    from mlreg.planner.render import markdown, text
    from mlreg.planner.workflow import drift as detect

    if label and not issue:
        refuse("--label names the issue of --issue; give both")
    publisher = publish.Publisher.for_drift(ctx.file, label, os.environ) if issue else None
    loaded = ctx.loaded()
    in_ci.require_configured(loaded, os.environ)
    session = wiring.session(loaded, backend_timeout, read_only=True, reconfigure=reconfigure)
    items = detect(session)
    render = {"json": render_json.drift_json, "markdown": markdown.drift_markdown}.get(fmt, text.drift_text)
    ctx.echo(render(items), nl=False)
    drifted = [i for i in items if i.counts]  # a note alone (an unmanaged version) is not drift
    if publisher is not None and not publisher.drift(ctx, drifted, None if drifted else publish.last_apply(session)):
        sys.exit(EXIT_ERROR)
    if detailed_exitcode and drifted:
        sys.exit(EXIT_CHANGES)


@click.command()
@format_option(["dot", "mermaid"], "dot (Graphviz, like `terraform graph`) or mermaid (renders in GitHub Markdown).")
@pass_ctx
@reports_errors
def graph(ctx: Ctx, fmt):
    """Print the lineage of the desired state (policy version -> model version -> source run)
    as DOT (like `terraform graph`) or Mermaid. Offline."""
    from mlreg.planner.kinds.catalog import lineage
    from mlreg.planner.render.graph import Picture

    pic = Picture(lineage(ctx.loaded(offline=True).config))
    ctx.echo(pic.dot() if fmt == "dot" else pic.mermaid(), nl=False)


@click.group()
def db():
    """The experimentation schema (exp.policy_versions, exp.variants)."""


@db.command("init")
@backend_timeout_option
@pass_ctx
@reports_errors
def db_init(ctx: Ctx, backend_timeout):
    """Create exp.policy_versions / exp.variants if missing."""
    from mlreg.cli import wiring

    database = wiring.providers(ctx.loaded(missing_ok=True), backend_timeout)["mlreg/postgres"]
    created = database.init()
    ctx.echo(
        f"Created {', '.join(created)} in {database.describe()}."
        if created
        else f"Nothing to do: the tables already exist in {database.describe()}."
    )


COMMANDS = (validate, plan, apply, drift, graph, rules_, schema, db)
