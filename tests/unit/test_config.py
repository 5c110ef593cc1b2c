"""registry.yaml loading: every malformed file gives file:line:column, key path and expectation."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from mlreg.planner import redact
from mlreg.planner.config.load import load_config

BAD = {
    "yaml_syntax": ("models:\n  a_model: {versions: [\n", 3, "YAML syntax error", ""),
    "duplicate_key": (
        "models:\n  a_model: {}\n  a_model: {}\n",
        3,
        "Duplicate key 'a_model' (first defined at line 3)",
        "models.a_model",
    ),
    "unknown_key": (
        "models:\n  a_model:\n    descripton: x\n",
        3,
        "Unknown key 'descripton'",
        "models.a_model.descripton",
    ),
    "wrong_type": ("models:\n  a_model:\n    versions: {}\n", 3, "expected a list", "models.a_model.versions"),
    "bad_enum": (
        "models:\n  a_model:\n    versions:\n      - version: 1\n        stage: prod\n",
        5,
        "expected one of: 'none', 'candidate', 'production', 'archived'; did you mean 'production'?",
        "models.a_model.versions[0].stage",
    ),
    "zero_matchers": (
        "models:\n  a_model:\n    versions:\n      - stage: candidate\n",
        4,
        "exactly one of version, run_id, run, source (found: none)",
        "models.a_model.versions[0]",
    ),
    "two_matchers": (
        "models:\n  a_model:\n    versions:\n      - {version: 1, run_id: abc}\n",
        4,
        "(found: version, run_id)",
        "models.a_model.versions[0]",
    ),
    "undeclared_model": (
        "policies:\n  p:\n    id: 2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11\n    versions:\n"
        "      1: {model: ghost_model, model_version: 1}\n",
        5,
        "Model 'ghost_model' is not declared under models",
        "policies.p.versions.1.model",
    ),
    "bad_regex": (
        "rules:\n  model_name_pattern: '[a-z'\n",
        2,
        "invalid regular expression",
        "rules.model_name_pattern",
    ),
    "unset_env": (
        "mlflow:\n  tracking_uri: ${MLREG_TEST_SURELY_UNSET}\n",
        2,
        "Environment variable MLREG_TEST_SURELY_UNSET is not set",
        "mlflow.tracking_uri",
    ),
    "bad_name": (
        "models:\n  Planner:\n    versions: []\n",
        2,
        "does not match rules.model_name_pattern",
        "models.Planner",
    ),
    "bad_gate": (
        "rules:\n  promotion_gates:\n    production: {score: 'about 1'}\n",
        3,
        "expected a threshold",
        "rules.promotion_gates.production.score",
    ),
    "stage_in_tags": (
        "models:\n  a_model:\n    versions:\n      - version: 1\n        tags: {stage: x}\n",
        5,
        "managed by `stage:`",
        "models.a_model.versions[0].tags.stage",
    ),
    "missing_version": ("models: {}\n", 1, "required key is missing", "version"),
}


def _write(tmp_path, body: str, with_version=True):
    p = tmp_path / "registry.yaml"
    p.write_text(("version: 1\n" if with_version else "") + body)
    return p


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_malformed_file_points_at_the_line(tmp_path, name):
    body, line, summary, key_path = BAD[name]
    p = _write(tmp_path, body, with_version=name != "missing_version")
    loaded, diags = load_config(p, env={})
    assert loaded is None
    match = [d for d in diags if summary in d.summary]
    assert match, [d.summary for d in diags]
    d = match[0]
    assert d.file == str(p)
    assert d.line == line + (0 if name == "missing_version" else 1)
    assert d.key_path == key_path


def test_all_errors_at_once(tmp_path):
    body = "".join(BAD[n][0] for n in ("unset_env",)) + textwrap.dedent("""\
        models:
          a_model:
            descripton: x
            versions:
              - stage: prod
          a_model: {}
        """)
    _, diags = load_config(_write(tmp_path, body), env={})
    summaries = " | ".join(d.summary for d in diags)
    for s in ("MLREG_TEST_SURELY_UNSET", "Unknown key 'descripton'", "expected one of", "Duplicate key"):
        assert s in summaries
    assert [d.line for d in diags] == sorted(d.line for d in diags)


def test_cli_validate_exit_1_no_traceback(tmp_path):
    p = _write(tmp_path, BAD["bad_enum"][0] + BAD["unset_env"][0])
    out = subprocess.run([sys.executable, "-m", "mlreg", "-f", str(p), "validate"], capture_output=True, text=True)
    assert out.returncode == 1
    assert f"{p}:6:" in out.stderr and "stage" in out.stderr
    assert "MLREG_TEST_SURELY_UNSET" not in out.stderr  # offline: a reference need not be set
    assert "Traceback" not in out.stderr + out.stdout
    out = subprocess.run([sys.executable, "-m", "mlreg", "-f", str(p), "plan"], capture_output=True, text=True)
    assert out.returncode == 1 and f"{p}:6:" in out.stderr  # refused before any server is asked
    assert f"{p}:8:" in out.stderr and "MLREG_TEST_SURELY_UNSET" in out.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "mlreg", "--debug", "-f", str(tmp_path / "nope.yaml"), "plan"],
        capture_output=True,
        text=True,
    )
    assert debug.returncode == 1 and "Cannot read" in debug.stderr


def test_env_expansion_defaults_and_secrets(tmp_path):
    p = _write(
        tmp_path,
        "database:\n  url: ${MLREG_DB_URL:-sqlite:///x.db}\nmlflow:\n  tracking_uri: ${MLFLOW_TRACKING_URI}\n",
    )
    loaded, diags = load_config(p, env={"MLFLOW_TRACKING_URI": "http://h:5000/mlflow"})
    assert not diags
    assert loaded.config.database.url == "sqlite:///x.db"
    assert loaded.config.mlflow.tracking_uri == "http://h:5000/mlflow"
    assert redact.redact("postgresql+psycopg://u:pw123@h/db") == "postgresql+psycopg://u:***@h/db"


def test_backend_settings_expand_only_mlflow_mlreg_and_libpq_variables_as_whole_values(tmp_path):
    text = (
        "mlflow:\n  tracking_uri: ${AWS_SECRET_ACCESS_KEY}\n"
        "database:\n  url: ${DB_URL:-sqlite:///x.db}\n"
        "state:\n  backend: postgres\n  url: postgresql://u@${PGHOST:-db}/s\n"
        "webhooks:\n  hook:\n    url: https://h/${SLACK_TOKEN}\n    events: [model_version.created]\n"
        "workspace: ${MLFLOW_WORKSPACE}-team\n"
    )
    env = {"AWS_SECRET_ACCESS_KEY": "aws-s3cret-value", "DB_URL": "sqlite:///y.db", "SLACK_TOKEN": "xoxb-s3cret"}
    env["MLFLOW_WORKSPACE"] = "planning"
    _, diags = load_config(_write(tmp_path, text), env=env)
    found = {(d.key_path, d.line): d.summary for d in diags}
    assert found == {
        ("mlflow.tracking_uri", 3): "Environment variable AWS_SECRET_ACCESS_KEY may not be used here",
        ("database.url", 5): "Environment variable DB_URL may not be used here",
        ("state.url", 8): "A reference to PGHOST must be the whole value here, such as ${MLREG_DATABASE_URL}",
        ("webhooks.hook.url", 11): "A reference to SLACK_TOKEN must be the whole value here, such as "
        "${MLREG_DATABASE_URL}",
        ("workspace", 13): "A reference to MLFLOW_WORKSPACE must be the whole value here, such as "
        "${MLREG_DATABASE_URL}",
    }
    assert all("MLFLOW_*, MLREG_* and PG*" in d.detail for d in diags if "may not be used" in d.summary)
    for d in diags:
        assert "s3cret" not in f"{d.summary} {d.detail}"


def test_tag_values_coerced_and_version_keys(tmp_path):
    p = _write(
        tmp_path,
        textwrap.dedent("""\
        models:
          a_model:
            aliases: {champion: 3}
            versions:
              - version: 3
                tags: {dataset_version: 2025-01-03, n: 5}
              - run_id: abc
                artifact_path: clf
              - run: {experiment: e, name: r}
              - source: s3://m/1
        """),
    )
    loaded, diags = load_config(p, env={})
    assert not diags
    vs = loaded.config.models["a_model"].versions
    assert vs[0].tags == {"dataset_version": "2025-01-03", "n": "5"}
    assert [v.key for v in vs] == ["v3", "run:abc/clf", "run:e/r/model", "source:s3://m/1"]


def test_schema_command_prints_json_schema():
    out = subprocess.run([sys.executable, "-m", "mlreg", "schema"], capture_output=True, text=True)
    assert out.returncode == 0
    import json

    doc = json.loads(out.stdout)
    assert "models" in doc["properties"] and doc["required"] == ["version"]


def test_removed_entries_are_checked(tmp_path):
    p = _write(
        tmp_path,
        textwrap.dedent("""\
        models:
          a_model:
            versions: [{version: 1}]
        removed:
          - {address: "model_version.a_model[v1]", destroy: true}
          - {address: "nonsense", destroy: true}
          - {address: "policy_version.p[1]", alias: x}
        """),
    )
    _, diags = load_config(p, env={})
    text = [(d.line, d.summary) for d in diags]
    assert (6, "model_version.a_model[v1] is declared in this file and listed under removed") in text
    assert any(line == 7 and "expected an address" in s for line, s in text)
    assert any(
        line == 8 and "`alias` goes with an address of a kind that has aliases (model.NAME, prompt.NAME)" in s
        for line, s in text
    )


def test_global_options_after_the_command(tmp_path):
    p = _write(tmp_path, "models: {}\n")
    out = subprocess.run(
        [sys.executable, "-m", "mlreg", "validate", "--no-color", "-f", str(p), "--debug"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "is valid" in out.stdout


def test_pre_commit_hook_runs_validate_offline(tmp_path):
    import yaml

    from tests.support.workspace import ROOT

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "mlreg-validate" and hook["pass_filenames"] is False
    (tmp_path / "registry.yaml").write_text("version: 1\nmodels: {}\n")
    out = subprocess.run(
        [sys.executable, "-m", *hook["entry"].split()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )  # offline: no MLflow or database settings needed
    assert out.returncode == 0 and "is valid" in out.stdout


PROMPTS_AND_WEBHOOKS = {
    "alias_on_two_versions": (
        "prompts:\n  p:\n    versions:\n"
        "      - {template: a, aliases: [prod]}\n      - {template: b, aliases: [prod]}\n",
        5,
        "Alias 'prod' is listed on two versions (also versions[0])",
        "prompts.p.versions[1].aliases",
    ),
    "template_and_version": (
        "prompts:\n  p:\n    versions: [{template: a, version: 2}]\n",
        3,
        "exactly one of template, version (found: template, version)",
        "prompts.p.versions[0]",
    ),
    "commit_message_on_adopted": (
        "prompts:\n  p:\n    versions: [{version: 2, commit_message: x}]\n",
        3,
        "commit_message is set when a version is registered",
        "prompts.p.versions[0]",
    ),
    "reserved_alias": (
        "prompts:\n  p:\n    versions: [{template: a, aliases: [latest]}]\n",
        3,
        "reserved by MLflow",
        "prompts.p.versions[0].aliases[0]",
    ),
    "both_model_and_prompt": (
        "models:\n  a_model: {}\nprompts:\n  a_model:\n    versions: []\n",
        4,
        "declared both as a model and as a prompt",
        "prompts.a_model",
    ),
    "unknown_event": (
        "webhooks:\n  w:\n    url: https://h.example.com\n    events: [model.created]\n",
        4,
        "unknown event 'model.created'",
        "webhooks.w.events",
    ),
    "bad_url": (
        "webhooks:\n  w:\n    url: ftp://h\n    events: [model_version.created]\n",
        3,
        "expected an http:// or https:// URL",
        "webhooks.w.url",
    ),
}


@pytest.mark.parametrize("name", sorted(PROMPTS_AND_WEBHOOKS))
def test_prompt_and_webhook_errors_point_at_the_line(tmp_path, name):
    body, line, summary, key_path = PROMPTS_AND_WEBHOOKS[name]
    p = _write(tmp_path, body)
    loaded, diags = load_config(p, env={})
    assert loaded is None
    match = [d for d in diags if summary in d.summary]
    assert match, [d.summary for d in diags]
    assert match[0].line == line + 1 and match[0].key_path == key_path


def test_literal_webhook_secret_is_refused_without_echoing_it(tmp_path):
    p = _write(
        tmp_path,
        "webhooks:\n  w:\n    url: https://h.example.com\n    events: [model_version.created]\n"
        "    secret: hunter2-literal-secret\n",
    )
    loaded, diags = load_config(p, env={})
    assert loaded is None
    (d,) = diags
    assert "A secret must be an environment reference" in d.summary and d.line == 6
    assert "hunter2" not in d.summary + d.detail
    out = subprocess.run([sys.executable, "-m", "mlreg", "-f", str(p), "validate"], capture_output=True, text=True)
    assert out.returncode == 1 and "hunter2" not in out.stdout + out.stderr


def test_webhook_secret_from_the_environment_is_masked_everywhere(tmp_path):
    p = _write(
        tmp_path,
        "webhooks:\n  w:\n    url: https://h.example.com\n    events: [model_version.created]\n"
        "    secret: ${HOOK_CREDENTIAL}\n",
    )
    loaded, diags = load_config(p, env={"HOOK_CREDENTIAL": "s3cr3t-value-xyz"})
    assert not diags and loaded.config.webhooks["w"].secret == "s3cr3t-value-xyz"
    # its name says nothing secret, but it is a webhook secret: masked anyway
    assert redact.redact("leaked s3cr3t-value-xyz here") == "leaked *** here"


def test_offline_checks_need_no_secrets_but_still_refuse_misplaced_references(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(
        "version: 1\nwebhooks:\n  deploy_bot:\n    url: ${HOOK_URL}\n    events: [model_version.created]\n"
        "    secret: ${DEPLOY_BOT_SECRET}\naccess:\n  users:\n    ci_bot: {password: '${CI_BOT_PASSWORD}'}\n"
    )
    _, online = load_config(path, env={})
    assert sorted(d.summary for d in online) == [
        "Environment variable CI_BOT_PASSWORD is not set",
        "Environment variable DEPLOY_BOT_SECRET is not set",
        "Environment variable HOOK_URL is not set",
    ]
    loaded, offline = load_config(path, env={}, offline=True)
    assert offline == [] and "deploy_bot" in loaded.config.webhooks
    path.write_text(
        "version: 1\nwebhooks:\n  deploy_bot:\n    url: https://h/${API_TOKEN}\n    events: [model_version.created]\n"
        "mlflow: {tracking_uri: '${AWS_SECRET_ACCESS_KEY}'}\n"
    )
    _, refused = load_config(path, env={}, offline=True)
    assert sorted(d.summary for d in refused) == [
        "A reference to API_TOKEN must be the whole value here, such as ${MLREG_DATABASE_URL}",
        "Environment variable AWS_SECRET_ACCESS_KEY may not be used here",
    ]


def test_a_large_file_is_not_kept_in_memory_but_its_lines_are_still_found(tmp_path):
    from mlreg.planner.config import load as loader

    models = "".join(f"  m{i:05d}_model:\n    description: {'x' * 40}\n" for i in range(15_000))
    path = tmp_path / "registry.yaml"
    path.write_text("version: 1\nmodels:\n" + models)
    assert path.stat().st_size > loader.KEEP_TEXT
    loaded, diags = load_config(path, env={})
    assert not diags
    (parsed,) = loaded.source.files
    assert parsed.fast and parsed.text is None  # read by the fast loader, text not kept
    assert loaded.where(("models", "m12345_model")) == (str(path), 2 + 2 * 12345 + 1)
    path.write_text("version: 1\nmodels: {}\n")  # changed since: no line rather than a wrong one
    parsed.source = None
    assert loaded.where(("models", "m00001_model")) == (str(path), None)
