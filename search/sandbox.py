"""Score untrusted policy programs in worker processes with time and memory limits.

`Sandbox` keeps `num_workers` persistent worker processes (`worker.py`,
started as fresh interpreters, never forked from a process running JAX). A
job checks a candidate program statically here, then in a worker loads it
with restricted builtins, validates it (trace, compile, test), loads its
opponents (cached by id in the worker) and scores it with the match scorer
(`arenax.search.scoring.MatchScorer` by default). Workers have no network and
a memory rlimit; the parent enforces, per job:

- a wall-clock limit (`time_limit_s`) -> "time_limit";
- a limit on tracing + compiling the candidate (`compile_time_limit_s`) -> "compile_timeout";
- a resident-memory limit (`memory_limit_mb`, also the worker's RLIMIT_DATA) -> "memory_limit";
- a worker that dies (segfault, abort, exit) -> "crash".

On any of these the worker's process group is killed and a fresh worker takes
its slot; the other workers and jobs carry on. Programs that fail a check or a
test come back as failed `Evaluation`s with the error's kind and message; only
misuse of the API (bad arguments, a worker that cannot start) raises.

Not thread-safe: call one method at a time.
"""

from __future__ import annotations

import itertools
import re
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

import jax

from arenax.envs import make
from arenax.search.evaluation import Evaluation
from arenax.search.program import Program, check_source
from arenax.search.program_errors import (
    CompileTimeoutError,
    CrashError,
    MemoryLimitError,
    ProgramError,
    TimeLimitError,
    error_for_kind,
)
from arenax.search.worker_process import WorkerProcess
from arenax.search.worker_protocol import decode_array, plain_overrides, program_message

DEFAULT_SCORER = "arenax.search.scoring:MatchScorer"
WATCH_INTERVAL_S = 0.1  # how often busy workers' deadlines and memory are checked
RECYCLE_FRACTION = 0.75  # restart an idle worker whose RSS exceeds this share of the limit
RESTART_KINDS = frozenset({"memory_limit", "crash"})
OUT_OF_MEMORY = re.compile(r"MemoryError|out of memory|bad_alloc|RESOURCE_EXHAUSTED", re.I)
PHASE_TEXT = {
    "": "starting the job",
    "load": "running the module body",
    "trace": "tracing init/act",
    "compile": "compiling act",
    "test": "running act on test observations",
    "opponents": "loading the opponents",
    "score": "playing the scoring episodes",
}


@dataclass(frozen=True)
class SandboxLimits:
    """Per-job limits.

    Attributes:
        time_limit_s: wall-clock seconds from handing a job to a worker to its result.
        compile_time_limit_s: seconds for tracing plus compiling the candidate's
            init/act during validation.
        memory_limit_mb: a worker's memory (MiB), set as its RLIMIT_DATA (heap and
            anonymous mappings: an allocation beyond it fails in the worker).
        rss_limit_mb: resident size (MiB) at which the parent kills a busy worker;
            None means `memory_limit_mb`. It also guards what RLIMIT_DATA does not
            see (and is the only memory limit when workers do not run on CPU).
        startup_timeout_s: seconds a new worker may take to start.
    """

    time_limit_s: float = 120.0
    compile_time_limit_s: float = 60.0
    memory_limit_mb: int = 4096
    rss_limit_mb: int | None = None
    startup_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        names = ("time_limit_s", "compile_time_limit_s", "memory_limit_mb", "startup_timeout_s")
        for name in names:
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"SandboxLimits.{name} must be positive, got {getattr(self, name)}"
                )
        if self.rss_limit_mb is not None and not self.rss_limit_mb > 0:
            raise ValueError(
                f"SandboxLimits.rss_limit_mb must be positive, got {self.rss_limit_mb}"
            )

    @property
    def rss_mb(self) -> float:
        """The resident size that gets a busy worker killed."""
        return float(self.rss_limit_mb or self.memory_limit_mb)


@dataclass
class Task:
    """One request waiting for or running on a worker."""

    index: int
    message: dict[str, Any]
    program_id: str = ""
    opponent_ids: tuple[str, ...] = ()
    check_s: float = 0.0
    created: float = field(default_factory=time.perf_counter)
    dispatched: float = 0.0
    job: int = 0


