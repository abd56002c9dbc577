package phasekit.kubernetes.images_test

import data.phasekit.kubernetes.images
import rego.v1

pod(image) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": image}]}}

test_tagged_image_passes if {
	count(images.deny) == 0 with input as pod("ghcr.io/example/web:1.4.2")
}

test_registry_port_is_not_a_tag if {
	images.deny == {`Pod/p: container "c" image "registry.local:5000/web" has no tag or digest`} with input as pod("registry.local:5000/web")
}

test_registry_port_with_tag_passes if {
	count(images.deny) == 0 with input as pod("registry.local:5000/web:2.0")
}

test_latest_is_denied if {
	images.deny == {`Pod/p: container "c" image "nginx:latest" uses the latest tag`} with input as pod("nginx:latest")
}

test_untagged_is_denied if {
	count(images.deny) == 1 with input as pod("nginx")
}

test_digest_passes if {
	count(images.deny) == 0 with input as pod("nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
}

test_latest_pinned_by_digest_passes if {
	count(images.deny) == 0 with input as pod("nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
}

test_missing_image_is_denied if {
	images.deny == {`Pod/p: container "c" image "" is empty`} with input as {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
}
