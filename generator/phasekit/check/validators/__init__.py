"""The registry of validator adapters. Adding a validator = adding one module here and one line below."""

from __future__ import annotations

from .._core import Validator
from .actionlint import Actionlint
from .adr import Adr
from .checkov import Checkov
from .compose import Compose
from .fidelity import Fidelity
from .grafana import GrafanaDashboard, GrafanaProvisioning
from .hadolint import Hadolint
from .helm import HelmLint, HelmTemplate
from .jsonschema import DependabotSchema, WorkflowSchema
from .kubernetes import KubernetesValidate
from .kustomize import Kustomize
from .parse import Parse
from .php_lint import PhpLint
from .prometheus_components import Amtool, Blackbox
from .promtool import PromtoolConfig, PromtoolRules, PromtoolTest
from .python_compile import PythonCompile
from .rego import RegoCompile, RegoTest
from .shellcheck import Shellcheck
from .terraform import Hcl2Parse, TerraformFmt, TerraformTfvars, TerraformValidate
from .yamllint import Yamllint
from .zizmor import Zizmor

ALL: tuple[type[Validator], ...] = (
    Parse, Yamllint,
    KubernetesValidate, HelmLint, HelmTemplate, Kustomize,
    TerraformFmt, TerraformValidate, TerraformTfvars, Hcl2Parse,
    PromtoolConfig, PromtoolRules, PromtoolTest, Amtool, Blackbox, GrafanaDashboard, GrafanaProvisioning,
    Actionlint, Zizmor, WorkflowSchema, DependabotSchema,
    RegoCompile, RegoTest, Shellcheck, PythonCompile, PhpLint, Hadolint, Compose, Adr,
    Fidelity,
    Checkov,
)


def by_name() -> dict[str, type[Validator]]:
    return {v.name: v for v in ALL}
