"""`IGDrive`: the SDC of a procedural scene, driven by a policy, seen through a sensor.

`reset` draws a scene (`generator.py`) and replays its log for `warmup_steps`;
`step` moves the SDC with the chosen dynamics and every other vehicle either along
its log (`others="log"`, log replay) or along its logged path at IDM speeds, braking
for the SDC and for red lights (`others="idm"`, reactive; `reactive.py`), then
scores the step: penalties for overlap, off-road and
running a red light, with configurable weights. `done` at the end of the log, or
earlier on the terminal events named in `terminate_on`. The single agent is
"sdc"; its observation is `observation.observe` under the params' restrictions,
and `info["expert_obs"]` is not computed (call `observe` with no restrictions).
`info` holds the step's events (`overlap`, `offroad`, `red_light`), the SDC's
`headway_shortfall` in [0, 1], its `log_divergence` (m) and `speed_vs_log` (its speed
minus its logged speed, m/s): per-step reward features for learners (BIG).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from arenax.envs.environment import Environment
from arenax.envs.igdrive.datatypes import SimulatorState
from arenax.envs.igdrive.dynamics import DeltaLocal, InvertibleBicycle
from arenax.envs.igdrive.generator import ScenarioConfig, generate
from arenax.envs.igdrive.metrics import headway_shortfall, offroad, overlap, red_light_crossing
from arenax.envs.igdrive.observation import DrivingObservation, observe
from arenax.envs.igdrive.perception import parse_restrictions
from arenax.envs.igdrive.reactive import ReactiveState, reactive_step, start_reactive
from arenax.envs.spaces import Box

EVENTS = ("overlap", "offroad", "red_light")
OTHERS = ("log", "idm")


@struct.dataclass
class IGDriveParams:
    """Static fields fix shapes and code paths; penalty weights may be traced.

    Attributes:
        scenario: the scene generator's config.
        perception: restriction string (e.g. "cone:radius=20,angle=120"; "full": none).
        dynamics: "bicycle" (acceleration, curvature) or "delta" (dx, dy, dyaw).
        others: "log" (other vehicles replay the log) or "idm" (reactive).
        warmup_steps: steps of log replay before the policy drives.
        terminate_on: events that end the episode early (subset of EVENTS).
        num_obs_objects, num_obs_points: observation slots.
        overlap_weight, offroad_weight, red_light_weight: penalties per step.
        headway_weight: penalty per step times the SDC's headway shortfall (how far its
            gap to the vehicle ahead falls short of `headway_min_gap + headway_time *
            speed`, as a fraction in [0, 1]; `metrics.headway_shortfall`): a dense
            signal of tailgating, the usual precursor of a rear-end collision. 0: off.
        headway_time, headway_min_gap: the safe gap's time (s) and standstill (m) parts.
    """

    scenario: ScenarioConfig = struct.field(pytree_node=False, default_factory=ScenarioConfig)
    perception: str = struct.field(pytree_node=False, default="full")
    dynamics: str = struct.field(pytree_node=False, default="bicycle")
    others: str = struct.field(pytree_node=False, default="log")
    warmup_steps: int = struct.field(pytree_node=False, default=10)
    terminate_on: tuple[str, ...] = struct.field(pytree_node=False, default=())
    num_obs_objects: int = struct.field(pytree_node=False, default=8)
    num_obs_points: int = struct.field(pytree_node=False, default=128)
    overlap_weight: float = 1.0
    offroad_weight: float = 1.0
    red_light_weight: float = 1.0
    headway_weight: float = 0.0
    headway_time: float = 1.0
    headway_min_gap: float = 2.0

    def __post_init__(self) -> None:
        parse_restrictions(self.perception)  # raises a ValueError naming the problem
        if self.dynamics not in ("bicycle", "delta"):
            raise ValueError(f"dynamics must be 'bicycle' or 'delta', got {self.dynamics!r}")
        if self.others not in OTHERS:
            raise ValueError(f"others must be one of {OTHERS}, got {self.others!r}")
        unknown = sorted(set(self.terminate_on) - set(EVENTS))
        if unknown:
            raise ValueError(f"terminate_on: {unknown} are not events ({', '.join(EVENTS)})")
        if not 0 <= self.warmup_steps < self.scenario.num_timesteps - 1:
            raise ValueError(
                f"warmup_steps must be in [0, {self.scenario.num_timesteps - 1}), "
                f"got {self.warmup_steps}"
            )

    @property
    def model(self) -> InvertibleBicycle | DeltaLocal:
        return InvertibleBicycle() if self.dynamics == "bicycle" else DeltaLocal()


@struct.dataclass
class IGDriveState:
    """The simulator state plus the episode's perception key, flags and the other
    vehicles' places along their paths (used when `others="idm"`)."""

    sim: SimulatorState
    reactive: ReactiveState
    episode_key: jax.Array
    done: jax.Array
    events: jax.Array  # (3,) counts of overlap, offroad, red-light steps so far


def _sdc_index(sim: SimulatorState) -> jax.Array:
    return jnp.argmax(sim.object_metadata.is_sdc)


