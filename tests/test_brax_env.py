"""`BraxEnv`: arenax single-agent envs behind brax's `Env` contract, brax's training
wrappers on top, action rescaling, and a tiny brax PPO run on Car Tag.

Car Tag runs with a 20-step horizon here so episodes (and brax's evaluator) are short.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax import envs as brax_envs
from brax.training.agents.ppo import networks as ppo_networks
from brax.training.agents.ppo import train as ppo

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.envs import make, spaces
from arenax.envs.brax_env import (
    BraxEnv,
    FreshAutoResetWrapper,
    install_jax_compat,
    make_brax_env,
    to_arenax_policy,
    wrap_for_training,
)
from arenax.envs.single_agent import SingleAgentView
from arenax.envs.toy import TargetReach
from arenax.rollout import rollout

HORIZON = 20
NUM_ENVS = 4
# Tiny workloads: compile fast rather than run fast.
FAST_COMPILE = {"xla_backend_optimization_level": 0}
jit = functools.partial(jax.jit, compiler_options=FAST_COMPILE)


@pytest.fixture(scope="module")
def car_tag():
    """(arenax Car Tag, its 20-step params, the pursuer view, the BraxEnv)."""
    env, params = make("car_tag", horizon=HORIZON)
    view = SingleAgentView(env, "pursuer", EVADERS["straight_flee"])
    return env, params, view, BraxEnv(view, params)


def run_steps(wrapped, key, num_steps, action):
    """`num_steps` steps of a batched (wrapped) env with a fixed action, one jit.

    Returns the reset state and the stacked states after every step (leaves (T, N, ...)).
    """

    @jit
    def go(key):
        state = wrapped.reset(jax.random.split(key, NUM_ENVS))
        actions = jnp.broadcast_to(action, (NUM_ENVS, wrapped.action_size))

        def body(s, _):
            s = wrapped.step(s, actions)
            return s, s

        return state, jax.lax.scan(body, state, None, length=num_steps)[1]

    return go(key)


# ---------------------------------------------------------------- brax's Env contract


def test_reset_and_step_follow_brax_contract(car_tag):
    _, _, view, env = car_tag
    assert isinstance(env, brax_envs.Env)
    assert (env.observation_size, env.action_size, env.backend) == (21, 1, "arenax")
    assert env.episode_length == HORIZON and env.unwrapped is env
    assert set(env.metric_keys) == {"captured", "capture_time", "evader_score"}

    state = jit(env.reset)(jax.random.PRNGKey(0))
    assert isinstance(state, brax_envs.State)
    assert state.obs.shape == (21,) and state.obs.dtype == jnp.float32
    for x in (state.reward, state.done, *state.metrics.values()):
        assert x.shape == () and x.dtype == jnp.float32 and float(x) == 0.0
    assert state.info["rng"].shape == (2,)

    nxt = jit(env.step)(state, jnp.zeros(1))
    assert jax.tree_util.tree_structure(nxt) == jax.tree_util.tree_structure(state)
    assert nxt.obs.shape == (21,) and nxt.reward.dtype == jnp.float32
    assert not np.array_equal(nxt.info["rng"], state.info["rng"])  # the key advances

    # Exactly the arenax view stepped with the keys kept in `info`.
    k_reset, k_next = jax.random.split(jax.random.PRNGKey(0))
    obs, view_state = view.reset(k_reset, env.params)
    np.testing.assert_allclose(state.obs, obs, atol=1e-6)
    obs, _, reward, done, _ = view.step(
        jax.random.split(k_next)[0], view_state, jnp.zeros(1), env.params
    )
    np.testing.assert_allclose(nxt.obs, obs, atol=1e-6)
    assert float(nxt.reward) == float(reward) and float(nxt.done) == float(done)


def test_vmap_over_rngs(car_tag):
    env = car_tag[3]
    keys = jax.random.split(jax.random.PRNGKey(1), 8)
    states = jit(jax.vmap(env.reset))(keys)
    assert states.obs.shape == (8, 21) and states.done.shape == (8,)
    assert len(np.unique(np.asarray(states.obs[:, 0]))) == 8  # distinct starts
    states = jit(jax.vmap(env.step))(states, jnp.zeros((8, 1)))
    assert states.reward.shape == (8,) and states.metrics["captured"].shape == (8,)


def test_finished_episode_is_absorbing_and_metrics_hold_the_final_info(car_tag):
    env = car_tag[3]
    state = env.reset(jax.random.PRNGKey(2))

    def body(s, _):
        s = env.step(s, jnp.zeros(1))
        return s, (s.reward, s.done, s.metrics["evader_score"])

    _, (rewards, dones, scores) = jit(lambda s: jax.lax.scan(body, s, None, length=HORIZON + 5))(
        state
    )
    end = int(np.argmax(np.asarray(dones)))  # first done step
    assert np.all(dones[end:] == 1.0) and np.all(dones[:end] == 0.0)
    assert np.all(rewards[end + 1 :] == 0.0)
    # Metrics are 0 before the end and the info value on done steps: summed over the
    # episode (as brax's episode/eval wrappers do) they give the end-of-episode value.
    assert np.all(scores[:end] == 0.0) and 0.0 < float(scores[end]) <= 1.0


# ---------------------------------------------------------------- action rescaling


class BoxEcho:
    """A stub env whose reward is the first action entry and whose info is the second."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    default_params = None

    def action_space(self, params):
        return spaces.Box(jnp.asarray(self.low), jnp.asarray(self.high), (len(self.low),))

    def reset(self, key, params):
        return jnp.zeros(3), jnp.zeros(())

    def step(self, key, state, action, params):
        info = {"second": action[1], "vector": action}
        return jnp.zeros(3), state + 1, action[0], state + 1 >= 2, info


