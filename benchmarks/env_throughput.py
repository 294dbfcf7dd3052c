"""Car Tag env-steps per second: the JAX env against two NumPy references.

Every implementation plays the same game with the same two hand-written
policies in the loop (pursuer: pure pursuit, evader: straight flee):

- **jax**: `arenax.rollout.rollout` (one `jit`, `vmap` over episodes,
  `lax.scan` over steps), compiled once per batch size.
- **numpy-batched**: the game and both policies written here in NumPy over
  all environments at once (float32, one array per coordinate).
- **per-env**: the gymnasium-style way, one environment object per episode,
  stepped in a Python loop (plain Python floats and `math`, the fastest way to
  write a single small environment in Python).

All three make finished episodes absorbing (no auto-reset), as the JAX env
does, and every timed call is one reset plus `T` steps of every environment:
env-steps/s = batch * T / seconds. Figures are the best of a few repeats (the
least disturbed by other processes), with JAX and NumPy-batched taking turns
so that both see the same machine load. Every row records how many cores
other processes (and the hypervisor, as steal time) took while it was
measured. The per-env reference scales linearly in the batch, so it is
measured only up to batch 4,096 and only for a bounded time per batch size.

Before timing, a cross-check steps the JAX env and the batched NumPy reference
from identical states with identical actions and asserts that positions agree.

    python benchmarks/env_throughput.py              # full run, a few minutes on 2 CPU cores
    python benchmarks/env_throughput.py --quick      # a short smoke run
    python benchmarks/env_throughput.py --max-batch 4096

On an accelerator (`jax.default_backend() != "cpu"`) the JAX column extends to
batches of 4,194,304; the NumPy references stay on the host CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
from rich.console import Console
from rich.table import Table

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.envs.car_tag import CarTag, CarTagParams
from arenax.rollout import rollout

PURSUER_POLICY = "pure_pursuit"
EVADER_POLICY = "straight_flee"
RESULTS = Path(__file__).resolve().parent / "results" / "env_throughput.json"

CPU_BATCHES = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536]
ACCELERATOR_BATCHES = [262144, 1048576, 4194304]
PER_ENV_MAX_BATCH = 4096
NUMPY_MAX_BATCH = 65536

TARGET_CPU_STEPS = 10e6  # env-steps/s at batch 65,536 on a 2-core CPU
TARGET_VS_NUMPY = 1.5  # jax / numpy-batched at batch 65,536
TARGET_VS_PER_ENV = 50.0  # jax / per-env at batch 4,096
TARGET_ACCEL_STEPS = 1e9  # env-steps/s at batch >= 1,048,576 on an accelerator

# XLA:CPU hands reductions to YNNPACK by default. Under `vmap`, the straight-flee
# policy's `jnp.linalg.norm` of a (2,) vector is a reduction over a size-2 axis,
# which YNNPACK runs as a separate library call at ~20 ns per element (about a
# fifth of a whole step in a profile); without it XLA fuses the reduction into the surrounding
# arithmetic. Only this fusion type is removed (dots and elementwise keep
# YNNPACK); results are unchanged. `--plain-xla` measures with XLA's defaults.
# The flag has to be in XLA_FLAGS before JAX starts its backend (see main()).
XLA_CPU_FLAG = "--xla_cpu_experimental_ynn_fusion_type=-reduce"

F32 = np.float32
PI = math.pi
TWO_PI = 2.0 * math.pi


# ---------------------------------------------------------------------------
# Reference 1: NumPy, batched over environments.
# ---------------------------------------------------------------------------


@dataclass
class NpObs:
    """One player's observation for a batch: the fields of `CarTagObs` that vary.

    Vectors are (x, y) pairs of (B,) arrays; the game's constants are floats.
    """

    own_x: np.ndarray
    own_y: np.ndarray
    own_heading: np.ndarray
    own_vx: np.ndarray
    own_vy: np.ndarray
    opp_x: np.ndarray
    opp_y: np.ndarray
    opp_heading: np.ndarray
    opp_vx: np.ndarray
    opp_vy: np.ndarray
    time_left: np.ndarray
    evader_speed: float


def np_wrap_angle(angle: np.ndarray) -> np.ndarray:
    """To [-pi, pi), with `floor` as `dynamics.wrap_angle` does (`np.mod` is 15x slower)."""
    wrapped = angle - TWO_PI * np.floor((angle + PI) * (1.0 / TWO_PI))
    wrapped = np.where(wrapped >= PI, wrapped - TWO_PI, wrapped)
    return np.where(wrapped < -PI, wrapped + TWO_PI, wrapped)


class NumpyCarTag:
    """Car Tag for `batch` environments at once, in float32 NumPy.

    The same game as `arenax.envs.car_tag.CarTag`: exact-arc car, norm-clipped
    evader velocity, clamping at the walls, capture tested on the segment
    travelled during the step, absorbing end of episode.
    """

    def __init__(self, params: CarTagParams, batch: int):
        self.batch = batch
        self.v = float(params.pursuer_speed)
        self.ve = float(params.evader_speed)
        self.turn_rate = float(params.pursuer_speed) / float(params.min_turn_radius)
        self.dt = float(params.dt)
        self.half = float(params.arena_half_size)
        self.radius = float(params.capture_radius)
        self.horizon = int(params.horizon)
        self.min_start = float(params.min_start_distance)
        self.max_start = float(params.max_start_distance)

    def reset(self, rng: np.random.Generator) -> dict[str, NpObs]:
        """Same distribution as the JAX reset (not the same draws)."""
        b, half = self.batch, self.half

        def uniform(shape, lo, hi):
            return (lo + (hi - lo) * rng.random(shape, dtype=F32)).astype(F32)

        self.px, self.py = uniform((2, b), -half, half)
        self.ph = uniform(b, -PI, PI)
        cx, cy = uniform((2, 8, b), -half, half)
        dist = np.hypot(cx - self.px, cy - self.py)
        miss = np.maximum(self.min_start - dist, 0) + np.maximum(dist - self.max_start, 0)
        pick = np.argmin(miss, axis=0)
        cols = np.arange(b)
        self.ex, self.ey = cx[pick, cols], cy[pick, cols]
        # No draw in the band: a point in the band on the line to the farthest corner.
        far = miss[pick, cols] > 0
        if far.any():
            kx = np.where(self.px[far] >= 0, -half, half).astype(F32)
            ky = np.where(self.py[far] >= 0, -half, half).astype(F32)
            corner = np.hypot(kx - self.px[far], ky - self.py[far])
            lo, hi = np.minimum(self.min_start, corner), np.minimum(self.max_start, corner)
            frac = (lo + rng.random(far.sum(), dtype=F32) * (hi - lo)) / corner
            self.ex[far] = np.clip(self.px[far] + frac * (kx - self.px[far]), -half, half)
            self.ey[far] = np.clip(self.py[far] + frac * (ky - self.py[far]), -half, half)
        self.evx = np.zeros(b, F32)
        self.evy = np.zeros(b, F32)
        self.eh = uniform(b, -PI, PI)
        self.t = np.zeros(b, np.int32)
        self.captured = np.zeros(b, bool)
        self.capture_time = np.full(b, self.horizon * self.dt, F32)
        self.done = np.zeros(b, bool)
        return self.observe()

    def set_state(self, state) -> None:
        """Copy a batched `CarTagState` (leaves (B, ...)) into this reference."""
        as_np = lambda x: np.array(x)
        self.px, self.py = as_np(state.pursuer_pos).T.copy()
        self.ph = as_np(state.pursuer_heading)
        self.ex, self.ey = as_np(state.evader_pos).T.copy()
        self.evx, self.evy = as_np(state.evader_vel).T.copy()
        self.eh = as_np(state.evader_heading)
        self.t = as_np(state.t)
        self.captured = as_np(state.captured)
        self.capture_time = as_np(state.capture_time)
        self.done = as_np(state.done)

    def observe(self) -> dict[str, NpObs]:
        pvx = self.v * np.cos(self.ph)
        pvy = self.v * np.sin(self.ph)
        time_left = ((self.horizon - self.t) * self.dt).astype(F32)
        pursuer = NpObs(
            self.px, self.py, self.ph, pvx, pvy,
            self.ex, self.ey, self.eh, self.evx, self.evy, time_left, self.ve,
        )  # fmt: skip
        evader = NpObs(
            self.ex, self.ey, self.eh, self.evx, self.evy,
            self.px, self.py, self.ph, pvx, pvy, time_left, self.ve,
        )  # fmt: skip
        return {"pursuer": pursuer, "evader": evader}

    def step(self, steering: np.ndarray, vel_x: np.ndarray, vel_y: np.ndarray):
        """Advance every environment. Returns `(obs, rewards, done, info)`."""
        half, dt = self.half, self.dt
        # Pursuer: exact circular arc, chord = v dt sinc(dtheta / 2) along heading + dtheta / 2.
        dtheta = np.clip(np.nan_to_num(steering), -1.0, 1.0) * F32(self.turn_rate * dt)
        half_turn = 0.5 * dtheta
        straight = half_turn == 0
        safe = np.where(straight, F32(1), half_turn)
        chord = F32(self.v * dt) * np.where(straight, F32(1), np.sin(safe) / safe)
        mid = self.ph + half_turn
        px = np.clip(self.px + chord * np.cos(mid), -half, half)
        py = np.clip(self.py + chord * np.sin(mid), -half, half)
        ph = np_wrap_angle(self.ph + dtheta)
        # Evader: velocity clipped to its maximum speed (NaN/inf -> 0; huge values
        # scaled by 2^-70 before squaring so |v|^2 does not overflow).
        vx = np.nan_to_num(vel_x, nan=0.0, posinf=0.0, neginf=0.0)
        vy = np.nan_to_num(vel_y, nan=0.0, posinf=0.0, neginf=0.0)
        shrink = np.where(np.maximum(np.abs(vx), np.abs(vy)) > 2.0**60, F32(2.0**-70), F32(1))
        sx, sy = vx * shrink, vy * shrink
        norm = np.sqrt(sx * sx + sy * sy)
        too_fast = norm > self.ve * shrink
        scale = self.ve / np.where(too_fast, norm, F32(1))
        vx = np.where(too_fast, sx * scale, vx)
        vy = np.where(too_fast, sy * scale, vy)
        ex = np.clip(self.ex + vx * dt, -half, half)
        ey = np.clip(self.ey + vy * dt, -half, half)
        # Capture: first entry into the disc along the straight-line relative motion.
        sx, sy = self.ex - self.px, self.ey - self.py
        dx, dy = (ex - px) - sx, (ey - py) - sy
        a = dx * dx + dy * dy
        b = sx * dx + sy * dy
        c = sx * sx + sy * sy - F32(self.radius * self.radius)
        disc = b * b - a * c
        moving_rel = a > 1e-12
        root = (-b - np.sqrt(np.maximum(disc, 0))) / np.where(moving_rel, a, F32(1))
        crosses = moving_rel & (disc >= 0) & (root >= 0) & (root <= 1)
        inside = c <= 0
        hit = inside | crosses
        fraction = np.where(inside, F32(0), np.where(crosses, root, F32(1)))
        eh = np.where(vx * vx + vy * vy > 1e-12, np_wrap_angle(np.arctan2(vy, vx)), self.eh)
        # Bookkeeping: finished episodes are absorbing.
        active = ~self.done
        captured_now = active & hit
        contact_step = self.t.astype(F32) + fraction
        self.t = self.t + active
        done = self.done | captured_now | (self.t >= self.horizon)
        for name, new in (
            ("px", px), ("py", py), ("ph", ph), ("ex", ex), ("ey", ey),
            ("evx", vx), ("evy", vy), ("eh", eh),
        ):  # fmt: skip
            setattr(self, name, np.where(active, new, getattr(self, name)))
        self.captured = self.captured | captured_now
        self.capture_time = np.where(captured_now, contact_step * F32(dt), self.capture_time)
        self.done = done
        survived = np.where(captured_now, fraction, F32(1))
        rewards = {
            "pursuer": np.where(captured_now, 1 - contact_step / F32(self.horizon), F32(0)),
            "evader": np.where(active, survived / F32(self.horizon), F32(0)),
        }
        info = {
            "captured": self.captured,
            "capture_time": self.capture_time,
            "evader_score": self.capture_time / F32(self.horizon * dt),
        }
        return self.observe(), rewards, done, info


def np_pure_pursuit(obs: NpObs) -> np.ndarray:
    """`agents/car_tag/pursuers/pure_pursuit.py` over a batch: steering (B,)."""
    bearing = np.arctan2(obs.opp_y - obs.own_y, obs.opp_x - obs.own_x) - obs.own_heading
    return np.clip(5.0 * np_wrap_angle(bearing), -1.0, 1.0)


def np_straight_flee(obs: NpObs) -> tuple[np.ndarray, np.ndarray]:
    """`agents/car_tag/evaders/straight_flee.py` over a batch: velocity (B,), (B,)."""
    ax, ay = obs.own_x - obs.opp_x, obs.own_y - obs.opp_y
    norm = np.sqrt(ax * ax + ay * ay) + F32(1e-6)
    return obs.evader_speed * (ax / norm), obs.evader_speed * (ay / norm)


def numpy_batched_episode(env: NumpyCarTag, rng: np.random.Generator, steps: int) -> dict:
    """Reset every environment and play `steps` steps; returns summed rewards."""
    obs = env.reset(rng)
    returns = {"pursuer": np.zeros(env.batch, F32), "evader": np.zeros(env.batch, F32)}
    for _ in range(steps):
        steering = np_pure_pursuit(obs["pursuer"])
        vel_x, vel_y = np_straight_flee(obs["evader"])
        obs, rewards, _, _ = env.step(steering, vel_x, vel_y)
        returns["pursuer"] += rewards["pursuer"]
        returns["evader"] += rewards["evader"]
    return returns


# ---------------------------------------------------------------------------
# Reference 2: one environment per object (gymnasium style), Python floats.
# ---------------------------------------------------------------------------


class PyObs:
    """One player's observation of one environment (tuples for vectors)."""

    __slots__ = (
        "evader_speed", "opp_heading", "opp_pos", "opp_vel",
        "own_heading", "own_pos", "own_vel", "time_left",
    )  # fmt: skip

    def __init__(self, own_pos, own_heading, own_vel, opp_pos, opp_heading, opp_vel, time_left,
                 evader_speed):  # fmt: skip
        self.own_pos, self.own_heading, self.own_vel = own_pos, own_heading, own_vel
        self.opp_pos, self.opp_heading, self.opp_vel = opp_pos, opp_heading, opp_vel
        self.time_left, self.evader_speed = time_left, evader_speed


