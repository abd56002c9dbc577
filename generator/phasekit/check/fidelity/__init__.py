"""The fidelity check: does the generated deployment run what the compose file runs? (docs/CONTRACT: issue 12)

It reads the compose file(s) through `docker compose config` and the rendered output (the chart through
`helm template`, the NetworkPolicies, terraform.tfvars), and compares them with its own mapping, never the
generator's capture/model code. Modules: compose_side (what compose runs), chart_side (what the chart runs),
chart_rules (rules 1-7, 9), network_policy + edges (rule 8), terraform_side (rules 2-5 on tfvars),
inputs (where those files are). The adapter is validators/fidelity.py.
"""
