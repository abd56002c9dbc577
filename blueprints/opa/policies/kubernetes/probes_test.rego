package phasekit.kubernetes.probes_test

import data.phasekit.kubernetes.probes
import rego.v1

probe := {"httpGet": {"path": "/health/live", "port": 8080}}

deployment(container) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web"},
	"spec": {"template": {"spec": {"containers": [container]}}},
}

test_both_probes_pass if {
	count(probes.deny) == 0 with input as deployment({"name": "web", "livenessProbe": probe, "readinessProbe": probe})
}

test_missing_liveness_is_denied if {
	probes.deny == {`Deployment/web: container "web" has no livenessProbe`} with input as deployment({"name": "web", "readinessProbe": probe})
}

test_missing_both_is_denied_twice if {
	count(probes.deny) == 2 with input as deployment({"name": "web"})
}

test_statefulset_is_checked if {
	sts := object.union(deployment({"name": "db"}), {"kind": "StatefulSet"})
	count(probes.deny) == 2 with input as sts
}

test_jobs_are_not_checked if {
	job := object.union(deployment({"name": "once"}), {"kind": "Job"})
	count(probes.deny) == 0 with input as job
}

test_exec_and_tcp_probes_count if {
	exec := {"exec": {"command": ["/bin/true"]}}
	tcp := {"tcpSocket": {"port": 9000}}
	count(probes.deny) == 0 with input as deployment({"name": "w", "livenessProbe": exec, "readinessProbe": tcp})
}

test_probe_the_architecture_declares_none_is_exempt if {
	labelled := object.union(deployment({"name": "backup"}), {"spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/name": "backup"}}}}})
	services := {"backup": {"probes": {"liveness": "none", "readiness": "none", "startup": "none"}}}
	count(probes.deny) == 0 with input as labelled with data.phasekit.services as services
	other := {"backup": {"probes": {"liveness": "none", "readiness": "exec", "startup": "none"}}}
	probes.deny == {`Deployment/web: container "backup" has no readinessProbe`} with input as labelled with data.phasekit.services as other
}
