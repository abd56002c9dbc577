package phasekit.kubernetes.environments_test

import data.phasekit.kubernetes.environments as envs
import rego.v1

env_rules := {"dev": {"min_replicas": 1}, "staging": {"min_replicas": 1}, "prod": {"min_replicas": 2}}

deployment(replicas) := {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"}, "spec": {"replicas": replicas}}

hpa(min_replicas) := {
	"apiVersion": "autoscaling/v2",
	"kind": "HorizontalPodAutoscaler",
	"metadata": {"name": "api"},
	"spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}, "minReplicas": min_replicas, "maxReplicas": 5},
}

test_prod_with_two_replicas_passes if {
	count(envs.deny) == 0 with input as deployment(2) with data.phasekit.environment as "prod"
		with data.phasekit.environment_rules as env_rules
}

test_prod_with_one_replica_is_denied if {
	envs.deny == {"Deployment/api: 1 replica(s) in prod, which needs at least 2"} with input as deployment(1)
		with data.phasekit.environment as "prod" with data.phasekit.environment_rules as env_rules
}

test_dev_with_one_replica_passes if {
	count(envs.deny) == 0 with input as deployment(1) with data.phasekit.environment as "dev"
		with data.phasekit.environment_rules as env_rules
}

test_no_environment_checks_nothing if {
	count(envs.deny) == 0 with input as deployment(0) with data.phasekit.environment_rules as env_rules
}

test_hpa_min_replicas_counts_when_replicas_are_left_to_it if {
	without := {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"}, "spec": {}}
	count(envs.deny) == 0 with input as [without, hpa(3)] with data.phasekit.environment as "prod"
		with data.phasekit.environment_rules as env_rules
	count(envs.deny) == 1 with input as without with data.phasekit.environment as "prod"
		with data.phasekit.environment_rules as env_rules
}

test_hpa_below_minimum_is_denied if {
	envs.deny == {"HorizontalPodAutoscaler/api: minReplicas 1 in prod, which needs at least 2"} with input as hpa(1)
		with data.phasekit.environment as "prod" with data.phasekit.environment_rules as env_rules
}

test_unknown_environment_is_denied if {
	envs.deny == {`environment "qa" is not one of the architecture's environments (dev, prod, staging)`} with input as deployment(2)
		with data.phasekit.environment as "qa" with data.phasekit.environment_rules as env_rules
}

test_scheduled_job_kept_single_in_prod_passes if {
	labels := {"app.kubernetes.io/name": "backup"}
	single := {"kind": "Deployment", "metadata": {"name": "backup"}, "spec": {"replicas": 1, "template": {"metadata": {"labels": labels}}}}
	count(envs.deny) == 0 with input as single with data.phasekit.environment as "prod"
		with data.phasekit.environment_rules as env_rules with data.phasekit.services as {"backup": {"kind": "cron"}}
	count(envs.deny) == 1 with input as single with data.phasekit.environment as "prod"
		with data.phasekit.environment_rules as env_rules with data.phasekit.services as {"backup": {"kind": "http"}}
}

test_single_writer_and_datastore_kept_single_in_prod_pass if {
	labels := {"app.kubernetes.io/name": "files"}
	single := {"kind": "StatefulSet", "metadata": {"name": "files"}, "spec": {"replicas": 1, "template": {"metadata": {"labels": labels}}}}
	count(envs.deny) == 0 with input as single with data.phasekit.environment as "prod"
		with data.phasekit.environment_rules as env_rules with data.phasekit.services as {"files": {"kind": "tcp", "scalable": false}}
	count(envs.deny) == 0 with input as single with data.phasekit.environment as "prod"
		with data.phasekit.environment_rules as env_rules with data.phasekit.datastores as {"files": {"engine": "postgres"}}
	count(envs.deny) == 1 with input as single with data.phasekit.environment as "prod"
		with data.phasekit.environment_rules as env_rules with data.phasekit.services as {"files": {"kind": "tcp", "scalable": true}}
}
