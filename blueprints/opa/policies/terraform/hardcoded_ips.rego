# METADATA
# title: No hard-coded IP addresses
# description: >-
#   Terraform code names no single IPv4 address: addresses come from variables, data sources or
#   service discovery, which is the gap static IPs open in a compose file. Network ranges in CIDR
#   form (subnets) are design, not addresses, and pass; so do the any-address 0.0.0.0 and the
#   loopback 127.0.0.1 that bind settings use.
# custom:
#   severity: medium
package phasekit.terraform.hardcoded_ips

import data.phasekit.lib.terraform as tf
import rego.v1

allowed := {"0.0.0.0", "127.0.0.1"}

_address := `(?:^|[^0-9.])((?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})(/[0-9]{1,2})?(?:$|[^0-9.])`

deny contains msg if {
	some file in tf.files
	walk(file.contents, [path, value])
	is_string(value)
	some match in regex.find_all_string_submatch_n(_address, value, -1)
	match[2] == ""
	not match[1] in allowed
	where := concat(".", [tf.unquote(p) | some p in path; is_string(p)])
	msg := sprintf("%s%s: hard-coded IP address %s (use a variable or service discovery)", [_prefix(file.path), where, match[1]])
}

_prefix(path) := "" if path == ""

_prefix(path) := sprintf("%s: ", [path]) if path != ""
