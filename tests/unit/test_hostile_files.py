"""Hostile registry files are refused fast, in bounded memory, with a location, on both YAML paths
(the rapidyaml fast path answers None, the exact path refuses) and through the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc

import pytest

from mlreg.planner.config.fastyaml import fast_load
from mlreg.planner.config.load import load_config


def _bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    lines.append(f"models: {{m_model: {{tags: {{t: *a{levels}}}}}}}")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "alias_bomb": (_bomb(), "Aliases expand to too many nodes"),
    "self_reference": (
        "version: 1\nmodels:\n  m_model:\n    tags: &a {team: [*a]}\n",
        "refers to a node that contains it",
    ),
    # libyaml's own limit may answer first ("exceeded maximum nesting depth"): located either way
    "nested_flow_sequences": ("version: 1\nx: " + "[" * 10_000 + "]" * 10_000 + "\n", "esting"),
    "nested_flow_mappings": ("version: 1\nx: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n", "Nesting deeper than"),
    "nested_block_mappings": (
        "version: 1\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(300)) + "  " * 300 + "v\n",
        "Nesting deeper than",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_refused_fast_with_a_location(tmp_path, name):
    text, summary = HOSTILE[name]
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        assert fast_load(text) is None  # the fast path never answers for these
        loaded, diags = load_config(path, env={})
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert loaded is None
    assert any(summary in d.summary for d in diags), [d.summary for d in diags]
    d = next(d for d in diags if summary in d.summary)
    assert d.file == str(path) and d.line is not None and d.column is not None
    assert elapsed < 5, f"{elapsed:.1f} s"  # generous: these take milliseconds
    assert peak < 64 * 1024 * 1024, f"{peak / 2**20:.0f} MB"


def test_anchors_within_budget_still_work(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text("version: 1\nmodels:\n  a_model: {tags: &t {team: planning}}\n  b_model: {tags: *t}\n")
    loaded, diags = load_config(path, env={})
    assert not diags and loaded.config.models["b_model"].tags == {"team": "planning"}


def test_file_over_the_size_cap_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setenv("MLREG_MAX_FILE_BYTES", "1000")
    path = tmp_path / "registry.yaml"
    path.write_text("version: 1\n" + "# padding\n" * 200)
    loaded, diags = load_config(path, env={})
    assert loaded is None and "over the limit of 1,000 bytes" in diags[0].summary
    assert diags[0].line == 1 and "MLREG_MAX_FILE_BYTES" in diags[0].detail


def test_cli_refuses_a_bomb_with_exit_1_and_no_traceback(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(_bomb())
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "mlreg", "-f", str(path), "validate"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1
    assert f"{path}:" in out.stderr and "Aliases expand to too many nodes" in out.stderr
    assert "Traceback" not in out.stderr
    assert time.perf_counter() - started < 30  # the interpreter's start included; the check is milliseconds


def test_plan_file_that_is_not_json_or_too_deep_is_refused(tmp_path):
    from mlreg.planner import planfile
    from mlreg.planner.errors import UserError

    with pytest.raises(UserError, match="not a plan file"):
        planfile.load("[" * 100_000 + "]" * 100_000, "p.plan")
    with pytest.raises(UserError, match="not a plan file"):
        planfile.load('{"format_version": "2.0", "config": {}, "state": {}, "resource_changes": []}', "p.plan")
