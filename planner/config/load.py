"""Load registry.yaml, or a folder of registry files: never raises for a user mistake; returns
the config (or None) and every diagnostic found, each pointing at file, line, column and key path.

Pipeline, per file: size cap -> fast loader (rapidyaml, answers only when it is sure) -> otherwise
the structure guard (nesting, aliases) and the exact loader with line numbers; then, for all files
together: merge (merge.py: every name and setting in one file) -> defaults and `${VAR}`
expansion -> pydantic -> cross-reference checks.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path as FsPath

from pydantic import BaseModel, ValidationError

from mlreg.planner.config import guard
from mlreg.planner.config.base import did_you_mean
from mlreg.planner.config.defaults import DEFAULT_STATE_URL, RAW_DEFAULTS, WORKSPACE_REFERENCE
from mlreg.planner.config.envexpand import (
    ONLY_VAR,
    Environ,
    backend_variable,
    expand,
    given_secret,
    no_variable,
    not_secret,
    references,
    workspace_variable,
)
from mlreg.planner.config.merge import SETTINGS, MergedSource, ParsedFile, merge
from mlreg.planner.config.references import CheckContext, check_removed, rules_of
from mlreg.planner.config.schema import Config, LoadedConfig
from mlreg.planner.config.sections.registry import Section, sections
from mlreg.planner.config.source import load_yaml
from mlreg.planner.diagnostics import Diagnostic, Severity
from mlreg.planner.perf import no_gc_pauses, release_freed_memory

# Where `${VAR}` is expanded: whole backend sections, and named keys of entries of other sections.
EXPANDED_SECTIONS = ("mlflow", "database", "state")

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


def config_files(path: str | FsPath) -> tuple[list[FsPath], str] | Diagnostic:
    """The files `-f` names (a file, or every *.yaml / *.yml directly in a folder, in name order)
    and the folder relative paths in them are taken from."""
    p = FsPath(path)
    if p.is_dir():
        # not only regular files: a FIFO or a device named *.yaml is refused by name when read
        found = sorted(f for f in p.iterdir() if f.suffix in (".yaml", ".yml") and not f.is_dir())
        if not found:
            return Diagnostic(Severity.ERROR, f"{path} holds no *.yaml or *.yml files", file=str(path))
        return found, str(p.resolve())
    return [p], str(p.resolve().parent)


def load_config(
    path: str | FsPath, env: dict[str, str] | None = None, offline: bool = False
) -> tuple[LoadedConfig | None, list[Diagnostic]]:
    """The configuration at `path` (a file or a folder of them). `offline` (validate, graph): an
    unset `${VAR}` is not an error, only a malformed or misplaced one is."""
    if offline:
        env = Environ(dict(os.environ) if env is None else env, offline=True)
    found = config_files(path)
    if isinstance(found, Diagnostic):
        return None, [found]
    files, base_dir = found
    folder = FsPath(path).is_dir()
    raw: list[tuple[str, bytes]] = []
    left = guard.max_file_bytes()  # for one file, and for a folder's files together
    for f in files:
        data = guard.read_bounded(f, FsPath(path) if folder else None, left)
        if isinstance(data, Diagnostic):
            return None, [data]
        left -= len(data)
        raw.append((str(f), data))
    return parse_files(raw, str(path), base_dir, env, folder)


def parse_config(
    raw: bytes, file: str, base_dir: str, env: dict[str, str] | None = None
) -> tuple[LoadedConfig | None, list[Diagnostic]]:
    """Validate one registry file's bytes (what `import` writes is checked this way)."""
    return parse_files([(file, raw)], file, base_dir, env)


def parse_files(
    raw: list[tuple[str, bytes]], shown: str, base_dir: str, env: dict[str, str] | None = None, folder: bool = False
) -> tuple[LoadedConfig | None, list[Diagnostic]]:
    """Validate registry files as one configuration. Large valid files take the fast loader;
    anything it is unsure of, and every file with a problem, goes through the exact loader that
    knows line numbers. `folder`: the files are a folder's (merge.py: settings in `_*` files)."""
    size = sum(len(b) for _, b in raw)
    if not isinstance(env, Environ):
        env = Environ(dict(os.environ) if env is None else env)
    # one pass over each file's bytes: its own digest (to know it again on disk), and the
    # configuration's digest made of the files' names and digests
    texts = [(name, data.decode("utf-8", errors="replace"), hashlib.sha256(data).hexdigest()) for name, data in raw]
    del raw
    digest = hashlib.sha256()
    for name, _, sha in texts:
        digest.update(FsPath(name).name.encode() + b"\0" + sha.encode() + b"\0")
    with no_gc_pauses():
        out = _parse(texts, shown, "sha256:" + digest.hexdigest(), base_dir, env, folder)
    if size > 4 * 1024 * 1024:
        release_freed_memory()
    return out


