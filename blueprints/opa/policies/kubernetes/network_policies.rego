# METADATA
# title: Every workload selected by a NetworkPolicy
# description: >-
#   Every workload that runs pods of the system (Deployment, StatefulSet, DaemonSet, and the Jobs and
#   CronJobs of one-shot and scheduled services, which call other services too) is selected by a
#   NetworkPolicy of its own (a non-empty podSelector matching its pod labels, in its namespace), and
#   the policies include a default deny of ingress and egress. Bare Pods (`helm test` hooks) are left
#   to their own policies. The policies come from the input (several manifests, or conftest --combine) and
#   from data.phasekit.network_policies (a list of NetworkPolicy manifests), so one Deployment can
#   be checked against the policies rendered elsewhere.
# custom:
#   severity: high
package phasekit.kubernetes.network_policies

import data.phasekit.lib.kubernetes as k8s
import rego.v1

policies contains policy if {
	some policy in k8s.documents
	policy.kind == "NetworkPolicy"
}

policies contains policy if {
	some policy in data.phasekit.network_policies
	policy.kind == "NetworkPolicy"
}

_same_namespace(policy, _) if k8s.namespace(policy) == ""

_same_namespace(_, doc) if k8s.namespace(doc) == ""

_same_namespace(policy, doc) if k8s.namespace(policy) == k8s.namespace(doc)

selected(doc) if {
	some policy in policies
	selector := object.get(policy, ["spec", "podSelector"], {})
	not k8s.empty_selector(selector)
	_same_namespace(policy, doc)
	k8s.selects(selector, k8s.pod_labels(doc))
}

# The workloads a NetworkPolicy must select.
policed_kinds := k8s.long_running_kinds | {"Job", "CronJob"}

default_deny if {
	some policy in policies
	k8s.empty_selector(object.get(policy, ["spec", "podSelector"], {}))
	{"Ingress", "Egress"} == {kind | some kind in policy.spec.policyTypes}
	count(object.get(policy.spec, "ingress", [])) == 0
	count(object.get(policy.spec, "egress", [])) == 0
}

deny contains msg if {
	some doc in k8s.workloads
	doc.kind in policed_kinds
	not selected(doc)
	msg := sprintf("%s: no NetworkPolicy selects its pods (labels %v)", [k8s.display(doc), k8s.pod_labels(doc)])
}

deny contains msg if {
	some doc in k8s.workloads
	doc.kind in policed_kinds
	not default_deny
	msg := sprintf("%s: no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules) among the policies", [k8s.display(doc)])
}
