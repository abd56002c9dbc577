"""Independent renders on more than one core: each blueprint renders in single-threaded Python (Jinja2 and
copier), so `apply --all` and update's previews hand the blueprints to forked worker processes.

Forked, not spawned: a worker starts as a copy of the parent, with copier imported, the template extracted,
copier.yml read and the architecture loaded (render.Source.prepare), so it pays none of that again. The
work and its inputs are set before the first fork and read by index in the worker (never pickled); only
results and errors travel back.
Each task writes only into its own scratch folder, so the output is the same bytes in any order; results
come back in the order of the inputs, and the first failure in that order is raised, as one run after the
other would raise it. Workers ignore Ctrl-C: the parent alone stops, and waits for the renders in flight.

Sequential when fork is not the platform's safe default (macOS, Windows), when there is one core or one
task, or with PHASEKIT_JOBS=1 (PHASEKIT_JOBS=N sets the number of workers).
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .errors import PhasekitError

T = TypeVar("T")
R = TypeVar("R")

MAX_JOBS = 4  # more workers than this do not pay back their memory for nine blueprints

_WORK: list[tuple[Callable[[Any], Any], Sequence[Any]]] = []  # what the forked workers run, set before the fork


def jobs() -> int:
    """How many worker processes to use: PHASEKIT_JOBS, else the cores this process may run on (at most 4)."""
    configured = os.environ.get("PHASEKIT_JOBS", "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise PhasekitError(f"PHASEKIT_JOBS={configured}: expected a whole number of processes, 1 or more")
        return int(configured)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return min(cores, MAX_JOBS)


def _forking_is_safe() -> bool:
    import multiprocessing

    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _quiet_worker(parent: int) -> None:
    """A worker leaves Ctrl-C to its parent and dies with it: a killed command leaves no render running (nor
    the repository's lock held: lock.py closes a forked child's copy of it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _run(index: int) -> Any:
    fn, items = _WORK[-1]
    return fn(items[index])


def map_in_processes(fn: Callable[[T], R], items: Sequence[T], done: Callable[[T], None] | None = None) -> list[R]:
    """[fn(item) for item in items], spread over worker processes when that can help; done(item) is called
    in this process for each finished item, in input order (for progress)."""
    workers = min(jobs(), len(items))
    if workers < 2 or _WORK or not _forking_is_safe():  # _WORK: already inside a parallel map
        results: list[R] = []
        for item in items:
            results.append(fn(item))
            if done is not None:
                done(item)
        return results
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    _WORK.append((fn, items))
    # The objects made so far (copier and the template loaded: Source.prepare) are left out of garbage
    # collection: a collection in a worker writes to each object it scans, and so copies every page of the
    # heap it shares with this process (0.1 CPU-s per worker).
    gc.freeze()
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_quiet_worker, initargs=(os.getpid(),)) as pool:
            futures = [pool.submit(_run, i) for i in range(len(items))]
            try:
                pending, reported = set(futures), 0
                while pending:
                    _, pending = wait(pending, return_when=FIRST_COMPLETED)
                    # reported in input order, as one after the other would report them
                    while reported < len(futures) and futures[reported].done():
                        if done is not None and futures[reported].exception() is None:
                            done(items[reported])
                        reported += 1
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            return [future.result() for future in futures]  # in input order: the first failure is raised
    finally:
        gc.unfreeze()
        _WORK.pop()
