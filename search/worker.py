"""A sandbox worker process: `python -m arenax.search.worker READ_FD WRITE_FD`.

Started by `sandbox.Sandbox` (a fresh interpreter, never a fork of a process
that runs JAX). It reads its configuration, isolates itself
(`worker_isolation.isolate`: no network, memory rlimit), imports JAX, builds
the environment and the match scorer, says "ready", then serves jobs one at a
time until told to stop:

- evaluate: load the candidate (static checks + restricted exec), validate
  it (trace, compile, test), load the opponents (cached by program id), and
  score it with the scorer; reports the phase it enters ("load", "trace",
  "compile", "test", "opponents", "score") so the parent can enforce the
  compile time limit, and returns scores or the failure's kind and message.
- record: play one recorded episode between two programs (for plots/GIFs).

This module imports only the standard library at the top: isolation must
happen while the process is still single-threaded (numpy and JAX start threads).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections import OrderedDict
from multiprocessing.connection import Connection
from typing import Any

from arenax.search.worker_isolation import isolate

MAX_CACHED_POLICIES = 1024


class WorkerError(Exception):
    """An internal failure that is not the candidate's fault (reported as a crash)."""


class Worker:
    """Serves jobs on one connection pair; see the module docstring."""

    def __init__(self, config: dict[str, Any], out: Connection) -> None:
        import importlib

        import jax

        from arenax.envs import make

        self.jax = jax
        self.out = out
        self.config = config
        if config.get("compilation_cache_dir"):
            from arenax.search.scoring import enable_compilation_cache

            enable_compilation_cache(config["compilation_cache_dir"])
        self.env, self.params = make("car_tag", **config["env_overrides"])
        self.warm_up()
        module_name, _, class_name = config["scorer"].partition(":")
        scorer_cls = getattr(importlib.import_module(module_name), class_name)
        self.scorer = scorer_cls(self.env, self.params, config["num_episodes"], config["seed"])
        self.policies: OrderedDict[str, Any] = OrderedDict()
        self.job: int | None = None

    def warm_up(self) -> None:
        """Validate a trivial policy per role, so first-use costs do not land on a job."""
        import jax.numpy as jnp

        from arenax.policy import Policy
        from arenax.search.program import validate_policy

        for role, space in self.env.action_space(self.params).items():
            zeros = jnp.zeros(space.shape, space.dtype)
            policy = Policy("warm_up", lambda obs, memory, key, a=zeros: (a, memory), role=role)
            validate_policy(policy, self.env, self.params, role, self.jax.random.key(0))

    def send(self, message: dict[str, Any]) -> None:
        from arenax.search.worker_protocol import send

        send(self.out, message)

    def phase(self, name: str) -> None:
        self.send({"op": "phase", "job": self.job, "phase": name})

    def loaded(self, program: Any) -> Any:
        """`load_policy(program)`, cached by program id (the scorer caches compiled
        functions by id or by policy object, so a program keeps one Policy)."""
        from arenax.search.program import load_policy

        policy = self.policies.pop(program.id, None)
        if policy is None:
            policy = load_policy(program)
        self.policies[program.id] = policy
        while len(self.policies) > MAX_CACHED_POLICIES:
            self.policies.popitem(last=False)
        return policy

    def opponent(self, data: dict[str, str]) -> tuple[str, Any]:
        """`(id, loaded policy)` of an opponent; its failures are not the candidate's fault."""
        from arenax.search.program import Program
        from arenax.search.program_errors import ProgramError

        program = Program(**data)
        try:
            return program.id, self.loaded(program)
        except ProgramError as err:
            raise WorkerError(
                f"opponent {program.name} ({program.id}) failed to load: {err.kind}: {err}"
            ) from None

    def evaluate(self, message: dict[str, Any]) -> dict[str, Any]:
        """Load, validate and score one candidate; the result message."""
        from arenax.search.program import Program, program_filename, validate_policy
        from arenax.search.program_errors import CrashError, ProgramError
        from arenax.search.program_errors_map import is_out_of_memory, program_error
        from arenax.search.worker_protocol import encode_array

        jax = self.jax
        program = Program(**message["candidate"])
        timings: dict[str, float] = {}
        started = time.perf_counter()
        mark = started

        def lap(name: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            timings[name] = now - mark
            mark = now

        try:
            self.phase("load")
            policy = self.loaded(program)
            lap("load_s")
            if message.get("validate", True):
                key = jax.random.fold_in(
                    jax.random.key(self.config["seed"]), int(program.id[:7], 16)
                )
                validation = validate_policy(
                    policy,
                    self.env,
                    self.params,
                    program.role,
                    key,
                    compile_time_limit_s=self.config["compile_time_limit_s"],
                    on_phase=self.phase,
                )
                timings["validate_compile_s"] = validation.trace_s + validation.compile_s
            lap("validate_s")
            timings["check_s"] = timings["load_s"] + timings["validate_s"]
            self.phase("opponents")
            opponents = [self.opponent(o) for o in message["opponents"]]
            lap("opponents_s")
            trigger_fault(message.get("fault"))
            self.phase("score")
            scores = self.scorer.score(policy, program.role, opponents)
            lap("score_s")
        except WorkerError as err:
            return failure(CrashError(str(err)), timings)
        except Exception as exc:
            error = program_error(exc, program_filename(program), program.source, "scoring")
            ours = isinstance(exc, ProgramError) or is_out_of_memory(exc) or error.line is not None
            if not ours:  # not raised from the program's own code: an internal failure
                traceback.print_exc()
                error = CrashError(
                    f"internal error while scoring: {type(exc).__name__}: {exc}"[:1000]
                )
            return failure(error, timings)
        timings.update({k: float(v) for k, v in scores.timings.items()})
        timings["worker_s"] = time.perf_counter() - started
        return {
            "op": "result",
            "ok": True,
            "timings": timings,
            "returns": encode_array(scores.returns),
            "opponent_returns": encode_array(scores.opponent_returns),
            "behaviour": encode_array(scores.behaviour),
        }

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """One recorded episode: the state leaves (T + 1, ...) in tree-flatten order."""
        from arenax.rollout import rollout
        from arenax.search.program import Program, load_policy
        from arenax.search.program_errors import ProgramError
        from arenax.search.worker_protocol import encode_array

        jax = self.jax
        try:
            policies = {
                role: load_policy(Program(**data)) for role, data in message["programs"].items()
            }
            key = jax.random.key(message["seed"])
            result = rollout(self.env, self.params, policies, key, 1, record=True)
        except ProgramError as err:
            return failure(err, {})
        except Exception as exc:
            traceback.print_exc()
            return failure_text("crash", f"recording failed: {type(exc).__name__}: {exc}"[:1000])
        leaves = jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda x: x[0], result.states))
        return {"op": "recorded", "ok": True, "leaves": [encode_array(x) for x in leaves]}

    def serve(self, inbox: Connection) -> None:
        """Answer jobs until "stop" or the parent goes away."""
        from arenax.search.worker_protocol import receive

        while True:
            try:
                message = receive(inbox)
            except EOFError:
                return
            op = message["op"]
            if op == "stop":
                return
            self.job = message.get("job")
            try:
                if op == "evaluate":
                    reply = self.evaluate(message)
                elif op == "record":
                    reply = self.record(message)
                else:
                    reply = failure_text("crash", f"unknown sandbox request {op!r}")
            except Exception as exc:  # a malformed request: report it, keep serving
                traceback.print_exc()
                reply = failure_text("crash", f"bad sandbox request: {type(exc).__name__}: {exc}")
            reply["job"] = self.job
            self.send(reply)
            self.job = None


