# METADATA
# title: Required probes
# description: >-
#   Every container of a long-running workload (Deployment, StatefulSet, DaemonSet) declares a
#   livenessProbe and a readinessProbe, so Kubernetes restarts a stuck process and routes traffic
#   only to ready pods. Jobs, CronJobs and bare Pods run to completion and are not checked.
# custom:
#   severity: high
package phasekit.kubernetes.probes

import data.phasekit.lib.kubernetes as k8s
import rego.v1

required := ["livenessProbe", "readinessProbe"]

deny contains msg if {
	some doc in k8s.workloads
	doc.kind in k8s.long_running_kinds
	some container in k8s.containers(doc)
	some probe in required
	not container[probe]
	msg := sprintf("%s: container %q has no %s", [k8s.display(doc), container.name, probe])
}
