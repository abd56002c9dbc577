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

test_unparsed_contents_are_skipped if {
	files := [{"path": "README.md", "contents": "text"}, {"path": "main.tf", "contents": {}}]
	tf.files == [{"path": "main.tf", "contents": {}}] with input as files
}

test_directory_of_a_path if {
	tf.directory("terraform/modules/network/main.tf") == "terraform/modules/network"
	tf.directory("main.tf") == ""
}

test_unquote_removes_python_hcl2_quotes if {
	tf.unquote(`"docker_container"`) == "docker_container"
	tf.unquote("plain") == "plain"
}
