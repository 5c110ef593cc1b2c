# A model version in production names its owner (the version tag `owner`): the same rule as
# checkov/production_owner.yaml, for conftest / OPA (`package mlreg`, beside mlreg.rego).
package mlreg

import rego.v1

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "model_version"
	rc.change.after.stage == "production"
	not rc.change.after.tags.owner
	msg := sprintf("%s goes to production without tags.owner", [rc.address])
}
