"""The names `mlreg import` gives live budgets (MLflow's have none)."""

from __future__ import annotations

from mlreg.planner.kinds.gateway_budget import BudgetFacts, import_name
from mlreg.planner.kinds.gateway_facts import LiveBudget


def test_a_budget_mlreg_made_keeps_its_name_and_others_are_named_by_what_identifies_them():
    facts = BudgetFacts(endpoint_ids={"planner_chat": "e-1"})
    made = LiveBudget("bp-1", 5, "USD", 1, "months", "endpoint", "reject", "e-1", created_by="mlreg:monthly")
    by_hand = LiveBudget("bp-2", 5, "USD", 1, "months", "endpoint", "reject", "e-1", created_by="alice")
    orphan = LiveBudget("bp-3", 5, "USD", 2, "weeks", "endpoint", "alert", "e-9")
    assert import_name(made, facts) == "monthly"
    assert import_name(by_hand, facts) == "planner_chat_1_months_reject"
    assert import_name(orphan, facts) == "e-9__no_such_endpoint__2_weeks_alert"
    assert import_name(LiveBudget("bp-4", 5, "USD", 1, "days", "global", "alert"), facts) == "global_1_days_alert"
