# A Terraform-style plan policy, unchanged, for mlreg plans (`mlreg plan --format json`):
#   conftest test --policy examples/policy --all-namespaces plan.json   (or: opa eval -d ... -i plan.json)
# It reads `input.resource_changes[_].change.actions`, the shape of `terraform show -json`.
package mlreg

import rego.v1

# Deleting anything live needs a human: fail the pipeline.
deny contains msg if {
	some rc in input.resource_changes
	"delete" in rc.change.actions
	msg := sprintf("%s would be deleted: get an explicit approval", [rc.address])
}

# Promotions to production are listed for the reviewer.
promotions contains rc.address if {
	some rc in input.resource_changes
	rc.type == "model_version"
	some action in rc.change.actions
	action in {"create", "update"}
	rc.change.after.stage == "production"
	stage_before(rc) != "production"
}

stage_before(rc) := rc.change.before.stage if rc.change.before.stage
else := "none"

# Plans from a newer, unknown format are not judged by rules written for 1.x.
deny contains msg if {
	not startswith(input.format_version, "1.")
	msg := sprintf("unsupported plan format %v", [input.format_version])
}