def test_actions_in_unit_box_are_rescaled_to_the_env_box():
    env = BraxEnv(BoxEcho([0.0, -2.0, -np.inf], [4.0, 6.0, np.inf]))
    assert env.action_size == 3 and env.metric_keys == ("second",)
    rescale = jit(env.rescale_action)
    np.testing.assert_allclose(rescale(jnp.array([-1.0, -1.0, -3.0])), [0.0, -2.0, -1.0])
    np.testing.assert_allclose(rescale(jnp.array([1.0, 1.0, 0.5])), [4.0, 6.0, 0.5])
    np.testing.assert_allclose(rescale(jnp.array([0.0, 0.5, 0.0])), [2.0, 4.0, 0.0])
    np.testing.assert_allclose(rescale(jnp.array([7.0, -7.0, 0.0])), [4.0, -2.0, 0.0])  # clipped

    state = env.step(env.reset(jax.random.PRNGKey(0)), jnp.array([0.5, 0.0, 0.0]))
    assert float(state.reward) == 3.0 and float(state.metrics["second"]) == 0.0  # not done yet
    state = env.step(state, jnp.array([0.5, 0.0, 0.0]))
    assert float(state.done) == 1.0 and float(state.metrics["second"]) == 2.0  # done: info value


def test_car_tag_action_boxes():
    pursuer = make_brax_env("car_tag", role="pursuer", horizon=HORIZON)
    np.testing.assert_allclose(pursuer.rescale_action(jnp.array([0.3])), [0.3])  # [-1, 1] box
    evader = make_brax_env("car_tag", role="evader", opponent="pure_pursuit", horizon=HORIZON)
    assert evader.action_size == 2 and evader.env.opponent is PURSUERS["pure_pursuit"]
    np.testing.assert_allclose(evader.rescale_action(jnp.array([1.0, -0.5])), [0.5, -0.25])
    # A brax inference function as an arenax policy: flat obs in, Box action out.
    seen = {}

    def inference(obs, key):
        seen["obs"] = obs
        return jnp.array([[1.0, -1.0]]), {}

    policy = to_arenax_policy(inference, evader, name="fake")
    game, params = make("car_tag", horizon=HORIZON)
    obs, _ = game.reset(jax.random.PRNGKey(0), params)
    action, memory = policy.act(obs["evader"], policy.init(jax.random.PRNGKey(1)), None)
    assert (policy.name, policy.role, memory) == ("fake", "evader", ())
    np.testing.assert_allclose(action, [0.5, -0.5])
    np.testing.assert_allclose(seen["obs"], obs["evader"].to_array()[None])
    with pytest.raises(TypeError, match="Box"):
        BraxEnv(TargetReach(discrete=True))
    with pytest.raises(ValueError, match="unknown evader strategy"):
        make_brax_env("car_tag", opponent="nope")
    toy = make_brax_env(TargetReach())
    assert toy.observation_size == 3 and toy.episode_length == 20


# ---------------------------------------------------------------- brax's training wrappers


