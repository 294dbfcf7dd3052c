"""Vehicle dynamics for IGDrivSim, each with its inverse (actions recovered from a log).

Two models, as in Waymax:

- `InvertibleBicycle`: action (acceleration m/s^2, curvature 1/m), both bounded.
  Over one step of `dt` the speed changes by `a dt`, the car travels
  `d = v dt + a dt^2 / 2` along an arc of curvature `k`, so its heading turns by
  `k d`; the position moves by `d` along the mean heading of the step. Speed
  never goes negative (no reversing): braking past a stop ends the step at rest.
  The inverse reads speed and heading from two consecutive states:
  `a = (v' - v) / dt`, `k = wrap(yaw' - yaw) / d`, so it is exact for states the
  forward model produced, and for any log it reproduces the logged speeds and
  headings (positions up to the log's own deviation from the model).
- `DeltaLocal`: action (dx, dy, dyaw), the displacement in the vehicle's frame at
  the start of the step. Forward and inverse are exact for any log; the velocity
  is the displacement over `dt`.

All functions work on `Trajectory` pytrees of any shape S (for example one
timestep of every object, S = (num_objects, 1)); actions have shape S + (2,) or
S + (3,). Nothing is looped in Python, so everything jits and vmaps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from arenax.envs.car_tag.dynamics import wrap_angle  # exact to float32 rounding
from arenax.envs.igdrive.datatypes import DT, Trajectory

_MIN_DISTANCE = 1e-3  # metres: below this a step's heading change says nothing of curvature


def _moved(states: Trajectory, x, y, yaw, vel_x, vel_y) -> Trajectory:
    """`states` moved to a new pose and velocity (box size and validity kept)."""
    return states.replace(x=x, y=y, yaw=yaw, vel_x=vel_x, vel_y=vel_y)


@struct.dataclass
class InvertibleBicycle:
    """Kinematic bicycle with bounded acceleration and curvature.

    Attributes:
        dt: step length (s).
        max_accel: |acceleration| bound (m/s^2).
        max_curvature: |curvature| bound (1/m); 0.3 is a turning radius of 3.3 m.
    """

    dt: float = struct.field(pytree_node=False, default=DT)
    max_accel: float = struct.field(pytree_node=False, default=6.0)
    max_curvature: float = struct.field(pytree_node=False, default=0.3)

    action_dim = 2

    @property
    def action_low(self) -> jax.Array:
        return jnp.array([-self.max_accel, -self.max_curvature], jnp.float32)

    @property
    def action_high(self) -> jax.Array:
        return jnp.array([self.max_accel, self.max_curvature], jnp.float32)

    def clip(self, action: jax.Array) -> jax.Array:
        return jnp.clip(action, self.action_low, self.action_high)

    def forward(self, states: Trajectory, action: jax.Array) -> Trajectory:
        """States one step later. `action`: S + (2,) (clipped to the bounds)."""
        action = self.clip(action)
        accel, curvature = action[..., 0], action[..., 1]
        speed = states.speed
        # Braking past a stop: the car stops within the step (no reversing).
        accel = jnp.maximum(accel, -speed / self.dt)
        new_speed = speed + accel * self.dt
        distance = speed * self.dt + 0.5 * accel * self.dt**2
        turn = curvature * distance
        mean_yaw = states.yaw + 0.5 * turn
        new_yaw = wrap_angle(states.yaw + turn)
        return _moved(
            states,
            states.x + distance * jnp.cos(mean_yaw),
            states.y + distance * jnp.sin(mean_yaw),
            new_yaw,
            new_speed * jnp.cos(new_yaw),
            new_speed * jnp.sin(new_yaw),
        )

    def inverse(self, states: Trajectory, next_states: Trajectory, clip: bool = True) -> jax.Array:
        """The action S + (2,) that takes `states` to `next_states` (clipped to the bounds
        unless `clip` is False, as the kinematic-infeasibility metric needs)."""
        speed, new_speed = states.speed, next_states.speed
        accel = (new_speed - speed) / self.dt
        distance = speed * self.dt + 0.5 * accel * self.dt**2
        turn = wrap_angle(next_states.yaw - states.yaw)
        moving = jnp.abs(distance) > _MIN_DISTANCE
        curvature = jnp.where(moving, turn / jnp.where(moving, distance, 1.0), 0.0)
        action = jnp.stack([accel, curvature], axis=-1)
        return self.clip(action) if clip else action


@struct.dataclass
class DeltaLocal:
    """Displacement in the vehicle frame: action (dx forward, dy left, dyaw).

    Attributes:
        dt: step length (s), for the velocity.
        max_delta: |dx|, |dy| bound (m per step; 6 m is 60 m/s).
        max_dyaw: |dyaw| bound (rad per step).
    """

    dt: float = struct.field(pytree_node=False, default=DT)
    max_delta: float = struct.field(pytree_node=False, default=6.0)
    max_dyaw: float = struct.field(pytree_node=False, default=jnp.pi / 2)

    action_dim = 3

    @property
    def action_low(self) -> jax.Array:
        return jnp.array([-self.max_delta, -self.max_delta, -self.max_dyaw], jnp.float32)

    @property
    def action_high(self) -> jax.Array:
        return -self.action_low

    def clip(self, action: jax.Array) -> jax.Array:
        return jnp.clip(action, self.action_low, self.action_high)

    def forward(self, states: Trajectory, action: jax.Array) -> Trajectory:
        """States one step later. `action`: S + (3,) (clipped to the bounds)."""
        action = self.clip(action)
        dx, dy, dyaw = action[..., 0], action[..., 1], action[..., 2]
        cos, sin = jnp.cos(states.yaw), jnp.sin(states.yaw)
        gx, gy = cos * dx - sin * dy, sin * dx + cos * dy
        return _moved(
            states,
            states.x + gx,
            states.y + gy,
            wrap_angle(states.yaw + dyaw),
            gx / self.dt,
            gy / self.dt,
        )

    def inverse(self, states: Trajectory, next_states: Trajectory) -> jax.Array:
        """The action S + (3,) that takes `states` to `next_states` (clipped to the bounds)."""
        gx, gy = next_states.x - states.x, next_states.y - states.y
        cos, sin = jnp.cos(states.yaw), jnp.sin(states.yaw)
        dx, dy = cos * gx + sin * gy, -sin * gx + cos * gy
        dyaw = wrap_angle(next_states.yaw - states.yaw)
        return self.clip(jnp.stack([dx, dy, dyaw], axis=-1))


Dynamics = InvertibleBicycle | DeltaLocal


def actions_from_log(model: Dynamics, log: Trajectory) -> jax.Array:
    """Expert actions recovered from a log: (..., num_objects, num_timesteps - 1, action_dim).

    Steps where the object is invalid at either end get a zero action.
    """
    before = jax.tree_util.tree_map(lambda a: a[..., :-1], log)
    after = jax.tree_util.tree_map(lambda a: a[..., 1:], log)
    actions = model.inverse(before, after)
    both = (before.valid & after.valid)[..., None]
    return jnp.where(both, actions, 0.0)


def rollout(model: Dynamics, initial: Trajectory, actions: jax.Array) -> Trajectory:
    """States from `initial` (time axis of size 1) under `actions`
    (..., num_objects, T, action_dim): a trajectory with T + 1 timesteps."""

    def step(states: Trajectory, action: jax.Array) -> tuple[Trajectory, Trajectory]:
        new = model.forward(states, action)
        return new, new

    squeezed = jax.tree_util.tree_map(lambda a: a[..., 0], initial)
    steps = jnp.moveaxis(actions, -2, 0)  # (T, ..., num_objects, action_dim)
    _, later = jax.lax.scan(step, squeezed, steps)
    later = jax.tree_util.tree_map(lambda a: jnp.moveaxis(a, 0, -1), later)
    return jax.tree_util.tree_map(
        lambda first, rest: jnp.concatenate([first, rest.astype(first.dtype)], axis=-1),
        initial,
        later,
    )
