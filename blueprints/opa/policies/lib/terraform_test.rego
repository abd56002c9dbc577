package phasekit.lib.terraform_test

import data.phasekit.lib.terraform as tf
import rego.v1

test_lone_file_has_an_empty_path if {
	tf.files == [{"path": "", "contents": {"resource": []}}] with input as {"resource": []}
	not tf.combined with input as {"resource": []}
}

test_combined_form_keeps_paths if {
	files := [{"path": "infra/main.tf", "contents": {"resource": []}}]
	tf.files == files with input as files
	tf.combined with input as files
}

test_other_files_are_skipped if {
	files := [
		{"path": "README.md", "contents": "text"},
		{"path": "k8s/policy.yaml", "contents": {"kind": "NetworkPolicy"}},
		{"path": "main.tf", "contents": {}},
		{"path": "prod.tfvars", "contents": {"replicas": 2}},
	]
	tf.files == [{"path": "main.tf", "contents": {}}, {"path": "prod.tfvars", "contents": {"replicas": 2}}] with input as files
}

test_a_kubernetes_manifest_is_not_terraform if {
	count(tf.files) == 0 with input as {"apiVersion": "v1", "kind": "ConfigMap", "data": {"host": "10.0.0.1"}}
}

test_directory_of_a_path if {
	tf.directory("terraform/modules/network/main.tf") == "terraform/modules/network"
	tf.directory("main.tf") == ""
}

test_unquote_removes_python_hcl2_quotes if {
	tf.unquote(`"docker_container"`) == "docker_container"
	tf.unquote("plain") == "plain"
}
