"""Trust, third pass: a pull request's file, CI's secrets in the environment, through the `mlreg`
CLI against the real servers and local listeners that record whatever reaches them. One test per
item of the review (issue 24); each failed on v0.3."""

from __future__ import annotations

import json
import os
import re
import time

import pytest
import sqlalchemy as sa
import yaml

from tests.support.listeners import FakePostgres, HttpRecorder
from tests.support.services import ADMIN
from tests.support.workspace import Workspace

pytestmark = pytest.mark.integration

TOKEN = "tok-S3cret-Value-9"
PASSWORD = "Str0ng\"Pass\\w0rd'-XYZ"  # a quote, a backslash and an apostrophe: every escaping differs


@pytest.fixture
def recorder():
    r = HttpRecorder()
    yield r
    r.stop()


@pytest.fixture
def fake_pg():
    f = FakePostgres()
    yield f
    f.stop()


def _without(env: dict, *names: str) -> dict:
    return {k: v for k, v in env.items() if k not in names}


def _forms(secret: str) -> set[str]:
    """A secret as any output might carry it."""
    from urllib.parse import quote

    out = set()
    for s in (secret, secret.lower(), secret.upper()):
        out |= {s, json.dumps(s)[1:-1], repr(s)[1:-1], quote(s, safe=""), s.replace("\\", "&#92;")}
    return out


def _leaks(text: str, secret: str) -> list[str]:
    return [f for f in _forms(secret) if f in text or f.lower() in text.lower()]


def _one_error(out) -> str:
    """A refusal: exit 1, an error (on stderr, or among a plan's diagnostics), no traceback."""
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "Error" in text and "Traceback" not in text, text
    return text


def _doc(ws: Workspace, tracking_uri: str, database_url: str = "${MLREG_DATABASE_URL}", **more) -> dict:
    m = ws.model()
    return {
        "version": 1,
        "mlflow": {"tracking_uri": tracking_uri},
        "database": {"url": database_url},
        "models": {m: {"description": "x", "versions": [{"source": "s3://b/m"}]}},
        "policies": {
            "p": {"id": ws.policy_id(), "versions": {1: {"model": m, "model_version": {"source": "s3://b/m"}}}}
        },
        **more,
    }