def py_wrap_angle(angle: float) -> float:
    return (angle + PI) % TWO_PI - PI  # Python's float % is fast


class PyCarTag:
    """One Car Tag environment, gymnasium style: `reset(rng) -> obs`, `step(actions)`."""

    def __init__(self, params: CarTagParams):
        self.v = float(params.pursuer_speed)
        self.ve = float(params.evader_speed)
        self.turn_rate = self.v / float(params.min_turn_radius)
        self.dt = float(params.dt)
        self.half = float(params.arena_half_size)
        self.radius = float(params.capture_radius)
        self.horizon = int(params.horizon)
        self.min_start = float(params.min_start_distance)
        self.max_start = float(params.max_start_distance)

    def reset(self, rng: random.Random) -> dict[str, PyObs]:
        half = self.half
        self.px, self.py = rng.uniform(-half, half), rng.uniform(-half, half)
        self.ph = rng.uniform(-PI, PI)
        best = None
        for _ in range(8):
            cx, cy = rng.uniform(-half, half), rng.uniform(-half, half)
            dist = math.hypot(cx - self.px, cy - self.py)
            miss = max(self.min_start - dist, 0.0) + max(dist - self.max_start, 0.0)
            if best is None or miss < best[0]:
                best = (miss, cx, cy)
        miss, self.ex, self.ey = best
        if miss > 0.0:  # no draw in the band: a point in it on the line to the farthest corner
            kx = -half if self.px >= 0.0 else half
            ky = -half if self.py >= 0.0 else half
            corner = math.hypot(kx - self.px, ky - self.py)
            lo, hi = min(self.min_start, corner), min(self.max_start, corner)
            frac = (lo + rng.random() * (hi - lo)) / corner
            self.ex = min(max(self.px + frac * (kx - self.px), -half), half)
            self.ey = min(max(self.py + frac * (ky - self.py), -half), half)
        self.evx = self.evy = 0.0
        self.eh = rng.uniform(-PI, PI)
        self.t = 0
        self.captured = False
        self.capture_time = self.horizon * self.dt
        self.done = False
        return self.observe()

    def set_state(self, state, i: int) -> None:
        """Copy environment `i` of a batched `CarTagState`."""
        f = lambda x: float(np.asarray(x)[i])
        self.px, self.py = map(float, np.asarray(state.pursuer_pos)[i])
        self.ph = f(state.pursuer_heading)
        self.ex, self.ey = map(float, np.asarray(state.evader_pos)[i])
        self.evx, self.evy = map(float, np.asarray(state.evader_vel)[i])
        self.eh = f(state.evader_heading)
        self.t = int(np.asarray(state.t)[i])
        self.captured = bool(np.asarray(state.captured)[i])
        self.capture_time = f(state.capture_time)
        self.done = bool(np.asarray(state.done)[i])

    def observe(self) -> dict[str, PyObs]:
        p_vel = (self.v * math.cos(self.ph), self.v * math.sin(self.ph))
        p_pos, e_pos, e_vel = (self.px, self.py), (self.ex, self.ey), (self.evx, self.evy)
        time_left = (self.horizon - self.t) * self.dt
        return {
            "pursuer": PyObs(p_pos, self.ph, p_vel, e_pos, self.eh, e_vel, time_left, self.ve),
            "evader": PyObs(e_pos, self.eh, e_vel, p_pos, self.ph, p_vel, time_left, self.ve),
        }

    def step(self, steering: float, velocity: tuple[float, float]):
        """Returns `(obs, rewards, done, info)`; a finished episode does not move."""
        if self.done:
            return self.observe(), {"pursuer": 0.0, "evader": 0.0}, True, self._info()
        half, dt = self.half, self.dt
        steering = 0.0 if math.isnan(steering) else steering
        dtheta = min(max(steering, -1.0), 1.0) * self.turn_rate * dt
        half_turn = 0.5 * dtheta
        chord = self.v * dt * (math.sin(half_turn) / half_turn if half_turn != 0.0 else 1.0)
        mid = self.ph + half_turn
        px = min(max(self.px + chord * math.cos(mid), -half), half)
        py = min(max(self.py + chord * math.sin(mid), -half), half)
        self.ph = py_wrap_angle(self.ph + dtheta)
        vx, vy = (v if math.isfinite(v) else 0.0 for v in velocity)
        speed = math.hypot(vx, vy)
        if speed > self.ve:
            vx, vy = vx * (self.ve / speed), vy * (self.ve / speed)
        ex = min(max(self.ex + vx * dt, -half), half)
        ey = min(max(self.ey + vy * dt, -half), half)
        sx, sy = self.ex - self.px, self.ey - self.py
        dx, dy = (ex - px) - sx, (ey - py) - sy
        a = dx * dx + dy * dy
        b = sx * dx + sy * dy
        c = sx * sx + sy * sy - self.radius * self.radius
        fraction, hit = 1.0, c <= 0.0
        if hit:
            fraction = 0.0
        elif a > 1e-12 and b * b - a * c >= 0.0:
            root = (-b - math.sqrt(b * b - a * c)) / a
            if 0.0 <= root <= 1.0:
                fraction, hit = root, True
        self.px, self.py, self.ex, self.ey, self.evx, self.evy = px, py, ex, ey, vx, vy
        if vx * vx + vy * vy > 1e-12:
            self.eh = py_wrap_angle(math.atan2(vy, vx))
        contact_step = self.t + fraction
        self.t += 1
        rewards = {"pursuer": 0.0, "evader": (fraction if hit else 1.0) / self.horizon}
        if hit:
            self.captured = True
            self.capture_time = contact_step * dt
            rewards["pursuer"] = 1.0 - contact_step / self.horizon
        self.done = hit or self.t >= self.horizon
        return self.observe(), rewards, self.done, self._info()

    def _info(self) -> dict:
        score = self.capture_time / (self.horizon * self.dt)
        return {"captured": self.captured, "capture_time": self.capture_time, "evader_score": score}


