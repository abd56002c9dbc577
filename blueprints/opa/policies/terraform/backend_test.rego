package phasekit.terraform.backend_test

import data.phasekit.terraform.backend
import rego.v1

with_backend := {"terraform": [{"backend": [{`"s3"`: {"key": `"state"`}}]}]}

without_backend := {"terraform": [{"required_version": `">= 1.6"`}]}

test_root_with_backend_passes if {
	files := [
		{"path": "terraform/versions.tf", "contents": with_backend},
		{"path": "terraform/main.tf", "contents": {"resource": []}},
	]
	count(backend.deny) == 0 with input as files
}

test_root_without_backend_is_denied if {
	files := [{"path": "terraform/main.tf", "contents": without_backend}]
	backend.deny == {"terraform: root module has no backend (or cloud) block: its state would stay local"} with input as files
}

test_modules_need_no_backend if {
	files := [
		{"path": "terraform/versions.tf", "contents": with_backend},
		{"path": "terraform/modules/network/main.tf", "contents": without_backend},
	]
	count(backend.deny) == 0 with input as files
}

test_cloud_block_counts if {
	files := [{"path": "main.tf", "contents": {"terraform": [{"cloud": [{"organization": `"acme"`}]}]}}]
	count(backend.deny) == 0 with input as files
}

test_tfvars_files_are_not_modules if {
	files := [
		{"path": "terraform/versions.tf", "contents": with_backend},
		{"path": "terraform/environments/prod.tfvars", "contents": {"replicas": 2}},
	]
	count(backend.deny) == 0 with input as files
}

test_lone_file_is_not_judged if {
	count(backend.deny) == 0 with input as without_backend
}
