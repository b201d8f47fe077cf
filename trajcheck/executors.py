"""Where a run's jobs (``trajcheck.work``, driven by ``trajcheck.driver``) run: this
process, worker processes on this machine (``--jobs N``), or a Dask cluster
(``--scheduler ADDRESS``).

The worker processes are Pebble's ``ProcessPool``: unlike the standard library's
``ProcessPoolExecutor``, which marks every pending job broken when one worker dies and does
not say which job it held, Pebble fails only that job (``ProcessExpired``, with the exit
code), starts a new worker and goes on. Workers are spawned (not forked: torch's threads do
not survive a fork) and ignore SIGINT, so that Ctrl-C reaches the run alone, which stops
them.

On a cluster, the jobs go through Dask's ``concurrent.futures`` executor
(``Client.get_executor``). Dask retries a job whose worker was lost on another worker, up
to the scheduler's ``distributed.scheduler.allowed-failures`` times (3 by default), then
fails it with ``KilledWorker``; the local cluster that ``--scheduler local`` starts allows
none. Either way, a job failed with ``KilledWorker`` is then submitted again, up to
``ATTEMPTS`` runs in all, before it is reported lost: Dask fails every job it had assigned
to the worker that died, not only the one that killed it.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, wait
from typing import Any

from trajcheck.discovery import Catalogue
from trajcheck.driver import WorkerLost
from trajcheck.work import FinishJob, Job, Settings, run_job


class ExecutorUnavailable(Exception):
    """The executor asked for cannot be had (Dask missing, a scheduler out of reach)."""


def cores() -> int:
    """The cores this process may run on (its affinity, where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class InlineExecutor:
    """Every job in this process, one after the other, in the order submitted; a claim's
    finish goes first, so that claims complete in catalogue order (``--jobs 1``)."""

    def __init__(self, catalogue: Catalogue, on_example: Callable[[int], None] | None) -> None:
        self.catalogue, self.on_example = catalogue, on_example
        self.queue: deque[tuple[object, Settings, Job]] = deque()
        self.description: dict[str, Any] = {"kind": "this process", "jobs": 1}

    def submit(self, settings: Settings, job: Job) -> object:
        handle = object()
        if isinstance(job, FinishJob):
            self.queue.appendleft((handle, settings, job))
        else:
            self.queue.append((handle, settings, job))
        return handle

    def completed(self, timeout: float) -> list[tuple[object, Any]]:
        if not self.queue:
            return []
        handle, settings, job = self.queue.popleft()
        try:
            value: Any = run_job(settings, job, self.catalogue, self.on_example)
        except Exception as exc:  # a bug outside every search's own guard
            value = exc
        return [(handle, value)]

    def cancel(self, handle: object) -> None:
        self.queue = deque(item for item in self.queue if item[0] is not handle)

    def close(self) -> None:
        self.queue.clear()


class _FuturesExecutor:
    """What a pool of ``concurrent.futures`` futures shares: waiting and cancelling."""

    def __init__(self) -> None:
        self.futures: set[Future[Any]] = set()

    def completed(self, timeout: float) -> list[tuple[object, Any]]:
        if not self.futures:
            return []
        done, _ = wait(self.futures, timeout=timeout, return_when=FIRST_COMPLETED)
        answers: list[tuple[object, Any]] = []
        for future in done:
            self.futures.discard(future)
            try:
                answers.append((future, future.result()))
            except CancelledError:
                continue
            except Exception as exc:
                answers.append((future, self.lost(exc)))
        return answers

    def lost(self, exc: Exception) -> Exception:
        return exc

    def cancel(self, handle: object) -> None:
        assert isinstance(handle, Future)
        handle.cancel()
        self.futures.discard(handle)


def _ignore_interrupts() -> None:
    """A worker's start: Ctrl-C, sent to the terminal's whole process group, is the run's
    to handle (it stops the workers); the worker's ``trajcheck`` log lines show."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ProcessExecutor(_FuturesExecutor):
    """``jobs`` worker processes on this machine, one torch thread each."""

    def __init__(self, jobs: int) -> None:
        import multiprocessing

        from pebble import ProcessPool

        super().__init__()
        self.pool = ProcessPool(
            max_workers=jobs,
            initializer=_ignore_interrupts,
            context=multiprocessing.get_context("spawn"),
        )
        self.description = {"kind": "processes", "jobs": jobs}

    def submit(self, settings: Settings, job: Job) -> object:
        future = self.pool.schedule(run_job, args=(settings, job))
        self.futures.add(future)
        return future

    def lost(self, exc: Exception) -> Exception:
        from pebble import ProcessExpired

        if isinstance(exc, ProcessExpired):
            code = exc.exitcode
            how = (
                f"killed by {signal.Signals(-code).name}"
                if code is not None and code < 0
                else f"exit code {code}"
            )
            return WorkerLost(f"its worker process died ({how}) before it answered")
        return exc

    def close(self) -> None:
        self.pool.stop()
        self.pool.join()


CLUSTER_EXTRA = "pip install 'trajcheck[cluster]'"

#: How often a job whose Dask worker was lost is run before it is reported lost.
ATTEMPTS = 3

#: A Dask worker resource of which a job takes one: a worker that offers one
#: (``dask worker --resources trajcheck=1``) is given one job at a time, so that the
#: scheduler gives it one job at a time where it can (a job may still be assigned to it
#: and wait there, which is why a lost job is run again: ``DaskExecutor.completed``).
RESOURCE = "trajcheck"


def _quiet_threads_plugin() -> Any:
    """A Dask worker plugin (set up on every worker, those that join later too) that
    silences Hypothesis's warning against the ``random`` module inside strategies: it
    notices the global ``random`` state change during a draw, and in a Dask worker that
    state is also used by the worker's own communication thread, whatever the strategy
    does. The same strategies run in this process and in ``--jobs`` workers, where the
    warning stays on."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class QuietThreads(WorkerPlugin):
        def setup(self, worker: Any) -> None:
            import warnings

            from hypothesis.errors import HypothesisDeprecationWarning

            warnings.filterwarnings(
                "ignore", message="Do not use the `random` module inside strategies",
                category=HypothesisDeprecationWarning,
            )  # fmt: skip

    return QuietThreads()


class DaskExecutor(_FuturesExecutor):
    """The jobs on a Dask cluster: the scheduler at ``address``, or (``local``) a
    ``LocalCluster`` of ``jobs`` one-thread worker processes started here."""

    def __init__(self, address: str, jobs: int) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise ExecutorUnavailable(
                f"--scheduler needs Dask's distributed package: {CLUSTER_EXTRA}"
            ) from None
        super().__init__()
        #: each job's current future: (the handle the driver holds, its settings, the
        #: job, which attempt)
        self.attempts: dict[Future[Any], tuple[object, Settings, Job, int]] = {}
        self.cluster = None
        try:
            if address == "local":
                # a lost worker's jobs fail at once, and this executor decides what is
                # run again (ATTEMPTS); each worker runs one job at a time (RESOURCE)
                with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                    self.cluster = LocalCluster(
                        n_workers=jobs, threads_per_worker=1, processes=True,
                        dashboard_address=None, resources={RESOURCE: 1},
                    )  # fmt: skip
                self.client = Client(self.cluster)
            else:
                self.client = Client(address, timeout="5s")
        except (OSError, TimeoutError) as exc:
            raise ExecutorUnavailable(
                f"--scheduler {address}: cannot reach a Dask scheduler ({exc})"
            ) from None
        self.client.register_plugin(_quiet_threads_plugin(), name="trajcheck")
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        self.hash_seeds = set(self.client.run(os.environ.get, "PYTHONHASHSEED").values())
        # the resource where every worker offers it (a cluster started without it would
        # otherwise never run a job)
        offered = [RESOURCE in w.get("resources", {}) for w in workers.values()]
        self.resources = {RESOURCE: 1} if offered and all(offered) else None
        self.executor = self.client.get_executor(pure=False, resources=self.resources)
        self.description = {
            "kind": "dask",
            "scheduler": address,
            "workers": len(workers),
            "threads": sum(w.get("nthreads", 1) for w in workers.values()),
            "one job per worker": self.resources is not None,
        }

    def submit(self, settings: Settings, job: Job) -> object:
        future = self.executor.submit(run_job, settings, job)
        self.futures.add(future)
        self.attempts[future] = (future, settings, job, 1)
        return future

    def completed(self, timeout: float) -> list[tuple[object, Any]]:
        """As the base class, but a job whose worker was lost is submitted again (up to
        ``ATTEMPTS`` in all) before it is reported lost: when a worker dies, Dask fails
        every job assigned to it, and a job may be assigned to a busy worker and wait
        there (the scheduler counts a worker's resources, not what it has free), so an
        innocent job can share the death of the one that killed it. Only a job that is
        lost every time is reported, with the reason."""
        from distributed.scheduler import KilledWorker

        answers = []
        for future, value in super().completed(timeout):
            assert isinstance(future, Future)
            handle, settings, job, attempt = self.attempts.pop(future)
            if isinstance(value, KilledWorker) and attempt < ATTEMPTS:
                again = self.executor.submit(run_job, settings, job)
                self.futures.add(again)
                self.attempts[again] = (handle, settings, job, attempt + 1)
                continue
            if isinstance(value, KilledWorker):
                value = WorkerLost(f"its Dask worker was lost, {attempt} times ({value})")
            answers.append((handle, value))
        return answers

    def cancel(self, handle: object) -> None:
        for future, (original, *_) in list(self.attempts.items()):
            if original is handle:
                del self.attempts[future]
                super().cancel(future)

    def close(self) -> None:
        for future in self.futures:
            future.cancel()
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
