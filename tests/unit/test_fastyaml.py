"""The fast loader answers exactly as PyYAML would, or not at all."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from mlreg.planner.config import fastyaml
from mlreg.planner.config.load import integer_keys


def fast_load(text: str):
    """The fast loader as the loader calls it, without validating entries (plain data back)."""
    return fastyaml.fast_load(text, integer_keys=integer_keys())


AGREE = [
    "a: 1\nb: [1, 2, 'x']\nc: {d: e}\n",
    "tags: {dataset_version: '2025-01-03', on_call: 'yes'}\n",
    'd: "~"\ne: \'null\'\nf: "true"\n',
    "text: |\n  two\n  lines\ntext2: >\n  folded\n  here\n",
    "policies:\n  p:\n    versions:\n      4: {model: m_model}\n      12: {model: m_model}\n",
    "x: 0.5\ny: -3\nz: 1.5e+3\nw: ''\nv:\n",
    "q: 'it''s'\n# comment\nr: \"tab\\there\"\n",
]
UNSURE = [
    "a: yes\n",  # YAML 1.1 bool
    "a: ~\n",  # null
    "a: 2025-01-03\n",  # date
    "a: 010\n",  # octal
    "a: 12:30\n",  # sexagesimal
    "a: 1e3\n",  # a string to PyYAML, a number to JSON
    "a: .5\n",  # normalised by the fast parser
    "a: &x 1\nb: *x\n",  # anchors
    "a: 1\na: 2\n",  # duplicate key: the exact path reports it with its line
    "tags: {5: x}\n",  # an int key where strings are expected
    "a: !!str 5\n",  # explicit tag
    "a: [1, 2\n",  # syntax error
]


@pytest.mark.parametrize("text", AGREE)
def test_agrees_with_pyyaml(text):
    assert fast_load(text) == yaml.safe_load(text)


@pytest.mark.parametrize("text", UNSURE)
def test_unsure_means_none(text):
    assert fast_load(text) is None


def test_quoted_date_is_a_string_but_plain_date_is_not_guessed():
    assert fast_load("v: '2025-01-03'\n") == {"v": "2025-01-03"}
    assert yaml.safe_load("v: 2025-01-03\n") == {"v": dt.date(2025, 1, 3)}
    assert fast_load("v: 2025-01-03\nw: '2025-01-03'\n") is None


def test_the_demo_registry_takes_the_fast_path():
    from tests.support.workspace import ROOT

    text = (ROOT / "registry.yaml").read_text()
    fast = fast_load(text)
    assert fast is not None and fast == yaml.safe_load(text)


def test_the_per_key_control_check_is_skipped_only_when_no_key_could_hold_one():
    from mlreg.planner.config.fastyaml import _control_possible

    assert not _control_possible("models:\n  a_model: {description: plain}\r\n")
    for text in ('"a\\tb": 1\n', "a\tb: 1\n", "a\x1bb: 1\n", "a\u2028b: 1\n", "caf\u00e9: 1\n"):
        assert _control_possible(text), repr(text)
