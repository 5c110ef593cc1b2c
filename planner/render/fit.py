"""A Markdown document within a size limit (a forge's comment limit: GitHub's is 65,536
characters). Parts are cut from the least to the most important: first the collapsed full plan,
then the sections line by line; the head (the warnings and the verdict) always stays, and the
document then says where the full plan is."""

from __future__ import annotations

from dataclasses import dataclass

from mlreg.planner.render.escape import fence

# Room kept for the notes that say what was cut (and for the escaping a redaction may leave).
_SLACK = 400


@dataclass(frozen=True)
class Document:
    head: list[str]  # always kept: the warnings and the verdict
    sections: list[list[str]]  # kept while they fit; a cut one ends at a whole line (a table row)
    details: str = ""  # the full text plan, in a collapsed block; cut first
    details_title: str = ""
    atomic: tuple[int, ...] = ()  # indices of sections kept whole or left out (a fenced picture)

    def render(self, limit: int, where: str) -> str:
        """At most `limit` characters; `where` says where the full plan is when anything is cut."""
        body = self.head + [line for section in self.sections for line in section]
        full = _join(body + self._details(self.details))
        if len(full) <= limit:
            return full
        room = limit - len(_join(body)) - _SLACK
        if self.details and room >= 1000:
            cut = self.details[:room].rstrip() + f"\n… (truncated: the full plan is in {where})"
            return _join(body + self._details(cut, truncated=True))
        out = _join(self._cut_sections(limit) + ["", f"_Cut at the size limit: the full plan is in {where}._"])
        return out if len(out) <= limit else out[: limit - 60] + "\n\n… (cut at the size limit)\n"

    def _cut_sections(self, limit: int) -> list[str]:
        lines = list(self.head)
        room = limit - len(_join(lines)) - _SLACK
        for i, section in enumerate(self.sections):
            if i in self.atomic:
                size = len(_join(section)) + 1
                if size <= room:
                    lines += section
                    room -= size
                continue
            for line in section:
                if len(line) + 1 > room:
                    return lines
                lines.append(line)
                room -= len(line) + 1
        return lines

    def _details(self, text: str, truncated: bool = False) -> list[str]:
        if not text:
            return []
        title = self.details_title + (" (truncated)" if truncated else "")
        return [f"<details><summary>{title}</summary>", "", *fence(text.rstrip()), "", "</details>"]


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"
