"""PPO configuration: static settings (shapes, counts, switches) and dynamic hyper-parameters.

`PPOConfig` is one frozen, hashable dataclass a researcher fills in. Its fields
come in two kinds:

- **static**: anything that changes array shapes, loop lengths or the traced
  program (network sizes, `num_envs`, `num_steps`, epochs, switches such as
  `recurrent` or `anneal_lr`). Changing one means recompiling.
- **dynamic**: plain numbers used inside the traced update (`lr`, `gamma`,
  `gae_lambda`, `clip_eps`, `vf_clip_eps`, `ent_coef`, `vf_coef`,
  `max_grad_norm`). `config.hyperparams()` packs them into a `PPOHyperparams`
  pytree that lives in the train state, so `jax.vmap` over a batch of
  `PPOHyperparams` trains many settings in one compiled program (rejax style)
  and a resumed checkpoint keeps its settings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import jax.numpy as jnp
from flax import struct

Activation = Literal["tanh", "relu", "gelu", "silu"]
ContinuousKind = Literal["clipped", "tanh"]

# Fields of `PPOConfig` that are traced numbers (copied into `PPOHyperparams`).
DYNAMIC_FIELDS: tuple[str, ...] = (
    "lr",
    "gamma",
    "gae_lambda",
    "clip_eps",
    "vf_clip_eps",
    "ent_coef",
    "vf_coef",
    "max_grad_norm",
)


@struct.dataclass
class PPOHyperparams:
    """The dynamic hyper-parameters, every field a float32 scalar leaf (vmappable).

    Attributes:
        lr: Adam step size at update 0 (annealed linearly to 0 when `anneal_lr`).
        gamma: discount factor.
        gae_lambda: GAE lambda.
        clip_eps: PPO ratio clip, the surrogate uses `clip(ratio, 1 - eps, 1 + eps)`.
        vf_clip_eps: value clip around the rollout's value prediction; <= 0 disables it.
        ent_coef: weight of the entropy bonus.
        vf_coef: weight of the value loss.
        max_grad_norm: gradients are rescaled to at most this global norm.
    """

    lr: jnp.ndarray
    gamma: jnp.ndarray
    gae_lambda: jnp.ndarray
    clip_eps: jnp.ndarray
    vf_clip_eps: jnp.ndarray
    ent_coef: jnp.ndarray
    vf_coef: jnp.ndarray
    max_grad_norm: jnp.ndarray


@dataclass(frozen=True)
class PPOConfig:
    """Everything that defines a PPO run (defaults: a small, robust continuous-control setup).

    Static (shapes, loop lengths, program structure):
        num_envs: parallel environments; one rollout has `num_envs * num_steps` transitions.
        num_steps: rollout length per environment between two updates.
        total_timesteps: env-step budget of `train`; `num_updates` is
            `total_timesteps // (num_envs * num_steps)` (at least 1).
        update_epochs: passes over each rollout.
        num_minibatches: minibatches per epoch. Feed-forward agents shuffle all
            transitions; recurrent agents shuffle whole environments (sequences), so
            `num_envs` must be divisible by it.
        updates_per_chunk: updates run by one `train_chunk` call (one jit); the host
            loop logs and checkpoints between chunks.
        hidden_sizes: widths of the actor and of the critic MLP (separate towers).
        activation: "tanh", "relu", "gelu" or "silu".
        recurrent: use the GRU actor-critic (observation -> Dense -> GRU -> heads).
        gru_size: GRU hidden-state width when `recurrent`.
        normalize_obs: keep running mean/variance statistics of observations and
            feed the network `clip((obs - mean) / std, -obs_clip, obs_clip)`.
        obs_clip: clip of normalised observations.
        freeze_obs_norm: keep the observation statistics the train state starts with
            instead of updating them with every rollout. For fine-tuning a cloned
            policy: its network was fitted to the given statistics, and letting them
            drift changes its behaviour without any gradient step.
        normalize_advantages: standardise advantages per minibatch.
        anneal_lr: decay the learning rate linearly to 0 over `num_updates`.
        continuous: distribution for Box actions. "clipped": a diagonal Gaussian whose
            samples are clipped to the box at the env boundary (log-probs of the
            unclipped sample); "tanh": a tanh-squashed Gaussian scaled to the box
            (exact log-prob with the change-of-variables correction).
        init_log_std: initial state-independent log-std, in units of the box's
            half-width.
        adam_eps: Adam epsilon.

    Dynamic (see `PPOHyperparams`): lr, gamma, gae_lambda, clip_eps, vf_clip_eps,
    ent_coef, vf_coef, max_grad_norm.
    """

    # --- static ---
    num_envs: int = 64
    num_steps: int = 128
    total_timesteps: int = 1_000_000
    update_epochs: int = 4
    num_minibatches: int = 4
    updates_per_chunk: int = 10
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: Activation = "tanh"
    recurrent: bool = False
    gru_size: int = 64
    normalize_obs: bool = True
    obs_clip: float = 10.0
    freeze_obs_norm: bool = False
    normalize_advantages: bool = True
    anneal_lr: bool = True
    continuous: ContinuousKind = "clipped"
    init_log_std: float = 0.0
    adam_eps: float = 1e-5
    # --- dynamic ---
    lr: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    vf_clip_eps: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5

    def __post_init__(self) -> None:
        for name in ("num_envs", "num_steps", "update_epochs", "num_minibatches"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"PPOConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.updates_per_chunk < 1:
            raise ValueError(
                f"PPOConfig.updates_per_chunk must be >= 1, got {self.updates_per_chunk}"
            )
        if self.recurrent:
            if self.num_envs % self.num_minibatches:
                raise ValueError(
                    f"recurrent PPO splits environments into minibatches: num_envs "
                    f"({self.num_envs}) must be divisible by num_minibatches "
                    f"({self.num_minibatches})"
                )
        elif (self.num_envs * self.num_steps) % self.num_minibatches:
            raise ValueError(
                f"num_envs * num_steps ({self.num_envs * self.num_steps}) must be divisible by "
                f"num_minibatches ({self.num_minibatches})"
            )
        if self.activation not in ("tanh", "relu", "gelu", "silu"):
            raise ValueError(f"unknown activation {self.activation!r}")
        if self.continuous not in ("clipped", "tanh"):
            raise ValueError(f"continuous must be 'clipped' or 'tanh', got {self.continuous!r}")
        # Lists from JSON/CLI become tuples so the config stays hashable.
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in self.hidden_sizes))

    # --- derived counts ---
    @property
    def batch_size(self) -> int:
        """Transitions per rollout: `num_envs * num_steps`."""
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        """Updates in the full budget: `total_timesteps // batch_size`, at least 1."""
        return max(1, self.total_timesteps // self.batch_size)

    @property
    def minibatch_size(self) -> int:
        """Transitions (feed-forward) or environments (recurrent) per minibatch."""
        total = self.num_envs if self.recurrent else self.batch_size
        return total // self.num_minibatches

    # --- static / dynamic split ---
    def hyperparams(self) -> PPOHyperparams:
        """The dynamic fields as a float32 pytree (stack several to `vmap` over them)."""
        return PPOHyperparams(
            **{name: jnp.asarray(getattr(self, name), jnp.float32) for name in DYNAMIC_FIELDS}
        )

    def replace(self, **changes: Any) -> PPOConfig:
        """A copy with `changes` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict of every field."""
        out = dataclasses.asdict(self)
        out["hidden_sizes"] = list(self.hidden_sizes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PPOConfig:
        """Inverse of `to_dict`; unknown keys raise ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"PPOConfig: unknown field(s) {', '.join(unknown)}")
        return cls(**data)
