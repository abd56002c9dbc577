package kubernetes.probes

import rego.v1

deny contains msg if {
	some container in input.spec.template.spec.containers
	not container.readinessProbe
	msg := sprintf("container %s has no readinessProbe", [container.name])
}
