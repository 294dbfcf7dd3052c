"""The sandbox: workers score good programs, and every hostile or broken one costs only itself.

Two sandboxes are shared by the module: `sandbox` (two workers, generous
limits) for scoring and failures the worker reports itself, and `strict` (one
worker, short limits) for the failures the parent must enforce by killing the
worker (time, compile time, memory, crashes). After each failure the same
sandbox must still score a good program.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from arenax.search.program import Program, strategy_programs
from arenax.search.sandbox import Sandbox, SandboxLimits

HORIZON = 20
EPISODES = 4
HEAD = "import jax\nimport jax.numpy as jnp\n\n"
STEER_ZERO = "def act(obs, memory, key):\n    return jnp.zeros((1,)), memory\n"


def pursuer(name: str, body: str) -> Program:
    return Program(name, "pursuer", HEAD + textwrap.dedent(body))


@pytest.fixture(scope="module")
def programs():
    pursuers = {p.name: p for p in strategy_programs("pursuer")}
    evaders = {p.name: p for p in strategy_programs("evader")}
    return pursuers, evaders


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A shared XLA compilation cache: restarted workers do not recompile."""
    return str(tmp_path_factory.mktemp("xla_cache"))


@pytest.fixture(scope="module")
def sandbox(cache_dir):
    with Sandbox(
        env_overrides={"horizon": HORIZON},
        num_workers=2,
        num_episodes=EPISODES,
        limits=SandboxLimits(time_limit_s=120, compile_time_limit_s=60),
        compilation_cache_dir=cache_dir,
    ) as box:
        yield box


@pytest.fixture(scope="module")
def strict(cache_dir):
    with Sandbox(
        env_overrides={"horizon": HORIZON},
        num_workers=1,
        num_episodes=EPISODES,
        limits=SandboxLimits(time_limit_s=10, compile_time_limit_s=5, memory_limit_mb=1024),
        compilation_cache_dir=cache_dir,
    ) as box:
        yield box


def assert_still_serves(box: Sandbox, programs) -> None:
    pursuers, evaders = programs
    evaluation = box.evaluate(pursuers["pure_pursuit"], [evaders["straight_flee"]])
    assert evaluation.ok, evaluation.error_message
    assert evaluation.returns.shape == (1, EPISODES)


def test_scores_a_hand_written_program_against_several_opponents(sandbox, programs):
    pursuers, evaders = programs
    opponents = [evaders["straight_flee"], evaders["wall_flee"], evaders["jink"]]
    evaluation = sandbox.evaluate(pursuers["pure_pursuit"], opponents)
    assert evaluation.ok, evaluation.error_message
    assert evaluation.program_id == pursuers["pure_pursuit"].id
    assert evaluation.opponent_ids == tuple(o.id for o in opponents)
    assert evaluation.returns.shape == evaluation.opponent_returns.shape == (3, EPISODES)
    assert np.all((evaluation.returns >= 0) & (evaluation.returns <= 1))
    assert evaluation.per_opponent.shape == (3,)
    assert evaluation.quality == pytest.approx(evaluation.returns.mean())
    assert evaluation.quality_ci95 >= 0 and evaluation.behaviour.ndim == 1
    for key in ("check_s", "compile_s", "run_s", "total_s"):
        assert evaluation.timings[key] >= 0
    assert evaluation.timings["total_s"] >= evaluation.timings["check_s"]
    assert all(info["network"] in ("namespace", "sockets") for info in sandbox.worker_info)


def test_evaluate_many_keeps_order_and_mixes_failures_with_successes(sandbox, programs):
    pursuers, evaders = programs
    opponents = [evaders["straight_flee"]]
    jobs = [
        (pursuers["pure_pursuit"], opponents),
        (pursuer("syntax", "def act(obs, memory, key)\n    pass\n"), opponents),
        (
            pursuer(
                "nan", "def act(obs, memory, key):\n    return jnp.full((1,), jnp.nan), memory\n"
            ),
            opponents,
        ),
        (pursuers["proportional_navigation"], opponents),
        (evaders["straight_flee"], [pursuers["pure_pursuit"]]),
    ]
    results = sandbox.evaluate_many(jobs)
    assert [r.program_id for r in results] == [c.id for c, _ in jobs]
    assert [r.ok for r in results] == [True, False, False, True, True]
    assert [r.error_kind for r in results] == [None, "syntax", "non_finite", None, None]
    assert results[1].timings["total_s"] < 1.0  # static failures never reach a worker


