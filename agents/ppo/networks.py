"""Actor-critic networks (flax linen): a feed-forward MLP and a GRU with episode resets.

Both share one call signature so training, export and later learners (behaviour
cloning, IRL, recurrent BAMDP agents) treat them alike::

    hidden, dist, value = net.apply(params, hidden, obs, resets)

- `obs`: (..., D) normalised observations. The recurrent net needs a time axis
  first, `(T, B, D)`; the MLP accepts any leading axes.
- `resets`: bool, `obs.shape[:-1]`; True where `obs` is the first observation
  of an episode (the GRU zeroes its state there; the MLP ignores it).
- `hidden`: the GRU state `(B, gru_size)` before the first step; `()` for the MLP.
- `dist`: a distribution from `distributions.py` with batch shape `obs.shape[:-1]`.
- `value`: `obs.shape[:-1]` state values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from arenax.agents.ppo.action_spec import ActionSpec, make_distribution
from arenax.agents.ppo.config import PPOConfig
from arenax.agents.ppo.distributions import Distribution

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": nn.relu,
    "gelu": nn.gelu,
    "silu": nn.silu,
}


def _dense(features: int, scale: float) -> nn.Dense:
    return nn.Dense(features, kernel_init=nn.initializers.orthogonal(scale))


class MLP(nn.Module):
    """Dense layers of `sizes` widths, each followed by `activation` (orthogonal init)."""

    sizes: Sequence[int]
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for width in self.sizes:
            x = act(_dense(width, np.sqrt(2.0))(x))
        return x


class PolicyHead(nn.Module):
    """Features -> action distribution (small-scale init so the initial policy is near-uniform)."""

    spec: ActionSpec
    kind: str = "clipped"
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, features: jax.Array) -> Distribution:
        out = _dense(self.spec.num_outputs, 0.01)(features)
        log_std = None
        if not self.spec.discrete:
            log_std = self.param(
                "log_std", nn.initializers.constant(self.init_log_std), (self.spec.dim,)
            )
        return make_distribution(self.spec, self.kind, out, log_std)


class ValueHead(nn.Module):
    """Features -> scalar value."""

    @nn.compact
    def __call__(self, features: jax.Array) -> jax.Array:
        return _dense(1, 1.0)(features)[..., 0]


class ActorCritic(nn.Module):
    """Separate actor and critic MLP towers on the observation."""

    spec: ActionSpec
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    kind: str = "clipped"
    init_log_std: float = 0.0

    @nn.compact
    def __call__(
        self, hidden: Any, obs: jax.Array, resets: jax.Array | None = None
    ) -> tuple[Any, Distribution, jax.Array]:
        del resets
        actor = MLP(self.hidden_sizes, self.activation, name="actor")(obs)
        critic = MLP(self.hidden_sizes, self.activation, name="critic")(obs)
        dist = PolicyHead(self.spec, self.kind, self.init_log_std, name="pi")(actor)
        return hidden, dist, ValueHead(name="v")(critic)


class _ResetGRUStep(nn.Module):
    """One GRU step that first zeroes the state of environments that just reset."""

    features: int

    @nn.compact
    def __call__(
        self, h: jax.Array, inputs: tuple[jax.Array, jax.Array]
    ) -> tuple[jax.Array, jax.Array]:
        x, reset = inputs
        h = jnp.where(reset[..., None], jnp.zeros_like(h), h)
        h, y = nn.GRUCell(self.features, name="cell")(h, x)
        return h, y


# Scanned over the leading time axis, parameters shared across steps.
_ScanGRU = nn.scan(
    _ResetGRUStep,
    variable_broadcast="params",
    split_rngs={"params": False},
    in_axes=0,
    out_axes=0,
)


class RecurrentActorCritic(nn.Module):
    """obs -> Dense(hidden_sizes[0]) -> GRU(gru_size) -> actor / critic MLPs (hidden_sizes[1:])."""

    spec: ActionSpec
    hidden_sizes: Sequence[int] = (64, 64)
    gru_size: int = 64
    activation: str = "tanh"
    kind: str = "clipped"
    init_log_std: float = 0.0

    @nn.compact
    def __call__(
        self, hidden: jax.Array, obs: jax.Array, resets: jax.Array
    ) -> tuple[jax.Array, Distribution, jax.Array]:
        sizes = tuple(self.hidden_sizes) or (self.gru_size,)
        x = MLP(sizes[:1], self.activation, name="embed")(obs)
        hidden, y = _ScanGRU(self.gru_size, name="gru")(hidden, (x, resets))
        actor = MLP(sizes[1:], self.activation, name="actor")(y)
        critic = MLP(sizes[1:], self.activation, name="critic")(y)
        dist = PolicyHead(self.spec, self.kind, self.init_log_std, name="pi")(actor)
        return hidden, dist, ValueHead(name="v")(critic)


def build_network(config: PPOConfig, spec: ActionSpec) -> nn.Module:
    """The actor-critic `config` asks for (`recurrent` picks the GRU)."""
    common = dict(
        spec=spec,
        hidden_sizes=config.hidden_sizes,
        activation=config.activation,
        kind=config.continuous,
        init_log_std=config.init_log_std,
    )
    if config.recurrent:
        return RecurrentActorCritic(gru_size=config.gru_size, **common)
    return ActorCritic(**common)


def initial_hidden(config: PPOConfig, batch_shape: tuple[int, ...]) -> Any:
    """Zero GRU state `(*batch_shape, gru_size)`, or `()` for a feed-forward net."""
    if config.recurrent:
        return jnp.zeros((*batch_shape, config.gru_size), jnp.float32)
    return ()


def init_params(
    network: nn.Module, config: PPOConfig, key: jax.Array, obs_size: int
) -> dict[str, Any]:
    """Initial parameters, traced with a (1, 1, obs_size) dummy input."""
    obs = jnp.zeros((1, 1, obs_size), jnp.float32)
    resets = jnp.zeros((1, 1), bool)
    return network.init(key, initial_hidden(config, (1,)), obs, resets)
