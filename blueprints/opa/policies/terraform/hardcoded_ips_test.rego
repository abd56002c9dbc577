package phasekit.terraform.hardcoded_ips_test

import data.phasekit.terraform.hardcoded_ips as ips
import rego.v1

# python-hcl2 (hcl2tojson) keeps quotes; conftest's parser does not: both are covered.
container(address) := {"resource": [{`"docker_container"`: {`"app"`: {
	"name": `"app"`,
	"networks_advanced": [{"name": `"private"`, "ipv4_address": address, "__is_block__": true}],
	"__is_block__": true,
}}}]}

test_literal_address_is_denied if {
	ips.deny == {"resource.docker_container.app.networks_advanced.ipv4_address: hard-coded IP address 172.21.0.10 (use a variable or service discovery)"} with input as container(`"172.21.0.10"`)
}

test_unquoted_parser_output_is_denied if {
	count(ips.deny) == 1 with input as {"resource": {"docker_container": {"app": [{"ipv4_address": "10.0.0.5"}]}}}
}

test_variable_reference_passes if {
	count(ips.deny) == 0 with input as container("${var.app_address}")
}

test_cidr_ranges_pass if {
	count(ips.deny) == 0 with input as {"variable": [{`"subnet"`: {"default": `"172.20.0.0/24"`}}]}
}

test_bind_addresses_pass if {
	count(ips.deny) == 0 with input as {"resource": [{`"docker_container"`: {`"gw"`: {"ports": [{"ip": `"0.0.0.0"`}, {"ip": `"127.0.0.1"`}]}}}]}
}

test_address_inside_a_url_is_denied if {
	count(ips.deny) == 1 with input as {"locals": [{"api_url": `"http://192.168.1.20:8080/v1"`}]}
}

test_version_strings_pass if {
	count(ips.deny) == 0 with input as {"terraform": [{"required_version": `">= 1.6.0"`, "required_providers": [{"docker": {"version": "~> 3.0.2"}}]}]}
}

test_combined_input_names_the_file if {
	combined := [{"path": "terraform/main.tf", "contents": container(`"172.21.0.10"`)}]
	some msg in ips.deny with input as combined
	startswith(msg, "terraform/main.tf: resource.docker_container.app")
}
