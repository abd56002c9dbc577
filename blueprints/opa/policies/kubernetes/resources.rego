# METADATA
# title: Resource requests and limits
# description: >-
#   Every container (init and app) of every workload requests and limits CPU and memory, so the
#   scheduler can place it and one service cannot starve the others.
# custom:
#   severity: medium
package phasekit.kubernetes.resources

import data.phasekit.lib.kubernetes as k8s
import rego.v1

required := [["requests", "cpu"], ["requests", "memory"], ["limits", "cpu"], ["limits", "memory"]]

deny contains msg if {
	some doc in k8s.workloads
	some container in k8s.all_containers(doc)
	some path in required
	not _set(object.get(container, array.concat(["resources"], path), ""))
	msg := sprintf("%s: container %q has no resources.%s.%s", [k8s.display(doc), container.name, path[0], path[1]])
}

_set(value) if {
	is_string(value)
	value != ""
}

_set(value) if is_number(value)
