"""What every section of registry.yaml shares: frozen models that refuse unknown keys, and tags."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict


def did_you_mean(word, choices) -> str:
    """`; did you mean 'planner_model'?` for a near miss (a typo, a prefix), else ""."""
    import difflib

    if not isinstance(word, str):
        return ""
    options = [str(c) for c in choices]
    prefixed = [c for c in options if c.startswith(word) and word]
    close = prefixed if len(prefixed) == 1 else difflib.get_close_matches(word, options, n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close and close[0] != word else ""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


def _tag_value(v):
    """Tag values are strings; YAML turns 2025-01-03 into a date and 3 into an int."""
    if v.__class__ is str:
        return v
    if isinstance(v, bool):
        raise ValueError("expected a string; quote it (YAML reads yes/no/true/false as booleans)")
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (_dt.date, _dt.datetime)):
        return v.isoformat()
    return v


TagValue = Annotated[str, BeforeValidator(_tag_value)]


def _tag_key(k: str) -> str:
    if k.startswith(("mlflow.", "_mlflow_")):
        raise ValueError(f"{k!r} is one of MLflow's own tags (mlflow.*, _mlflow_*), which mlreg never manages")
    return k


TagKey = Annotated[str, AfterValidator(_tag_key)]
Tags = dict[TagKey, TagValue]


_ALIAS = re.compile(r"^[\w\-]{1,255}$")
_VERSION_LIKE = re.compile(r"^[vV]\d+$")


def _alias_name(v: str) -> str:
    """MLflow's rules for alias names, checked offline."""
    if not _ALIAS.match(v):
        raise ValueError("an alias is 1-255 letters, digits, '_' or '-'")
    if v.lower() == "latest" or _VERSION_LIKE.match(v):
        raise ValueError(f"the alias {v!r} is reserved by MLflow ('latest' and v<number>)")
    return v


AliasName = Annotated[str, AfterValidator(_alias_name)]


def _printable(v: str) -> str:
    from mlreg.planner.render.escape import has_control

    if has_control(v):
        raise ValueError("control characters are not allowed here (it becomes part of an address)")
    return v


# Text that becomes part of an address, a plan line or a Markdown cell: no control characters.
Printable = Annotated[str, AfterValidator(_printable)]
