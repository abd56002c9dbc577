"""parallel.py: renders spread over forked workers give what one render after the other gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from helpers import REPO, tree_of
from phasekit import parallel
from phasekit.errors import PhasekitError

forking = pytest.mark.skipif(not parallel._forking_is_safe(), reason="workers are forked only on Linux")


@forking
def test_results_come_back_in_input_order_from_other_processes(monkeypatch):
    monkeypatch.setenv("PHASEKIT_JOBS", "2")
    parent = os.getpid()
    seen: list[int] = []
    results = parallel.map_in_processes(lambda n: (n * n, os.getpid()), list(range(12)), done=seen.append)
    assert [square for square, _ in results] == [n * n for n in range(12)]
    assert {pid for _, pid in results} - {parent}, "nothing ran in a worker"
    assert parent not in {pid for _, pid in results}
    assert seen == list(range(12))  # each item reported done once, in this process, in input order


def _fail_on_odd(n: int) -> int:
    if n % 2:
        raise PhasekitError(f"blueprint {n}: broken")
    return n


@forking
def test_the_first_failure_in_input_order_is_raised_as_one_after_the_other_would(monkeypatch):
    monkeypatch.setenv("PHASEKIT_JOBS", "3")
    with pytest.raises(PhasekitError, match=r"^blueprint 1: broken$"):
        parallel.map_in_processes(_fail_on_odd, [4, 2, 1, 3, 5])
    monkeypatch.setenv("PHASEKIT_JOBS", "1")
    with pytest.raises(PhasekitError, match=r"^blueprint 1: broken$"):
        parallel.map_in_processes(_fail_on_odd, [4, 2, 1, 3, 5])


@forking
def test_workers_leave_ctrl_c_to_the_parent_and_a_nested_map_runs_in_place(monkeypatch):
    monkeypatch.setenv("PHASEKIT_JOBS", "2")
    handlers = parallel.map_in_processes(lambda _: signal.getsignal(signal.SIGINT), [0, 1])
    assert handlers == [signal.SIG_IGN, signal.SIG_IGN]
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN  # the parent still stops on Ctrl-C
    inner = parallel.map_in_processes(lambda _: parallel.map_in_processes(lambda _: os.getpid(), [0, 1]), [0, 1])
    assert all(len(set(pids)) == 1 for pids in inner)  # no workers of workers


@forking
def test_workers_share_the_parents_objects_without_collecting_them(monkeypatch):
    """What the parent loaded before the fork is frozen out of garbage collection in the workers (a
    collection would copy every page it scans), and is collected as usual in the parent afterwards."""
    import gc

    monkeypatch.setenv("PHASEKIT_JOBS", "2")
    assert gc.get_freeze_count() == 0
    frozen = parallel.map_in_processes(lambda _: gc.get_freeze_count(), [0, 1])
    assert all(count > 1000 for count in frozen)
    assert gc.get_freeze_count() == 0


def test_one_job_runs_everything_in_this_process(monkeypatch):
    monkeypatch.setenv("PHASEKIT_JOBS", "1")
    assert parallel.map_in_processes(lambda _: os.getpid(), [0, 1, 2]) == [os.getpid()] * 3


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_job_count_is_one_line(monkeypatch, value):
    monkeypatch.setenv("PHASEKIT_JOBS", value)
    with pytest.raises(PhasekitError, match=f"PHASEKIT_JOBS={value}: expected a whole number"):
        parallel.jobs()


@forking
@pytest.mark.slow
def test_apply_and_update_write_the_same_bytes_in_parallel_as_one_after_the_other(tmp_path):
    example = REPO / "examples" / "filetransfer" / "architecture.yaml"
    trees = {}
    for jobs in ("1", "3"):
        repo = tmp_path / f"jobs-{jobs}"
        repo.mkdir()
        env = {**os.environ, "PHASEKIT_JOBS": jobs}
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)

        def phasekit(*args: str, repo=repo, env=env) -> None:
            result = subprocess.run([sys.executable, "-m", "phasekit.cli", *args], cwd=repo, env=env,
                                    capture_output=True, text=True)
            assert result.returncode == 0, result.stderr

        (repo / "architecture.yaml").write_text(example.read_text())
        phasekit("apply", "--all")
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "apply"], cwd=repo, check=True)
        changed = example.read_text().replace("availability: 99.5", "availability: 99.0")
        assert changed != example.read_text()
        (repo / "architecture.yaml").write_text(changed)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "slo"], cwd=repo, check=True)
        phasekit("update")
        trees[jobs] = tree_of(repo)
        assert b"SLO 99% available" in trees[jobs]["monitoring/prometheus/rules.yml"]  # the update did update
    assert trees["1"] == trees["3"]


@forking
def test_workers_do_not_keep_the_repositorys_lock_or_outlive_their_parent(tmp_path, monkeypatch):
    """A killed apply must leave the repository free at once: workers close the inherited lock descriptor
    (a flock lasts while any copy is open) and are killed with their parent."""
    from phasekit import lock

    monkeypatch.setenv("PHASEKIT_JOBS", "2")
    with lock.held(tmp_path, "apply"):
        held = set(lock.HELD)
        assert held
        lock_file = os.stat(lock.lock_path(tmp_path))
        still_open = parallel.map_in_processes(lambda _: [_is_open(fd, lock_file) for fd in held], [0, 1])
        assert still_open == [[False] * len(held)] * 2
        deathsig = parallel.map_in_processes(lambda _: _parent_death_signal(), [0, 1])
        assert deathsig == [signal.SIGKILL] * 2


def _is_open(fd: int, lock_file: os.stat_result) -> bool:
    """fd is still a copy of the lock file's descriptor (the number may since name another file: a worker
    opens /dev/null for its stdin at the first free number)."""
    try:
        now = os.fstat(fd)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (lock_file.st_dev, lock_file.st_ino)


def _parent_death_signal() -> int:
    import ctypes

    value = ctypes.c_int()
    ctypes.CDLL(None).prctl(2, ctypes.byref(value))  # PR_GET_PDEATHSIG
    return value.value
