# A conftest-style policy on the state after apply (`input.planned_values`), the idiom most
# Terraform policy libraries use; it reads mlreg plans unchanged:
#   mlreg plan --format json > plan.json && conftest test --policy examples/policy plan.json
package mlreg.planned

import rego.v1

resources := input.planned_values.root_module.resources

versions := [r | some r in resources; r.type == "model_version"]

# A model version serving production names its owner.
deny contains msg if {
	some r in versions
	r.values.stage == "production"
	not r.values.tags.owner
	msg := sprintf("%s would serve production without an owner tag", [r.address])
}

# Sampling temperatures of policy versions stay within [0, 1].
deny contains msg if {
	some r in resources
	r.type == "policy_version"
	t := r.values.config_defaults.temperature
	not between(t, 0, 1)
	msg := sprintf("%s sets temperature %v, outside [0, 1]", [r.address, t])
}

between(x, lo, hi) if {
	x >= lo
	x <= hi
}
