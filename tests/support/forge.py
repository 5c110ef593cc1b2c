"""Stand-ins for GitHub's and GitLab's REST APIs, as documented, for the endpoints mlreg uses;
every request is recorded (method, path, query, headers, JSON body).

GitHub (v3): `GET/POST /repos/{o}/{r}/issues/{n}/comments`, `PATCH /repos/{o}/{r}/issues/comments/{id}`,
`GET/POST /repos/{o}/{r}/issues` (the list holds pull requests too), `PATCH /repos/{o}/{r}/issues/{n}`;
token as `Authorization: Bearer`. GitLab (v4, under /api/v4): `GET/POST
/projects/:id/merge_requests/:iid/notes`, `PUT …/notes/:note_id`, `GET/POST /projects/:id/issues`
(`search`, `in=title`, `state=opened`), `PUT /projects/:id/issues/:iid` (`state_event=close`),
`POST /projects/:id/issues/:iid/notes`; token as `PRIVATE-TOKEN`. Lists page as both do: `per_page`
(at most 100) and `page`, the next page linked in the `Link` header. `refuse` makes every answer one
status (403, 502, …) with the forge's JSON message.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

GITHUB, GITLAB = "github", "gitlab"


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    headers: dict
    body: dict | None


@dataclass
class Item:
    """A comment/note (`id`) or an issue (`number`), with what the forge keeps of it."""

    id: int
    body: str
    title: str = ""
    state: str = "open"
    system: bool = False
    pull_request: bool = False
    comments: list = field(default_factory=list)
    author: str = ""


class ForgeStandIn:
    def __init__(self, kind: str, token: str, repository: str = "acme/registry"):
        self.kind = kind
        self.token = token
        self.repository = repository
        self.requests: list[Seen] = []
        self.threads: dict[int, list[Item]] = {}  # pull (merge) request -> comments (notes)
        self.issues: dict[int, Item] = {}
        self.refuse: int | None = None  # answer every request with this status
        self.redirect_to: str | None = None  # answer every request with a redirect there
        self._next = 1000
        # who the token writes as: Actions' GITHUB_TOKEN may not read GET /user (403) and writes as
        # github-actions[bot]; a GitLab project access token is its bot user
        self.me = "github-actions[bot]" if kind == GITHUB else "project_7_bot"
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """The API URL a CI job's environment names (GITHUB_API_URL / CI_API_V4_URL)."""
        return f"http://127.0.0.1:{self.port}" + ("/api/v4" if self.kind == GITLAB else "")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what a test reads --------------------------------------------------------------------------
    def writes(self) -> list[Seen]:
        return [r for r in self.requests if r.method != "GET"]

    def seed(self, number: int, bodies: list[str], system: bool = False, author: str = "someone") -> None:
        """Comments by others already on a pull request."""
        for body in bodies:
            self.threads.setdefault(number, []).append(Item(self._id(), body, system=system, author=author))

    def seed_issue(self, title: str, body: str, author: str = "someone") -> int:
        """An open issue by someone else."""
        number = len(self.issues) + 1
        state = "open" if self.kind == GITHUB else "opened"
        self.issues[number] = Item(number, body, title=title, state=state, author=author)
        return number

    def marked(self, number: int, marker: str) -> list[Item]:
        return [c for c in self.threads.get(number, []) if c.body.split("\n", 1)[0] == marker]

    # -- the server ---------------------------------------------------------------------------------
    def _id(self) -> int:
        self._next += 1
        return self._next

    def _handler(self):
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                seen = Seen(self.command, parts.path, dict(parse_qsl(parts.query)), dict(self.headers), body)
                with stand_in._lock:
                    stand_in.requests.append(seen)
                    status, payload, headers = stand_in._answer(seen)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = _serve

        return Handler

    def _answer(self, r: Seen) -> tuple[int, object, dict]:
        if self.redirect_to:
            return 302, {}, {"Location": self.redirect_to}
        if self.refuse:
            message = {403: "Resource not accessible by integration", 401: "Bad credentials"}.get(self.refuse, "oops")
            return self.refuse, {"message": message}, {}
        if not self._authorised(r.headers):
            return 401, {"message": "Bad credentials" if self.kind == GITHUB else "401 Unauthorized"}, {}
        route = self._github if self.kind == GITHUB else self._gitlab
        found = route(r)
        if found is None:
            return 404, {"message": "Not Found"}, {}
        status, payload = found
        if r.method == "GET" and isinstance(payload, list):
            return self._page(r, payload)
        return status, payload, {}

    def _authorised(self, headers: dict) -> bool:
        if self.kind == GITHUB:
            return headers.get("Authorization") == f"Bearer {self.token}"
        return headers.get("PRIVATE-TOKEN") == self.token

    def _page(self, r: Seen, items: list) -> tuple[int, list, dict]:
        per_page = min(int(r.query.get("per_page", 30 if self.kind == GITHUB else 20)), 100)
        page = int(r.query.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = urlencode({**r.query, "page": page + 1})
            headers["Link"] = f'<http://127.0.0.1:{self.port}{r.path}?{query}>; rel="next"'
        return 200, chunk, headers

    # -- GitHub -------------------------------------------------------------------------------------
    def _github(self, r: Seen):
        if r.path == "/user":
            return 403, {"message": "Resource not accessible by integration"}
        repo = f"/repos/{self.repository}"
        if not r.path.startswith(repo + "/"):
            return None
        rest = r.path[len(repo) :]
        if m := re.fullmatch(r"/issues/(\d+)/comments", rest):
            thread = self._thread(int(m.group(1)))
            if r.method == "GET":
                return 200, [self._gh_comment(c) for c in thread]
            if r.method == "POST":
                c = Item(self._id(), r.body["body"], author=self.me)
                thread.append(c)
                return 201, self._gh_comment(c)
        if (m := re.fullmatch(r"/issues/comments/(\d+)", rest)) and r.method == "PATCH":
            c = self._comment(int(m.group(1)))
            if c is None:
                return None
            c.body = r.body["body"]
            return 200, self._gh_comment(c)
        if rest == "/issues":
            if r.method == "GET":
                wanted = r.query.get("state", "open")
                return 200, [self._gh_issue(i) for i in self.issues.values() if wanted in ("all", i.state)]
            if r.method == "POST":
                number = len(self.issues) + 1
                self.issues[number] = Item(number, r.body.get("body", ""), title=r.body["title"], author=self.me)
                return 201, self._gh_issue(self.issues[number])
        if (m := re.fullmatch(r"/issues/(\d+)", rest)) and r.method == "PATCH":
            issue = self.issues.get(int(m.group(1)))
            if issue is None:
                return None
            issue.body = r.body.get("body", issue.body)
            issue.state = r.body.get("state", issue.state)
            return 200, self._gh_issue(issue)
        return None

    def _gh_comment(self, c: Item) -> dict:
        return {"id": c.id, "body": c.body, "user": {"login": c.author}}

    def _gh_issue(self, i: Item) -> dict:
        out = {"number": i.id, "title": i.title, "body": i.body, "state": i.state, "user": {"login": i.author}}
        if i.pull_request:
            out["pull_request"] = {"url": "…"}
        return out

    def _thread(self, number: int) -> list[Item]:
        issue = self.issues.get(number)
        return issue.comments if issue is not None else self.threads.setdefault(number, [])

    def _comment(self, note_id: int) -> Item | None:
        every = [c for t in self.threads.values() for c in t] + [c for i in self.issues.values() for c in i.comments]
        return next((c for c in every if c.id == note_id), None)

    # -- GitLab -------------------------------------------------------------------------------------
    def _gitlab(self, r: Seen):
        if r.path == "/api/v4/user":
            return 200, {"username": self.me}
        project = f"/api/v4/projects/{self.repository}"
        if not r.path.startswith(project + "/"):
            return None
        rest = r.path[len(project) :]
        if m := re.fullmatch(r"/merge_requests/(\d+)/notes(?:/(\d+))?", rest):
            thread = self.threads.setdefault(int(m.group(1)), [])
            if m.group(2) is None and r.method == "GET":
                return 200, [self._gl_note(n) for n in thread]
            if m.group(2) is None and r.method == "POST":
                n = Item(self._id(), r.body["body"], author=self.me)
                thread.append(n)
                return 201, self._gl_note(n)
            if m.group(2) is not None and r.method == "PUT":
                n = next((n for n in thread if n.id == int(m.group(2))), None)
                if n is None:
                    return None
                n.body = r.body["body"]
                return 200, self._gl_note(n)
        if rest == "/issues":
            if r.method == "GET":
                search, state = r.query.get("search", ""), r.query.get("state", "all")
                found = [i for i in self.issues.values() if search in i.title and state in ("all", i.state)]
                return 200, [self._gl_issue(i) for i in found]
            if r.method == "POST":
                iid = len(self.issues) + 1
                self.issues[iid] = Item(
                    iid, r.body.get("description", ""), title=r.body["title"], state="opened", author=self.me
                )
                return 201, self._gl_issue(self.issues[iid])
        if m := re.fullmatch(r"/issues/(\d+)(/notes)?", rest):
            issue = self.issues.get(int(m.group(1)))
            if issue is None:
                return None
            if m.group(2) and r.method == "POST":
                n = Item(self._id(), r.body["body"], author=self.me)
                issue.comments.append(n)
                return 201, self._gl_note(n)
            if not m.group(2) and r.method == "PUT":
                issue.body = r.body.get("description", issue.body)
                if r.body.get("state_event") == "close":
                    issue.state = "closed"
                return 200, self._gl_issue(issue)
        return None

    def _gl_note(self, n: Item) -> dict:
        return {"id": n.id, "body": n.body, "system": n.system, "author": {"username": n.author}}

    def _gl_issue(self, i: Item) -> dict:
        author = {"username": i.author}
        return {"iid": i.id, "title": i.title, "description": i.body, "state": i.state, "author": author}
