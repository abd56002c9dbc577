package phasekit.kubernetes.network_policies_test

import data.phasekit.kubernetes.network_policies as np
import rego.v1

labels := {"app.kubernetes.io/name": "api", "app.kubernetes.io/instance": "demo", "app.kubernetes.io/part-of": "demo"}

deployment := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "demo-api"},
	"spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "api"}]}}},
}

deny_all := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "default-deny-all", "namespace": "demo"},
	"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}

allow(name) := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": sprintf("service-%s", [name]), "namespace": "demo"},
	"spec": {
		"podSelector": {"matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "demo"}},
		"policyTypes": ["Ingress", "Egress"],
	},
}

test_selected_deployment_passes_with_policies_as_data if {
	count(np.deny) == 0 with input as deployment with data.phasekit.network_policies as [deny_all, allow("api")]
}

test_selected_deployment_passes_with_policies_in_input if {
	count(np.deny) == 0 with input as [deployment, deny_all, allow("api")]
}

test_policies_in_combined_input if {
	combined := [{"path": "chart.yaml", "contents": [deployment]}, {"path": "policies.yaml", "contents": [deny_all, allow("api")]}]
	count(np.deny) == 0 with input as combined
}

test_unselected_deployment_is_denied if {
	messages := np.deny with input as deployment with data.phasekit.network_policies as [deny_all, allow("web")]
	count(messages) == 1
	some msg in messages
	startswith(msg, "Deployment/demo-api: no NetworkPolicy selects its pods")
}

test_default_deny_alone_does_not_select if {
	count(np.deny) == 1 with input as deployment with data.phasekit.network_policies as [deny_all]
}

test_missing_default_deny_is_denied if {
	np.deny == {"Deployment/demo-api: no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules) among the policies"} with input as deployment
		with data.phasekit.network_policies as [allow("api")]
}

test_no_policies_at_all_is_denied_twice if {
	count(np.deny) == 2 with input as deployment with data.phasekit.network_policies as []
}

test_other_namespace_does_not_select if {
	in_prod := object.union(deployment, {"metadata": {"name": "demo-api", "namespace": "prod"}})
	count(np.deny) == 1 with input as in_prod with data.phasekit.network_policies as [deny_all, allow("api")]
}

test_allow_all_is_not_a_default_deny if {
	allow_all := object.union(deny_all, {"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}]}})
	count(np.deny) == 1 with input as deployment with data.phasekit.network_policies as [allow_all, allow("api")]
}

seed_template := {"metadata": {"labels": object.union(labels, {"app.kubernetes.io/name": "seed"})}, "spec": {"containers": [{"name": "seed"}]}}

seed_job := {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "demo-seed"}, "spec": {"template": seed_template}}

seed_cronjob := {
	"apiVersion": "batch/v1",
	"kind": "CronJob",
	"metadata": {"name": "demo-seed"},
	"spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": seed_template}}},
}

test_unselected_job_is_denied if {
	messages := np.deny with input as seed_job with data.phasekit.network_policies as [deny_all, allow("api")]
	count(messages) == 1
	some msg in messages
	startswith(msg, "Job/demo-seed: no NetworkPolicy selects its pods")
}

test_unselected_cronjob_is_denied if {
	messages := np.deny with input as seed_cronjob with data.phasekit.network_policies as [deny_all, allow("api")]
	count(messages) == 1
	some msg in messages
	startswith(msg, "CronJob/demo-seed: no NetworkPolicy selects its pods")
}

test_selected_job_and_cronjob_pass if {
	count(np.deny) == 0 with input as [seed_job, seed_cronjob, deny_all, allow("seed")]
}

test_bare_pod_is_not_policed if {
	pod := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "demo-test"}, "spec": {"containers": [{"name": "t"}]}}
	count(np.deny) == 0 with input as pod with data.phasekit.network_policies as []
}
