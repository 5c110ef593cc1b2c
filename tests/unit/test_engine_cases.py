"""Every file in cases/ is desired + live + state -> expected plan, checked on plain data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.engine_support import load_case, plan_for

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


# what a case may expect; anything else is a typo that would otherwise pass silently
EXPECT_KEYS = frozenset(
    {
        "changes",
        "errors",
        "detail_contains",
        "warnings",
        "after_unknown",
        "depends_on",
        "after",
        "before",
        "record_only",
        "summary",
        "promotions",
        "promotion_metrics",
        "reason",
        "refs",
        "moved",
        "notes",
    }
)


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_case(case_path, tmp_path):
    check_case(load_case(case_path), tmp_path)


def test_an_unknown_expect_key_fails_the_case(tmp_path):
    case = {"desired": "models:\n  a_model: {}\n", "expect": {"changse": {"model.a_model": "create"}}}
    with pytest.raises(AssertionError, match="unknown expect key 'changse'"):
        check_case(case, tmp_path)


def check_case(case: dict, tmp_path) -> None:
    expect = case["expect"]
    unknown = sorted(set(expect) - EXPECT_KEYS)
    assert not unknown, f"unknown expect key {unknown[0]!r}; a case may expect: {', '.join(sorted(EXPECT_KEYS))}"
    plan = plan_for(tmp_path, case["desired"], case.get("live"), case.get("state"), env=case.get("env"))
    actions = {c.address: c.action.value for c in plan.actionable}
    by_addr = {c.address: c for c in plan.changes}
    errors = [d for d in plan.diagnostics if d.is_error]
    warnings = [d for d in plan.diagnostics if not d.is_error]

    if "changes" in expect:
        wanted = dict(expect["changes"])
        loose = {a for a, v in wanted.items() if v == "create-or-noop"}
        for a in loose:
            wanted.pop(a)
            actions.pop(a, None)
        assert actions == wanted
    for substring in expect.get("errors", []):
        assert any(substring in d.summary for d in errors), (substring, [d.summary for d in errors])
    if "errors" not in expect:
        assert not errors, [d.summary for d in errors]
    assert plan.applyable is (not errors)
    for substring in expect.get("detail_contains", []):
        assert any(substring in d.detail for d in errors), [d.detail for d in errors]
    for substring in expect.get("warnings", []):
        assert any(substring in d.summary for d in warnings), [d.summary for d in warnings]
    for address, keys in expect.get("after_unknown", {}).items():
        assert list(by_addr[address].after_unknown) == keys
    for address, deps in expect.get("depends_on", {}).items():
        assert list(by_addr[address].depends_on) == deps
    for address, after in expect.get("after", {}).items():
        assert by_addr[address].after == after
    for address, before in expect.get("before", {}).items():
        assert by_addr[address].before == before
    for address in expect.get("record_only", []):
        assert by_addr[address].record_only, address
    if "summary" in expect:
        assert plan.summary.to_json() == expect["summary"]
    if "promotions" in expect:
        assert [[p.model, p.from_stage, p.to_stage] for p in plan.about("promotions")] == expect["promotions"]
    for model, m in expect.get("promotion_metrics", {}).items():
        p = next(p for p in plan.about("promotions") if p.model == model)
        assert p.metrics["plan_alignment_score"] == m["new"]
        assert p.replaces["metrics"]["plan_alignment_score"] == m["old"]
    for address, reason in expect.get("reason", {}).items():
        assert (by_addr[address].reason.value if by_addr[address].reason else None) == reason
    for address, refs in expect.get("refs", {}).items():
        assert dict(by_addr[address].refs) == refs
    if "moved" in expect:
        assert {c.address: c.moved_from for c in plan.moves} == expect["moved"]
        assert not any(c.action.value == "forget" for c in plan.changes if c.address in expect["moved"].values())
    if "notes" in expect:
        assert [d.note for d in plan.drift if d.is_note] == expect["notes"]
