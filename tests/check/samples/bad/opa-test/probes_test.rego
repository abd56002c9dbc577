package kubernetes.probes_test

import data.kubernetes.probes
import rego.v1

test_probe_allowed if {
	count(probes.deny) == 0 with input as {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}
}
