# METADATA
# title: Per-environment rules
# description: >-
#   Rules that depend on the environment the manifests are for, named by data.phasekit.environment
#   (e.g. `{"phasekit": {"environment": "prod"}}` as an extra data file). The rules per environment
#   are data too (data.phasekit.environment_rules, generated from the architecture's environments):
#   min_replicas for Deployments and StatefulSets, and for the minReplicas of their
#   HorizontalPodAutoscalers. A Deployment without spec.replicas counts its HPA's minReplicas, or
#   1 when no HPA targets it. Services of kind cron, services that cannot scale (single writers of
#   their data) and datastores (matched by app.kubernetes.io/name) are exempt: a second copy runs a
#   scheduled job twice, or splits the data, rather than making it more available.
#   Nothing is checked when no environment is named.
# custom:
#   severity: medium
package phasekit.kubernetes.environments

import data.phasekit.lib.kubernetes as k8s
import rego.v1

environment := data.phasekit.environment

rules := data.phasekit.environment_rules[environment]

scaled_kinds := {"Deployment", "StatefulSet"}

_hpa_min(doc) := min({object.get(hpa, ["spec", "minReplicas"], 1) |
	some hpa in k8s.documents
	hpa.kind == "HorizontalPodAutoscaler"
	hpa.spec.scaleTargetRef.kind == doc.kind
	hpa.spec.scaleTargetRef.name == doc.metadata.name
})

replicas(doc) := doc.spec.replicas

replicas(doc) := n if {
	not doc.spec.replicas
	n := _hpa_min(doc)
}

replicas(doc) := 1 if {
	not doc.spec.replicas
	not _hpa_min(doc)
}

deny contains msg if {
	is_string(environment)
	not data.phasekit.environment_rules[environment]
	known := concat(", ", sort(object.keys(data.phasekit.environment_rules)))
	msg := sprintf("environment %q is not one of the architecture's environments (%s)", [environment, known])
}

_scheduled(doc) if {
	service := k8s.pod_labels(doc)["app.kubernetes.io/name"]
	data.phasekit.services[service].kind == "cron"
}

# A single writer of its data (architecture scalable: false, ADR 0005) and a self-run datastore run one pod:
# a second would corrupt or split the data rather than make it more available.
_scheduled(doc) if {
	service := k8s.pod_labels(doc)["app.kubernetes.io/name"]
	data.phasekit.services[service].scalable == false
}

_scheduled(doc) if {
	data.phasekit.datastores[k8s.pod_labels(doc)["app.kubernetes.io/name"]]
}

deny contains msg if {
	some doc in k8s.documents
	doc.kind in scaled_kinds
	not _scheduled(doc)
	replicas(doc) < rules.min_replicas
	msg := sprintf("%s: %d replica(s) in %s, which needs at least %d", [k8s.display(doc), replicas(doc), environment, rules.min_replicas])
}

deny contains msg if {
	some doc in k8s.documents
	doc.kind == "HorizontalPodAutoscaler"
	object.get(doc, ["spec", "minReplicas"], 1) < rules.min_replicas
	msg := sprintf("%s: minReplicas %d in %s, which needs at least %d", [k8s.display(doc), object.get(doc, ["spec", "minReplicas"], 1), environment, rules.min_replicas])
}