# A large file the fast loader read is not kept in memory (13 MB for 100,000 versions): when a
# line is asked for, it is read again from disk, and used only if it is still the same file.
KEEP_TEXT = 1024 * 1024


def _read(
    name: str, text: str, sha: str, fast: bool, budget: guard.Budget
) -> tuple[ParsedFile | None, list[Diagnostic]]:
    from mlreg.planner.config.fastyaml import fast_load

    if fast:
        data = fast_load(text, streamed(), integer_keys())
        if data is not None:
            return ParsedFile(name, text if len(text) <= KEEP_TEXT else None, data, fast=True, sha=sha), []
    hostile = guard.check_structure(text, name, budget)
    if hostile:
        return None, [hostile]
    source, diags = load_yaml(text, name)
    if source.data is None:  # a syntax error: nothing further can be checked
        return None, diags
    return ParsedFile(name, text, source.data, source), diags


def _parse(
    texts: list[tuple[str, str, str]], shown: str, digest: str, base_dir: str, env: dict[str, str], folder: bool
):
    """Fast first; if anything is wrong, once more with every file read exactly (positions)."""
    for fast in (True, False):
        parsed, diags = [], []
        budget = guard.Budget()  # the exact loader's nodes, for all the files together
        for name, text, sha in texts:
            f, found = _read(name, text, sha, fast, budget)
            diags.extend(found)
            if f is not None:
                parsed.append(f)
        if len(parsed) < len(texts):  # a syntax error or a hostile file: nothing further can be checked
            return None, diags
        data, source, conflicts = merge(parsed, sections(), folder)
        cfg, more = _validate(data, source, env)
        diags = diags + conflicts + more
        if not diags and cfg is not None:
            return LoadedConfig(cfg, shown, digest, base_dir, _backends(data), source), []
        if not any(f.fast for f in parsed):
            break
    return None, sorted(diags, key=lambda d: (d.file or "", d.line or 0, d.column or 0))


def streamed() -> dict:
    """The sections the fast loader streams, each with its entry's validation (`fastyaml`)."""
    return {s.name: _validator(s) for s in sections() if s.streamed}


def integer_keys() -> list[tuple]:
    """Where the sections declare integer mapping keys (`("policies", "*", "versions")`)."""
    return [(s.name, "*", *path) for s in sections() for path in s.integer_keys]


def _validator(section: Section):
    """The fast loader validates each entry of a streamed section as soon as it is parsed (the raw
    data of 100,000 versions and their validated objects never exist at once); any error: the
    exact path."""
    validate = section.spec.model_validate

    def convert(name, raw):
        if not isinstance(name, str):
            raise ValueError(name)
        return validate(raw)

    return convert


def _backends(data: dict) -> dict:
    return {k: data[k] for k in EXPANDED_SECTIONS if k in data}


def _expanded(data: dict, source: MergedSource, env: dict[str, str], diags: list) -> dict:
    """Defaults for omitted backend values, then `${VAR}` expansion where it is allowed."""
    data = dict(data)
    for section, defaults in RAW_DEFAULTS.items():
        value = data.get(section)
        if value is None:
            data[section] = dict(defaults)
        elif isinstance(value, dict):
            data[section] = {**defaults, **value}
    state = data.get("state")
    if isinstance(state, dict) and state.get("backend") == "postgres" and state.get("url") is None:
        data["state"] = {**state, "url": DEFAULT_STATE_URL}
    for section in EXPANDED_SECTIONS:
        block = data.get(section)
        if isinstance(block, dict):
            data[section] = {
                k: expand(v, (section, k), env, source, diags, allowed=_backend_rule(section, k), whole=True)
                for k, v in block.items()
            }
    # the workspace, as MLflow's own client reads it, unless the file says
    data["workspace"] = expand(
        data.get("workspace", WORKSPACE_REFERENCE),
        ("workspace",),
        env,
        source,
        diags,
        allowed=workspace_variable,
        whole=True,
    )
    for sec in sections():
        if not sec.expanded:
            continue
        if sec.single:  # `access: {users: {NAME: entry}}`
            block = data.get(sec.name)
            if isinstance(block, dict):
                data[sec.name] = block = dict(block)
                for group in sec.names:
                    if isinstance(block.get(group), dict):
                        block[group] = _expanded_entries(block[group], (sec.name, group), sec, source, env, diags)
        else:
            _expand_nested(data, tuple(sec.name.split(".")), sec, source, env, diags)
    return data


