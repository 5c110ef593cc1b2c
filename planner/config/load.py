"""Load registry.yaml: never raises for a user mistake; returns the config (or None) and every
diagnostic found, each pointing at file, line, column and key path.

Pipeline: size cap -> fast loader (rapidyaml, answers only when it is sure) -> otherwise the
structure guard (nesting, aliases) and the exact loader with line numbers -> defaults and
`${VAR}` expansion -> pydantic -> cross-reference checks.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path as FsPath

from pydantic import BaseModel, ValidationError

from mlreg.planner.config import guard
from mlreg.planner.config.checks import CheckContext, check_models, check_policies, check_removed, rules_of
from mlreg.planner.config.defaults import RAW_DEFAULTS
from mlreg.planner.config.envexpand import ONLY_VAR, expand
from mlreg.planner.config.prompts import check_prompts
from mlreg.planner.config.schema import Config, LoadedConfig
from mlreg.planner.config.source import Source, load_yaml
from mlreg.planner.config.webhooks import check_webhooks
from mlreg.planner.diagnostics import Diagnostic, Severity
from mlreg.planner.perf import no_gc_pauses, release_freed_memory

# Where `${VAR}` is expanded: whole backend sections, and named keys of entries of other sections.
EXPANDED_SECTIONS = ("mlflow", "database", "state")


@dataclass(frozen=True)
class Section:
    """What loading needs to know of a section beyond its type: its cross-reference check, where
    `${VAR}` is expanded in its entries, and which entry keys hold secrets."""

    name: str
    check: Callable[[CheckContext], None]
    expanded: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()


# In this order: models first (the others refer to declared versions).
SECTIONS = [
    Section("models", check_models),
    Section("policies", check_policies),
    Section("prompts", check_prompts),
    Section("webhooks", check_webhooks, expanded=("url", "secret"), secrets=("secret",)),
]

_MESSAGES = {
    "missing": "required key is missing",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "bool_type": "expected true or false",
    "uuid_parsing": "expected a UUID such as 2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11",
    "uuid_type": "expected a UUID such as 2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11",
    "model_type": "expected a mapping",
}


def load_config(path: str | FsPath, env: dict[str, str] | None = None) -> tuple[LoadedConfig | None, list[Diagnostic]]:
    fs_path = FsPath(path)
    try:
        size = fs_path.stat().st_size
        too_big = guard.check_size(size, str(path))
        if too_big:
            return None, [too_big]
        # Read inside the call: only parse_config holds the bytes, and drops them once decoded.
        return parse_config(fs_path.read_bytes(), str(path), str(fs_path.resolve().parent), env)
    except OSError as e:
        return None, [Diagnostic(Severity.ERROR, f"Cannot read {path}: {e.strerror}", file=str(path))]


def parse_config(
    raw: bytes, file: str, base_dir: str, env: dict[str, str] | None = None
) -> tuple[LoadedConfig | None, list[Diagnostic]]:
    """Validate a registry file. Large valid files take the fast loader; anything it is unsure of,
    and every file with a problem, goes through the exact loader that knows line numbers."""
    size = len(raw)
    too_big = guard.check_size(size, file)
    if too_big:
        return None, [too_big]
    env = dict(os.environ) if env is None else env
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    text = raw.decode("utf-8", errors="replace")
    del raw
    with no_gc_pauses():
        out = _parse(text, digest, file, base_dir, env)
    if size > 4 * 1024 * 1024:
        release_freed_memory()
    return out


def _parse(text: str, digest: str, file: str, base_dir: str, env: dict[str, str]):
    from mlreg.planner.config.fastyaml import fast_load

    data = fast_load(text, _model_spec)
    if data is not None:
        cfg, diags = _validate(Source(file=file, data=data), env)
        if cfg is not None:
            return LoadedConfig(cfg, file, digest, base_dir, _backends(data)), []
    hostile = guard.check_structure(text, file)
    if hostile:
        return None, [hostile]
    source, diags = load_yaml(text, file)
    if source.data is None:  # a syntax error: nothing further can be checked
        return None, diags
    cfg, more = _validate(source, env)
    diags = sorted(diags + more, key=lambda d: (d.line or 0, d.column or 0))
    if diags or cfg is None:
        return None, diags
    return LoadedConfig(cfg, file, digest, base_dir, _backends(source.data)), []


def _model_spec(name, raw):
    """The fast loader validates each model as soon as it is parsed (the raw data of 100,000
    versions and their validated objects never exist at once); any error: the exact path."""
    from mlreg.planner.config.models import ModelSpec

    if not isinstance(name, str):
        raise ValueError(name)
    return ModelSpec.model_validate(raw)


def _backends(data: dict) -> dict:
    return {k: data[k] for k in EXPANDED_SECTIONS if k in data}


def _expanded(data: dict, source: Source, env: dict[str, str], diags: list) -> dict:
    """Defaults for omitted backend values, then `${VAR}` expansion where it is allowed."""
    data = dict(data)
    for section, defaults in RAW_DEFAULTS.items():
        value = data.get(section)
        if value is None:
            data[section] = dict(defaults)
        elif isinstance(value, dict):
            data[section] = {**defaults, **value}
    for section in EXPANDED_SECTIONS:
        if isinstance(data.get(section), dict):
            data[section] = expand(data[section], (section,), env, source, diags)
    for sec in SECTIONS:
        section, keys = sec.name, sec.expanded
        entries = data.get(section) if keys else None
        if not isinstance(entries, dict):
            continue
        out = {}
        for name, entry in entries.items():
            if isinstance(entry, dict):
                entry = dict(entry)
                for key in keys:
                    if key not in entry:
                        continue
                    secret = key in sec.secrets
                    if secret and not (isinstance(entry[key], str) and ONLY_VAR.match(entry[key])):
                        diags.append(
                            source.diag(
                                (section, name, key),
                                "A secret must be an environment reference such as ${DEPLOY_BOT_WEBHOOK_SECRET}",
                                "the value written here is not shown; move it to the environment",
                            )
                        )
                        entry[key] = None
                        continue
                    entry[key] = expand(entry[key], (section, name, key), env, source, diags, secret=secret)
            out[name] = entry
        data[section] = out
    return data


def _validate(source: Source, env: dict[str, str]) -> tuple[Config | None, list[Diagnostic]]:
    data = source.data
    if not isinstance(data, dict):
        return None, [source.diag((), "The file must be a mapping with at least `version: 1`")]
    diags: list[Diagnostic] = []
    data = _expanded(data, source, env, diags)
    cfg = None
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        diags.extend(_diag_from_pydantic(err, source) for err in e.errors())
    diags.extend(_reference_checks(data, source, cfg))
    return (None if diags else cfg), diags


def _reference_checks(data: dict, source: Source, cfg: Config | None) -> list[Diagnostic]:
    from mlreg.planner.kinds.catalog import KINDS

    ctx = CheckContext(
        data=data, source=source, cfg=cfg, rules=rules_of(data, cfg), track_declared=bool(data.get("removed"))
    )
    for sec in SECTIONS:
        sec.check(ctx)
    check_removed(ctx, {k.type: k.keyed for k in KINDS.values()})
    return ctx.diags


def _fields_at(loc: tuple) -> list[str]:
    """The keys allowed at `loc` (for 'unknown key' errors), found by walking the models."""
    import typing
    from typing import Annotated

    tp = Config
    for part in loc:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
            origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            f = tp.model_fields.get(part)
            if f is None:
                return []
            tp = f.annotation
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        elif origin is list:
            tp = typing.get_args(tp)[0]
        else:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return []
            tp = args[0]
    args = [a for a in typing.get_args(tp) if a is not type(None)] if typing.get_origin(tp) else []
    if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        tp = args[0]
    if typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _is_secret_path(loc: tuple) -> bool:
    return any(isinstance(p, str) and p == "secret" for p in loc)


def _diag_from_pydantic(err: dict, source: Source) -> Diagnostic:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in {"int", "str"})))
    etype = err["type"]
    if etype == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        hint = f"expected one of: {', '.join(allowed)}" if allowed else ""
        return source.diag(loc, f"Unknown key {loc[-1]!r}", hint)
    msg = _MESSAGES.get(etype) or err["msg"]
    if etype == "value_error":
        msg = str(err.get("ctx", {}).get("error", msg))
    if etype == "enum":
        msg = f"expected one of: {err['ctx']['expected']}"
    got = err.get("input")
    quiet = etype == "missing" or isinstance(got, (dict, list)) or _is_secret_path(loc)
    return source.diag(loc, msg, "" if quiet else f"got {got!r}")
