"""Policy programs: static checks, restricted loading, validation; hand-written strategies pass."""

from __future__ import annotations

import hashlib
import inspect
import textwrap

import jax
import pytest

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.envs import make
from arenax.envs.car_tag import dubins, dynamics
from arenax.search.program import (
    HELPER_API,
    Program,
    ProgramError,
    check_source,
    load_policy,
    strategy_programs,
    validate_policy,
)
from arenax.search.program_errors import ERROR_KINDS, error_for_kind
from arenax.search.program_rules import MAX_SOURCE_CHARS
from arenax.search.program_runtime import module_view, restricted_import


@pytest.fixture(scope="module")
def env_params():
    return make("car_tag", horizon=20)


def source(body: str) -> str:
    return textwrap.dedent(body).strip() + "\n"


PURSUER_HEAD = "import jax\nimport jax.numpy as jnp\n\n"
GOOD_ACT = "def act(obs, memory, key):\n    return jnp.zeros((1,)), memory\n"


def kind_of(src: str) -> ProgramError:
    with pytest.raises(ProgramError) as info:
        check_source(src)
    return info.value


# ----- hand-written strategies ----------------------------------------------------------


@pytest.mark.parametrize(
    "role,name",
    [("pursuer", n) for n in sorted(PURSUERS)] + [("evader", n) for n in sorted(EVADERS)],
)
def test_hand_written_strategies_load_and_validate(env_params, role, name):
    env, params = env_params
    (program,) = [p for p in strategy_programs(role) if p.name == name]
    check_source(program.source)
    policy = load_policy(program)
    assert policy.description and policy.role == role
    report = validate_policy(policy, env, params, role, jax.random.key(1))
    assert report.action_shape in ((1,), ()) if role == "pursuer" else report.action_shape == (2,)


def test_strategy_programs_come_from_the_strategies_own_source():
    pursuers = strategy_programs("pursuer")
    assert [p.name for p in pursuers] == sorted(PURSUERS)
    assert all(p.source == PURSUERS[p.name].source and p.role == "pursuer" for p in pursuers)
    assert len(strategy_programs("evader")) == len(EVADERS)
    with pytest.raises(ValueError, match="unknown role"):
        strategy_programs("referee")


def test_program_id_is_the_source_hash_and_summary_the_docstring():
    src = '"""Chase it.\n\nDetails."""\n' + PURSUER_HEAD + GOOD_ACT
    program = Program("chase", "pursuer", src)
    assert program.id == hashlib.sha1(src.encode()).hexdigest()[:12]
    assert program.summary == "Chase it."
    assert Program("x", "pursuer", src, "mine").summary == "mine"
    with pytest.raises(ValueError, match="unknown role"):
        Program("x", "driver", src)


def test_helper_api_documents_imports_and_every_helper_function():
    assert "jax.numpy" in HELPER_API and "arenax.envs.car_tag.dubins" in HELPER_API
    for module, alias in ((dynamics, "dynamics"), (dubins, "dubins")):
        for name, f in inspect.getmembers(module, inspect.isfunction):
            if f.__module__ == module.__name__ and not name.startswith("_"):
                assert f"{alias}.{name}(" in HELPER_API
    assert "Advance the car by `dt`" in HELPER_API  # docstrings are included


# ----- static checks -----------------------------------------------------------------------