def _expand_nested(data: dict, at: tuple, sec, source: MergedSource, env, diags: list) -> None:
    """The entries of a NAME -> entry section expanded in place; a section named `PARENT.CHILD`
    is `data[PARENT][CHILD]` (its parent copied, never the caller's mapping changed)."""
    head, *rest = at
    if not isinstance(data.get(head), dict):
        return
    if rest:
        data[head] = dict(data[head])
        _expand_nested(data[head], tuple(rest), sec, source, env, diags)
    else:
        data[head] = _expanded_entries(data[head], tuple(sec.name.split(".")), sec, source, env, diags)


# Which variables a backend setting expands: URLs take MLflow's, mlreg's and libpq's (no
# secrets), the state's workspace name only MLFLOW_WORKSPACE, anything else (a path) none.
_BACKEND_RULES = {
    ("mlflow", "tracking_uri"): backend_variable,
    ("database", "url"): backend_variable,
    ("state", "url"): backend_variable,
    ("state", "workspace"): workspace_variable,
}


def _backend_rule(section: str, key: str):
    return _BACKEND_RULES.get((section, key), no_variable)


def _expanded_entries(entries: dict, at: tuple, sec, source: MergedSource, env, diags: list) -> dict:
    """`${VAR}` expanded in the keys of each entry that allow it (`sec.expanded`); a secret only
    as a whole reference."""
    out = {}
    for name, entry in entries.items():
        if isinstance(entry, dict):
            entry = dict(entry)
            for key in sec.expanded:
                if key not in entry:
                    continue
                path = (*at, name, key)
                secret = key in sec.secrets
                if secret and isinstance(entry[key], dict):  # a secret of several values: each a reference
                    entry[key] = {k: _secret(v, (*path, k), source, env, diags) for k, v in entry[key].items()}
                    continue
                if secret and not (isinstance(entry[key], str) and ONLY_VAR.match(entry[key])):
                    diags.append(
                        source.diag(
                            path,
                            "A secret must be an environment reference such as ${DEPLOY_BOT_WEBHOOK_SECRET}",
                            "the value written here is not shown; move it to the environment",
                        )
                    )
                    entry[key] = None
                    continue
                if key in sec.secret_when_referenced:
                    if f"{key}_sensitive" in entry:  # only the loader says so
                        diags.append(source.diag((*at, name, f"{key}_sensitive"), f"Unknown key '{key}_sensitive'"))
                        del entry[f"{key}_sensitive"]
                    if isinstance(entry[key], str) and references(entry[key]):
                        entry[f"{key}_sensitive"] = True
                        entry[key] = expand(
                            entry[key], path, env, source, diags, secret=True, whole=True, allowed=given_secret
                        )
                        continue
                allowed = given_secret if secret else not_secret
                entry[key] = expand(entry[key], path, env, source, diags, secret=secret, allowed=allowed)
        out[name] = entry
    return out


def _secret(value, path: tuple, source: MergedSource, env, diags: list):
    """One value of a secret mapping: only a whole environment reference, never echoed."""
    if not (isinstance(value, str) and ONLY_VAR.match(value)):
        diags.append(
            source.diag(
                path,
                "A secret must be an environment reference such as ${OPENAI_API_KEY}",
                "the value written here is not shown; move it to the environment",
            )
        )
        return ""  # refused above: a string, so no second error about its type
    return expand(value, path, env, source, diags, secret=True, allowed=given_secret)


