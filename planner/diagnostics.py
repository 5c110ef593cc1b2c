"""Diagnostics: problems a user can cause, as data with the place they are about.

Errors are collected, never raised, so one run shows every problem at once (Terraform's
tfdiags). Each carries either a file position (config errors) or a resource address (plan
errors), or both.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


class Diagnostic(BaseModel):
    model_config = ConfigDict(frozen=True)

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


def error(summary: str, detail: str = "", address: str | None = None) -> Diagnostic:
    return Diagnostic(severity=Severity.ERROR, summary=summary, detail=detail, address=address)


def warning(summary: str, detail: str = "", address: str | None = None) -> Diagnostic:
    return Diagnostic(severity=Severity.WARNING, summary=summary, detail=detail, address=address)


def has_errors(diags) -> bool:
    return any(d.is_error for d in diags)