HOSTILE = [
    ("import os\n" + GOOD_ACT, "forbidden_import", "`import os`"),
    ("import subprocess\n" + GOOD_ACT, "forbidden_import", "subprocess"),
    ("import socket\n" + GOOD_ACT, "forbidden_import", "socket"),
    ("import sys\n" + GOOD_ACT, "forbidden_import", "sys"),
    ("import importlib\n" + GOOD_ACT, "forbidden_import", "importlib"),
    ("from os import path\n" + GOOD_ACT, "forbidden_import", "from os import path"),
    ("import jax.experimental\n" + GOOD_ACT, "forbidden_import", "jax.experimental"),
    ("from jax.numpy import *\n" + GOOD_ACT, "forbidden_import", "import *"),
    ("from . import dynamics\n" + GOOD_ACT, "forbidden_import", "relative"),
    ("from __future__ import annotations\n" + GOOD_ACT, "forbidden_import", "__future__"),
    ("OS = __import__('os')\n" + GOOD_ACT, "dunder", "__import__"),
    ("X = ().__class__.__bases__[0].__subclasses__()\n" + GOOD_ACT, "dunder", "__class__"),
    ("X = getattr(jnp, 'load')\n" + GOOD_ACT, "forbidden_name", "getattr"),
    ("exec('import os')\n" + GOOD_ACT, "forbidden_name", "exec"),
    ("X = eval('1 + 1')\n" + GOOD_ACT, "forbidden_name", "eval"),
    ("F = open('/etc/passwd')\n" + GOOD_ACT, "forbidden_name", "open"),
    ("X = globals()\n" + GOOD_ACT, "forbidden_name", "globals"),
    ("X = type(1)\n" + GOOD_ACT, "forbidden_name", "type"),
    ("jnp.where = None\n" + GOOD_ACT, "forbidden_name", "assigning"),
    ("jnp.ones.cache = {}\n" + GOOD_ACT, "forbidden_name", "assigning"),
    ("X = jnp.load('weights.npy')\n" + GOOD_ACT, "forbidden_name", ".load"),
    ("jax.config.update('jax_enable_x64', True)\n" + GOOD_ACT, "forbidden_name", ".config"),
    ("X = jax.debug\n" + GOOD_ACT, "forbidden_name", ".debug"),
    ("X = jnp._src\n" + GOOD_ACT, "forbidden_name", "private attribute"),
    ("G = (x for x in ())\nF = G.gi_frame\n" + GOOD_ACT, "forbidden_name", "gi_frame"),
    ("while True:\n    pass\n" + GOOD_ACT, "forbidden_name", "while"),
    ("X = 0\ndef f():\n    global X\n    X = 1\n" + GOOD_ACT, "forbidden_name", "global"),
    ("class A(type):\n    pass\n" + GOOD_ACT, "forbidden_name", "classes"),
    ("def g():\n    yield 1\n" + GOOD_ACT, "forbidden_name", "generators"),
    ("X = np.zeros(3)\n" + GOOD_ACT, "forbidden_name", "import jax.numpy as jnp"),
    ("def act(obs, memory, key)\n    return 1, memory\n", "syntax", "syntax"),
    ("def act(obs, memory, key):\n  return 1\n return 2\n", "syntax", "indent"),
    ("return 1\n" + GOOD_ACT, "syntax", "outside function"),
    ("def policy(obs, memory, key):\n    return jnp.zeros(1), memory\n", "missing_act", "act"),
    ("def act(obs, key):\n    return jnp.zeros(1), ()\n", "missing_act", "3 positional"),
    ("def init():\n    return ()\n" + GOOD_ACT, "missing_act", "`init`"),
    ("X = 1 # " + "x" * MAX_SOURCE_CHARS + "\n" + GOOD_ACT, "too_large", "characters"),
    ("X = " + "[" * 70 + "1" + "]" * 70 + "\n" + GOOD_ACT, "too_large", "nested"),
]


@pytest.mark.parametrize(
    "body,kind,needle", HOSTILE, ids=[f"{k}-{i}" for i, (_, k, _) in enumerate(HOSTILE)]
)
def test_hostile_or_broken_sources_are_rejected_with_the_right_kind(body, kind, needle):
    err = kind_of(PURSUER_HEAD + body)
    assert err.kind == kind, str(err)
    assert needle.lower() in str(err).lower()
    if kind not in ("too_large", "missing_act") or "line" in str(err):
        assert str(err).startswith("line ")


def test_messages_name_the_line_and_what_to_do_instead():
    err = kind_of(
        PURSUER_HEAD
        + "import os\n\n"
        + "def act(obs, memory, key):\n    while True:\n        pass\n"
    )
    text = str(err)
    assert err.line == 4 and text.startswith("line 4: `import os`")
    assert "programs may import only math, functools, jax" in text
    assert "line 7: `while` loops are not allowed" in text and "fori_loop" in text


def test_programs_may_shadow_builtins_and_use_the_allowed_import_forms():
    check_source(
        source(
            """
            import math
            import functools
            import jax
            import jax.numpy as jnp
            from jax import lax, random
            from jax.numpy import where
            import arenax.envs.car_tag.dynamics
            from arenax.envs.car_tag import dubins, dynamics as dyn

            id = 3  # a program may bind a builtin's name for its own use

            @functools.partial(jax.jit, static_argnums=1)
            def helper(x, n):
                return lax.fori_loop(0, n, lambda i, c: c + i, x)

            def act(obs, memory, key):
                steer = where(obs.time_left > math.pi, 1.0, -1.0) + 0 * helper(0.0, id)
                return jnp.reshape(steer, (1,)), memory
            """
        )
    )


# ----- the restricted runtime ---------------------------------------------------------------


def test_restricted_import_admits_only_the_allow_list_as_read_only_views():
    with pytest.raises(ImportError, match="not allowed"):
        restricted_import("os")
    with pytest.raises(ImportError, match="not allowed"):
        restricted_import("arenax.envs", fromlist=("registry",))
    car_tag = restricted_import("arenax.envs.car_tag", fromlist=("dynamics", "dubins"))
    assert car_tag.dynamics.wrap_angle is dynamics.wrap_angle
    with pytest.raises(AttributeError):
        car_tag.CarTag  # noqa: B018 - only the helper modules are visible on the package
    jax_view = restricted_import("jax")
    assert jax_view.numpy.where is jax.numpy.where
    for hidden in ("config", "experimental", "debug", "_src"):
        with pytest.raises(AttributeError):
            getattr(jax_view, hidden)
    with pytest.raises(AttributeError):
        module_view(dynamics).jnp.load  # noqa: B018 - reached through a helper's own import
    with pytest.raises(AttributeError):
        restricted_import("functools").update_wrapper  # noqa: B018
    with pytest.raises(AttributeError, match="read-only"):
        jax_view.numpy = None


