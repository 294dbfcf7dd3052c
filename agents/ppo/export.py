"""Trained PPO agent -> `arenax.policy.Policy`, and its save/load on disk.

An `ExportedAgent` is what acting needs and nothing else: the network's
parameters, the frozen observation statistics, the config (network shape,
normalisation) and the action space. `to_policy` wraps it in the shared policy
protocol: `act(obs, memory, key)` takes the env's *named* observation (e.g. a
`CarTagObs`), turns it into the network's input with the agent's learner
interface (`arenax.envs.interfaces`; `flat`: `flatten_observation`), normalises
it, and returns the deterministic action (the distribution's mode, clipped to
the box) or, with `stochastic=True`, a sample, mapped back to the game's action
by the same interface. Memory is the GRU state `(gru_size,)` for recurrent
agents and `()` otherwise.

On disk an agent is a directory with `agent.json` (config, action space,
observation size, name, role, interface) and `params.msgpack` (flax serialisation of the
parameters and statistics)::

    save_agent("runs/x/pursuer", export_agent(trainer, state), name="ppo", role="pursuer")
    policy = load_policy("runs/x/pursuer")
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from flax import serialization

from arenax.agents.ppo.action_spec import ActionSpec, to_env_action
from arenax.agents.ppo.config import PPOConfig
from arenax.agents.ppo.networks import build_network, init_params, initial_hidden
from arenax.agents.ppo.normalization import RunningNorm
from arenax.agents.ppo.train import PPOTrainer, TrainState
from arenax.envs.interfaces import get_interface, interface_name
from arenax.policy import Policy

AGENT_JSON = "agent.json"
PARAMS_FILE = "params.msgpack"
FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class ExportedAgent:
    """A trained actor, frozen.

    Attributes:
        config: the training config (network shape, normalisation settings).
        spec: the action space.
        obs_size: flat observation size D.
        params: network parameters.
        obs_norm: frozen observation statistics.
        interface: name of the learner interface it was trained through.
    """

    config: PPOConfig
    spec: ActionSpec
    obs_size: int
    params: Any
    obs_norm: RunningNorm
    interface: str = "flat"


def export_agent(trainer: PPOTrainer, state: TrainState, index: int | None = None) -> ExportedAgent:
    """The acting part of `state`. `index` picks one run out of a vmapped (seed-batched) state."""
    if index is not None:
        state = jax.tree_util.tree_map(lambda x: x[index], state)
    return ExportedAgent(
        config=trainer.config,
        spec=trainer.spec,
        obs_size=trainer.obs_size,
        params=state.params,
        obs_norm=state.env.obs_norm,
        interface=interface_name(trainer.env),
    )


def to_policy(
    agent: ExportedAgent,
    name: str = "ppo",
    role: str = "",
    stochastic: bool = False,
    description: str = "",
) -> Policy:
    """The agent in the shared policy protocol (see module docstring)."""
    config, spec = agent.config, agent.spec
    network = build_network(config, spec)
    params, norm = agent.params, agent.obs_norm
    interface = get_interface(agent.interface)

    def init(key: jax.Array) -> Any:
        del key
        return initial_hidden(config, ())

    def act(obs: Any, memory: Any, key: jax.Array) -> tuple[jax.Array, Any]:
        x = interface.features(obs).astype(jnp.float32)
        if config.normalize_obs:
            x = norm.normalize(x, config.obs_clip)
        hidden = memory[None] if config.recurrent else ()
        hidden, dist, _ = network.apply(params, hidden, x[None, None], jnp.zeros((1, 1), bool))
        action = dist.sample(key) if stochastic else dist.mode()
        memory = hidden[0] if config.recurrent else ()
        return interface.to_env_action(to_env_action(spec, action[0, 0]), obs), memory

    kind = "recurrent " if config.recurrent else ""
    mode = "stochastic" if stochastic else "deterministic"
    return Policy(
        name=name,
        act=act,
        init=init,
        role=role,
        description=description or f"PPO-trained {kind}actor-critic ({mode} actions).",
    )


def export_policy(
    trainer: PPOTrainer,
    state: TrainState,
    name: str = "ppo",
    role: str = "",
    stochastic: bool = False,
    index: int | None = None,
) -> Policy:
    """`to_policy(export_agent(trainer, state, index), ...)`; `role` defaults to the env's."""
    role = role or getattr(trainer.env, "role", "")
    return to_policy(export_agent(trainer, state, index), name, role, stochastic)


def _payload(agent: ExportedAgent) -> dict[str, Any]:
    return {"params": agent.params, "obs_norm": agent.obs_norm}


def save_agent(path: str | Path, agent: ExportedAgent, name: str = "ppo", role: str = "") -> Path:
    """Write `agent.json` and `params.msgpack` into directory `path` (created if needed)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": "arenax.ppo.agent",
        "version": FORMAT_VERSION,
        "name": name,
        "role": role,
        "obs_size": agent.obs_size,
        "interface": agent.interface,
        "action_spec": agent.spec.to_dict(),
        "config": agent.config.to_dict(),
    }
    (path / AGENT_JSON).write_text(json.dumps(meta, indent=2) + "\n")
    payload = jax.device_get(_payload(agent))
    (path / PARAMS_FILE).write_bytes(serialization.to_bytes(payload))
    return path


def load_agent(path: str | Path) -> tuple[ExportedAgent, dict[str, Any]]:
    """Read a directory written by `save_agent`. Returns `(agent, metadata)`.

    Raises:
        FileNotFoundError: `path` lacks `agent.json` or `params.msgpack`.
        ValueError: the files do not describe a PPO agent or do not match each other.
    """
    path = Path(path)
    meta_file, params_file = path / AGENT_JSON, path / PARAMS_FILE
    for f in (meta_file, params_file):
        if not f.is_file():
            raise FileNotFoundError(f"{path} is not a saved PPO agent: missing {f.name}")
    meta = json.loads(meta_file.read_text())
    if meta.get("format") != "arenax.ppo.agent":
        raise ValueError(f"{meta_file} is not an arenax PPO agent description")
    config = PPOConfig.from_dict(meta["config"])
    spec = ActionSpec.from_dict(meta["action_spec"])
    obs_size = int(meta["obs_size"])
    interface = get_interface(meta.get("interface", "flat")).name
    network = build_network(config, spec)
    template = {
        "params": init_params(network, config, jax.random.PRNGKey(0), obs_size),
        "obs_norm": RunningNorm.create(obs_size),
    }
    try:
        payload = serialization.from_bytes(template, params_file.read_bytes())
    except (ValueError, KeyError) as err:
        raise ValueError(f"{params_file} does not match {meta_file}: {err}") from err
    expected = jax.tree_util.tree_map(jnp.shape, template)
    if jax.tree_util.tree_map(jnp.shape, payload) != expected:
        raise ValueError(f"{params_file}: parameter shapes do not match the network in {meta_file}")
    payload = jax.tree_util.tree_map(jnp.asarray, payload)
    agent = ExportedAgent(config, spec, obs_size, payload["params"], payload["obs_norm"], interface)
    return agent, meta


def load_policy(
    path: str | Path, name: str | None = None, role: str | None = None, stochastic: bool = False
) -> Policy:
    """A `Policy` from a saved agent directory (e.g. for a CLI `--opponent <dir>`)."""
    agent, meta = load_agent(path)
    return to_policy(
        agent,
        name=name or meta.get("name") or Path(path).name,
        role=meta.get("role", "") if role is None else role,
        stochastic=stochastic,
    )
