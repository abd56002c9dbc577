# METADATA
# title: No public exposure of private-zone services
# description: >-
#   An Ingress, or a Service of type LoadBalancer or NodePort, must not expose a service or
#   datastore that architecture.yaml puts in the private zone. Zones come from
#   data.phasekit.services and data.phasekit.datastores (policies/data.json, generated from the
#   architecture). A backend Service is matched to an architecture id by its
#   app.kubernetes.io/name label when the Service is among the manifests, else by its name: the
#   id itself or a release-prefixed "<release>-<id>".
# custom:
#   severity: high
package phasekit.kubernetes.ingress_zones

import data.phasekit.lib.kubernetes as k8s
import rego.v1

zones[id] := item.zone if some id, item in data.phasekit.services

zones[id] := item.zone if some id, item in data.phasekit.datastores

_label := "app.kubernetes.io/name"

# The architecture ids a Service name stands for: from the labels of the Service of that name among
# the manifests when it has them, else from the name.
ids_of(name) := ids if {
	ids := _ids_by_labels(name)
	count(ids) > 0
}

ids_of(name) := {name} if {
	count(_ids_by_labels(name)) == 0
	zones[name]
}

ids_of(name) := {id} if {
	count(_ids_by_labels(name)) == 0
	not zones[name]
	suffixes := {candidate | some candidate, _ in zones; endswith(name, concat("", ["-", candidate]))}
	longest := max({count(suffix) | some suffix in suffixes})
	some id in suffixes
	count(id) == longest
}

_ids_by_labels(name) := {id |
	some doc in k8s.documents
	doc.kind == "Service"
	doc.metadata.name == name
	some id in {object.get(doc, ["metadata", "labels", _label], ""), object.get(doc, ["spec", "selector", _label], "")}
	zones[id]
}

# The Service names an Ingress routes to (default backend and every path).
backends(ingress) := {name | some name in _default(ingress)} | {name |
	some rule in object.get(ingress, ["spec", "rules"], [])
	some path in object.get(rule, ["http", "paths"], [])
	name := path.backend.service.name
}

_default(ingress) := [name | name := ingress.spec.defaultBackend.service.name]

deny contains msg if {
	some doc in k8s.documents
	doc.kind == "Ingress"
	some backend in backends(doc)
	some id in ids_of(backend)
	zones[id] == "private"
	msg := sprintf("%s: routes to Service %q, which serves %q of the private zone", [k8s.display(doc), backend, id])
}

deny contains msg if {
	some doc in k8s.documents
	doc.kind == "Ingress"
	id := object.get(doc, ["metadata", "labels", _label], "")
	zones[id] == "private"
	msg := sprintf("%s: is labelled for %q of the private zone", [k8s.display(doc), id])
}

deny contains msg if {
	some doc in k8s.documents
	doc.kind == "Service"
	doc.spec.type in {"LoadBalancer", "NodePort"}
	some id in ids_of(doc.metadata.name)
	zones[id] == "private"
	msg := sprintf("%s: type %s exposes %q of the private zone", [k8s.display(doc), doc.spec.type, id])
}
