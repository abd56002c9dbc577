"""A normal (non-editable) install carries the template: copier.yml, every blueprint, the schemas."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from helpers import REPO
from phasekit import blueprints as catalogue


def test_wheel_ships_template_and_entry_point(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("phasekit-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "phasekit/_template/copier.yml" in names
    assert "phasekit/_template/schemas/architecture.schema.json" in names
    assert "phasekit/_template/blueprints/_refused/{% include architecture_problem %}" in names
    for blueprint in sorted(bp.name for bp in catalogue.ALL):
        answers = f"phasekit/_template/blueprints/{blueprint}/{{{{_copier_conf.answers_file}}}}.jinja"
        assert answers in names, f"blueprint {blueprint} lacks its answers file in the wheel"
    shipped = {n for n in names if n.startswith("phasekit/_template/blueprints/")}
    on_disk = {f"phasekit/_template/{p.relative_to(REPO).as_posix()}" for p in (REPO / "blueprints").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shipped == on_disk
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "phasekit = phasekit.cli:run" in zipfile.ZipFile(wheel).read(entry).decode()
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    # `phasekit install-validators` works from an installed phasekit, not only from a checkout
    assert "phasekit/_tools/install-validators" in names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Dist: packaging" in metadata and "License-Expression: MIT" in metadata
    assert "Classifier: Programming Language :: Python :: 3.11" in metadata and "Project-URL: Homepage" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
