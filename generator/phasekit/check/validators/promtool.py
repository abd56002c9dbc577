"""Prometheus: `promtool check config`, `promtool check rules`, `promtool test rules`, found by their keys."""

from __future__ import annotations

from typing import Any

from .._core import Artifact, Context, Result
from ._keyed import KeyedYaml


def is_config(doc: dict[Any, Any]) -> bool:
    return "tests" not in doc and "apiVersion" not in doc and (
        "scrape_configs" in doc or ("global" in doc and ("rule_files" in doc or "alerting" in doc)))


def is_rules(doc: dict[Any, Any]) -> bool:
    groups = doc.get("groups")
    return ("apiVersion" not in doc and isinstance(groups, list) and bool(groups)
            and all(isinstance(g, dict) and "rules" in g for g in groups))


def is_rule_test(doc: dict[Any, Any]) -> bool:
    return isinstance(doc.get("tests"), list) and "rule_files" in doc


class _Promtool(KeyedYaml):
    tools = ("promtool",)
    argv: tuple[str, ...] = ()

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        # Relative paths inside (rule_files) resolve against the file's folder.
        proc = ctx.run(["promtool", *self.argv, artifact.path.name], cwd=artifact.path.parent)
        return self.from_proc(artifact, proc)


class PromtoolConfig(_Promtool):
    name = "promtool-config"
    argv = ("check", "config")
    description = "promtool check config (also checks the rule files it names)"
    wanted = staticmethod(is_config)


class PromtoolRules(_Promtool):
    name = "promtool-rules"
    argv = ("check", "rules")
    description = "promtool check rules"
    wanted = staticmethod(is_rules)


class PromtoolTest(_Promtool):
    name = "promtool-test"
    argv = ("test", "rules")
    description = "promtool test rules (rule unit tests)"
    wanted = staticmethod(is_rule_test)
    slow = 2  # evaluates every rule at every step: the longest single call at 200 services