class IGDrive(Environment[IGDriveState, IGDriveParams]):
    """One-agent driving environment ("sdc"); see the module docstring."""

    name = "igdrive"
    agents = ("sdc",)

    @property
    def default_params(self) -> IGDriveParams:
        return IGDriveParams()

    def observe(self, key: jax.Array, state: IGDriveState, params: IGDriveParams):
        restrictions = parse_restrictions(params.perception)
        return observe(
            state.sim,
            restrictions,
            state.episode_key,
            key,
            params.num_obs_objects,
            params.num_obs_points,
        )

    def reset(self, key: jax.Array, params: IGDriveParams):
        k_scene, k_episode, k_obs = jax.random.split(key, 3)
        sim = generate(k_scene, params.scenario).replace(timestep=jnp.int32(params.warmup_steps))
        reactive = start_reactive(sim.log_trajectory, sim.timestep)
        state = IGDriveState(sim, reactive, k_episode, jnp.bool_(False), jnp.zeros(3, jnp.int32))
        return {"sdc": self.observe(k_obs, state, params)}, state

    def step(self, key: jax.Array, state: IGDriveState, actions, params: IGDriveParams):
        sim = state.sim
        sdc = _sdc_index(sim)
        t = sim.timestep
        now = jax.tree_util.tree_map(lambda a: a[..., 0], sim.current_sim_trajectory)
        logged_next = jax.tree_util.tree_map(lambda a: a[..., 0], sim.log_trajectory.at(t + 1))
        sdc_log_next = jax.tree_util.tree_map(lambda a: a[sdc], logged_next)  # the SDC's log
        reactive = state.reactive
        if params.others == "idm":
            reactive, logged_next = reactive_step(
                reactive, sim.log_trajectory, now, sim.log_traffic_light, t, params.scenario.idm
            )
        sdc_now = jax.tree_util.tree_map(lambda a: a[sdc], now)
        sdc_next = params.model.forward(sdc_now, jnp.asarray(actions["sdc"], jnp.float32))
        sdc_next = sdc_next.replace(valid=sdc_now.valid)
        moved = jax.tree_util.tree_map(lambda a, b: a.at[sdc].set(b), logged_next, sdc_next)
        new_sim = sim.replace(
            sim_trajectory=sim.sim_trajectory.with_timestep(
                t + 1, jax.tree_util.tree_map(lambda a: a[..., None], moved)
            ),
            timestep=t + 1,
        )
        events = jnp.stack(
            [
                overlap(moved)[sdc],
                offroad(
                    jax.tree_util.tree_map(lambda a: a[sdc, None], moved), sim.roadgraph_points
                )[0],
                red_light_crossing(
                    sdc_now, sdc_next, new_sim.log_traffic_light, t + 1, params.scenario.lane_width
                ),
            ]
        )
        penalty = jnp.stack([params.overlap_weight, params.offroad_weight, params.red_light_weight])
        shortfall = headway_shortfall(moved, sdc, params.headway_time, params.headway_min_gap)
        reward = -jnp.sum(penalty * events) - params.headway_weight * shortfall
        terminal = jnp.zeros((), bool)
        for name in params.terminate_on:
            terminal = terminal | events[EVENTS.index(name)]
        done = new_sim.is_done | terminal
        stepped = IGDriveState(new_sim, reactive, state.episode_key, done, state.events + events)
        # Stepping a finished episode is a no-op.
        new_state = jax.tree_util.tree_map(
            lambda old, new: jnp.where(state.done, old, new), state, stepped
        )
        reward = jnp.where(state.done, 0.0, reward)
        obs = {"sdc": self.observe(key, new_state, params)}
        info = {
            "overlap": events[0] & ~state.done,
            "offroad": events[1] & ~state.done,
            "red_light": events[2] & ~state.done,
            "headway_shortfall": jnp.where(state.done, 0.0, shortfall),
            "log_divergence": jnp.hypot(sdc_next.x - sdc_log_next.x, sdc_next.y - sdc_log_next.y),
            "speed_vs_log": jnp.where(
                state.done,
                0.0,
                jnp.hypot(sdc_next.vel_x, sdc_next.vel_y)
                - jnp.hypot(sdc_log_next.vel_x, sdc_log_next.vel_y),
            ),
        }
        return obs, new_state, {"sdc": reward}, new_state.done, info

    def expert_action(self, state: IGDriveState, params: IGDriveParams) -> jax.Array:
        """The privileged expert's action for the SDC now: the dynamics' inverse from its
        simulated state to its logged next state (the log's own action while the SDC is
        on its log; a heading and speed correction when it has drifted)."""
        sim = state.sim
        sdc = _sdc_index(sim)
        t = jnp.minimum(sim.timestep, sim.num_timesteps - 2)
        now = jax.tree_util.tree_map(lambda a: a[sdc, t], sim.sim_trajectory)
        logged = jax.tree_util.tree_map(lambda a: a[sdc, t + 1], sim.log_trajectory)
        return params.model.inverse(now, logged)

    def action_space(self, params: IGDriveParams):
        model = params.model
        low, high = np.asarray(model.action_low), np.asarray(model.action_high)
        return {"sdc": Box(low, high, low.shape)}

    def observation_space(self, params: IGDriveParams):
        """The observation's flat size (`DrivingObservation.to_array`)."""
        size = (
            params.num_obs_objects * 8
            + params.num_obs_points * 9
            + params.scenario.num_lights * 7
            + 3
        )
        return {"sdc": Box(-np.inf, np.inf, (size,))}


__all__ = ["DrivingObservation", "IGDrive", "IGDriveParams", "IGDriveState"]