def failure(error: Any, timings: dict[str, float]) -> dict[str, Any]:
    """A failed result message for a `ProgramError`."""
    return {**failure_text(error.kind, str(error)), "timings": timings}


def failure_text(kind: str, message: str) -> dict[str, Any]:
    return {"op": "result", "ok": False, "kind": kind, "message": message}


def trigger_fault(fault: str | None) -> None:
    """Die on purpose (test hook for the sandbox's crash handling)."""
    if fault == "exit":
        os._exit(3)
    elif fault == "segfault":
        import ctypes

        ctypes.string_at(0)
    elif fault == "abort":
        os.abort()


def main(argv: list[str]) -> int:
    read_fd, write_fd = int(argv[1]), int(argv[2])
    inbox = Connection(read_fd, writable=False)
    out = Connection(write_fd, readable=False)
    try:
        config = json.loads(inbox.recv_bytes())
    except EOFError:
        return 0
    started = time.perf_counter()
    network = isolate(config.get("memory_limit_mb"))
    try:
        worker = Worker(config, out)
    except BaseException:
        text = traceback.format_exc()
        out.send_bytes(json.dumps({"op": "startup_error", "message": text[-4000:]}).encode())
        return 1
    worker.send(
        {
            "op": "ready",
            "pid": os.getpid(),
            "network": network,
            "startup_s": time.perf_counter() - started,
        }
    )
    worker.serve(inbox)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
