# METADATA
# title: Remote state backend configured
# description: >-
#   Every root module (a folder of .tf files outside modules/) configures a backend or HCP
#   Terraform cloud block, so state is shared and locked rather than left on one laptop. Judged
#   only on a whole configuration (conftest --combine form): a lone file cannot tell.
# custom:
#   severity: high
package phasekit.terraform.backend

import data.phasekit.lib.terraform as tf
import rego.v1

root_modules contains dir if {
	tf.combined
	some file in tf.files
	endswith(file.path, ".tf")
	dir := tf.directory(file.path)
	not "modules" in split(dir, "/")
}

configured(dir) if {
	some file in tf.files
	tf.directory(file.path) == dir
	some block in file.contents.terraform
	some key in ["backend", "cloud"]
	block[key]
}

deny contains msg if {
	some dir in root_modules
	not configured(dir)
	shown := object.get({"": "."}, dir, dir)
	msg := sprintf("%s: root module has no backend (or cloud) block: its state would stay local", [shown])
}