def test_load_policy_runs_the_module_body_with_restricted_builtins():
    src = PURSUER_HEAD + "LIMIT = max(1.0, abs(-2.0))\nprint('ignored')\n" + GOOD_ACT
    policy = load_policy(Program("p", "pursuer", src))
    namespace = policy.act.__globals__
    assert namespace["LIMIT"] == 2.0
    assert "open" not in namespace["__builtins__"] and "getattr" not in namespace["__builtins__"]


@pytest.mark.parametrize(
    "body,kind,needle",
    [
        ("X = 1 / 0\n" + GOOD_ACT, "trace", "line 4: ZeroDivisionError"),
        ("X = [0] * (1 << 40)\n" + GOOD_ACT, "memory_limit", "memory"),
        ("act = 3\n", "missing_act", "function"),
    ],
)
def test_load_policy_maps_module_body_failures(body, kind, needle):
    with pytest.raises(ProgramError) as info:
        load_policy(Program("p", "pursuer", PURSUER_HEAD + body))
    assert info.value.kind == kind and needle in str(info.value)


# ----- validation -------------------------------------------------------------------------------

BROKEN = {
    "wrong_shape": (
        "evader",
        "def act(obs, memory, key):\n    return jnp.zeros((3,)), memory\n",
        "shape",
        "(2,)",
    ),
    "no_pair": (
        "pursuer",
        "def act(obs, memory, key):\n    return jnp.zeros((1,))\n",
        "shape",
        "pair",
    ),
    "nan": (
        "pursuer",
        "def act(obs, memory, key):\n    d = obs.opp_pos - obs.opp_pos\n"
        "    return d[:1] / d[1:], memory\n",
        "non_finite",
        "NaN",
    ),
    "steer_too_far": (
        "pursuer",
        "def act(obs, memory, key):\n    return jnp.full((1,), 5.0), memory\n",
        "bounds",
        "[-1, 1]",
    ),
    "too_fast": (
        "evader",
        "def act(obs, memory, key):\n    return 2.0 * obs.evader_speed * jnp.ones(2), memory\n",
        "bounds",
        "outside",
    ),
    "python_if": (
        "pursuer",
        "def act(obs, memory, key):\n    if obs.own_pos[0] > 0:\n"
        "        return jnp.ones(1), memory\n    return -jnp.ones(1), memory\n",
        "trace",
        "jnp.where",
    ),
    "memory_structure": (
        "pursuer",
        "def init(key):\n    return {'t': jnp.zeros(())}\n\n"
        "def act(obs, memory, key):\n"
        "    return jnp.zeros(1), {'t': memory['t'], 'u': memory['t']}\n",
        "shape",
        "structure",
    ),
    "memory_dtype": (
        "pursuer",
        "def init(key):\n    return jnp.zeros((), jnp.int32)\n\n"
        "def act(obs, memory, key):\n    return jnp.zeros(1), memory + 0.5\n",
        "shape",
        "int32",
    ),
    "recursion": (
        "pursuer",
        "def act(obs, memory, key):\n    return act(obs, memory, key)\n",
        "trace",
        "RecursionError",
    ),
    "bad_field": (
        "pursuer",
        "def act(obs, memory, key):\n    return obs.enemy_pos[:1], memory\n",
        "trace",
        "enemy_pos",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_validation_rejects_broken_programs(env_params, case):
    env, params = env_params
    role, body, kind, needle = BROKEN[case]
    policy = load_policy(Program(case, role, PURSUER_HEAD + body))
    with pytest.raises(ProgramError) as info:
        validate_policy(policy, env, params, role, jax.random.key(0), num_observations=8)
    assert info.value.kind == kind, str(info.value)
    assert needle in str(info.value)


def test_python_if_error_names_the_line(env_params):
    env, params = env_params
    role, body, _, _ = BROKEN["python_if"]
    policy = load_policy(Program("if", role, PURSUER_HEAD + body))
    with pytest.raises(ProgramError) as info:
        validate_policy(policy, env, params, role, jax.random.key(0), num_observations=8)
    assert info.value.line == 5 and "`if obs.own_pos[0] > 0:`" in str(info.value)


def test_validation_enforces_the_compile_time_limit_and_accepts_scalar_steering(env_params):
    env, params = env_params
    body = "def act(obs, memory, key):\n    return jnp.tanh(obs.opp_pos[0]), memory\n"
    policy = load_policy(Program("scalar", "pursuer", PURSUER_HEAD + body))
    report = validate_policy(policy, env, params, "pursuer", jax.random.key(0), num_observations=8)
    assert report.action_shape == ()
    with pytest.raises(ProgramError) as info:
        validate_policy(policy, env, params, "pursuer", jax.random.key(0), 1e-9, num_observations=8)
    assert info.value.kind == "compile_timeout"


def test_error_kinds_round_trip():
    assert len(ERROR_KINDS) == 14
    for kind in ERROR_KINDS:
        err = error_for_kind(kind, "message")
        assert err.kind == kind and str(err) == "message"