@pytest.mark.parametrize(
    "name,body,kind",
    [
        ("import_os", "import os\n" + STEER_ZERO, "forbidden_import"),
        ("dunder", "X = ().__class__.__bases__[0].__subclasses__()\n" + STEER_ZERO, "dunder"),
        ("getattr", "L = getattr(jnp, 'load')\n" + STEER_ZERO, "forbidden_name"),
        ("assign", "jnp.where = None\n" + STEER_ZERO, "forbidden_name"),
        ("while", "def act(obs, memory, key):\n    while True:\n        pass\n", "forbidden_name"),
        ("shape", "def act(obs, memory, key):\n    return jnp.zeros((3,)), memory\n", "shape"),
        (
            "bounds",
            "def act(obs, memory, key):\n    return jnp.full((1,), 7.0), memory\n",
            "bounds",
        ),
        (
            "python_if",
            "def act(obs, memory, key):\n    if obs.opp_pos[0] > 0:\n"
            "        return jnp.ones(1), memory\n    return -jnp.ones(1), memory\n",
            "trace",
        ),
        ("recursion", "def act(obs, memory, key):\n    return act(obs, memory, key)\n", "trace"),
        ("module_raises", "X = 1 // 0\n" + STEER_ZERO, "trace"),
    ],
)
def test_broken_programs_fail_with_their_kind_and_the_sandbox_carries_on(
    sandbox, programs, name, body, kind
):
    _, evaders = programs
    evaluation = sandbox.evaluate(pursuer(name, body), [evaders["straight_flee"]])
    assert not evaluation.ok and evaluation.error_kind == kind, evaluation.error_message
    assert evaluation.returns is None and np.isnan(evaluation.quality)
    assert evaluation.error.kind == kind
    assert_still_serves(sandbox, programs)


def test_record_plays_one_episode(sandbox, programs):
    pursuers, evaders = programs
    states = sandbox.record(pursuers["pure_pursuit"], evaders["straight_flee"])
    assert states.pursuer_pos.shape == (HORIZON + 1, 2) and states.t.dtype == np.int32


def test_bad_jobs_are_refused_before_reaching_a_worker(sandbox, programs):
    pursuers, evaders = programs
    with pytest.raises(ValueError, match="other role"):
        sandbox.evaluate(pursuers["pure_pursuit"], [pursuers["intercept"]])
    with pytest.raises(ValueError, match="no opponents"):
        sandbox.evaluate(pursuers["pure_pursuit"], [])
    broken = Program("broken", "evader", "def act(:\n")
    with pytest.raises(ValueError, match="not a valid program"):
        sandbox.evaluate(pursuers["pure_pursuit"], [broken])
    with pytest.raises(TypeError):
        sandbox.evaluate_many([("source", [evaders["jink"]])])


# ----- failures the parent enforces by killing the worker ----------------------------------

KILLED = [
    (
        "endless_while_loop",
        """
        def act(obs, memory, key):
            x = jax.lax.while_loop(lambda c: c >= 0.0, lambda c: c + 1.0, obs.time_left)
            return jnp.zeros((1,)) * x, memory
        """,
        "time_limit",
    ),
    (
        "trace_never_ends",
        """
        def act(obs, memory, key):
            x = obs.time_left
            for _ in range(10**9):
                x = x + 1.0
            return jnp.zeros((1,)) * x, memory
        """,
        "compile_timeout",
    ),
    (
        "python_list_bomb",
        "X = [[0] * 1000 for _ in range(10**8)]\n" + STEER_ZERO,
        "memory_limit",
    ),
    (
        "jnp_zeros_bomb",
        """
        def init(key):
            return jnp.zeros((1 << 36,))

        def act(obs, memory, key):
            return jnp.zeros((1,)), memory
        """,
        "memory_limit",
    ),
]