def _validate(data, source: MergedSource, env: dict[str, str]) -> tuple[Config | None, list[Diagnostic]]:
    if not isinstance(data, dict):
        return None, [source.diag((), "The file must be a mapping with at least `version: 1`")]
    diags: list[Diagnostic] = []
    data = _expanded(data, source, env, diags)
    cfg = None
    unset = env.unset if isinstance(env, Environ) else set()
    refused = env.refused if isinstance(env, Environ) else set()
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        judged = [err for err in e.errors() if not _under(err["loc"], unset | refused)]
        diags.extend(_diag_from_pydantic(err, source) for err in judged)
        if not judged and isinstance(env, Environ) and env.offline:
            cfg = _with_standins(data, [err["loc"] for err in e.errors()])
            if cfg is None:
                names = ", ".join(".".join(map(str, p)) for p in sorted(unset, key=str))
                diags.append(source.diag((), "This file cannot be checked offline", f"set the variables of {names}"))
    diags.extend(_reference_checks(data, source, cfg))
    return (None if diags else cfg), diags


def _under(loc: tuple, paths: set[tuple]) -> bool:
    return any(tuple(loc[: len(p)]) == p for p in paths)


# Values an offline check puts where an unset variable leaves a value nobody has (a URL's shape).
STANDINS = ("https://unset.invalid/", "unset", "sqlite:///unset.invalid")


def _with_standins(data: dict, failing: list[tuple]) -> Config | None:
    """The configuration with a stand-in at each value that failed only for want of a variable."""
    import copy

    data = copy.deepcopy(data)
    for standin in STANDINS:
        try:
            for loc in failing:
                node = data
                for key in loc[:-1]:
                    node = node[key]
                node[loc[-1]] = standin
        except (KeyError, IndexError, TypeError):
            return None
        try:
            return Config.model_validate(data)
        except ValidationError as e:
            failing = [err["loc"] for err in e.errors()]
    return None


def _reference_checks(data: dict, source: MergedSource, cfg: Config | None) -> list[Diagnostic]:
    from mlreg.planner.kinds.catalog import GRANTS

    ctx = CheckContext(
        data=data,
        source=source,
        cfg=cfg,
        rules=rules_of(data, cfg),
        track_declared=bool(data.get("removed")),
        expandable=GRANTS.expandable(),
    )
    for sec in sections():  # in order: models first (the others refer to declared versions)
        if sec.check is not None:
            sec.check(ctx)
    check_removed(ctx)
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


# the settings that say where mlreg goes (merge.SETTINGS but `rules`)
_WHERE = frozenset(SETTINGS) - {"rules"}


def _is_secret_path(loc: tuple) -> bool:
    """A value never echoed in an error: a secret, or a setting that says where mlreg goes (it may
    hold a password, or be a secret referenced by mistake)."""
    return any(isinstance(p, str) and p == "secret" for p in loc) or (bool(loc) and loc[0] in _WHERE)


def _diag_from_pydantic(err: dict, source: MergedSource) -> Diagnostic:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in {"int", "str"})))
    etype = err["type"]
    got = err.get("input")
    if etype == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        hint = f"expected one of: {', '.join(allowed)}" if allowed else ""
        return source.diag(loc, f"Unknown key {loc[-1]!r}{did_you_mean(loc[-1], allowed)}", hint)
    if loc == ("version",) and etype != "missing":
        return source.diag(
            loc, "expected `version: 1`: the only format of registry.yaml this mlreg reads", f"got {got!r}"
        )
    msg = _MESSAGES.get(etype) or err["msg"]
    if etype == "value_error":
        msg = str(err.get("ctx", {}).get("error", msg))
    options = _options(err)
    if options:
        msg = f"expected one of: {', '.join(repr(o) for o in options)}{did_you_mean(got, options)}"
    if isinstance(got, bool) and (options or etype in ("string_type", "literal_error", "enum")):
        written = source.value_text(loc) or str(got).lower()
        return source.diag(
            loc,
            msg,
            f"YAML reads {written} as the boolean {str(got).lower()}, not as text: quote it ({written!r})",
        )
    quiet = etype == "missing" or isinstance(got, (dict, list)) or _is_secret_path(loc)
    return source.diag(loc, msg, "" if quiet else f"got {got!r}")


def _options(err: dict) -> list[str]:
    """The allowed values of an enum or literal error."""
    import re

    if err["type"] not in ("enum", "literal_error"):
        return []
    return re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
