"""Self-play configuration: the PPO settings of each role and the pool/iteration schedule."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from arenax.agents.ppo.config import PPOConfig


@dataclass(frozen=True)
class SelfPlayConfig:
    """Everything that defines a self-play run (frozen and hashable).

    One *iteration* is: each role in turn (the env's agent order, e.g. pursuer then
    evader) runs `updates_per_iteration` PPO updates against opponents drawn from
    the pool of the other role's snapshots; then, every `snapshot_every`
    iterations, each role's current policy is pushed into the pool its opponent
    trains against.

    Attributes:
        ppo: PPO settings shared by every role (default: `PPOConfig()`). Its
            `total_timesteps` and `updates_per_chunk` are ignored: the self-play
            schedule below sets them, so learning-rate annealing spans the whole run.
        role_ppo: per-role replacements of `ppo`, role -> `PPOConfig` (a dict is
            accepted and stored as a sorted tuple of pairs, to stay hashable).
        total_timesteps: env-step budget of the whole run, both roles' steps counted;
            `num_iterations` = total_timesteps // steps per iteration (at least 1).
        updates_per_iteration: PPO updates each role makes per iteration (default 1).
        snapshot_every: iterations between two pushes into the pools (default 1).
        pool_capacity: snapshots kept per role (default 32); once full, a push
            overwrites the oldest one (ring buffer).
        latest_prob: per episode, the chance of facing the newest snapshot instead of
            a uniformly drawn one (default 0: pure fictitious self-play).
        iterations_per_chunk: iterations run by one `train_chunk` call (one jit;
            default 10).
        shaping: weight of Car Tag's distance-shaping reward for both learners
            (default 0: the game's score only; only for car_tag). Metrics still
            report the true score under `info/evader_score`.
        wall_shaping: weight of the evader's wall-clearance shortfall in its shaping
            potential (`car_tag_distance_potential`'s `wall_weight`; default 0:
            distance only). The pursuer's potential stays distance only.
    """

    ppo: PPOConfig = field(default_factory=PPOConfig)
    role_ppo: Mapping[str, PPOConfig] | tuple[tuple[str, PPOConfig], ...] = ()
    total_timesteps: int = 10_000_000
    updates_per_iteration: int = 1
    snapshot_every: int = 1
    pool_capacity: int = 32
    latest_prob: float = 0.0
    iterations_per_chunk: int = 10
    shaping: float = 0.0
    wall_shaping: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.ppo, PPOConfig):
            raise ValueError(f"SelfPlayConfig.ppo must be a PPOConfig, got {type(self.ppo)}")
        pairs = dict(self.role_ppo).items()
        for role, cfg in pairs:
            if not isinstance(cfg, PPOConfig):
                raise ValueError(f"SelfPlayConfig.role_ppo[{role!r}] must be a PPOConfig")
        object.__setattr__(self, "role_ppo", tuple(sorted(pairs)))
        for name in (
            "total_timesteps",
            "updates_per_iteration",
            "snapshot_every",
            "pool_capacity",
            "iterations_per_chunk",
        ):
            value = getattr(self, name)
            if int(value) != value or int(value) < 1:
                raise ValueError(f"SelfPlayConfig.{name} must be a whole number >= 1, got {value}")
        if not 0.0 <= self.latest_prob <= 1.0:
            raise ValueError(
                f"SelfPlayConfig.latest_prob must lie in [0, 1], got {self.latest_prob}"
            )
        if not self.shaping >= 0.0:
            raise ValueError(f"SelfPlayConfig.shaping must be >= 0, got {self.shaping}")
        if not self.wall_shaping >= 0.0:
            raise ValueError(f"SelfPlayConfig.wall_shaping must be >= 0, got {self.wall_shaping}")

    def ppo_for(self, role: str) -> PPOConfig:
        """The PPO settings of `role` (its `role_ppo` entry, else the shared `ppo`)."""
        return dict(self.role_ppo).get(role, self.ppo)

    def replace(self, **changes: Any) -> SelfPlayConfig:
        """A copy with `changes` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (PPO configs as their own dicts)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["ppo"] = self.ppo.to_dict()
        out["role_ppo"] = {role: cfg.to_dict() for role, cfg in self.role_ppo}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SelfPlayConfig:
        """Inverse of `to_dict`; unknown keys raise ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"SelfPlayConfig: unknown field(s) {', '.join(unknown)}")
        data = dict(data)
        if "ppo" in data:
            data["ppo"] = PPOConfig.from_dict(data["ppo"])
        if "role_ppo" in data:
            data["role_ppo"] = {
                r: PPOConfig.from_dict(c) for r, c in dict(data["role_ppo"]).items()
            }
        return cls(**data)
