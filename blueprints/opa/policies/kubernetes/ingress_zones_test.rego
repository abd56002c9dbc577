package phasekit.kubernetes.ingress_zones_test

import data.phasekit.kubernetes.ingress_zones as zones
import rego.v1

services := {"web": {"zone": "public"}, "intranet-api": {"zone": "private"}, "api": {"zone": "private"}}

datastores := {"db": {"zone": "private"}}

ingress(backend) := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "Ingress",
	"metadata": {"name": "demo"},
	"spec": {"rules": [{"host": "demo.example.com", "http": {"paths": [{
		"path": "/",
		"pathType": "Prefix",
		"backend": {"service": {"name": backend, "port": {"number": 80}}},
	}]}}]},
}

service(name, id, type) := {
	"apiVersion": "v1",
	"kind": "Service",
	"metadata": {"name": name, "labels": {"app.kubernetes.io/name": id}},
	"spec": {"type": type, "selector": {"app.kubernetes.io/name": id}},
}

test_public_backend_passes if {
	count(zones.deny) == 0 with input as ingress("web") with data.phasekit.services as services with data.phasekit.datastores as datastores
}

test_private_backend_by_id_is_denied if {
	zones.deny == {`Ingress/demo: routes to Service "intranet-api", which serves "intranet-api" of the private zone`} with input as ingress("intranet-api")
		with data.phasekit.services as services with data.phasekit.datastores as datastores
}

test_release_prefixed_name_takes_the_longest_id if {
	# "demo-intranet-api" ends with both "-api" and "-intranet-api": the longer id is meant
	count(zones.deny) == 1 with input as ingress("demo-intranet-api") with data.phasekit.services as services
		with data.phasekit.datastores as datastores
	count(zones.deny) == 0 with input as ingress("demo-web") with data.phasekit.services as services
		with data.phasekit.datastores as datastores
}

test_service_labels_win_over_the_name if {
	docs := [ingress("frontend"), service("frontend", "intranet-api", "ClusterIP")]
	count(zones.deny) == 1 with input as docs with data.phasekit.services as services with data.phasekit.datastores as datastores
}

test_private_datastore_behind_ingress_is_denied if {
	count(zones.deny) == 1 with input as ingress("demo-db") with data.phasekit.services as services
		with data.phasekit.datastores as datastores
}

test_load_balancer_for_private_service_is_denied if {
	zones.deny == {`Service/demo-api: type LoadBalancer exposes "api" of the private zone`} with input as service("demo-api", "api", "LoadBalancer")
		with data.phasekit.services as services with data.phasekit.datastores as datastores
}

test_cluster_ip_for_private_service_passes if {
	count(zones.deny) == 0 with input as service("demo-api", "api", "ClusterIP") with data.phasekit.services as services
		with data.phasekit.datastores as datastores
}

test_unknown_backend_passes if {
	count(zones.deny) == 0 with input as ingress("somebody-else") with data.phasekit.services as services
		with data.phasekit.datastores as datastores
}

test_unlabelled_load_balancer_is_matched_by_name if {
	unlabelled := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "demo-db"}, "spec": {"type": "NodePort"}}
	zones.deny == {`Service/demo-db: type NodePort exposes "db" of the private zone`} with input as unlabelled
		with data.phasekit.services as services with data.phasekit.datastores as datastores
}