def test_brax_training_wrap_and_eval_wrapper_on_car_tag(car_tag):
    env = car_tag[3]
    wrapped = brax_envs.training.EvalWrapper(brax_envs.training.wrap(env, episode_length=HORIZON))
    # Steer hard left forever: the car circles, so no capture and every episode lasts 20 steps.
    first, states = run_steps(wrapped, jax.random.PRNGKey(3), HORIZON + 3, jnp.ones(1))
    done, trunc = np.asarray(states.done), np.asarray(states.info["truncation"])
    assert np.all(done[HORIZON - 1] == 1.0) and np.all(done[: HORIZON - 1] == 0.0)
    assert np.all(trunc == 0.0)  # the env's own horizon: terminal, not truncated
    assert np.all(states.info["steps"][HORIZON] == 1.0)  # counter restarted
    # brax's AutoResetWrapper restores each env's first reset state.
    np.testing.assert_allclose(states.obs[HORIZON - 1], first.obs)
    # Episode metrics (brax's training logger) are the end-of-episode infos.
    ep = jax.tree_util.tree_map(lambda x: x[HORIZON - 1], states.info["episode_metrics"])
    np.testing.assert_allclose(ep["evader_score"], 1.0)
    np.testing.assert_allclose(ep["sum_reward"], 0.0)
    np.testing.assert_allclose(ep["length"], HORIZON)
    # So are the evaluator's: eval/episode_captured is the capture rate.
    evals = jax.tree_util.tree_map(lambda x: x[-1], states.info["eval_metrics"])
    assert set(evals.episode_metrics) == {"captured", "capture_time", "evader_score", "reward"}
    np.testing.assert_allclose(evals.episode_metrics["captured"], 0.0)
    np.testing.assert_allclose(evals.episode_metrics["capture_time"], HORIZON * 0.1)
    np.testing.assert_allclose(evals.episode_steps, HORIZON)


def test_episode_length_below_the_horizon_truncates():
    env = make_brax_env(TargetReach())  # horizon 20
    _, states = run_steps(
        brax_envs.training.wrap(env, episode_length=5), jax.random.PRNGKey(0), 6, jnp.zeros(1)
    )
    assert np.all(states.done[4] == 1.0) and np.all(states.info["truncation"][4] == 1.0)
    assert np.all(states.done[:4] == 0.0) and np.all(states.info["truncation"][:4] == 0.0)


def test_wrap_for_training_restarts_from_fresh_states():
    env = make_brax_env(TargetReach())  # obs [x, target, time_left], horizon 20
    wrapped = wrap_for_training(env, episode_length=env.episode_length)
    assert isinstance(wrapped, FreshAutoResetWrapper)
    first, states = run_steps(wrapped, jax.random.PRNGKey(3), 40, jnp.zeros(1))
    done = np.asarray(states.done)
    assert np.all(done[19] == 1.0) and np.all(done[39] == 1.0) and done.sum() == 2 * NUM_ENVS
    assert np.all(states.info["truncation"] == 0.0)
    assert np.all(states.info["steps"][20] == 1.0)
    restarted = np.asarray(states.obs[19])
    np.testing.assert_allclose(restarted[:, 2], 1.0)  # time_left: a new episode
    assert not np.any(np.isclose(restarted[:, 1], first.obs[:, 1]))  # new targets
    assert not np.any(np.isclose(states.obs[39][:, 1], restarted[:, 1]))
    with pytest.raises(ValueError, match="System"):
        wrap_for_training(env, randomization_fn=lambda sys: (sys, None))


# ---------------------------------------------------------------- brax PPO end to end


def test_jax_compat_replicates_over_devices(car_tag):
    assert install_jax_compat() is False  # already installed (or JAX still has it)
    devices = jax.local_devices()[:1]
    out = jax.device_put_replicated({"a": jnp.arange(3.0), "b": 2}, devices)
    assert out["a"].shape == (1, 3) and out["b"].shape == (1,)
    np.testing.assert_allclose(out["a"][0], [0.0, 1.0, 2.0])


def test_tiny_brax_ppo_trains_on_car_tag_and_plays_arenax_rollout(car_tag):
    game, params, _, env = car_tag
    progress = []
    network_factory = functools.partial(
        ppo_networks.make_ppo_networks,
        policy_hidden_layer_sizes=(16,),
        value_hidden_layer_sizes=(16,),
    )
    make_policy, brax_params, metrics = ppo.train(
        environment=env,
        num_timesteps=160,
        episode_length=env.episode_length,
        wrap_env_fn=wrap_for_training,
        num_envs=8,
        batch_size=8,
        num_minibatches=2,
        unroll_length=5,
        num_updates_per_batch=1,
        normalize_observations=True,
        num_evals=1,
        num_eval_envs=8,
        network_factory=network_factory,
        progress_fn=lambda step, m: progress.append((step, m)),
        seed=0,
    )
    assert [step for step, _ in progress] == [160]
    for key in ("eval/episode_reward", "eval/episode_captured", "training/policy_loss"):
        assert np.isfinite(metrics[key]), key
    assert 0.0 <= metrics["eval/episode_captured"] <= 1.0

    policy = to_arenax_policy(make_policy(brax_params, deterministic=True), env)
    assert policy.role == "pursuer"
    result = rollout(
        game,
        params,
        {"pursuer": policy, "evader": EVADERS["straight_flee"]},
        jax.random.PRNGKey(5),
        num_episodes=4,
    )
    assert result.returns["pursuer"].shape == (4,)
    assert np.all(np.isfinite(result.returns["pursuer"]))
