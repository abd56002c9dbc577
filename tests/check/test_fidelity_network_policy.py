"""The NetworkPolicy evaluator of the fidelity check, case by case against what Kubernetes does."""

from __future__ import annotations

from phasekit.check.fidelity.network_policy import Pod, Policies, policy_types, selector_matches

NS = "demo"
WEB = Pod(NS, {"app": "web"}, (("http", 8080, "TCP"),))
API = Pod(NS, {"app": "api", "tier": "back"}, (("http", 9000, "TCP"), ("metrics", 9100, "TCP"), ("dns", 53, "UDP")))
OTHER_NS_WEB = Pod("other", {"app": "web"})


def netpol(spec: dict, namespace: str = NS) -> dict:
    return {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": namespace}, "spec": spec}


DENY_ALL = netpol({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
WEB_TO_API = netpol({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
                     "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": 9000}]}]})
API_FROM_WEB = netpol({"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
                       "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 9000}]}]})


def verdict(policies: list[dict], src: Pod = WEB, dst: Pod = API, port: int = 9000, protocol: str = "TCP",
            namespaces: dict | None = None):
    return Policies(policies, namespaces or {}).verdict(src, dst, port, protocol)


def test_no_policy_leaves_every_pod_open() -> None:
    assert verdict([]).allowed


def test_default_deny_blocks_both_directions() -> None:
    v = verdict([DENY_ALL])
    assert (v.egress, v.ingress) == (False, False)


def test_matching_policies_on_both_sides_allow_and_add_up_over_a_deny() -> None:
    assert verdict([DENY_ALL, WEB_TO_API, API_FROM_WEB]).allowed
    assert not verdict([DENY_ALL, WEB_TO_API, API_FROM_WEB], port=9100).allowed  # only the listed port


def test_one_side_allowing_is_not_enough() -> None:
    v = verdict([DENY_ALL, API_FROM_WEB])
    assert (v.egress, v.ingress) == (False, True)
    v = verdict([DENY_ALL, WEB_TO_API])
    assert (v.egress, v.ingress) == (True, False)


def test_policy_types_default_from_the_rules() -> None:
    assert policy_types({"podSelector": {}}) == {"Ingress"}
    assert policy_types({"podSelector": {}, "egress": [{}]}) == {"Ingress", "Egress"}
    assert policy_types({"podSelector": {}, "egress": []}) == {"Ingress"}  # an empty list is no egress rule
    assert policy_types({"policyTypes": ["Egress"], "ingress": [{}]}) == {"Egress"}
    # no policyTypes, no rules: the pod's ingress is isolated, its egress stays open
    v = verdict([netpol({"podSelector": {}})])
    assert (v.egress, v.ingress) == (True, False)


def test_egress_only_isolation_blocks_the_sender_only() -> None:
    egress_deny = netpol({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"]})
    v = verdict([egress_deny])
    assert (v.egress, v.ingress) == (False, True)
    assert verdict([egress_deny], src=API, dst=WEB, port=8080).allowed  # API is not selected


def test_protocol_defaults_to_tcp_and_must_match() -> None:
    udp = netpol({"podSelector": {}, "policyTypes": ["Ingress"],
                  "ingress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]})
    assert verdict([udp], port=53, protocol="UDP").ingress
    assert not verdict([udp], port=53, protocol="TCP").ingress
    tcp = netpol({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"ports": [{"port": 9000}]}]})
    assert not verdict([tcp], protocol="UDP").ingress


def test_named_ports_resolve_against_the_destination_pod() -> None:
    named = netpol({"podSelector": {"matchLabels": {"app": "api"}}, "ingress": [{"ports": [{"port": "http"}]}]})
    assert verdict([named], port=9000).ingress  # api's "http" is 9000
    assert not verdict([named], port=9100).ingress
    # the same name on another pod is another number: web's "http" is 8080
    egress = netpol({"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Egress"],
                     "egress": [{"ports": [{"port": "http"}]}]})
    assert verdict([egress], src=API, dst=WEB, port=8080).egress
    assert not verdict([egress], src=API, dst=WEB, port=9000).egress
    # a name with the wrong protocol does not match
    dns = netpol({"podSelector": {}, "ingress": [{"ports": [{"port": "dns", "protocol": "TCP"}]}]})
    assert not verdict([dns], port=53, protocol="TCP").ingress


def test_end_port_is_a_range_and_a_protocol_without_port_is_every_port() -> None:
    ranged = netpol({"podSelector": {}, "ingress": [{"ports": [{"port": 9000, "endPort": 9100}]}]})
    assert verdict([ranged], port=9050).ingress and verdict([ranged], port=9100).ingress
    assert not verdict([ranged], port=9101).ingress
    any_tcp = netpol({"podSelector": {}, "ingress": [{"ports": [{"protocol": "TCP"}]}]})
    assert verdict([any_tcp], port=12345).ingress and not verdict([any_tcp], port=53, protocol="UDP").ingress


def test_rules_without_peers_or_ports_allow_all_and_an_empty_rule_list_allows_nothing() -> None:
    assert verdict([netpol({"podSelector": {}, "ingress": [{}]})]).ingress
    assert not verdict([netpol({"podSelector": {}, "ingress": []})]).ingress


def test_pod_selector_peers_stay_in_the_policy_namespace() -> None:
    from_web = netpol({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]})
    assert verdict([from_web]).ingress
    assert not verdict([from_web], src=OTHER_NS_WEB).ingress


def test_namespace_selector_alone_and_with_a_pod_selector() -> None:
    namespaces = {"other": {"team": "x"}}
    ns_only = netpol({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "x"}}}]}]})
    assert verdict([ns_only], src=OTHER_NS_WEB, namespaces=namespaces).ingress
    assert not verdict([ns_only], src=WEB, namespaces=namespaces).ingress
    by_name = netpol({"podSelector": {}, "ingress": [{"from": [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}},
        "podSelector": {"matchLabels": {"app": "db"}}}]}]})
    assert not verdict([by_name], src=OTHER_NS_WEB).ingress  # right namespace, wrong pod
    assert verdict([by_name], src=Pod("other", {"app": "db"})).ingress


def test_ip_blocks_match_no_pod_and_other_namespaces_policies_do_not_apply() -> None:
    ip = netpol({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})
    assert not verdict([ip]).ingress
    assert verdict([netpol({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, namespace="other")]).allowed


def test_match_expressions() -> None:
    labels = {"app": "api", "tier": "back"}
    assert selector_matches({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["back", "x"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["back"]}]}, labels)
    assert selector_matches({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, labels)
    assert not selector_matches({"matchLabels": {"app": "api"},
                                 "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}, labels)
