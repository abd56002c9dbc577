package phasekit.lib.kubernetes_test

import data.phasekit.lib.kubernetes as k8s
import rego.v1

deployment := {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}

service := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}

test_one_manifest if {
	k8s.documents == {deployment} with input as deployment
}

test_array_of_manifests if {
	k8s.documents == {deployment, service} with input as [deployment, service]
}

test_kind_list_is_expanded if {
	k8s.documents == {deployment, service} with input as {"apiVersion": "v1", "kind": "List", "items": [deployment, service]}
}

test_conftest_combined_form if {
	combined := [
		{"path": "a.yaml", "contents": deployment},
		{"path": "b.yaml", "contents": [service, null]},
	]
	k8s.documents == {deployment, service} with input as combined
}

test_non_manifests_are_ignored if {
	count(k8s.documents) == 0 with input as {"terraform": []}
}

test_cronjob_pod_spec if {
	cron := {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}}}
	k8s.containers(cron) == [{"name": "c"}]
}

test_selector_match_labels if {
	k8s.selects({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"})
	not k8s.selects({"matchLabels": {"a": "1"}}, {"a": "2"})
}

test_selector_match_expressions if {
	k8s.selects({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"})
	k8s.selects({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {})
	k8s.selects({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""})
	not k8s.selects({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": "x"})
}
