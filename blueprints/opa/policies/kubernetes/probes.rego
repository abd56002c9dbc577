# METADATA
# title: Required probes
# description: >-
#   Every container of a long-running workload (Deployment, StatefulSet, DaemonSet) declares a
#   livenessProbe and a readinessProbe, so Kubernetes restarts a stuck process and routes traffic
#   only to ready pods. Jobs, CronJobs and bare Pods run to completion and are not checked. The
#   one exemption is the architecture's own: a probe a service declares as type none in
#   architecture.yaml (data.phasekit.services[<id>].probes, matched by app.kubernetes.io/name).
# custom:
#   severity: high
package phasekit.kubernetes.probes

import data.phasekit.lib.kubernetes as k8s
import rego.v1

required := {"livenessProbe": "liveness", "readinessProbe": "readiness"}

deny contains msg if {
	some doc in k8s.workloads
	doc.kind in k8s.long_running_kinds
	some container in k8s.containers(doc)
	some probe, model_name in required
	not container[probe]
	not _declared_none(doc, model_name)
	msg := sprintf("%s: container %q has no %s", [k8s.display(doc), container.name, probe])
}

_declared_none(doc, model_name) if {
	service := k8s.pod_labels(doc)["app.kubernetes.io/name"]
	data.phasekit.services[service].probes[model_name] == "none"
}
