"""Evolution-strategies configuration: one frozen, hashable dataclass (`ESConfig`).

Every field is static (it shapes the compiled program or picks the algorithm);
changing one means recompiling. The network is described by a `PPOConfig`, so
ES evolves exactly the actor PPO would train and exports in PPO's format; only
its network fields are read (`hidden_sizes`, `activation`, `recurrent`,
`gru_size`, `continuous`, `init_log_std`, `normalize_obs`, `obs_clip`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from arenax.agents.ppo.config import PPOConfig

StrategyName = Literal["open_es", "snes", "sep_cma_es", "cma_es"]
STRATEGIES: tuple[str, ...] = ("open_es", "snes", "sep_cma_es", "cma_es")


@dataclass(frozen=True)
class ESConfig:
    """Everything that defines an ES run.

    Attributes:
        strategy: the evosax algorithm: "open_es" (OpenAI-ES: antithetic Gaussian
            perturbations of fixed `sigma_init`, centered-rank fitness shaping, Adam on
            the mean), "snes" (separable NES: per-parameter step sizes), "sep_cma_es"
            (diagonal CMA-ES) or "cma_es" (full covariance: a `(n, n)` matrix and an
            eigendecomposition every generation, so impractical beyond a few hundred
            evolved parameters; a (64, 64) Car Tag actor has about 5.6k).
            SNES and the CMA-ES variants shape fitness with their own rank weights.
        population_size: members per generation (P); "open_es" needs it even
            (mirrored pairs).
        num_generations: generations in `train(key)`.
        episodes_per_member: episodes per member per generation (E). Within one
            generation every member plays the same E episodes (same reset and step
            keys: common random numbers); fitness is their mean return.
        sigma_init: initial (for "open_es": constant) standard deviation of the
            parameter perturbations.
        learning_rate: Adam step size on the mean ("open_es" only; the NES and CMA
            variants use their own natural-gradient step sizes).
        eval_center: also evaluate the current mean (centre) solution on the
            generation's episodes, in the same batched rollout (one extra member),
            and report its fitness as `center_fitness`.
        generations_per_chunk: generations run by one `train_chunk` call (one jit).
        num_steps: scan length of one episode; None means the env's `params.horizon`.
            Episodes run until `done`; steps after it are masked out.
        network: the actor's architecture and observation normalisation. With
            `network.normalize_obs` (the default), all members of a generation see
            observations normalised with the same frozen running statistics, which
            are then updated with every observation acted on in that generation
            (all members, the centre included, steps before `done` only). The first
            generation acts on raw observations (mean 0, variance 1 statistics).
            Only the actor is evolved: the critic and the Gaussian log-std keep their
            initial values (actions are the distribution's mode).
    """

    strategy: StrategyName = "open_es"
    population_size: int = 64
    num_generations: int = 200
    episodes_per_member: int = 4
    sigma_init: float = 0.05
    learning_rate: float = 0.03
    eval_center: bool = True
    generations_per_chunk: int = 10
    num_steps: int | None = None
    network: PPOConfig = field(default_factory=PPOConfig)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"ESConfig.strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}"
            )
        for name in (
            "population_size",
            "num_generations",
            "episodes_per_member",
            "generations_per_chunk",
        ):
            value = getattr(self, name)
            if int(value) != value or int(value) < 1:
                raise ValueError(f"ESConfig.{name} must be an integer >= 1, got {value!r}")
        if self.population_size < 2:
            raise ValueError(f"ESConfig.population_size must be >= 2, got {self.population_size}")
        if self.strategy == "open_es" and self.population_size % 2:
            raise ValueError(
                "ESConfig.population_size must be even for strategy 'open_es' (mirrored "
                f"sampling), got {self.population_size}"
            )
        if self.num_steps is not None and (
            int(self.num_steps) != self.num_steps or int(self.num_steps) < 1
        ):
            raise ValueError(f"ESConfig.num_steps must be None or >= 1, got {self.num_steps!r}")
        for name in ("sigma_init", "learning_rate"):
            value = float(getattr(self, name))
            if not value > 0.0:
                raise ValueError(f"ESConfig.{name} must be > 0, got {getattr(self, name)!r}")
        if not isinstance(self.network, PPOConfig):
            raise ValueError(
                f"ESConfig.network must be a PPOConfig, got {type(self.network).__name__}"
            )

    def replace(self, **changes: Any) -> ESConfig:
        """A copy with `changes` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict of every field (`network` as `PPOConfig.to_dict()`)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["network"] = self.network.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ESConfig:
        """Inverse of `to_dict`; unknown keys raise ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"ESConfig: unknown field(s) {', '.join(unknown)}")
        data = dict(data)
        if isinstance(data.get("network"), dict):
            data["network"] = PPOConfig.from_dict(data["network"])
        return cls(**data)
