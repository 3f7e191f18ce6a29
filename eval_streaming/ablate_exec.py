"""Where the ablation's tasks run: a local process pool (the default) or Ray.

Both take a list of jobs for one task function and return the results in job order, so the
driver builds the same table whichever ran them. Each worker runs one task at a time with one
torch / OpenMP thread (measured runtimes must not depend on how busy the other workers keep the
machine's cores). A task that raises, or whose worker dies, is run again up to `max_retries`
times: the local pool is rebuilt after a death (concurrent.futures cannot replace one worker);
Ray retries by itself (`max_retries`, `retry_exceptions`). Ray is optional and imported only
here, when asked for.
"""
from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Sequence

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
RAY_HINT = "pip install '.[scale]'"


class TaskFailed(RuntimeError):
    pass


def limit_threads() -> None:
    """One intra-op thread in this (worker) process: set before torch is imported where possible."""
    for name in THREAD_ENV:
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)


def _in_worker(fn: Callable[[Any], Any], job: Any) -> Any:
    limit_threads()
    return fn(job)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


class LocalExecutor:
    """A spawn-started process pool with `workers` processes."""

    def __init__(self, *, workers: int = 0, max_retries: int = 2) -> None:
        self.workers = workers or default_workers()
        self.max_retries = max_retries
        self.retried = 0  # tasks run again after a failure (reported by the driver)
        self._live: ProcessPoolExecutor | None = None  # kept across map calls: workers import torch once

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _close(self) -> None:
        if self._live is not None:
            self._live.shutdown(wait=True, cancel_futures=True)
            self._live = None

    def _pool(self) -> ProcessPoolExecutor:
        import multiprocessing

        # spawn: a forked child would inherit the driver's torch thread pool and its locks
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any], *, gpus: float = 0.0,
            on_result: Callable[[int, Any], None] | None = None, desc: str = "tasks") -> list[Any]:
        from tqdm import tqdm

        results: dict[int, Any] = {}
        attempts = [0] * len(jobs)
        todo = list(range(len(jobs)))
        with tqdm(total=len(jobs), desc=desc, unit="task", leave=False) as bar:
            while todo:
                if self._live is None:
                    self._live = self._pool()
                pool = self._live
                try:
                    futures = {pool.submit(_in_worker, fn, jobs[i]): i for i in todo}
                    todo = []
                    pending = set(futures)
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in done:
                            i = futures[fut]
                            try:
                                results[i] = fut.result()
                            except BrokenProcessPool:
                                self._again(i, attempts, todo, "its worker died")
                                continue
                            except Exception as e:  # noqa: BLE001 - retried, then reported with its job
                                self._again(i, attempts, todo, f"{type(e).__name__}: {e}", error=e)
                                continue
                            if on_result is not None:
                                on_result(i, results[i])
                            bar.update(1)
                except BaseException:
                    self._close()  # failed or interrupted: no worker outlives the run
                    raise
                if todo:  # something failed: a fresh pool (a dead worker has broken this one)
                    self._close()
        return [results[i] for i in range(len(jobs))]

    def _again(self, i: int, attempts: list[int], todo: list[int], why: str, *,
               error: Exception | None = None) -> None:
        """Queue job i again, or fail when it has used its retries. A dead worker breaks the whole
        pool, so every job still in it fails with it and counts the attempt: which one killed
        the worker is not known."""
        attempts[i] += 1
        if attempts[i] > self.max_retries:
            raise TaskFailed(f"task {i} failed {attempts[i]} time(s), last because {why}") from error
        self.retried += 1
        todo.append(i)


class RayExecutor:
    """Ray tasks: on a local Ray started here (num_cpus = workers) or on the cluster at `address`."""

    def __init__(self, *, address: str = "", workers: int = 0, max_retries: int = 2) -> None:
        try:
            import ray
        except ImportError as e:
            raise ImportError(f"executor 'ray' needs Ray, which is not installed ({e}); install it with "
                              f"{RAY_HINT}") from None
        self.ray = ray
        self.address = address
        self.workers = workers or default_workers()
        self.max_retries = max_retries
        self.started = False
        self.retried = 0  # Ray retries on its own and does not say how often

    def __enter__(self) -> "RayExecutor":
        return self  # Ray starts with the first task: a rerun served by the cache never pays for it

    def _connect(self) -> None:
        if not self.ray.is_initialized():  # a caller that already connected keeps its own session
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                kwargs["address"] = self.address
            else:
                kwargs["num_cpus"] = self.workers
            self.ray.init(**kwargs)
            self.started = True

    def __exit__(self, *exc: object) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any], *, gpus: float = 0.0,
            on_result: Callable[[int, Any], None] | None = None, desc: str = "tasks") -> list[Any]:
        from tqdm import tqdm

        if not jobs:
            return []
        self._connect()
        ray = self.ray
        remote = ray.remote(_in_worker).options(num_cpus=1, num_gpus=gpus, max_retries=self.max_retries,
                                                retry_exceptions=True)
        refs = [remote.remote(fn, job) for job in jobs]
        index = {ref: i for i, ref in enumerate(refs)}
        results: dict[int, Any] = {}
        pending = list(refs)
        with tqdm(total=len(jobs), desc=desc, unit="task", leave=False) as bar:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    i = index[ref]
                    try:
                        results[i] = ray.get(ref)
                    except ray.exceptions.RayError as e:
                        for other in pending:
                            ray.cancel(other)
                        raise TaskFailed(f"task {i} failed after {self.max_retries} retries: {e}") from None
                    if on_result is not None:
                        on_result(i, results[i])
                    bar.update(1)
        return [results[i] for i in range(len(jobs))]


def make_executor(kind: str, *, address: str = "", workers: int = 0, max_retries: int = 2):  # noqa: ANN201
    if kind == "ray":
        return RayExecutor(address=address, workers=workers, max_retries=max_retries)
    if kind == "local":
        return LocalExecutor(workers=workers, max_retries=max_retries)
    raise ValueError(f"executor: {kind!r} is not one of local, ray")
