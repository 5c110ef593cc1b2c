"""Sections named PARENT.CHILD (`gateway.budgets`) under one top-level key: a folder's files each
give some of PARENT's entries, and one entry given by two files is a conflict at both lines."""

from __future__ import annotations

from mlreg.planner.config.load import load_config

BUDGET = "{amount_usd: 100, every: 1 day, scope: global, action: alert}"


def _folder(tmp_path, files: dict[str, str]):
    folder = tmp_path / "registry"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text("version: 1\n" + text)
    return load_config(folder, env={})


def test_a_nested_section_is_merged_from_several_files(tmp_path):
    loaded, diags = _folder(
        tmp_path,
        {
            "a.yaml": f"gateway:\n  budgets:\n    a: {BUDGET}\n",
            "b.yaml": f"gateway:\n  budgets:\n    b: {BUDGET}\n  guardrails: {{}}\n",
        },
    )
    assert not diags, [d.summary for d in diags]
    assert sorted(loaded.config.gateway.budgets) == ["a", "b"]


def test_one_nested_entry_in_two_files_is_a_conflict_at_both_lines(tmp_path):
    _, diags = _folder(
        tmp_path,
        {"a.yaml": f"gateway:\n  budgets:\n    a: {BUDGET}\n", "b.yaml": f"gateway:\n  budgets:\n    a: {BUDGET}\n"},
    )
    [d] = diags
    assert d.summary.startswith("gateway.budgets 'a' is declared in two files: ")
    assert d.summary.endswith("registry/b.yaml:4") and "registry/a.yaml:4 and " in d.summary


def test_a_protected_nested_section_only_in_underscore_files(tmp_path):
    secret = "gateway:\n  secrets:\n    k: {provider: openai, value: {api_key: '${OPENAI_KEY}'}}\n"
    _, diags = _folder(tmp_path, {"team.yaml": secret, "_gateway.yaml": f"gateway:\n  budgets:\n    a: {BUDGET}\n"})
    assert [d.summary for d in diags if "may be given only" in d.summary] == [
        "`gateway.secrets` may be given only in a file whose name begins with `_` (such as _settings.yaml), "
        "not in team.yaml"
    ], [d.summary for d in diags]
    (tmp_path / "ok").mkdir()
    _, diags = _folder(
        tmp_path / "ok", {"_secrets.yaml": secret, "team.yaml": f"gateway:\n  budgets:\n    a: {BUDGET}\n"}
    )
    assert not [d for d in diags if "may be given only" in d.summary]
