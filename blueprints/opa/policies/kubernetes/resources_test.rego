package phasekit.kubernetes.resources_test

import data.phasekit.kubernetes.resources
import rego.v1

full := {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}

pod(container) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [container]}}

test_requests_and_limits_pass if {
	count(resources.deny) == 0 with input as pod({"name": "c", "resources": full})
}

test_numeric_cpu_passes if {
	numeric := {"requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"cpu": 2, "memory": "1Gi"}}
	count(resources.deny) == 0 with input as pod({"name": "c", "resources": numeric})
}

test_no_resources_is_denied_four_times if {
	count(resources.deny) == 4 with input as pod({"name": "c"})
}

test_missing_memory_limit_is_denied if {
	partial := {"requests": full.requests, "limits": {"cpu": "1"}}
	resources.deny == {`Pod/p: container "c" has no resources.limits.memory`} with input as pod({"name": "c", "resources": partial})
}

test_init_containers_are_checked if {
	doc := {"kind": "Pod", "metadata": {"name": "p"}, "spec": {
		"initContainers": [{"name": "init"}],
		"containers": [{"name": "c", "resources": full}],
	}}
	count(resources.deny) == 4 with input as doc
}