def py_pure_pursuit(obs: PyObs) -> float:
    (x, y), (ox, oy) = obs.own_pos, obs.opp_pos
    bearing = py_wrap_angle(math.atan2(oy - y, ox - x) - obs.own_heading)
    return min(max(5.0 * bearing, -1.0), 1.0)


def py_straight_flee(obs: PyObs) -> tuple[float, float]:
    (x, y), (ox, oy) = obs.own_pos, obs.opp_pos
    ax, ay = x - ox, y - oy
    norm = math.hypot(ax, ay) + 1e-6
    return obs.evader_speed * ax / norm, obs.evader_speed * ay / norm


# ---------------------------------------------------------------------------
# Measurements.
# ---------------------------------------------------------------------------


@dataclass
class Timing:
    steps_per_s: float
    seconds: list[float]  # each repeat's wall time
    calls_per_repeat: int
    compile_s: float | None = None
    ynn_fusions: int | None = None  # YNNPACK library calls in the compiled program (jax)


def time_interleaved(
    calls: dict[str, tuple[Callable[[], object], int]], min_s: float, repeats: int
) -> dict[str, Timing]:
    """Time warm calls `{name: (call, env_steps_per_call)}`, best of `repeats`.

    Each repeat runs a call enough times to last >= `min_s`; the calls take
    turns repeat by repeat, so that all of them see the same load from
    whatever else runs on the machine.
    """
    counts = {}
    for name, (call, _) in calls.items():
        start = time.perf_counter()
        call()
        counts[name] = max(1, math.ceil(min_s / max(time.perf_counter() - start, 1e-9)))
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, (call, _) in calls.items():
            start = time.perf_counter()
            for _ in range(counts[name]):
                call()
            seconds[name].append(time.perf_counter() - start)
    return {
        name: Timing(counts[name] * steps / min(seconds[name]), seconds[name], counts[name])
        for name, (_, steps) in calls.items()
    }