def _write(ws: Workspace, doc: dict) -> None:
    (ws.path / "registry.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


# 1 --------------------------------------------------------------------------------------------------


def test_1_a_backslash_or_another_path_never_takes_the_token_anywhere(ws, services, recorder):
    """`http://ATTACKER\\@TRUSTED`: urlsplit reads TRUSTED, urllib3 connects to ATTACKER. Refused
    whatever the environment says; and another path on the environment's own host is another
    endpoint."""
    trusted = services.mlflow.url
    split = f"http://127.0.0.1:{recorder.port}\\@{trusted.removeprefix('http://')}"
    env = {**ws.env, "MLFLOW_TRACKING_URI": trusted, "MLFLOW_TRACKING_TOKEN": TOKEN}
    _write(ws, _doc(ws, split))
    for command in (["plan"], ["drift"], ["apply", "--auto-approve"]):
        error = _one_error(ws.run(*command, env=env))
        assert "backslash" in error and "registry.yaml:" in error, error
    assert ws.run("validate", env=_without(env, "MLFLOW_TRACKING_URI")).returncode == 1
    # another path on the host the environment names is another endpoint: refused, nothing sent
    env = {**env, "MLFLOW_TRACKING_URI": recorder.url}
    _write(ws, _doc(ws, recorder.url + "/other-team-app"))
    error = _one_error(ws.run("plan", env=env))
    assert "must be the same as the environment's, exactly" in error and "MLFLOW_TRACKING_URI" in error
    assert recorder.requests == []
    # the same server, written as the environment writes it, plans
    ws.write({"models": {ws.model(): {"description": "x"}}})
    ws.run("plan", env={**ws.env, "MLFLOW_TRACKING_TOKEN": TOKEN}, check=0)


# 2 --------------------------------------------------------------------------------------------------


def test_2_a_database_query_or_a_spliced_password_never_chooses_the_host(ws, services, fake_pg):
    """`?host=` / `?hostaddr=` / `?port=` would send the policy database's password where the query
    says; `${PGPASSWORD}` spliced into a URL would send libpq's password to the file's host."""
    real = services.database_url
    elsewhere = f"host=127.0.0.1&port={fake_pg.port}"
    env = {**ws.env, "PGPASSWORD": "pg-S3cret-pw"}
    cases = [
        ("${MLREG_DATABASE_URL}?" + elsewhere, {}, "must be the whole value"),
        (real + "?" + elsewhere, _without(env, "MLREG_DATABASE_URL"), "the query names host, port"),
        (real + f"?hostaddr=127.0.0.1&port={fake_pg.port}", _without(env, "MLREG_DATABASE_URL"), "names hostaddr"),
        (f"postgresql+psycopg://ci:${{PGPASSWORD}}@127.0.0.1:{fake_pg.port}/exp", {}, "must be the whole value"),
    ]
    for url, override, expected in cases:
        _write(ws, _doc(ws, "${MLFLOW_TRACKING_URI}", url))
        error = _one_error(ws.run("plan", env=override or env))
        assert expected in error and "registry.yaml:" in error, (url, error)
        assert "pg-S3cret-pw" not in error
    # the same for the state database
    doc = _doc(ws, "${MLFLOW_TRACKING_URI}", state={"backend": "postgres", "url": real + "?" + elsewhere})
    _write(ws, doc)
    assert "state.url" in _one_error(ws.run("plan", env=_without(env, "MLREG_STATE_URL")))
    assert fake_pg.connections == 0
    # a host nobody named gets no implicit password (libpq's PGPASSWORD stays home)
    _write(ws, _doc(ws, "${MLFLOW_TRACKING_URI}", f"postgresql+psycopg://ci@127.0.0.1:{fake_pg.port}/exp"))
    out = ws.run("plan", "--backend-timeout", "3", env=_without(env, "MLREG_DATABASE_URL"))
    assert out.returncode == 1 and fake_pg.connections >= 1
    assert all(b"pg-S3cret-pw" not in p for p in fake_pg.passwords), fake_pg.passwords
    ws.write({"models": {ws.model(): {"description": "x"}}})
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


# 3 --------------------------------------------------------------------------------------------------


def test_3_a_refusal_never_echoes_a_secret_in_any_case_or_escaping(ws, recorder):
    env = {**_without(ws.env, "MLFLOW_TRACKING_URI"), "MLFLOW_TRACKING_PASSWORD": PASSWORD, "MLFLOW_WORKSPACE": ""}
    for doc in (
        _doc(ws, "${MLFLOW_TRACKING_PASSWORD}"),
        _doc(ws, recorder.url, workspace="${MLFLOW_TRACKING_PASSWORD}"),
        _doc(ws, "${MLFLOW_TRACKING_PASSWORD}", "${MLFLOW_TRACKING_PASSWORD}"),
    ):
        _write(ws, doc)
        for command in (["plan"], ["plan", "--format", "json"], ["plan", "--format", "markdown"], ["validate"]):
            out = ws.run(*command, env=env)
            assert out.returncode == 1, out.stdout + out.stderr
            assert not _leaks(out.stdout + out.stderr, PASSWORD), (command, out.stdout + out.stderr)
    assert recorder.requests == []


# 4 --------------------------------------------------------------------------------------------------


def test_4_a_webhook_url_from_the_environment_is_a_secret_and_only_whole(ws, services):
    name = f"hook-{ws.tag}"
    hook_url = f"{services.mlflow.url}/hooks/T0/B0/{TOKEN}"
    spliced = {"url": "https://h.example/a?d=${DB_PASSWD}&s=${SLACK_WEBHOOK_URL}", "events": ["model_version.created"]}
    env = {**ws.env, "DB_PASSWD": "db-S3cret-pw", "SLACK_WEBHOOK_URL": hook_url}
    ws.write({"webhooks": {name: spliced}})
    out = ws.run("plan", env=env)
    assert "must be the whole value" in _one_error(out)
    assert not _leaks(out.stdout + out.stderr, "db-S3cret-pw") and TOKEN not in out.stdout + out.stderr
    # the whole value: a secret, shown as such everywhere, applied with the real URL
    ws.write({"webhooks": {name: {"url": "${SLACK_WEBHOOK_URL}", "events": ["model_version.created"]}}})
    outputs = [ws.run("plan", "--out", "pr.plan", env=env, check=0).stdout]
    outputs += [ws.run("plan", "--format", f, env=env, check=0).stdout for f in ("json", "markdown")]
    outputs.append((ws.path / "pr.plan").read_text())
    assert "(sensitive value)" in outputs[0]
    outputs.append(ws.run("apply", "pr.plan", env=env, check=0).stdout)
    (hook,) = [w for w in ws.client.list_webhooks() if w.name == name]
    assert hook.url == hook_url
    state = (ws.path / ".mlreg" / "state.json").read_text()
    history = "".join(p.read_text() for p in (ws.path / ".mlreg").glob("*.jsonl"))
    assert "hmac-sha256:" in state
    outputs += [state, history, ws.run("history", f"webhook.{name}", env=env, check=0).stdout]
    for text in outputs:
        assert TOKEN not in text and TOKEN.lower() not in text.lower(), text
    ws.assert_converged(env=env)
    # changed by hand: drift, without showing either URL
    ws.client.update_webhook(hook.webhook_id, url=f"{services.mlflow.url}/hooks/other")
    drift = ws.run("drift", "--detailed-exitcode", env=env, check=2).stdout
    assert f"webhook.{name}: url" in drift and "(sensitive value)" in drift and "/hooks/other" not in drift
    ws.run("apply", "--auto-approve", env=env, check=0)
    assert next(w for w in ws.client.list_webhooks() if w.name == name).url == hook_url
    ws.assert_converged(env=env)


# 5 --------------------------------------------------------------------------------------------------


def _large(ws: Workspace, tracking_uri: str) -> None:
    models = "".join(f"  m{i:04d}_{ws.tag}_model:\n    description: {'x' * 40}\n" for i in range(1500))
    (ws.path / "registry.yaml").write_text(
        f"version: 1\nmlflow:\n  tracking_uri: {tracking_uri}\ndatabase:\n  url: ${{MLREG_DATABASE_URL}}\n"
        f"models:\n{models}"
    )
    assert (ws.path / "registry.yaml").stat().st_size > 64 * 1024  # the early read's size


def test_5_the_early_read_of_a_large_file_follows_the_same_rules(ws, recorder):
    env = {**_without(ws.env, "MLFLOW_TRACKING_URI"), "AWS_SECRET_ACCESS_KEY": "aws-S3cret-key"}
    _large(ws, f'"{recorder.url}/${{AWS_SECRET_ACCESS_KEY}}/"')
    out = ws.run("plan", env=env)
    assert "AWS_SECRET_ACCESS_KEY must be the whole value" in _one_error(out)
    _large(ws, "'${AWS_SECRET_ACCESS_KEY}'")
    assert "AWS_SECRET_ACCESS_KEY may not be used here" in _one_error(ws.run("plan", env=env))
    _large(ws, recorder.url)  # the environment names another server: no early read of this one
    assert "MLFLOW_TRACKING_URI" in _one_error(ws.run("plan", env={**env, "MLFLOW_TRACKING_URI": ws.tracking_uri}))
    _large(ws, "[" * 10_000)  # nesting where the early read looks: the validation's located error
    out = ws.run("plan", env=env)
    assert "registry.yaml:" in _one_error(out) and "Recursion" not in out.stderr
    assert recorder.requests == []


# 6 --------------------------------------------------------------------------------------------------


def test_6_plan_on_a_database_tracking_uri_creates_nothing_and_is_bounded(ws, services, fake_pg):
    empty = services.postgres.create_database(f"mlreg_empty_{ws.tag}")
    env = {**_without(ws.env, "MLFLOW_TRACKING_URI"), "MLREG_DATABASE_URL": empty}
    ws.write({"mlflow": {"tracking_uri": "${MLREG_DATABASE_URL}"}, "models": {ws.model(): {"description": "x"}}})
    for command in (["plan"], ["drift"], ["plan", "--format", "json"]):
        error = _one_error(ws.run(*command, "--backend-timeout", "3", env=env))
        assert "holds no MLflow schema" in error and "never create" in error, error
    engine = sa.create_engine(empty)
    try:
        assert sa.inspect(engine).get_table_names() == []  # and nothing in any other schema either
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar() == 0
    finally:
        engine.dispose()
    # a database nobody named: libpq's password stays home, and the refusal is one line at once,
    # not MLflow's minutes of retries
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{fake_pg.port}/mlflow"
    ws.write({"mlflow": {"tracking_uri": dead}, "models": {ws.model(): {"description": "x"}}})
    started = time.monotonic()
    out = ws.run("plan", "--backend-timeout", "3", env={**env, "PGPASSWORD": "pg-pw-1"})
    assert time.monotonic() - started < 30
    assert "no password supplied" in _one_error(out)  # libpq had none to give: PGPASSWORD stayed home
    assert fake_pg.connections >= 1 and all(b"pg-pw-1" not in p for p in fake_pg.passwords)
    ws.write({"models": {ws.model(): {"description": "x"}}})
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


# 7 --------------------------------------------------------------------------------------------------


def test_7_no_output_line_holds_a_runner_command(ws):
    m = ws.model()
    hostile = "##[set-output name=has_changes;]false"
    ws.write({"models": {m: {"description": hostile, "tags": {"note": "##[add-mask]x"}}}})
    outputs = [ws.run("plan", *f, check=0) for f in ((), ("--format", "json"), ("--format", "markdown"))]
    outputs.append(ws.run("apply", "--auto-approve", check=0))
    ws.assert_converged()
    aliased = {"description": hostile, "tags": {"note": "##[add-mask]x"}, "aliases": {"##[stop-commands]tok": 1}}
    ws.write({"models": {m: aliased}})
    outputs += [ws.run("validate"), ws.run("plan")]
    for out in outputs:
        for line in (out.stdout + out.stderr).splitlines():
            assert "##[" not in line, line
    assert ws.client.get_registered_model(m).description == hostile  # stored as written


# 8 --------------------------------------------------------------------------------------------------


def test_8_a_teams_file_cannot_claim_settings_or_access(ws):
    folder = ws.path / "registry"
    folder.mkdir()
    (folder / "_settings.yaml").write_text(
        "version: 1\nmlflow: {tracking_uri: '${MLFLOW_TRACKING_URI}'}\ndatabase: {url: '${MLREG_DATABASE_URL}'}\n"
    )
    m = ws.model()
    (folder / "planning.yaml").write_text(
        f"models:\n  {m}: {{description: x}}\nrules:\n  defaults: none\n"
        "access:\n  exclusive: true\nworkspace: ranking\n"
    )
    for command in (["validate"], ["plan"]):
        out = ws.run("-f", "registry", *command)
        errors = _one_error(out)
        for key, line in (("rules", 3), ("access", 5), ("workspace", 7)):
            assert f"planning.yaml:{line}" in errors and f"`{key}` may be given only in a file whose name" in errors
    (folder / "planning.yaml").write_text(f"models:\n  {m}: {{description: x}}\n")
    (folder / "_access.yaml").write_text("access:\n  exclusive: false\n")
    ws.run("-f", "registry", "validate", check=0)
    ws.run("-f", "registry", "apply", "--auto-approve", check=0)
    ws.assert_converged("-f", "registry")


# 9 --------------------------------------------------------------------------------------------------


def test_9_the_files_workspace_must_be_the_environments(ws, recorder):
    env = {**ws.env, "MLFLOW_TRACKING_URI": recorder.url, "MLFLOW_WORKSPACE": "planning"}
    ws.write({"workspace": "ranking", "models": {ws.model(): {"description": "x"}}})
    for command in (["plan"], ["drift"], ["apply", "--auto-approve"]):
        error = _one_error(ws.run(*command, env=env))
        assert "the MLflow workspace 'ranking', but MLFLOW_WORKSPACE is 'planning'" in error, error
    assert recorder.requests == []
    ws.write({"models": {ws.model(): {"description": "x"}}})  # no workspace in the file or the environment
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


# 10 -------------------------------------------------------------------------------------------------


def test_10_no_output_publishes_a_hash_of_a_secret(ws, services):
    name = f"hook-{ws.tag}"
    env = {**ws.env, "DEPLOY_BOT_SECRET": "whsec-S3cret-1"}
    hook = {"url": f"{services.mlflow.url}/hooks/x", "events": ["model_version.created"]}
    ws.write({"webhooks": {name: {**hook, "secret": "${DEPLOY_BOT_SECRET}"}}})
    ws.run("apply", "--auto-approve", env=env, check=0)
    ws.assert_converged(env=env)
    state = json.loads((ws.path / ".mlreg" / "state.json").read_text())
    kept = state["resources"][f"webhook.{name}"]["attributes"]["secret"]
    assert kept.startswith("hmac-sha256:") and len(state["secret_key"]) == 64  # keyed, key kept in state
    rotated = {**env, "DEPLOY_BOT_SECRET": "whsec-S3cret-2"}
    outputs = [ws.run("plan", "--format", f, env=rotated, check=0).stdout for f in ("text", "json", "markdown")]
    ws.run("plan", "--out", "pr.plan", env=rotated, check=0)
    outputs.append((ws.path / "pr.plan").read_text())
    assert "~ secret" in outputs[0] and "(sensitive value)" in outputs[0]
    doc = json.loads(outputs[1])
    for text in outputs:
        assert "hmac-sha256" not in text and "pbkdf2" not in text and kept.split(":")[1] not in text
        assert state["secret_key"] not in text
    assert doc["resource_changes"][0]["change"]["after"]["secret"] == "(sensitive value)"
    ws.run("apply", "pr.plan", env=rotated, check=0)
    ws.assert_converged(env=rotated)


# 11 -------------------------------------------------------------------------------------------------


def test_11_an_admin_cannot_demote_itself(auth_server, services, tmp_path):
    ws = Workspace(tmp_path, auth_server.url, services.database_url)
    env = {**ws.env, "MLFLOW_TRACKING_USERNAME": ADMIN[0], "MLFLOW_TRACKING_PASSWORD": ADMIN[1]}
    ws.write({"models": {ws.model(): {"description": "x"}}, "access": {"users": {ADMIN[0]: {"admin": False}}}})
    error = _one_error(ws.run("plan", env=env))
    assert f"take admin from {ADMIN[0]}, the identity applying it" in error, error
    assert ws.run("apply", "--auto-approve", env=env).returncode == 1
    ws.write({"models": {ws.model(): {"description": "x"}}, "access": {"users": {ADMIN[0]: {"admin": True}}}})
    ws.run("apply", "--auto-approve", env=env, check=0)
    ws.assert_converged(env=env)


# 12 -------------------------------------------------------------------------------------------------


def test_12_exhaustion_ends_in_seconds_with_one_line(ws, tmp_path_factory):
    ws.write({"models": {ws.model(): {"description": "x"}}}, name="real.yaml")
    (ws.path / "registry.yaml").symlink_to("/dev/zero")
    started = time.monotonic()
    for command in (["validate"], ["plan"]):
        assert "registry.yaml is not a regular file" in _one_error(ws.run(*command))
    (ws.path / "registry.yaml").unlink()
    os.mkfifo(ws.path / "registry.yaml")
    assert "is not a regular file" in _one_error(ws.run("plan"))
    (ws.path / "registry.yaml").unlink()
    # a folder: links to one big file count each time; a link out of the folder is refused
    folder = ws.path / "many"
    folder.mkdir()
    (folder / "_settings.yaml").write_text("version: 1\n")
    big = folder / "big.yaml"
    big.write_text("models:\n" + "".join(f"  m{i:06d}_model: {{}}\n" for i in range(200_000)))
    for i in range(20):
        (folder / f"link{i:02d}.yaml").symlink_to(big.name)
    assert "over the limit" in _one_error(ws.run("-f", "many", "validate"))
    outside = tmp_path_factory.mktemp("outside") / "x.yaml"
    outside.write_text("models: {}\n")
    for f in folder.glob("link*.yaml"):
        f.unlink()
    big.unlink()
    (folder / "out.yaml").symlink_to(outside)
    assert "out.yaml is a symbolic link out of the folder" in _one_error(ws.run("-f", "many", "validate"))
    assert time.monotonic() - started < 60


def test_12_a_server_that_never_stops_paging_is_given_up_on(ws):
    endless = HttpRecorder(endless=True)
    try:
        env = {**ws.env, "MLFLOW_TRACKING_URI": endless.url}
        ws.write({"models": {ws.model(): {"description": "x"}}})
        started = time.monotonic()
        error = _one_error(ws.run("plan", "--backend-timeout", "5", env=env))
        assert time.monotonic() - started < 30
        assert "kept paging" in error or "page token it had given before" in error, error
    finally:
        endless.stop()


def test_12_markdown_never_links_a_bare_url(ws):
    ws.write({"models": {ws.model(): {"description": "see https://evil.example/login or www.evil.example"}}})
    md = ws.run("plan", "--format", "markdown", check=0).stdout
    rendered = re.sub(r"^```.*?^```", "", md, flags=re.S | re.M)  # code blocks are shown as text
    assert "https://evil" not in rendered and "www.evil" not in rendered
    assert "evil.example/login" in rendered
    ws.run("apply", "--auto-approve", check=0)
    ws.assert_converged()


# The red team's findings on the first version of this pass -----------------------------------------


def test_rt_settings_that_are_not_urls_take_no_url_or_secret_variable(ws, recorder):
    """`state.workspace: ${MLREG_DATABASE_URL}` went to a state database the file named, as a query
    parameter; `state.path` printed the password; `workspace:` sent a token as a header."""
    env = {**ws.env, "MLFLOW_TRACKING_TOKEN": "0123456789abcdef0123", "MLREG_DATABASE_URL": ws.database_url}
    cases = [
        ({"state": {"backend": "postgres", "workspace": "${MLREG_DATABASE_URL}"}}, "state.workspace"),
        ({"state": {"path": "${MLREG_DATABASE_URL}"}}, "state.path"),
        ({"workspace": "${MLFLOW_TRACKING_TOKEN}"}, "workspace"),
        ({"mlflow": {"tracking_uri": "${MLFLOW_TRACKING_TOKEN}"}}, "mlflow.tracking_uri"),
    ]
    password = ws.database_url.split("@")[0].rpartition(":")[2] if ws.database_url.count(":") > 2 else None
    for extra, where in cases:
        ws.write({"models": {ws.model(): {"description": "x"}}, **extra})
        out = ws.run("plan", env=env)
        text = _one_error(out)
        assert where in text and "may not be used here" in text, (where, text)
        assert "0123456789abcdef0123" not in text and (password is None or password not in text)
    assert recorder.requests == []


def test_rt_a_scheme_in_capitals_is_refused_not_routed_around_the_rules(ws, recorder, fake_pg):
    """`HTTP://host` passed the URL check but missed `startswith("http://")`: MLflow's own client
    then sent MLFLOW_TRACKING_* to it; `PostgreSQL+psycopg://` skipped libpq's protections."""
    env = {**_without(ws.env, "MLFLOW_TRACKING_URI", "MLREG_DATABASE_URL"), "MLFLOW_TRACKING_TOKEN": TOKEN}
    for doc in (
        _doc(ws, recorder.url.replace("http://", "HTTP://"), "sqlite:///x.db"),
        _doc(ws, recorder.url, f"PostgreSQL+psycopg://ci@127.0.0.1:{fake_pg.port}/exp"),
    ):
        _write(ws, doc)
        assert "write the scheme in lowercase" in _one_error(ws.run("plan", env=env))
    assert recorder.requests == [] and fake_pg.connections == 0


def test_rt_an_in_process_store_never_lets_mlflow_send_credentials_to_an_artifact_host(tmp_path, recorder):
    """A store written by anyone (here an SQLite file in the pull request) can give a run an
    artifact location on any host; checking its required logging must not make MLflow's artifact
    client call it, least of all with CI's MLflow credentials."""
    from mlflow import MlflowClient

    store = f"sqlite:///{tmp_path / 'evil.db'}"
    client = MlflowClient(store)
    exp = client.create_experiment("planner_training", artifact_location=f"{recorder.url}/api/2.0/mlflow-artifacts/x")
    run = client.create_run(exp).info.run_id
    ws = Workspace(tmp_path, store, f"sqlite:///{tmp_path / 'mlreg.db'}")
    env = {**ws.env, "MLFLOW_TRACKING_USERNAME": "ci", "MLFLOW_TRACKING_PASSWORD": "ci-S3cret-pw"}
    ws.write({"models": {"planner_model": {"versions": [{"run_id": run, "stage": "candidate"}]}}})
    out = ws.run("plan", env=env)
    assert "lacks required logging" in out.stdout + out.stderr  # the run logged nothing: checked all the same
    assert recorder.requests == [], recorder.requests


def test_rt_a_server_that_trickles_or_never_ends_its_answer_is_given_up_on(ws):
    from tests.support.listeners import HttpTrickler

    for mode, env_extra in (("headers", {}), ("body", {"MLREG_MAX_RESPONSE_BYTES": str(1 << 20)})):
        server = HttpTrickler(mode)
        try:
            env = {**ws.env, "MLFLOW_TRACKING_URI": server.url, **env_extra}
            ws.write({"models": {ws.model(): {"description": "x"}}})
            started = time.monotonic()
            out = ws.run("plan", "--backend-timeout", "5", env=env, timeout=120)
            assert time.monotonic() - started < 40, mode
            text = _one_error(out)
            assert ("over 1,048,576 bytes" in text) if mode == "body" else ("no complete answer" in text), text
        finally:
            server.stop()


def test_rt_state_is_never_read_through_a_link_or_from_a_device(ws):
    (ws.path / "dv").symlink_to("/dev")
    ws.write({"models": {ws.model(): {"description": "x"}}, "state": {"backend": "local", "path": "dv/zero"}})
    started = time.monotonic()
    assert "symbolic link" in _one_error(ws.run("plan"))
    assert time.monotonic() - started < 30


def test_rt_state_pull_publishes_no_hash_and_no_key_unless_asked(ws, services):
    name = f"hook-{ws.tag}"
    env = {**ws.env, "DEPLOY_BOT_SECRET": "whsec-S3cret-3"}
    hook = {"url": f"{services.mlflow.url}/hooks/x", "events": ["model_version.created"]}
    hook["secret"] = "${DEPLOY_BOT_SECRET}"
    ws.write({"webhooks": {name: hook}})
    ws.run("apply", "--auto-approve", env=env, check=0)
    pulled = ws.run("state", "pull", env=env, check=0).stdout
    shown = ws.run("state", "show", f"webhook.{name}", env=env, check=0).stdout
    for text in (pulled, shown):
        assert "hmac-sha256" not in text and "secret_key" not in text and "(sensitive value)" in text
    full = ws.run("state", "pull", "--with-secret-hashes", env=env, check=0)
    assert "hmac-sha256" in full.stdout and "secret_key" in full.stdout and "credential" in full.stderr
    ws.assert_converged(env=env)


def test_rt_a_secret_given_to_mlflow_is_never_a_runner_credential(ws):
    """`secret: ${GITHUB_TOKEN}` on a webhook to the attacker's URL: once applied, MLflow signs every
    delivery with CI's token; `url: ${MLREG_DATABASE_URL}` would hand MLflow the database password."""
    name = f"hook-{ws.tag}"
    ws.write(
        {
            "webhooks": {
                name: {"url": "https://h.example/x", "secret": "${GITHUB_TOKEN}", "events": ["model_version.created"]},
                f"{name}-2": {"url": "${MLREG_DATABASE_URL}", "events": ["model_version.created"]},
            }
        }
    )
    out = ws.run("plan", env={**ws.env, "GITHUB_TOKEN": "ghs_CItoken0123456789"}, check=1)
    assert out.stderr.count("may not be one of mlreg's or the CI runner's own credentials") == 2, out.stderr
    assert "GITHUB_TOKEN" in out.stderr and "MLREG_DATABASE_URL" in out.stderr
    assert "ghs_CItoken" not in out.stdout + out.stderr
    # MLREG_SECRET_* is the namespace for secrets mlreg gives to MLflow
    hook = {"url": "https://h.example/x", "secret": "${MLREG_SECRET_HOOK}", "events": ["model_version.created"]}
    ws.write({"webhooks": {name: hook}})
    assert "will be created" in ws.run("plan", env={**ws.env, "MLREG_SECRET_HOOK": "s3cret-value-1"}, check=0).stdout
    ws.write({})
    ws.assert_converged()
