# METADATA
# title: Restricted pod security
# description: >-
#   Every workload meets the Kubernetes Pod Security Standards "restricted" profile (non-root,
#   no privilege escalation, all capabilities dropped, seccomp RuntimeDefault, no host namespaces,
#   ports or paths) plus phasekit's baseline of a read-only root filesystem (not for a workload marked
#   phasekit.dev/image: third-party, ADR 0005). A container setting
#   wins over the pod setting, as in Kubernetes.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   severity: high
package phasekit.kubernetes.security_context

import data.phasekit.lib.kubernetes as k8s
import rego.v1

allowed_capabilities := {"NET_BIND_SERVICE"}

allowed_seccomp := {"RuntimeDefault", "Localhost"}

deny contains msg if {
	some doc in k8s.workloads
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	k8s.pod_spec(doc)[field] == true
	msg := sprintf("%s: %s is not allowed", [k8s.display(doc), field])
}

deny contains msg if {
	some doc in k8s.workloads
	some volume in object.get(k8s.pod_spec(doc), "volumes", [])
	volume.hostPath
	msg := sprintf("%s: volume %q is a hostPath", [k8s.display(doc), volume.name])
}

# Every (workload, container) pair, with the pod spec a container inherits from.
_checked contains {"doc": doc, "spec": k8s.pod_spec(doc), "container": container} if {
	some doc in k8s.workloads
	some container in k8s.all_containers(doc)
}

_message(item, problem) := sprintf("%s: container %q %s", [k8s.display(item.doc), item.container.name, problem])

# A container's setting, or else the pod's (null when neither sets it).
_effective(item, key) := object.get(item.container, ["securityContext", key], object.get(item.spec, ["securityContext", key], null))

deny contains _message(item, "must not be privileged") if {
	some item in _checked
	object.get(item.container, ["securityContext", "privileged"], false) == true
}

deny contains _message(item, "must set securityContext.allowPrivilegeEscalation: false") if {
	some item in _checked
	object.get(item.container, ["securityContext", "allowPrivilegeEscalation"], true) != false
}

deny contains _message(item, "must set runAsNonRoot: true (container or pod)") if {
	some item in _checked
	_effective(item, "runAsNonRoot") != true
}

deny contains _message(item, "must not run as UID 0") if {
	some item in _checked
	_effective(item, "runAsUser") == 0
}

deny contains _message(item, "must drop ALL capabilities") if {
	some item in _checked
	not "ALL" in object.get(item.container, ["securityContext", "capabilities", "drop"], [])
}

deny contains _message(item, sprintf("must not add capability %s", [cap])) if {
	some item in _checked
	some cap in object.get(item.container, ["securityContext", "capabilities", "add"], [])
	not cap in allowed_capabilities
}

deny contains _message(item, "must use seccompProfile RuntimeDefault or Localhost (container or pod)") if {
	some item in _checked
	profile := _effective(item, "seccompProfile")
	not object.get({"p": profile}, ["p", "type"], "") in allowed_seccomp
}

deny contains _message(item, "must set readOnlyRootFilesystem: true (mount an emptyDir where it writes)") if {
	some item in _checked
	not _third_party(item.doc)
	object.get(item.container, ["securityContext", "readOnlyRootFilesystem"], false) != true
}

# ADR 0005: an image the team does not build runs as its authors built it, writing where they put its files;
# the chart marks such workloads. Every rule of the restricted profile still applies to them.
_third_party(doc) if object.get(doc, ["metadata", "annotations", "phasekit.dev/image"], "") == "third-party"

deny contains _message(item, sprintf("must not use hostPort %v", [port.hostPort])) if {
	some item in _checked
	some port in object.get(item.container, "ports", [])
	object.get(port, "hostPort", 0) != 0
}