@pytest.mark.parametrize("name,body,kind", KILLED, ids=[k[0] for k in KILLED])
def test_hangs_and_bombs_cost_only_their_own_job(strict, programs, name, body, kind):
    _, evaders = programs
    evaluation = strict.evaluate(pursuer(name, body), [evaders["straight_flee"]])
    assert not evaluation.ok
    assert evaluation.error_kind == kind or (
        kind == "memory_limit" and evaluation.error_kind == "crash"
    )
    assert evaluation.error_message
    assert_still_serves(strict, programs)


@pytest.mark.parametrize("fault", ["segfault", "exit"])
def test_a_dying_worker_is_a_crash_and_is_replaced(strict, programs, fault):
    pursuers, evaders = programs
    old_pid = strict.worker_info[0]["pid"]
    strict._inject_fault(fault)
    evaluation = strict.evaluate(pursuers["pure_pursuit"], [evaders["straight_flee"]])
    assert not evaluation.ok and evaluation.error_kind == "crash"
    assert (
        "SIGSEGV" in evaluation.error_message
        if fault == "segfault"
        else "status 3" in evaluation.error_message
    )
    assert not os.path.exists(f"/proc/{old_pid}")  # killed and reaped: no zombie
    assert_still_serves(strict, programs)
    assert strict.worker_info[0]["pid"] != old_pid


def test_workers_have_no_network():
    code = (
        "from arenax.search.worker_isolation import isolate, NetworkDisabledError\n"
        "import socket\n"
        "print(isolate(None))\n"
        "address = ('127.0.0.1', 9)\n"
        "for attempt in (lambda: socket.socket(), lambda: socket.create_connection(address)):\n"
        "    try:\n"
        "        attempt()\n"
        "    except NetworkDisabledError:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit('network reachable')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_close_stops_and_reaps_every_worker(programs):
    box = Sandbox(env_overrides={"horizon": HORIZON}, num_workers=2, num_episodes=EPISODES)
    processes = [w.process for w in box._workers]
    box.close()
    box.close()  # idempotent
    assert all(p.poll() is not None for p in processes)
    assert not any(os.path.exists(f"/proc/{p.pid}") for p in processes)
    with pytest.raises(RuntimeError, match="closed"):
        box.evaluate(*_any_job(programs))


def _any_job(programs):
    pursuers, evaders = programs
    return pursuers["pure_pursuit"], [evaders["straight_flee"]]


def test_resident_memory_watchdog_kills_a_worker_over_its_limit(programs, cache_dir):
    bomb = pursuer("list_bomb", "X = [[0] * 1000 for _ in range(10**8)]\n" + STEER_ZERO)
    limits = SandboxLimits(time_limit_s=30, memory_limit_mb=8192, rss_limit_mb=900)
    with Sandbox(
        env_overrides={"horizon": HORIZON},
        num_episodes=EPISODES,
        limits=limits,
        compilation_cache_dir=cache_dir,
    ) as box:
        evaluation = box.evaluate(bomb, [programs[1]["straight_flee"]])
        assert evaluation.error_kind == "memory_limit", evaluation.error_message
        assert "MiB limit" in evaluation.error_message  # the parent's watchdog, not RLIMIT_DATA
        assert_still_serves(box, programs)


def test_a_worker_that_cannot_start_raises(programs):
    with Sandbox(env_overrides={"horizon": HORIZON}, scorer="no_such_module:Scorer") as box:
        for _ in range(2):  # the slot is restarted, and fails the same way again
            with pytest.raises(RuntimeError, match="no_such_module"):
                box.evaluate(*_any_job(programs))


def test_workers_go_away_with_their_parent(cache_dir):
    """A sandbox never closed is closed at interpreter exit (no orphans, no zombies)."""
    code = (
        "from arenax.search.sandbox import Sandbox\n"
        f"box = Sandbox(env_overrides={{'horizon': 20}}, compilation_cache_dir={cache_dir!r})\n"
        "box.wait_ready()\n"
        "print(box.worker_info[0]['pid'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not os.path.exists(f"/proc/{int(done.stdout)}")
