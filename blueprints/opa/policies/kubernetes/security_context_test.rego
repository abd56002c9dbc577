package phasekit.kubernetes.security_context_test

import data.phasekit.kubernetes.security_context as sc
import rego.v1

restricted := {
	"allowPrivilegeEscalation": false,
	"readOnlyRootFilesystem": true,
	"capabilities": {"drop": ["ALL"]},
}

pod_security := {"runAsNonRoot": true, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}}

deployment(pod, container) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web"},
	"spec": {"template": {"spec": object.union(pod, {"containers": [object.union({"name": "web"}, container)]})}},
}

test_restricted_pod_passes if {
	count(sc.deny) == 0 with input as deployment({"securityContext": pod_security}, {"securityContext": restricted})
}

test_container_level_settings_pass if {
	container := object.union(restricted, {"runAsNonRoot": true, "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}})
	count(sc.deny) == 0 with input as deployment({}, {"securityContext": container})
}

test_privileged_is_denied if {
	privileged := object.union(restricted, {"privileged": true})
	sc.deny == {`Deployment/web: container "web" must not be privileged`} with input as deployment({"securityContext": pod_security}, {"securityContext": privileged})
}

test_no_security_context_is_denied if {
	messages := sc.deny with input as deployment({}, {})
	count(messages) == 5
	`Deployment/web: container "web" must set runAsNonRoot: true (container or pod)` in messages
}

test_container_overrides_pod_run_as_root if {
	root := object.union(restricted, {"runAsUser": 0})
	sc.deny == {`Deployment/web: container "web" must not run as UID 0`} with input as deployment({"securityContext": pod_security}, {"securityContext": root})
}

test_added_capability_is_denied if {
	caps := object.union(restricted, {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}})
	sc.deny == {`Deployment/web: container "web" must not add capability SYS_ADMIN`} with input as deployment({"securityContext": pod_security}, {"securityContext": caps})
}

test_host_namespaces_and_paths_are_denied if {
	pod := {"securityContext": pod_security, "hostNetwork": true, "volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]}
	sc.deny == {
		"Deployment/web: hostNetwork is not allowed",
		`Deployment/web: volume "docker" is a hostPath`,
	} with input as deployment(pod, {"securityContext": restricted})
}

test_host_port_is_denied if {
	container := {"securityContext": restricted, "ports": [{"containerPort": 80, "hostPort": 80}]}
	sc.deny == {`Deployment/web: container "web" must not use hostPort 80`} with input as deployment({"securityContext": pod_security}, container)
}

test_writable_root_filesystem_is_denied if {
	writable := object.union(restricted, {"readOnlyRootFilesystem": false})
	count(sc.deny) == 1 with input as deployment({"securityContext": pod_security}, {"securityContext": writable})
}

test_writable_root_filesystem_of_a_third_party_image_is_allowed if {
	writable := object.union(restricted, {"readOnlyRootFilesystem": false})
	doc := deployment({"securityContext": pod_security}, {"securityContext": writable})
	marked := object.union(doc, {"metadata": {"annotations": {"phasekit.dev/image": "third-party"}}})
	count(sc.deny) == 0 with input as marked
}