class OtherCpuMeter:
    """Cores used by everything but this process (steal time included), from /proc/stat.

    `start()` then `stop()` gives the average over the interval; None off Linux.
    """

    def start(self) -> None:
        self._begin = self._sample()

    def stop(self) -> float | None:
        end = self._sample()
        if self._begin is None or end is None:
            return None
        (busy0, own0, wall0), (busy1, own1, wall1) = self._begin, end
        return max(0.0, ((busy1 - busy0) - (own1 - own0)) / (wall1 - wall0))

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as f:
                ticks = [int(x) for x in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        # user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
        return busy, time.process_time(), time.perf_counter()


def jax_runner(env, params, policies, batch: int, steps: int) -> tuple[Callable, float, int]:
    """A compiled `rollout` of `batch` episodes x `steps` steps, its compile time (s) and
    how many YNNPACK library calls it holds."""

    def play(key):  # returns and final states: the whole game is computed, nothing is dead code
        return rollout(env, params, policies, key, batch, num_steps=steps)

    start = time.perf_counter()
    compiled = jax.jit(play).lower(jax.random.key(0)).compile()
    compile_s = time.perf_counter() - start
    key = jax.random.key(1)
    jax.block_until_ready(compiled(key))  # warm-up run
    ynn_fusions = compiled.as_text().count('"__ynn_fusion"')
    return (lambda: jax.block_until_ready(compiled(key))), compile_s, ynn_fusions


def numpy_runner(params, batch: int, steps: int) -> Callable:
    env, rng = NumpyCarTag(params, batch), np.random.default_rng(0)
    numpy_batched_episode(env, rng, 2)  # warm-up
    return lambda: numpy_batched_episode(env, rng, steps)


def measure_per_env(params, batch: int, steps: int, budget_s: float):
    """Step `batch` envs one by one for about `budget_s` (resetting every `steps` steps)."""
    rng = random.Random(0)
    envs = [PyCarTag(params) for _ in range(batch)]
    env_steps, elapsed, start = 0, 0.0, time.perf_counter()
    while elapsed < budget_s:
        obs = [e.reset(rng) for e in envs]
        for _ in range(steps):
            for i, e in enumerate(envs):
                o = obs[i]
                action_p = py_pure_pursuit(o["pursuer"])
                action_e = py_straight_flee(o["evader"])
                obs[i], _, _, _ = e.step(action_p, action_e)
            env_steps += batch
            elapsed = time.perf_counter() - start
            if elapsed >= budget_s:
                break
    return Timing(env_steps / elapsed, [elapsed], env_steps)


# ---------------------------------------------------------------------------
# Correctness cross-check.
# ---------------------------------------------------------------------------


def cross_check(env, params, policies, console: Console, batch: int = 1024) -> dict:
    """Step JAX and the references from identical states for a whole episode.

    First with identical actions (the JAX policies' actions fed to all three),
    then with each implementation running its own copy of the two policies.
    Asserts that positions agree within 1e-4 m, that the same episodes end and
    that the returns agree within 1e-4; returns the errors.
    """
    steps = int(params.horizon)
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    step = jax.jit(jax.vmap(env.step, in_axes=(None, 0, 0, None)))
    act = {a: jax.jit(jax.vmap(p.act, in_axes=(0, None, None))) for a, p in policies.items()}
    key = jax.random.key(0)

    def jax_actions(obs):
        a_p = act["pursuer"](obs["pursuer"], (), key)[0].reshape(batch, 1)
        a_e = act["evader"](obs["evader"], (), key)[0].reshape(batch, 2)
        return {"pursuer": a_p, "evader": a_e}

    errors = {}
    for mode in ("identical_actions", "own_policies"):
        obs, state = reset(jax.random.split(jax.random.key(7), batch), params)
        ref = NumpyCarTag(params, batch)
        ref.set_state(state)
        np_obs = ref.observe()
        per_env = [PyCarTag(params) for _ in range(16)]
        for i, e in enumerate(per_env):
            e.set_state(state, i)
        jax_return = np.zeros(batch)
        np_return = np.zeros(batch)
        pos_error = 0.0
        for _ in range(steps):
            actions = jax_actions(obs)
            obs, state, rewards, _, _ = step(key, state, actions, params)
            jax_return += np.asarray(rewards["evader"])
            if mode == "identical_actions":
                a_p, a_e = np.asarray(actions["pursuer"]), np.asarray(actions["evader"])
                _, np_rewards, _, _ = ref.step(a_p[:, 0], a_e[:, 0], a_e[:, 1])
                for i, e in enumerate(per_env):
                    e.step(float(a_p[i, 0]), (float(a_e[i, 0]), float(a_e[i, 1])))
            else:
                np_steer, (np_vx, np_vy) = (
                    np_pure_pursuit(np_obs["pursuer"]),
                    np_straight_flee(np_obs["evader"]),
                )
                np_obs, np_rewards, _, _ = ref.step(np_steer, np_vx, np_vy)
            np_return += np_rewards["evader"]
            pos_error = max(pos_error, _position_error(state, ref))
        errors[mode] = {
            "max_pos_error_m": pos_error,
            "done_mismatches": int((np.asarray(state.done) != ref.done).sum()),
            "max_return_error": float(np.abs(jax_return - np_return).max()),
            "captured": int(ref.captured.sum()),
        }
        if mode == "identical_actions":
            errors["per_env_vs_numpy_max_pos_error_m"] = max(
                float(max(abs(e.px - ref.px[i]), abs(e.py - ref.py[i]),
                          abs(e.ex - ref.ex[i]), abs(e.ey - ref.ey[i])))
                for i, e in enumerate(per_env)
            )  # fmt: skip
    same, own = errors["identical_actions"], errors["own_policies"]
    console.print(
        f"cross-check, {batch} episodes x {steps} steps ({same['captured']} captured), JAX vs "
        f"NumPy-batched: identical actions: max |pos error| {same['max_pos_error_m']:.1e} m, "
        f"max |return error| {same['max_return_error']:.1e}, done mismatches "
        f"{same['done_mismatches']}; own policies: {own['max_pos_error_m']:.1e} m, "
        f"{own['max_return_error']:.1e}, {own['done_mismatches']}; per-env vs NumPy-batched "
        f"(16 episodes): {errors['per_env_vs_numpy_max_pos_error_m']:.1e} m"
    )
    for e in (same, own):
        assert e["max_pos_error_m"] < 1e-4 and e["max_return_error"] < 1e-4, errors
        assert e["done_mismatches"] == 0, errors
    assert errors["per_env_vs_numpy_max_pos_error_m"] < 1e-4, errors
    return errors


def _position_error(state, ref: NumpyCarTag) -> float:
    p, e = np.asarray(state.pursuer_pos), np.asarray(state.evader_pos)
    return max(
        float(np.abs(p[:, 0] - ref.px).max()), float(np.abs(p[:, 1] - ref.py).max()),
        float(np.abs(e[:, 0] - ref.ex).max()), float(np.abs(e[:, 1] - ref.ey).max()),
    )  # fmt: skip


# ---------------------------------------------------------------------------
# Main.
# ---------------------------------------------------------------------------


def device_info() -> dict:
    return {
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": platform.processor() or platform.machine(),
        "jax_version": jax.__version__,
        "numpy_version": np.__version__,
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer batch sizes, shorter timings")
    parser.add_argument("--max-batch", type=int, default=None, help="largest batch size to run")
    parser.add_argument(
        "--steps", type=int, default=None, help="T, steps per timed call (default 100)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument(
        "--plain-xla", action="store_true", help=f"do not add {XLA_CPU_FLAG} to XLA_FLAGS"
    )
    args = parser.parse_args(argv)
    script_start = time.perf_counter()
    if not args.plain_xla:
        from jax._src import xla_bridge

        if xla_bridge.backends_are_initialized():
            raise RuntimeError("set XLA_FLAGS before JAX starts: call main() first")
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {XLA_CPU_FLAG}".strip()

    console = Console(width=max(Console().width, 110))
    backend = jax.default_backend()
    accelerator = backend != "cpu"
    batches = CPU_BATCHES + (ACCELERATOR_BATCHES if accelerator else [])
    if args.quick:
        batches = [b for b in batches if b in (1, 64, 4096, 65536) or b >= 1048576]
    if args.max_batch is not None:
        batches = [b for b in batches if b <= args.max_batch] or [args.max_batch]
    env = CarTag()
    params = env.default_params
    # T = 100: pure pursuit catches straight flee at step ~84 (median), so about 80% of
    # the steps are live (not yet absorbed) and the reset is a small share of a call.
    steps = args.steps or (50 if args.quick else 100)
    min_s, repeats = (0.1, 2) if args.quick else (0.25, 5)
    per_env_budget = 0.3 if args.quick else 1.5

    info = device_info()
    console.print(
        f"[bold]Car Tag env throughput[/bold]: backend {backend}, devices {info['devices']}, "
        f"{info['cpus_usable']} usable CPU cores, jax {jax.__version__}, numpy {np.__version__}"
    )
    console.print(
        f"policies: {PURSUER_POLICY} vs {EVADER_POLICY}; each timed call = reset + {steps} steps "
        f"of every env; best of {repeats} repeats of >= {min_s} s (JAX and NumPy-batched taking "
        f"turns); per-env reference only up to "
        f"batch {PER_ENV_MAX_BATCH} ({per_env_budget} s each, it scales linearly); "
        f"NumPy-batched up to {NUMPY_MAX_BATCH}."
    )

    policies = {"pursuer": PURSUERS[PURSUER_POLICY], "evader": EVADERS[EVADER_POLICY]}
    check = cross_check(env, params, policies, console)

    rows = []
    meter = OtherCpuMeter()
    for batch in batches:
        row = {"batch": batch, "steps_per_call": steps}
        run_jax, compile_s, ynn_fusions = jax_runner(env, params, policies, batch, steps)
        calls = {"jax": (run_jax, batch * steps)}
        if batch <= NUMPY_MAX_BATCH:
            calls["numpy_batched"] = (numpy_runner(params, batch, steps), batch * steps)
        meter.start()
        timings = time_interleaved(calls, min_s, repeats)
        row["other_cpu_cores"] = meter.stop()
        jx = timings["jax"]
        jx.compile_s, jx.ynn_fusions = compile_s, ynn_fusions
        row.update({name: vars(t) for name, t in timings.items()})
        if batch <= PER_ENV_MAX_BATCH:
            row["per_env"] = vars(measure_per_env(params, batch, steps, per_env_budget))
        for ref in ("numpy_batched", "per_env"):
            if ref in row:
                row[f"jax_over_{ref}"] = jx.steps_per_s / row[ref]["steps_per_s"]
        rows.append(row)
        console.print(
            f"  batch {batch:>9,}: jax {jx.steps_per_s:12,.0f} steps/s "
            f"(compile {jx.compile_s:.1f} s)"
            + "".join(
                f", {ref} {row[ref]['steps_per_s']:12,.0f}"
                for ref in ("numpy_batched", "per_env")
                if ref in row
            )
        )

    console.print(results_table(rows, backend))
    busiest = max((r["other_cpu_cores"] or 0.0) for r in rows)
    if busiest > 0.2:
        console.print(
            f"[yellow]note[/yellow]: other processes took up to {busiest:.1f} of the "
            f"{info['cpus_usable']} cores while rows were measured, so these figures are lower "
            "bounds (JAX, which splits every kernel over all cores, loses the most)."
        )
    targets = check_targets(rows, backend)
    for t in targets:
        style = {"PASS": "green", "FAIL": "red"}.get(t["status"], "yellow")
        console.print(f"[{style}]{t['status']:>4}[/{style}]  {t['name']}: {t['detail']}")

    result = {
        "benchmark": "car_tag env throughput",
        "policies": {"pursuer": PURSUER_POLICY, "evader": EVADER_POLICY},
        "device": info,
        "settings": {
            "steps_per_call": steps,
            "repeats": repeats,
            "min_seconds_per_repeat": min_s,
            "per_env_budget_s": per_env_budget,
            "per_env_max_batch": PER_ENV_MAX_BATCH,
            "numpy_max_batch": NUMPY_MAX_BATCH,
            "quick": args.quick,
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
        },
        "cross_check": check,
        "rows": rows,
        "targets": targets,
        "script_seconds": time.perf_counter() - script_start,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    console.print(f"wrote {args.out} ({result['script_seconds']:.0f} s in all)")
    return result


def results_table(rows: list[dict], backend: str) -> Table:
    table = Table(title=f"Car Tag env-steps/s ({backend})")
    columns = ("batch", "jax", "compile s", "numpy-batched", "per-env", "jax/numpy", "jax/per-env",
               "others' cores")  # fmt: skip
    for col in columns:
        table.add_column(col, justify="right")
    fmt = lambda x: "-" if x is None else f"{x:,.0f}"
    ratio = lambda x: "-" if x is None else f"{x:,.2f}x"
    for r in rows:
        table.add_row(
            f"{r['batch']:,}",
            fmt(r["jax"]["steps_per_s"]),
            f"{r['jax']['compile_s']:.1f}",
            fmt(r.get("numpy_batched", {}).get("steps_per_s")),
            fmt(r.get("per_env", {}).get("steps_per_s")),
            ratio(r.get("jax_over_numpy_batched")),
            ratio(r.get("jax_over_per_env")),
            "-" if r["other_cpu_cores"] is None else f"{r['other_cpu_cores']:.2f}",
        )
    return table


def check_targets(rows: list[dict], backend: str) -> list[dict]:
    by_batch = {r["batch"]: r for r in rows}
    cpu = backend == "cpu"
    targets = []

    def add(name, applies, value, threshold, unit, missing):
        if not applies:
            status, detail = "N/A", f"not applicable on backend {backend}"
        elif value is None:
            status, detail = "N/A", missing
        else:
            status = "PASS" if value >= threshold else "FAIL"
            detail = f"{value:,.2f}{unit} (target >= {threshold:,.2f}{unit})"
        targets.append({"name": name, "status": status, "value": value, "threshold": threshold,
                        "detail": detail})  # fmt: skip

    r = by_batch.get(65536, {})
    add("CPU: jax env-steps/s at batch 65,536", cpu, r.get("jax", {}).get("steps_per_s"),
        TARGET_CPU_STEPS, " steps/s", "batch 65,536 not run")  # fmt: skip
    add("CPU: jax / numpy-batched at batch 65,536", cpu, r.get("jax_over_numpy_batched"),
        TARGET_VS_NUMPY, "x", "batch 65,536 not run")  # fmt: skip
    r = by_batch.get(4096, {})
    add("CPU: jax / per-env at batch 4,096", cpu, r.get("jax_over_per_env"),
        TARGET_VS_PER_ENV, "x", "batch 4,096 not run")  # fmt: skip
    big = [r["jax"]["steps_per_s"] for r in rows if r["batch"] >= 1048576]
    add("accelerator: jax env-steps/s at batch >= 1,048,576", not cpu, max(big, default=None),
        TARGET_ACCEL_STEPS, " steps/s", "no batch >= 1,048,576 run")  # fmt: skip
    return targets


if __name__ == "__main__":
    main()
