"""The pure parts of trust, third pass: one URL parser whose parts are what mlreg connects with,
secrets in every form, hashes nobody can test guesses against, and lines no CI runner obeys."""

from __future__ import annotations

import json

import pytest

from mlreg.planner import redact, secrets, urls
from mlreg.planner.config.fastyaml import fast_load
from mlreg.planner.render import escape

REFUSED = [
    ("http://127.0.0.1:39223\\@mlflow.internal:5000", "backslash"),
    ("http://mlflow.internal:5000/ x", "whitespace"),
    ("http://mlflow.internal:5000/\x1b", "control"),
    ("http://user:pw@mlflow.internal", "user info"),
    ("http://evil@mlflow.internal", "user info"),
    ("http://mlflow.internal/?x=1", "no query"),
    ("http://mlflow.internal:0", "port"),
    ("http://mlflow.internal:99999", "port"),
    ("http://ml_flow!.internal", "host"),
    ("postgresql+psycopg://ci@db/exp?host=evil", "names host"),
    ("postgresql+psycopg://ci@db/exp?hostaddr=10.0.0.1", "names hostaddr"),
    ("postgresql+psycopg://ci@db/exp?port=6543", "names port"),
    ("postgresql+psycopg://ci@db/exp?service=x", "names service"),
    ("postgresql+psycopg://ci@db/exp?passfile=/x", "names passfile"),
    ("postgresql+psycopg://ci@db/exp?sslkey=/x", "names sslkey"),
    ("postgresql+psycopg://ci@db/exp?dbname=postgresql://evil/x", "names dbname"),
    ("postgresql+psycopg://ci@a@db/exp", "more than one @"),
    ("postgresql+psycopg://ci@db1,db2/exp", "one host only"),
    ("postgresql+psycopg://ci@db/host=evil", "database name"),
    ("mysql://u@db/x?host=evil", "no query is accepted"),
    ("sqlite:///x.db?mode=rwc", "no query"),
    ("${MLFLOW_TRACKING_PASSWORD}", "not a URL"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED, ids=[w for _, w in REFUSED])
def test_urls_that_parsers_read_differently_are_refused(url, why):
    with pytest.raises(urls.UrlRefused, match=why):
        urls.parse_mlflow(url) if url.startswith(("http", "$")) else urls.parse_database(url)


def test_a_refusal_never_shows_the_password():
    with pytest.raises(urls.UrlRefused) as e:
        urls.parse_database("postgresql+psycopg://ci:hunter2-pw@db/exp?host=evil")
    assert "hunter2-pw" not in str(e.value) and "ci:***@db" in str(e.value)


def test_what_mlreg_connects_with_is_rebuilt_from_the_parsed_parts():
    assert urls.parse_mlflow("https://MLflow.Internal:8443/team/").http_base() == "https://mlflow.internal:8443/team"
    assert urls.parse_mlflow("http://[::1]:5000").http_base() == "http://[::1]:5000"
    db = urls.parse_database("postgresql+psycopg://ci:p%40ss@db.internal:5433/exp?sslmode=require")
    assert db.parts() == {
        "drivername": "postgresql+psycopg",
        "username": "ci",
        "password": "p@ss",
        "host": "db.internal",
        "port": 5433,
        "database": "exp",
        "query": {"sslmode": "require"},
    }
    assert urls.parse_mlflow("sqlite:///mlflow.db").path == "mlflow.db"
    assert urls.parse_mlflow("databricks").scheme == "databricks"


def test_secrets_are_masked_in_every_form_an_output_gives_them():
    secret = "Pa\"ss\\w0rd'-Xy-secret"
    redact.add_secret(secret)
    forms = [secret, secret.lower(), secret.upper(), json.dumps(secret), repr(secret), escape.md(secret)]
    forms += [json.dumps(json.dumps(secret)), repr(secret.lower())]
    for form in forms:
        assert "Pa" not in redact.redact(f"<{form}>").replace("***", ""), form


def test_a_password_in_a_url_is_masked_after_markdown_escaped_it():
    assert "hunter2" not in redact.redact(escape.md("https://bob:hunter2@hooks.example.com/x"))


def test_no_line_holds_a_runner_command():
    out = escape.ci_safe("::warning::x\n  ::error::y\nok ##[set-output name=a;]b ###[z\n")
    assert all(not line.lstrip().startswith("::") and "##[" not in line for line in out.splitlines())
    assert escape.ci_safe("plain # text [x]") == "plain # text [x]"


def test_markdown_links_no_bare_url():
    md = escape.md("see https://evil.example/x or www.evil.example, ##[cmd]")
    assert "https://" not in md and "www." not in md and "##[" not in md


def test_keyed_hashes_need_the_states_key_and_recognise_v03s():
    a, b = secrets.Hasher(secrets.new_key()), secrets.Hasher(secrets.new_key())
    assert a.hash("s3cret") == a.hash("s3cret") != b.hash("s3cret")
    assert secrets.is_hash(a.hash("s3cret")) and "s3cret" not in repr(a)
    legacy = "pbkdf2-sha256:cda3684a237d372dec8656bb4e9504d7"  # v0.3: PBKDF2(value, "mlreg/user/ana")
    assert a.keep("same-pass-ana-12345", legacy, "mlreg/user/ana") == legacy
    assert a.keep("rotated-pass-12345", legacy, "mlreg/user/ana") == a.hash("rotated-pass-12345")
    assert secrets.shown({"url": a.hash("x"), "n": 1}) == {"url": secrets.SENSITIVE, "n": 1}


def test_the_fast_loader_never_reads_a_lone_carriage_return_differently():
    text = "version: 1\nmodels:\n  a\rb_model: {}\n" + "#" * 70_000 + "\n"
    assert fast_load(text) is None  # PyYAML reads \r as a line break: the exact loader decides
    assert fast_load(text.replace("a\rb", "ab")) is not None


def test_red_team_url_shapes_are_refused():
    for url, why in [
        ("HTTP://mlflow.internal", "lowercase"),
        ("PostgreSQL+psycopg://ci@db/exp", "lowercase"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("postgresql+psycopg://ci@db/exp?application_name=%0a::error::x", "control character"),
    ]:
        with pytest.raises(urls.UrlRefused, match=why):
            urls.parse_mlflow(url)


def test_a_large_flow_list_is_refused_before_the_exact_loader_takes_minutes(tmp_path, monkeypatch):
    from mlreg.planner.config.load import load_config

    monkeypatch.setenv("MLREG_MAX_YAML_NODES", "1000")
    path = tmp_path / "registry.yaml"
    path.write_text("version: 1\nx: [" + ",".join(["a"] * 5000) + "]\n")
    loaded, diags = load_config(path, env={})
    assert loaded is None and "More than 1,000 YAML nodes" in diags[0].summary and diags[0].line == 2


def test_yaml_merge_keys_and_unknown_tags_are_errors_at_their_line():
    from mlreg.planner.config.load import parse_config

    for text, summary, line in [
        ("version: 1\nmodels:\n  a_model: {<<: {description: x}}\n", "merge keys", 3),
        ("version: 1\nmodels:\n  a_model: {description: !!python/object:os.system x}\n", "constructor", 3),
    ]:
        _, diags = parse_config(text.encode(), "registry.yaml", "/tmp", env={})
        assert any(summary in d.summary and d.line == line for d in diags), [(d.summary, d.line) for d in diags]


def test_legacy_hashes_are_checked_a_bounded_number_of_times(monkeypatch):
    import hashlib

    monkeypatch.setattr(secrets, "_legacy_left", [2])
    h = secrets.Hasher(secrets.new_key())
    legacy = "pbkdf2-sha256:" + hashlib.pbkdf2_hmac("sha256", b"pw-123456789", b"salt", 200_000).hex()[:32]
    assert h.keep("pw-123456789", legacy, "salt") == legacy
    assert h.keep("pw-123456789", legacy, "salt") == legacy
    assert h.keep("pw-123456789", legacy, "salt") == h.hash("pw-123456789")  # past the cap: re-applied once


def test_library_log_lines_are_masked_and_carry_no_runner_command(capsys):
    import logging

    from mlreg.cli import app

    redact.add_secret("log-S3cret-value")
    old = logging.getLogRecordFactory()
    app._safe_logs()
    try:
        logger = logging.getLogger("mlreg.test.library")
        handler = logging.StreamHandler()
        logger.addHandler(handler)
        logger.warning("::error::x %s ##[set-output a]", "log-S3cret-value")
        logger.removeHandler(handler)
    finally:
        logging.setLogRecordFactory(old)
    err = capsys.readouterr().err
    assert "log-S3cret-value" not in err and "##[" not in err and not err.startswith("::")
