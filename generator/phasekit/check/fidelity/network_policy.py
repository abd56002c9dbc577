"""Kubernetes NetworkPolicy semantics, small and self-contained: may pod A open a connection to pod B on port P?

What Kubernetes does (networking.k8s.io/v1), and so what this evaluates:
- a policy selects the pods of its own namespace that match spec.podSelector ({} = all of them);
- policyTypes, when absent, is [Ingress] plus Egress when the policy has egress rules (the API server's default);
- a pod selected by no policy of a direction is open in that direction; once selected, only traffic that some
  selecting policy's rule allows passes (rules add up, they never subtract);
- a rule with no peers allows every peer, a rule with no ports allows every port;
- a peer is podSelector (the policy's namespace), namespaceSelector (every pod there), or both (those pods in
  those namespaces); ipBlock is about addresses outside the pod network, so it matches no pod here;
- a port entry has a protocol (TCP by default), a number or a containerPort name (resolved against the
  destination pod), and optionally endPort for a range; no port number = every port of that protocol.
Both the egress of the source and the ingress of the destination must allow the connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: Mapping[str, str]
    # containerPorts as (name, number, protocol); named ports in policies resolve against these
    ports: tuple[tuple[str, int, str], ...] = ()


@dataclass(frozen=True)
class Verdict:
    egress: bool
    ingress: bool

    @property
    def allowed(self) -> bool:
        return self.egress and self.ingress


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist) all hold."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != str(value):
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def policy_types(spec: Mapping[str, Any]) -> set[str]:
    declared = spec.get("policyTypes")
    if declared:
        return set(declared)
    return {"Ingress"} | ({"Egress"} if spec.get("egress") else set())


@dataclass
class Policies:
    """The NetworkPolicies of a cluster (each with metadata.namespace) and the labels of its namespaces."""

    policies: list[Mapping[str, Any]]
    namespace_labels: dict[str, Mapping[str, str]] = field(default_factory=dict)
    _selected: dict[Any, list[Mapping[str, Any]]] = field(default_factory=dict, repr=False)

    def _ns_labels(self, namespace: str) -> Mapping[str, str]:
        # the API server puts kubernetes.io/metadata.name on every namespace
        return {**self.namespace_labels.get(namespace, {}), "kubernetes.io/metadata.name": namespace}

    def _selecting(self, pod: Pod, direction: str) -> list[Mapping[str, Any]]:
        key = (pod.namespace, tuple(sorted(pod.labels.items())), direction)
        if key not in self._selected:  # one scan of the policies per pod and direction, not per connection
            self._selected[key] = self._scan(pod, direction)
        return self._selected[key]

    @cached_property
    def _by_label(self) -> dict[tuple[str, str] | None, list[Mapping[str, Any]]]:
        """Each policy under one label its podSelector requires (None: it requires none), so a pod is
        matched against the policies that can select it, not all of them (charts of 1,000 services)."""
        index: dict[tuple[str, str] | None, list[Mapping[str, Any]]] = {}
        for policy in self.policies:
            required = ((policy.get("spec") or {}).get("podSelector") or {}).get("matchLabels") or {}
            key = next(((k, str(v)) for k, v in sorted(required.items())), None)
            index.setdefault(key, []).append(policy)
        return index

    def _scan(self, pod: Pod, direction: str) -> list[Mapping[str, Any]]:
        candidates = [p for key in [None, *pod.labels.items()] for p in self._by_label.get(key, [])]
        out = []
        for policy in candidates:
            spec = policy.get("spec") or {}
            if ((policy.get("metadata") or {}).get("namespace") == pod.namespace
                    and direction in policy_types(spec) and selector_matches(spec.get("podSelector"), pod.labels)):
                out.append(spec)
        return out

    def _peer_matches(self, peer: Mapping[str, Any], policy_ns: str, other: Pod) -> bool:
        if "ipBlock" in peer:
            return False
        if "namespaceSelector" in peer:
            if not selector_matches(peer["namespaceSelector"], self._ns_labels(other.namespace)):
                return False
        elif other.namespace != policy_ns:
            return False
        return "podSelector" not in peer or selector_matches(peer["podSelector"], other.labels)

    def _direction_allows(self, pod: Pod, direction: str, other: Pod, dst: Pod, port: int, protocol: str) -> bool:
        selecting = self._selecting(pod, direction)
        if not selecting:
            return True
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        for spec in selecting:
            for rule in spec.get(key) or []:
                peers = rule.get(peers_key) or []
                if peers and not any(self._peer_matches(p, pod.namespace, other) for p in peers):
                    continue
                ports = rule.get("ports") or []
                if not ports or any(port_matches(p, dst, port, protocol) for p in ports):
                    return True
        return False

    def verdict(self, src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> Verdict:
        protocol = protocol.upper()
        return Verdict(
            egress=self._direction_allows(src, "Egress", dst, dst, port, protocol),
            ingress=self._direction_allows(dst, "Ingress", src, dst, port, protocol),
        )


def port_matches(entry: Mapping[str, Any], dst: Pod, port: int, protocol: str) -> bool:
    if str(entry.get("protocol") or "TCP").upper() != protocol:
        return False
    wanted = entry.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str) and not wanted.isdigit():
        # a named port is the destination container's port of that name (and protocol)
        return any(n == wanted and num == port and proto == protocol for n, num, proto in dst.ports)
    end = entry.get("endPort")
    return int(wanted) == port if end is None else int(wanted) <= port <= int(end)


def namespace_labels(docs: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, str]]:
    """Labels of the Namespace objects among docs."""
    return {d["metadata"]["name"]: (d["metadata"].get("labels") or {}) for d in docs
            if d.get("kind") == "Namespace" and (d.get("metadata") or {}).get("name")}
