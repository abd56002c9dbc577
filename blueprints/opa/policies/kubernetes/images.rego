# METADATA
# title: Pinned images
# description: >-
#   Every container image carries a tag other than "latest", or a digest: the same manifest then
#   always runs the same code, and a rollback goes back to what ran before.
# custom:
#   severity: high
package phasekit.kubernetes.images

import data.phasekit.lib.kubernetes as k8s
import rego.v1

deny contains msg if {
	some doc in k8s.workloads
	some container in k8s.all_containers(doc)
	problem := _problem(object.get(container, "image", ""))
	msg := sprintf("%s: container %q image %q %s", [k8s.display(doc), container.name, object.get(container, "image", ""), problem])
}

_problem(image) := "is empty" if image == ""

_problem(image) := "has no tag or digest" if {
	image != ""
	not _digest(image)
	not _tag(image)
}

_problem(image) := "uses the latest tag" if {
	not _digest(image)
	_tag(image) == "latest"
}

_problem(image) := "has an empty tag" if {
	not _digest(image)
	_tag(image) == ""
}

_digest(image) if regex.match(`@[A-Za-z0-9_+.-]+:[A-Fa-f0-9]{32,}$`, image)

# The tag follows the last ':' of the last path segment (a registry port is in an earlier segment).
_tag(image) := tag if {
	segments := split(image, "/")
	last := segments[count(segments) - 1]
	contains(last, ":")
	parts := split(last, ":")
	tag := parts[count(parts) - 1]
}
