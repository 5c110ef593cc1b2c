"""Diagnostics: problems a user can cause, as data with the place they are about.

Errors are collected, never raised, so one run shows every problem at once (Terraform's
tfdiags). Each carries a file position (config errors), a resource address (plan errors), or both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    summary: str
    detail: str = ""
    address: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    key_path: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def where(self) -> str:
        """`registry.yaml:12:7: models.x.versions[0].stage` or the address, whichever is known."""
        parts = []
        if self.file:
            pos = self.file
            if self.line is not None:
                pos += f":{self.line}"
                if self.column is not None:
                    pos += f":{self.column}"
            parts.append(pos)
        if self.key_path:
            parts.append(self.key_path)
        if self.address:
            parts.append(self.address)
        return ": ".join(parts)

    def to_json(self) -> dict:
        out = {"severity": self.severity.value, "summary": self.summary, "detail": self.detail, "address": self.address}
        if self.file:
            out["range"] = {"filename": self.file, "start": {"line": self.line, "column": self.column}}
        if self.key_path:
            out["key_path"] = self.key_path
        return out


def error(summary: str, detail: str = "", address: str | None = None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, detail, address)


def warning(summary: str, detail: str = "", address: str | None = None) -> Diagnostic:
    return Diagnostic(Severity.WARNING, summary, detail, address)
