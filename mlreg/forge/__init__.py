"""The forges mlreg keeps a pull request's plan comment and a schedule's drift issue on: GitHub
and GitLab, over their REST APIs. Where to talk to and with which token come from the CI job's
environment only (`target.py`), never from registry.yaml; the token goes to that API alone
(`api.py`). `sticky.py` keeps exactly one comment or issue per label."""
