"""The `removed` section: Terraform's `removed` blocks, what happens to resources taken out of the
file (forgotten, or deleted with `destroy: true`). Checked against the kinds in
`config/references.py`."""

from __future__ import annotations

from pydantic import Field, PrivateAttr, field_validator

from mlreg.planner.changes import Address
from mlreg.planner.config.base import Frozen


class RemovedSpec(Frozen):
    """Terraform's `removed` block: what happens to a resource taken out of the file.

    Without `destroy: true` it is only forgotten (the default for anything removed). With it, the
    live object is deleted. The entry sits in the pull request for review.
    """

    address: str = Field(description="The address of the resource, e.g. model_version.NAME[v3]")
    alias: str | None = Field(default=None, description="Only this alias of a model or prompt")
    destroy: bool = Field(default=False, description="Delete the live object (default: only forget it)")
    reason: str | None = Field(default=None, description="Shown in the plan")
    _at: Address = PrivateAttr()

    def model_post_init(self, context) -> None:
        self._at = Address.parse(self.address)

    @property
    def at(self) -> Address:
        """The address, parsed (the validator made sure it parses)."""
        return self._at

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        from mlreg.planner.render.escape import has_control

        if has_control(v) or Address.parse(v) is None:
            raise ValueError(
                "expected an address such as model.NAME, model_version.NAME[KEY] or policy_version.POLICY[VERSION]"
            )
        return v
