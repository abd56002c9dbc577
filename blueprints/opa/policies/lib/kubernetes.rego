# METADATA
# title: Kubernetes manifest helpers
# description: >-
#   Reads the manifests under test whatever shape they arrive in: one manifest (conftest's default,
#   `opa eval -i manifest.json`), a kind List, a JSON array of manifests (`yq ea '[.]'`), or
#   conftest's --combine form (an array of {path, contents}). Gives the workloads, their pod
#   specs, containers and pod labels to the policies in phasekit.kubernetes.
package phasekit.lib.kubernetes

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}

# Long-running workloads: the ones that need probes, NetworkPolicies and replicas.
long_running_kinds := {"Deployment", "StatefulSet", "DaemonSet"}

_combined(item) if {
	is_object(item)
	"path" in object.keys(item)
	"contents" in object.keys(item)
}

_raw contains doc if {
	is_object(input)
	doc := input
}

_raw contains doc if {
	is_array(input)
	some doc in input
	not _combined(doc)
}

_raw contains doc if {
	is_array(input)
	some item in input
	_combined(item)
	is_object(item.contents)
	doc := item.contents
}

_raw contains doc if {
	is_array(input)
	some item in input
	_combined(item)
	is_array(item.contents)
	some doc in item.contents
}

_manifest(doc) if {
	is_object(doc)
	is_string(doc.kind)
}

# documents: every manifest under test (Lists expanded).
documents contains doc if {
	some doc in _raw
	_manifest(doc)
	doc.kind != "List"
}

documents contains doc if {
	some list in _raw
	_manifest(list)
	list.kind == "List"
	some doc in list.items
	_manifest(doc)
}

workloads contains doc if {
	some doc in documents
	doc.kind in workload_kinds
}

# display: "Deployment/web", the name every message starts with.
display(doc) := sprintf("%s/%s", [doc.kind, object.get(doc, ["metadata", "name"], "<unnamed>")])

pod_template(doc) := doc.spec.template if doc.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

pod_template(doc) := doc.spec.jobTemplate.spec.template if doc.kind == "CronJob"

pod_template(doc) := doc if doc.kind == "Pod"

pod_spec(doc) := pod_template(doc).spec

pod_labels(doc) := object.get(pod_template(doc), ["metadata", "labels"], {})

# containers: the app containers (probes apply to these).
containers(doc) := object.get(pod_spec(doc), "containers", [])

# all_containers: init, app and ephemeral containers (security and images apply to all).
all_containers(doc) := array.concat(
	array.concat(object.get(pod_spec(doc), "initContainers", []), containers(doc)),
	object.get(pod_spec(doc), "ephemeralContainers", []),
)

namespace(doc) := object.get(doc, ["metadata", "namespace"], "")

# selects(selector, labels): a label selector (matchLabels and matchExpressions) matches the labels.
selects(selector, labels) if {
	every key, value in object.get(selector, "matchLabels", {}) {
		labels[key] == value
	}
	every expr in object.get(selector, "matchExpressions", []) {
		_expression(expr, labels)
	}
}

_expression(expr, labels) if {
	expr.operator == "In"
	labels[expr.key] in expr.values
}

_expression(expr, labels) if {
	expr.operator == "NotIn"
	not expr.key in object.keys(labels)
}

_expression(expr, labels) if {
	expr.operator == "NotIn"
	value := labels[expr.key]
	not value in expr.values
}

_expression(expr, labels) if {
	expr.operator == "Exists"
	expr.key in object.keys(labels)
}

_expression(expr, labels) if {
	expr.operator == "DoesNotExist"
	not expr.key in object.keys(labels)
}

empty_selector(selector) if {
	count(object.get(selector, "matchLabels", {})) == 0
	count(object.get(selector, "matchExpressions", [])) == 0
}
