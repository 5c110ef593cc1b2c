"""A forge's REST API over plain `requests`, holding the token to that API alone.

- Redirects are not followed and every URL (a pagination link included) must lie under the API
  URL the environment named: the token is sent nowhere else, whatever a server answers.
- Reads and edits (GET, PATCH, PUT: idempotent) are retried on a dropped connection, a timeout,
  429 and 5xx, a bounded number of times; a create (POST) only when the connection was refused
  (nothing was sent). Pages are followed through the `Link` header, at most MAX_PAGES of them.
- A refusal or a forge out of reach is a `ForgeError`: one line naming the forge's answer
  (`GitHub answered 403 Forbidden to POST …: Resource not accessible by integration`).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from mlreg import __version__
from mlreg.planner.errors import MlregError
from mlreg.planner.redact import redact
from mlreg.planner.render.escape import text as esc

ATTEMPTS = 3
BACKOFF = 0.5  # seconds, doubled after each attempt
TIMEOUT = (5.0, 30.0)  # connect, read
PER_PAGE = 100
MAX_PAGES = 50
_RETRIED = {429, 500, 502, 503, 504}


class ForgeError(MlregError):
    """The forge refused or could not be reached; `status` is its HTTP answer, if any."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def _no_netrc(request):
    """Authentication is the header this module sets; never credentials from ~/.netrc."""
    return request


class Api:
    def __init__(self, forge: str, base_url: str, headers: dict[str, str]):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            raise ForgeError(f"{forge}'s API URL from the environment is not an http(s) URL: {esc(base_url)}")
        self.forge = forge
        self.base = base_url.rstrip("/")
        self._origin = (parts.scheme, parts.netloc.lower())
        self._prefix = parts.path.rstrip("/") + "/"
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": f"mlreg/{__version__}", **headers})

    # -- requests ---------------------------------------------------------------------------------
    def get_all(self, path: str, params: dict[str, Any] | None = None) -> list[dict]:
        """Every item of a paged list (GitHub and GitLab both link the next page in `Link`)."""
        url: str | None = self._url(path)
        params = {"per_page": PER_PAGE, **(params or {})}
        items: list[dict] = []
        for _ in range(MAX_PAGES):
            response = self.request("GET", url, params=params)
            page = self._json(response, url)
            if not isinstance(page, list):
                raise ForgeError(f"{self.forge} answered GET {self._shown(url)} with something that is not a list")
            items += [item for item in page if isinstance(item, dict)]
            url = response.links.get("next", {}).get("url")
            if not url:
                return items
            params = None  # the next link carries them
        raise ForgeError(f"{self.forge} kept paging past {MAX_PAGES} pages of {self._shown(path)}; gave up")

    def get(self, path: str) -> dict:
        found = self._json(self.request("GET", self._url(path)), path)
        return found if isinstance(found, dict) else {}

    def send(self, method: str, path: str, body: dict) -> dict:
        response = self.request(method, self._url(path), json=body)
        found = self._json(response, path)
        return found if isinstance(found, dict) else {}

    def request(self, method: str, url: str, **kw) -> requests.Response:
        url = self._url(url)
        idempotent = method != "POST"
        delay = BACKOFF
        for attempt in range(1, ATTEMPTS + 1):
            last = attempt == ATTEMPTS
            try:
                response = self.session.request(
                    method, url, timeout=TIMEOUT, allow_redirects=False, auth=_no_netrc, **kw
                )
            except requests.RequestException as e:
                refused = isinstance(e, requests.ConnectionError) and "refused" in str(e).lower()
                if not last and (idempotent or refused):
                    time.sleep(delay)
                    delay *= 2
                    continue
                raise ForgeError(
                    f"{self.forge} could not be reached at {self._shown(url)} ({type(e).__name__}, after "
                    f"{attempt} attempt{'s' if attempt > 1 else ''})"
                ) from None
            if response.status_code in _RETRIED and idempotent and not last:
                time.sleep(delay)
                delay *= 2
                continue
            if response.status_code >= 300:
                raise self._refused(method, url, response, attempt)
            return response
        raise AssertionError("unreachable")

    # -- helpers ----------------------------------------------------------------------------------
    def _url(self, path_or_url: str) -> str:
        """A path under the API, or a full URL that must lie under it (a pagination link)."""
        if not path_or_url.startswith(("http://", "https://")):
            return self.base + path_or_url
        parts = urlsplit(path_or_url)
        same = (parts.scheme, parts.netloc.lower()) == self._origin and (parts.path + "/").startswith(self._prefix)
        dotted = any(seg in (".", "..") for seg in unquote(parts.path).split("/"))  # /api/v3/../x leaves the API
        if not same or dotted or parts.username or parts.password:
            raise ForgeError(
                f"{self.forge} pointed mlreg at {self._shown(path_or_url)}, outside its API {self.base}; "
                "the token is sent to that API only"
            )
        return path_or_url

    def _shown(self, url: str) -> str:
        return esc(redact(url.split("?", 1)[0]))

    def _refused(self, method: str, url: str, response: requests.Response, attempt: int) -> ForgeError:
        said = ""
        try:
            body = response.json()
            if isinstance(body, dict):
                said = body.get("message") or body.get("error") or ""
        except ValueError:
            pass
        said = esc(redact(str(said)))[:200]
        tries = f" (after {attempt} attempts)" if attempt > 1 else ""
        return ForgeError(
            f"{self.forge} answered {response.status_code} {esc(response.reason or '')} to {method} "
            f"{self._shown(url)}{tries}" + (f": {said}" if said else ""),
            response.status_code,
        )

    def _json(self, response: requests.Response, where: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ForgeError(f"{self.forge} answered {self._shown(where)} with something that is not JSON") from None
