# METADATA
# title: Terraform input helpers
# description: >-
#   Terraform reaches the policies as the JSON of its HCL (python-hcl2's hcl2tojson, or conftest's
#   own HCL parser): one file as the input, or a whole configuration as conftest's --combine form
#   (an array of {path, contents}). Both parsers keep blocks under the same top-level keys
#   (terraform, resource, module, variable, ...); python-hcl2 keeps the quotes of strings, which
#   unquote removes.
package phasekit.lib.terraform

import rego.v1

_combined if {
	is_array(input)
	every item in input {
		is_object(item)
		"path" in object.keys(item)
		"contents" in object.keys(item)
	}
}

terraform_suffixes := [".tf", ".tf.json", ".tfvars", ".tfvars.json", ".hcl"]

_terraform_path(path) if {
	some suffix in terraform_suffixes
	endswith(path, suffix)
}

# files: [{path, contents}] for every Terraform document under test ("" as the path of a lone file).
# Other files of a combined input (Kubernetes YAML checked in the same conftest run) are left out.
default files := []

files := [{"path": item.path, "contents": item.contents} |
	some item in input
	_terraform_path(item.path)
	is_object(item.contents)
] if _combined

files := [{"path": "", "contents": input}] if {
	is_object(input)
	not input.kind
}

# combined: the input is a whole configuration, so rules about modules can be judged.
combined if _combined

directory(path) := concat("/", array.slice(parts, 0, count(parts) - 1)) if parts := split(path, "/")

unquote(value) := trim(value, `"`) if is_string(value)
