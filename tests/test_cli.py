"""The exit-code boundary: an unexpected error is exit 3, one line, and a log a bug report can carry."""

from __future__ import annotations

import platform
import re
from importlib import metadata
from pathlib import Path

import pytest

import phasekit
from phasekit import cli


def test_an_unexpected_error_writes_a_crash_log_naming_the_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli.cli, "main", boom)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert cli.main(["apply", "--all"]) == 3
    err = capsys.readouterr().err
    assert "unexpected error: RuntimeError: a bug" in err
    found = re.search(r"details in (\S+\.log)", err)
    assert found, err
    log = Path(found[1]).read_text(encoding="utf-8")
    assert log.startswith(f"phasekit {phasekit.__version__}, copier {metadata.version('copier')}, ")
    assert f"Python {platform.python_version()}" in log.splitlines()[0]
    assert "command: phasekit apply --all" in log
    assert "RuntimeError: a bug" in log and "Traceback" in log


def test_the_command_exits_with_mains_code_and_leaves_its_objects_to_the_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    """`phasekit` (cli.run) exits with main's code, its objects frozen out of the interpreter's last garbage
    collections (which only free what the exit frees anyway)."""
    import gc

    monkeypatch.setattr(cli, "main", lambda: 3)
    try:
        with pytest.raises(SystemExit) as exited:
            cli.run()
        assert exited.value.code == 3
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