def _stop_workers(workers: list[WorkerProcess]) -> None:
    for worker in workers:
        worker.stop()
        worker.close_files()


class Sandbox:
    """Worker processes that check, compile and score untrusted programs.

    Args:
        env_overrides: Car Tag parameter overrides (e.g. {"horizon": 100}).
        num_workers: worker processes; `evaluate_many` runs that many jobs at once.
        num_episodes: episodes per opponent.
        seed: seed of the scoring episodes and the validation observations.
        limits: per-job limits.
        scorer: "module:Class" of the match scorer built in each worker as
            `Class(env, params, num_episodes, seed)`.
        platform: JAX_PLATFORMS for the workers ("cpu"); None inherits the environment.
        compilation_cache_dir: if given, workers share JAX's persistent compilation
            cache there (`scoring.enable_compilation_cache`), so a restarted worker
            does not recompile opponents it compiled before.
    """

    def __init__(
        self,
        env_overrides: dict[str, Any] | None = None,
        num_workers: int = 1,
        num_episodes: int = 64,
        seed: int = 0,
        limits: SandboxLimits | None = None,
        scorer: str = DEFAULT_SCORER,
        platform: str | None = "cpu",
        compilation_cache_dir: str | None = None,
    ) -> None:
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        if num_episodes < 1:
            raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
        if ":" not in scorer:
            raise ValueError(f"scorer must be 'module:Class', got {scorer!r}")
        self.env_overrides = plain_overrides(env_overrides)
        self.num_workers = num_workers
        self.num_episodes = num_episodes
        self.seed = int(seed)
        self.limits = limits or SandboxLimits()
        self.env, self.params = make("car_tag", **self.env_overrides)  # bad overrides fail here
        self._config = {
            "op": "init",
            "env_overrides": self.env_overrides,
            "num_episodes": num_episodes,
            "seed": self.seed,
            "scorer": scorer,
            "memory_limit_mb": self.limits.memory_limit_mb if platform == "cpu" else None,
            "compile_time_limit_s": self.limits.compile_time_limit_s,
            "compilation_cache_dir": None
            if compilation_cache_dir is None
            else str(compilation_cache_dir),
        }
        self._platform = platform
        self._jobs = itertools.count()
        self._validated: set[str] = set()
        self._checked_opponents: set[str] = set()
        self._fault: str | None = None
        self._closed = False
        self._workers: list[WorkerProcess] = []
        self._finalizer = weakref.finalize(self, _stop_workers, self._workers)
        for index in range(num_workers):
            self._workers.append(WorkerProcess(index, self._config, platform))

    # ----- public API -------------------------------------------------------------

    def evaluate(self, candidate: Program, opponents: Sequence[Program]) -> Evaluation:
        """Check, validate and score `candidate` against `opponents` (see `evaluate_many`)."""
        return self.evaluate_many([(candidate, opponents)])[0]

    def evaluate_many(self, jobs: Sequence[tuple[Program, Sequence[Program]]]) -> list[Evaluation]:
        """Evaluate `(candidate, opponents)` jobs, `num_workers` at a time, in input order.

        Raises:
            ValueError/TypeError: a job is malformed (not Programs, opponents of the
                candidate's own role, no opponents, an opponent that fails the
                static checks).
            RuntimeError: the sandbox is closed or a worker cannot start.
        """
        self._check_open()
        results: dict[int, Evaluation] = {}
        tasks = []
        for index, job in enumerate(jobs):
            candidate, opponents = self._checked_job(job)
            task = Task(index, {}, candidate.id, tuple(o.id for o in opponents))
            try:
                check_source(candidate.source)
            except ProgramError as err:
                elapsed = time.perf_counter() - task.created
                results[index] = Evaluation.failure(
                    candidate.id, err, task.opponent_ids, {"check_s": elapsed, "total_s": elapsed}
                )
                continue
            task.check_s = time.perf_counter() - task.created
            task.message = {
                "op": "evaluate",
                "candidate": program_message(candidate),
                "opponents": [program_message(o) for o in opponents],
                "validate": candidate.id not in self._validated,
            }
            if self._fault is not None:
                task.message["fault"], self._fault = self._fault, None
            tasks.append(task)
        for task, reply in self._run(tasks):
            results[task.index] = self._evaluation(task, reply)
        return [results[i] for i in range(len(jobs))]

    def record(self, pursuer: Program, evader: Program, seed: int | None = None) -> Any:
        """One episode of `pursuer` against `evader`, every state recorded.

        Returns:
            The environment state pytree with NumPy leaves (T + 1, ...), for
            `arenax.envs.car_tag.render` plots and GIFs.

        Raises:
            ProgramError: a program failed to load, or the episode hit a limit.
        """
        self._check_open()
        for program, role in ((pursuer, "pursuer"), (evader, "evader")):
            if not isinstance(program, Program) or program.role != role:
                raise ValueError(f"record needs a {role} Program, got {program!r}")
        message = {
            "op": "record",
            "programs": {"pursuer": program_message(pursuer), "evader": program_message(evader)},
            "seed": self.seed if seed is None else int(seed),
        }
        [(_, reply)] = self._run([Task(0, message)])
        if isinstance(reply, ProgramError):
            raise reply
        if not reply.get("ok"):
            raise error_for_kind(reply.get("kind", "crash"), reply.get("message", ""))
        shapes = jax.eval_shape(self.env.reset, jax.random.key(0), self.params)[1]
        treedef = jax.tree_util.tree_structure(shapes)
        return jax.tree_util.tree_unflatten(treedef, [decode_array(x) for x in reply["leaves"]])

    def wait_ready(self) -> None:
        """Block until every worker has started (jobs wait for this anyway).

        Raises:
            RuntimeError: a worker failed to start or timed out.
        """
        self._check_open()
        while not all(w.ready for w in self._workers):
            starting = {w.inbox: w for w in self._workers if not w.ready}
            for conn in wait(list(starting), timeout=WATCH_INTERVAL_S):
                self._drain(starting[conn], [])
            self._watch([])

    @property
    def worker_info(self) -> list[dict[str, Any]]:
        """Each started worker's "ready" report: pid, network isolation, startup_s."""
        return [dict(w.info) for w in self._workers]

    def close(self) -> None:
        """Stop every worker and reap it (idempotent)."""
        if not self._closed:
            self._closed = True
            self._finalizer()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- internals ---------------------------------------------------------------

    def _inject_fault(self, mode: str) -> None:
        """Test hook: the next evaluated job's worker dies ("exit", "segfault" or "abort")."""
        if mode not in ("exit", "segfault", "abort"):
            raise ValueError(f"unknown fault {mode!r}")
        self._fault = mode

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the sandbox is closed")

    def _checked_job(self, job: Any) -> tuple[Program, list[Program]]:
        try:
            candidate, opponents = job
        except (TypeError, ValueError):
            raise TypeError("each job is a (candidate Program, opponent Programs) pair") from None
        opponents = list(opponents)
        if not isinstance(candidate, Program) or not all(isinstance(o, Program) for o in opponents):
            raise TypeError("jobs hold Program objects (arenax.search.program.Program)")
        if not opponents:
            raise ValueError(f"candidate {candidate.name} has no opponents to be scored against")
        for o in opponents:
            if o.role == candidate.role:
                raise ValueError(
                    f"opponent {o.name} plays {o.role}, the candidate's own role; "
                    "opponents must play the other role"
                )
            if o.id not in self._checked_opponents:
                try:
                    check_source(o.source)
                except ProgramError as err:
                    raise ValueError(
                        f"opponent {o.name} ({o.id}) is not a valid program: {err}"
                    ) from None
                self._checked_opponents.add(o.id)
        return candidate, opponents

    def _evaluation(self, task: Task, reply: dict[str, Any] | ProgramError) -> Evaluation:
        total = time.perf_counter() - task.created
        if isinstance(reply, ProgramError):
            timings = {"check_s": task.check_s, "total_s": total}
            return Evaluation.failure(task.program_id, reply, task.opponent_ids, timings)
        try:
            return self._scored(task, reply, total)
        except (KeyError, TypeError, ValueError) as err:  # a worker answered nonsense
            error = CrashError(f"the worker sent a malformed result ({err})")
            timings = {"check_s": task.check_s, "total_s": total}
            return Evaluation.failure(task.program_id, error, task.opponent_ids, timings)

    def _scored(self, task: Task, reply: dict[str, Any], total: float) -> Evaluation:
        """The Evaluation of a worker's result message."""
        timings = {str(k): float(v) for k, v in reply.get("timings", {}).items()}
        timings["check_s"] = task.check_s + timings.get("check_s", 0.0)
        timings["total_s"] = total
        if "worker_s" in timings and "job_s" in reply:
            timings["ipc_s"] = max(float(reply["job_s"]) - timings["worker_s"], 0.0)
        if not reply.get("ok"):
            error = error_for_kind(str(reply.get("kind")), str(reply.get("message", "")))
            return Evaluation.failure(task.program_id, error, task.opponent_ids, timings)
        returns = decode_array(reply["returns"])
        opponent_returns = decode_array(reply["opponent_returns"])
        expected = (len(task.opponent_ids), self.num_episodes)
        if returns.shape != expected or opponent_returns.shape != expected:
            raise ValueError(f"returns of shape {returns.shape}, expected {expected}")
        self._validated.add(task.program_id)
        timings.setdefault("compile_s", 0.0)
        timings.setdefault("run_s", 0.0)
        return Evaluation(
            program_id=task.program_id,
            ok=True,
            returns=returns,
            opponent_ids=task.opponent_ids,
            behaviour=decode_array(reply["behaviour"]),
            timings=timings,
            opponent_returns=opponent_returns,
        )

    def _run(self, tasks: list[Task]) -> list[tuple[Task, dict[str, Any] | ProgramError]]:
        """Run tasks on the workers; each task's reply message or the limit it hit."""
        queue = deque(tasks)
        done: list[tuple[Task, dict[str, Any] | ProgramError]] = []
        try:
            while queue or any(w.task is not None for w in self._workers):
                for worker in self._workers:
                    if worker.ready and worker.task is None and queue:
                        self._dispatch(worker, queue)
                waiting = {w.inbox: w for w in self._workers if w.task is not None or not w.ready}
                for conn in wait(list(waiting), timeout=self._wait_timeout()):
                    self._drain(waiting[conn], done)
                self._watch(done)
        except BaseException:
            # Interrupted (e.g. KeyboardInterrupt): busy workers hold jobs nobody waits
            # for any more; replace them so the next call starts clean.
            for worker in list(self._workers):
                if worker.task is not None:
                    worker.task = None
                    self._restart(worker)
            raise
        return done

    def _dispatch(self, worker: WorkerProcess, queue: deque[Task]) -> None:
        task = queue.popleft()
        task.job = next(self._jobs)
        task.dispatched = time.monotonic()
        worker.task = task
        worker.set_phase("")
        try:
            worker.send({**task.message, "job": task.job})
        except (OSError, ValueError):
            worker.task = None  # it died while idle: not this task's fault
            queue.appendleft(task)
            self._restart(worker)

    def _wait_timeout(self) -> float:
        now = time.monotonic()
        timeout = WATCH_INTERVAL_S
        for w in self._workers:
            if w.task is not None:
                timeout = min(timeout, w.task.dispatched + self.limits.time_limit_s - now)
        return max(timeout, 0.0)

    def _drain(self, worker: WorkerProcess, done: list) -> None:
        """Handle every message the worker has sent; a closed pipe means it died."""
        while True:
            try:
                if not worker.inbox.poll():
                    return
                message = worker.receive()
            except (EOFError, OSError, ValueError):
                self._on_death(worker, done)
                return
            self._handle(worker, message, done)
            if worker.inbox.closed:
                return

    def _handle(self, worker: WorkerProcess, message: dict[str, Any], done: list) -> None:
        op = message["op"]
        task = worker.task
        if op == "ready":
            worker.ready = True
            worker.info = message
        elif op == "startup_error":
            self._restart(worker)  # keep the slot usable; a broken setup fails again
            raise RuntimeError(f"a sandbox worker failed to start:\n{message.get('message', '')}")
        elif task is None or message.get("job") != task.job:
            return  # a stale message from a job that already ended
        elif op == "phase":
            worker.set_phase(str(message.get("phase", "")))
        elif op in ("result", "recorded"):
            message["job_s"] = time.monotonic() - task.dispatched
            worker.task = None
            done.append((task, message))
            rss = worker.rss_mb() or 0.0
            failed_badly = not message.get("ok") and message.get("kind") in RESTART_KINDS
            if failed_badly or rss > RECYCLE_FRACTION * self.limits.rss_mb:
                self._restart(worker)

    def _on_death(self, worker: WorkerProcess, done: list) -> None:
        worker.kill()
        if not worker.ready:
            text = f"a sandbox worker {worker.exit_text()} while starting:\n{worker.stderr_tail()}"
            self._restart(worker)
            raise RuntimeError(text)
        task = worker.task
        if task is not None:
            tail = worker.stderr_tail()
            during = PHASE_TEXT.get(worker.phase, worker.phase)
            near_limit = worker.peak_rss_mb >= 0.9 * self.limits.rss_mb
            if near_limit or OUT_OF_MEMORY.search(tail[-1500:]):
                error: ProgramError = MemoryLimitError(
                    f"the program ran out of memory while {during} (limit "
                    f"{self.limits.memory_limit_mb} MiB; the worker {worker.exit_text()}): use "
                    "much smaller arrays, fewer samples and no growing Python lists"
                )
            else:
                last = [line for line in tail.strip().splitlines() if line.strip()][-3:]
                detail = (": " + " | ".join(last))[:600] if last else ""
                error = CrashError(
                    f"the worker process {worker.exit_text()} while {during}{detail}; avoid "
                    "anything that can crash the interpreter or XLA (huge shapes, deep recursion)"
                )
            worker.task = None
            done.append((task, error))
        self._restart(worker)

    def _watch(self, done: list) -> None:
        """Kill workers past a deadline or the memory limit; fail their tasks."""
        now = time.monotonic()
        limits = self.limits
        for worker in self._workers:
            if not worker.ready:
                if now - worker.started > limits.startup_timeout_s:
                    text = (
                        f"a sandbox worker did not start within {limits.startup_timeout_s:g} s:\n"
                        f"{worker.stderr_tail()}"
                    )
                    self._restart(worker)
                    raise RuntimeError(text)
                continue
            task = worker.task
            if task is None or worker.inbox.poll():
                continue  # idle, or a reply is waiting to be read
            during = PHASE_TEXT.get(worker.phase, worker.phase)
            rss = worker.rss_mb() or 0.0
            error: ProgramError | None = None
            if worker.phase in ("trace", "compile") and (
                now - worker.phase_started > limits.compile_time_limit_s
            ):
                error = CompileTimeoutError(
                    f"tracing and compiling act took longer than {limits.compile_time_limit_s:g} "
                    f"s (stopped while {during}): make it smaller; Python loops unroll at trace "
                    "time, so loop with jax.lax.fori_loop / jax.lax.scan and use fewer plans"
                )
            elif now - task.dispatched > limits.time_limit_s:
                error = TimeLimitError(
                    f"the evaluation ran past its {limits.time_limit_s:g} s wall-clock limit and "
                    f"was stopped while {during}: make sure every loop ends (no endless "
                    "jax.lax.while_loop, no huge fori_loop or range) and keep act cheap"
                )
            elif rss > limits.rss_mb:
                error = MemoryLimitError(
                    f"the program used {rss:.0f} MiB while {during}, over the {limits.rss_mb:.0f} "
                    "MiB limit: use much smaller arrays and fewer samples, and no growing lists"
                )
            if error is not None:
                worker.task = None
                done.append((task, error))
                self._restart(worker)

    def _restart(self, worker: WorkerProcess) -> None:
        """Kill `worker` and start a fresh one in its slot (it starts in the background)."""
        worker.kill()
        worker.close_files()
        if not self._closed:
            self._workers[worker.index] = WorkerProcess(worker.index, self._config, self._platform)


__all__ = ["DEFAULT_SCORER", "Evaluation", "Sandbox", "SandboxLimits"]
