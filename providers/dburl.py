"""What SQLAlchemy connects a server database with: the parts planner/urls.py parsed and accepted
(`URL.create`), never the URL's text parsed again by another parser. SQLite URLs name a local
file and are used as they are. Shared by the policy database and the postgres state backend."""

from __future__ import annotations

from mlreg.planner import urls
from mlreg.providers.sqlite import is_sqlite


def engine_url(url: str):
    if is_sqlite(url):
        return url
    import sqlalchemy as sa

    return sa.engine.URL.create(**urls.parse_database(url).parts())
