"""One escaping layer per output. Text from registry.yaml, from the live systems and from state
is untrusted: a pull request's author writes the file, a hostile server writes what mlreg reads
back, and either may hold newlines, fences, HTML, mentions or CI workflow commands.

- `text`: a value interpolated into a terminal or CI log line: control characters (newlines
  included) are shown escaped, so a value never starts a line of its own;
- `ci_safe`: the last guard on every line printed: none may begin with `::` (a GitHub Actions
  workflow command such as `::add-mask::`), and `##[` (the runner's older command syntax, parsed
  anywhere in a line: `##[set-output …]`) appears nowhere;
- `md` / `md_code`: inline Markdown for a pull-request comment: HTML, links, mentions, code
  spans and table pipes neutralised as HTML entities; `fence` picks a fence no content can close;
- `mermaid` / `dot`: node labels of the lineage picture.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, bidirectional overrides
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def has_control(s: str) -> bool:
    return bool(_CONTROL.search(s))


def text(value) -> str:
    """A value as it may appear inside a text line: control characters escaped (`\\n`, `\\x1b`)."""
    s = str(value)
    if not _CONTROL.search(s):
        return s
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\u{ord(m.group()):04x}"), s)


_WORKFLOW_COMMAND = re.compile(r"^(\s*):(:)", re.MULTILINE)
_LEGACY_COMMAND = re.compile(r"#(?=#\[)")


def ci_safe(out: str) -> str:
    """No line may begin with `::`, and none holds `##[`: a zero-width space goes between the
    colons, and between the hashes (people see the same text; the CI runner sees no command)."""
    if "::" in out:
        out = _WORKFLOW_COMMAND.sub("\\1:\u200b\\2", out)
    if "##[" in out:
        out = _LEGACY_COMMAND.sub("#\u200b", out)
    return out


_MD = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "|": "&#124;",
    "@": "&#64;",
    "[": "&#91;",
    "]": "&#93;",
    "`": "&#96;",
    "\\": "&#92;",
    "*": "&#42;",
    "~": "&#126;",
    "#": "&#35;",
}
_MD_SPECIAL = re.compile("[" + re.escape("".join(_MD)) + "]")


_AUTOLINK = re.compile(r"(?i)://|\bwww\.")


def md(value) -> str:
    """Inline Markdown text (a table cell, a list item): one line, no HTML, no links (bare URLs
    included: GitHub links `https://…` and `www.…` by themselves), no mentions, no code spans or
    table pipes that the value could open or close, no `##[` for a CI log."""
    s = _CONTROL.sub(" ", str(value))
    s = _MD_SPECIAL.sub(lambda m: _MD[m.group()], s)
    return _AUTOLINK.sub(lambda m: "&#58;//" if m.group() == "://" else m.group()[:3] + "&#46;", s)


def md_code(value) -> str:
    """Inline code that its content cannot leave (HTML `<code>`, content entity-escaped)."""
    return f"<code>{md(value)}</code>"


def fence(content: str, info: str = "") -> list[str]:
    """A fenced code block whose fence is longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    mark = "`" * max(3, longest + 1)
    return [f"{mark}{info}", content, mark]


def mermaid(value) -> str:
    """A Mermaid node label (inside double quotes): Mermaid's own entity codes."""
    s = _CONTROL.sub(" ", str(value))
    for ch, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;")):
        s = s.replace(ch, code)
    return s


def dot(value) -> str:
    """A DOT quoted string."""
    s = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(lambda m: "\\n" if m.group() == "\n" else " ", s) + '"'
