"""The registry of resource kinds: the engine iterates it; nothing else lists the kinds.

Adding a kind: its module here (address, read request, diff, destroy, drift, rank, phases), its
provider methods, its config section, its engine cases, and one line below.
"""

from __future__ import annotations

from collections.abc import Iterable
from graphlib import TopologicalSorter
from typing import TYPE_CHECKING

from mlreg.planner.kinds import model, model_version, policy_version, prompt, webhook
from mlreg.planner.kinds.base import Kind

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.schema import Config

# In apply order (rank): a model before its versions, versions before the rows pointing at them.
_ALL = (
    model.KIND,
    model_version.KIND,
    policy_version.KIND,
    prompt.PROMPT_KIND,
    prompt.VERSION_KIND,
    webhook.KIND,
)
KINDS: dict[str, Kind] = {k.type: k for k in sorted(_ALL, key=lambda k: k.rank)}


def diff_order() -> list[Kind]:
    """Kinds in the order their diffs run: a kind after those whose resolutions it reads."""
    order = TopologicalSorter({t: set(k.needs) for t, k in KINDS.items()}).static_order()
    return [KINDS[t] for t in order]


def lineage(cfg: Config) -> Iterable[tuple[str, str]]:
    """Every lineage edge the file gives (policy version -> model version -> run or source)."""
    for kind in KINDS.values():
        yield from kind.lineage(cfg)
