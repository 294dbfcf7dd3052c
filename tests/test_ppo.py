"""PPO: hand-checked maths (GAE, losses, distributions, normaliser), learning on the toy
target-reaching task, vmap over seeds, checkpoint resume, export to a Policy and Car Tag play.

Each trainer compiles once (module-scoped fixtures); networks and batches are tiny.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.agents.car_tag import EVADERS
from arenax.agents.ppo import (
    ExportedAgent,
    PPOConfig,
    export_agent,
    export_policy,
    load_agent,
    load_checkpoint_config,
    load_policy,
    make_train,
    restore_checkpoint,
    save_agent,
    save_checkpoint,
    to_policy,
)
from arenax.agents.ppo.distributions import Categorical, DiagGaussian, TanhGaussian
from arenax.agents.ppo.gae import compute_gae
from arenax.agents.ppo.losses import clipped_surrogate_loss, value_loss
from arenax.agents.ppo.normalization import RunningNorm
from arenax.envs import make
from arenax.envs.car_tag.observation import observe
from arenax.envs.single_agent import SingleAgentView
from arenax.envs.toy import TargetReach
from arenax.rollout import rollout

TOY_CONFIG = PPOConfig(
    num_envs=16,
    num_steps=40,
    total_timesteps=16 * 40 * 50,
    update_epochs=4,
    num_minibatches=4,
    hidden_sizes=(32, 32),
    lr=3e-3,
    gamma=0.95,
    updates_per_chunk=10,
)
EVAL_EPISODES = 256
# Tiny workloads: compile fast (about half the CPU time) rather than run fast.
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def leaves_equal(a, b) -> bool:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    same_tree = jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    return same_tree and all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))


def make_evaluator(trainer, env: TargetReach, params):
    """`evaluate(agent_params, obs_norm, key) -> (policy mean return, oracle mean return)`
    over the same EVAL_EPISODES toy episodes, for the exported deterministic policy.
    Parameters are arguments, so it compiles once."""

    def episode(policy, act, k):
        k_reset, k_mem, k_act = jax.random.split(k, 3)
        obs, state = env.reset(k_reset, params)

        def body(carry, k_t):
            obs, state, memory = carry
            action, memory = act(obs, state, memory, k_t)
            obs, state, reward, _, _ = env.step(k_t, state, action, params)
            return (obs, state, memory), reward

        carry = (obs, state, policy.init(k_mem))
        _, rewards = jax.lax.scan(body, carry, jax.random.split(k_act, params.horizon))
        return rewards.sum()

    def evaluate(agent_params, obs_norm, key):
        agent = ExportedAgent(
            trainer.config, trainer.spec, trainer.obs_size, agent_params, obs_norm
        )
        policy = to_policy(agent)
        learned = lambda obs, state, memory, k: policy.act(obs, memory, k)
        oracle = lambda obs, state, memory, k: (env.oracle_action(state, params), memory)
        keys = jax.random.split(key, EVAL_EPISODES)
        run = lambda act: jax.vmap(lambda k: episode(policy, act, k))(keys).mean()
        return run(learned), run(oracle)

    return jax.jit(evaluate, compiler_options=FAST_COMPILE)


# ---------------------------------------------------------------- maths by hand


def test_gae_matches_hand_computation_with_done_in_the_middle():
    rewards = jnp.array([1.0, 2.0, 3.0, 4.0])
    values = jnp.array([0.5, 1.0, 1.5, 2.0])
    dones = jnp.array([False, True, False, False])
    gamma, lam = 0.9, 0.8
    # delta_t = r_t + gamma (1 - d_t) V_{t+1} - V_t ; A_t = delta_t + gamma lam (1 - d_t) A_{t+1}
    a3 = 4.0 + 0.9 * 3.0 - 2.0  # bootstraps the last value 3.0
    a2 = (3.0 + 0.9 * 2.0 - 1.5) + 0.72 * a3
    a1 = 2.0 - 1.0  # episode ends at t=1: no bootstrap, no carry
    a0 = (1.0 + 0.9 * 1.0 - 0.5) + 0.72 * a1
    adv, ret = compute_gae(rewards, values, dones, jnp.array(3.0), gamma, lam)
    np.testing.assert_allclose(adv, [a0, a1, a2, a3], rtol=1e-6)
    np.testing.assert_allclose(ret, np.array([a0, a1, a2, a3]) + values, rtol=1e-6)
    # Batch axes follow time: two identical columns give the same answer.
    adv2, _ = compute_gae(
        jnp.stack([rewards] * 2, 1),
        jnp.stack([values] * 2, 1),
        jnp.stack([dones] * 2, 1),
        jnp.array([3.0, 3.0]),
        gamma,
        lam,
    )
    np.testing.assert_allclose(adv2[:, 1], adv, rtol=1e-6)


@pytest.mark.parametrize(
    ("ratio", "adv", "objective"),
    [
        (1.5, 2.0, 1.2 * 2.0),  # A > 0, ratio above 1 + eps: clipped
        (0.5, 2.0, 0.5 * 2.0),  # A > 0, ratio below 1 - eps: unclipped (pessimistic)
        (1.5, -2.0, 1.5 * -2.0),  # A < 0, ratio above: unclipped
        (0.5, -2.0, 0.8 * -2.0),  # A < 0, ratio below 1 - eps: clipped
        (1.1, 2.0, 1.1 * 2.0),  # inside the trust region
    ],
)
def test_clipped_surrogate_matches_hand_values(ratio, adv, objective):
    old = jnp.array([0.3])
    new = old + math.log(ratio)

    def loss(logp):
        return clipped_surrogate_loss(logp, old, jnp.array([adv]), 0.2)

    np.testing.assert_allclose(loss(new), -objective, rtol=1e-5)
    clipped = (ratio > 1.2 and adv > 0) or (ratio < 0.8 and adv < 0)
    grad = jax.grad(loss)(new)
    np.testing.assert_allclose(grad, 0.0 if clipped else -ratio * adv, rtol=1e-5)


def test_value_loss_clipped_and_plain():
    v, old, ret = jnp.array([2.0]), jnp.array([1.0]), jnp.array([3.0])
    # Clipped prediction 1.5 is further from 3 than 2 is: the max picks (1.5 - 3)^2.
    np.testing.assert_allclose(value_loss(v, old, ret, 0.5), 0.5 * 1.5**2, rtol=1e-6)
    np.testing.assert_allclose(value_loss(v, old, ret, 0.0), 0.5 * 1.0**2, rtol=1e-6)


def test_entropies_match_closed_forms():
    log_std = jnp.array([0.3, -0.2])
    gauss = DiagGaussian(jnp.zeros(2), log_std)
    expected = sum(0.5 * math.log(2 * math.pi * math.e * math.exp(2 * s)) for s in (0.3, -0.2))
    np.testing.assert_allclose(gauss.entropy(), expected, rtol=1e-6)
    probs = np.array([0.2, 0.3, 0.5])
    cat = Categorical(jnp.log(jnp.asarray(probs)) + 1.7)  # logits up to a constant
    np.testing.assert_allclose(cat.entropy(), -(probs * np.log(probs)).sum(), rtol=1e-6)
    np.testing.assert_allclose(cat.log_prob(jnp.array(2)), math.log(0.5), rtol=1e-6)


def test_gaussian_log_prob_matches_scipy_style_formula():
    mean, log_std, x = jnp.array([1.0, -1.0]), jnp.array([0.5, -0.3]), jnp.array([0.2, -0.4])
    std = np.exp(np.asarray(log_std))
    z = (np.asarray(x) - np.asarray(mean)) / std
    expected = np.sum(-0.5 * z**2 - np.log(std * np.sqrt(2 * np.pi)))
    np.testing.assert_allclose(DiagGaussian(mean, log_std).log_prob(x), expected, rtol=1e-6)


def test_tanh_log_prob_is_the_change_of_variables_density():
    low, high = jnp.array([-2.0]), jnp.array([3.0])

    def squash(z):
        return low[0] + (jnp.tanh(z) + 1.0) / 2.0 * (high[0] - low[0])

    @jax.jit
    def checks(mean, log_std):
        dist = TanhGaussian(mean, log_std, low, high)
        base = DiagGaussian(mean, log_std)
        # p_a(a) = p_z(z) / |da/dz| with the derivative of the squash map by autodiff.
        zs = jnp.linspace(-3.0, 3.0, 13)
        expected = jax.vmap(lambda z: base.log_prob(z[None]) - jnp.log(jax.grad(squash)(z)))(zs)
        got = jax.vmap(lambda z: dist.log_prob(squash(z)[None]))(zs)
        # The density integrates to one over the box.
        grid = jnp.linspace(-2.0 + 1e-4, 3.0 - 1e-4, 20001)
        mass = jnp.trapezoid(jnp.exp(jax.vmap(dist.log_prob)(grid[:, None])), grid)
        # Wide samples stay in the box with finite log-probs.
        wide = TanhGaussian(jnp.zeros((1000, 1)), jnp.array([2.0]), low, high)
        samples = wide.sample(jax.random.PRNGKey(0))
        in_box = jnp.all((samples >= low) & (samples <= high))
        finite = jnp.all(jnp.isfinite(wide.log_prob(samples)))
        mc_entropy = dist.entropy_estimate(jax.random.PRNGKey(1), 4096)
        return got, expected, mass, in_box, finite, mc_entropy, dist.entropy()

    got, expected, mass, in_box, finite, mc_entropy, bound = checks(
        jnp.array([0.4]), jnp.array([-0.1])
    )
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mass, 1.0, atol=2e-3)
    assert bool(in_box) and bool(finite)
    # The entropy bonus is an upper bound on the true (Monte-Carlo) entropy.
    assert float(mc_entropy) < float(bound)


def test_running_norm_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(2.0, 3.0, (50, 4)), rng.normal(-1.0, 0.5, (30, 4))
    norm = RunningNorm.create(4).update(jnp.asarray(a)).update(jnp.asarray(b))
    both = np.concatenate([a, b])
    np.testing.assert_allclose(norm.mean, both.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(norm.var, both.var(0), rtol=1e-3)
    z = norm.normalize(jnp.asarray(both))
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-3)


def test_config_validates_and_splits_static_from_dynamic():
    with pytest.raises(ValueError, match="divisible"):
        PPOConfig(num_envs=6, num_minibatches=4, recurrent=True)
    cfg = PPOConfig(hidden_sizes=[8, 8])  # lists from JSON become tuples (hashable)
    assert hash(cfg) == hash(PPOConfig.from_dict(cfg.to_dict()))
    hp = cfg.hyperparams()
    assert float(hp.lr) == pytest.approx(cfg.lr) and float(hp.gamma) == pytest.approx(cfg.gamma)
    assert all(jnp.shape(x) == () for x in jax.tree_util.tree_leaves(hp))


# ---------------------------------------------------------------- learning


@pytest.fixture(scope="module")
def continuous_run():
    """Two seeds of the continuous toy, vmapped, in five `run_updates` chunks of 10 updates.

    Returns `(env, trainer, chunk, states, metrics)`: `chunk` is the jitted vmapped chunk,
    `states[i]` the batched state after i chunks, `metrics` concatenated over updates.
    """
    env = TargetReach()
    trainer = make_train(TOY_CONFIG, env)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    init = jax.jit(jax.vmap(trainer.init), compiler_options=FAST_COMPILE)
    chunk = jax.jit(
        jax.vmap(functools.partial(trainer.run_updates, num_updates=10)),
        compiler_options=FAST_COMPILE,
    )
    states, metrics = [init(keys)], []
    for _ in range(TOY_CONFIG.num_updates // 10):
        state, m = chunk(states[-1])
        states.append(state)
        metrics.append(m)
    metrics = {k: np.concatenate([m[k] for m in metrics], axis=1) for k in metrics[0]}
    return env, trainer, chunk, states, metrics


def test_vmap_over_seeds_gives_per_seed_results(continuous_run):
    _, trainer, _, states, metrics = continuous_run
    n = TOY_CONFIG.num_updates
    assert states[-1].update.tolist() == [n, n]
    first = jax.tree_util.tree_leaves(states[-1].params)[0]
    assert not np.allclose(first[0], first[1])  # the seeds really differ
    for name in ("episode_return", "policy_loss", "value_loss", "entropy", "approx_kl", "lr"):
        assert metrics[name].shape == (2, n), name
    assert np.all(np.isfinite(metrics["approx_kl"]))
    assert metrics["info/distance"].shape == (2, n)  # env info is averaged at episode ends
    np.testing.assert_allclose(metrics["lr"][:, -1], TOY_CONFIG.lr / n, rtol=1e-5)
    np.testing.assert_allclose(metrics["env_steps"][:, -1], TOY_CONFIG.batch_size * n)
    # The whole-budget `train` is the same loop; it traces under vmap with per-seed outputs.
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    shapes = jax.eval_shape(jax.vmap(trainer.train), keys)
    assert shapes[1]["episode_return"].shape == (2, n)
    assert jax.tree_util.tree_structure(shapes[0]) == jax.tree_util.tree_structure(states[-1])
    # Dynamic hyper-parameters are traced leaves of the state: vmap over them too (rejax style).
    lrs = trainer.config.hyperparams().replace(lr=jnp.array([1e-3, 3e-3]))
    hp = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (2,)), lrs)
    shapes = jax.eval_shape(jax.vmap(trainer.train), keys, hp)
    assert shapes[0].hparams.lr.shape == (2,) and shapes[1]["lr"].shape == (2, n)


def test_ppo_learns_continuous_toy_to_near_optimum(continuous_run):
    env, trainer, _, states, metrics = continuous_run
    evaluate = make_evaluator(trainer, env, env.default_params)
    evaluate = jax.vmap(evaluate, in_axes=(0, 0, None))
    learned, optimum = evaluate(states[-1].params, states[-1].obs_norm, jax.random.PRNGKey(7))
    # Doing nothing scores about -13; the optimum about -0.9 (learned: about -1.1).
    assert np.all(np.asarray(learned) > np.asarray(optimum) - 0.5), (learned, optimum)
    returns = metrics["episode_return"]
    assert np.all(returns[:, -5:].mean(1) > returns[:, 0] + 8), returns


def test_checkpoint_resume_is_bit_exact(continuous_run, tmp_path):
    """Save after chunk 1, restore, run chunk 2: identical to the uninterrupted run."""
    _, trainer, chunk, states, _ = continuous_run
    path = save_checkpoint(tmp_path / "after_chunk_1", states[1], config=trainer.config)
    like = jax.eval_shape(jax.vmap(trainer.init), jax.random.split(jax.random.PRNGKey(0), 2))
    restored = restore_checkpoint(path, like)
    assert leaves_equal(restored, states[1])
    assert load_checkpoint_config(path) == trainer.config
    resumed, _ = chunk(restored)
    assert leaves_equal(resumed, states[2])  # params, optimiser, envs, rng: all identical


@pytest.fixture(scope="module")
def looped_trainer():
    """The toy's trainer whose chunks loop over one jitted update (compiled once)."""
    return make_train(TOY_CONFIG, TargetReach(), compiler_options=FAST_COMPILE, chunk_as_loop=True)


def test_chunk_as_a_python_loop_matches_the_scanned_chunk(looped_trainer):
    key = jax.random.PRNGKey(3)
    scanned_trainer = make_train(TOY_CONFIG, TargetReach(), compiler_options=FAST_COMPILE)
    scanned, scanned_metrics = scanned_trainer.train_chunk(scanned_trainer.init(key), 3)
    looped, looped_metrics = looped_trainer.train_chunk(looped_trainer.init(key), 3)
    assert looped.update == 3 and looped_metrics["policy_loss"].shape == (3,)
    leaves = zip(jax.tree_util.tree_leaves(scanned), jax.tree_util.tree_leaves(looped), strict=True)
    for a, b in leaves:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    for name, value in scanned_metrics.items():
        np.testing.assert_allclose(value, looped_metrics[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_frozen_observation_statistics_stay_put(looped_trainer):
    frozen = make_train(
        TOY_CONFIG.replace(freeze_obs_norm=True),
        TargetReach(),
        compiler_options=FAST_COMPILE,
        chunk_as_loop=True,
    )
    key = jax.random.PRNGKey(5)
    start = frozen.init(key)
    kept, _ = frozen.train_chunk(start, 1)
    assert leaves_equal(kept.obs_norm, start.obs_norm)
    assert not leaves_equal(kept.params, start.params)  # it still learns
    moved, _ = looped_trainer.train_chunk(looped_trainer.init(key), 1)
    assert float(moved.obs_norm.count) > float(start.obs_norm.count)


def test_recurrent_discrete_ppo_learns_a_memory_toy():
    """The target is shown only on the first step, so the GRU must remember it.

    A memoryless policy cannot know which way to go (about -10); doing nothing
    scores about -13; the recurrent agent gets to about -3.
    """
    env = TargetReach(discrete=True)
    params = env.default_params.replace(target_visible_steps=1)
    config = TOY_CONFIG.replace(
        recurrent=True,
        gru_size=16,
        hidden_sizes=(16, 16),
        num_steps=20,
        num_minibatches=2,
        total_timesteps=16 * 20 * 150,
    )
    trainer = make_train(config, env, params)
    state, metrics = jax.jit(trainer.train, compiler_options=FAST_COMPILE)(jax.random.PRNGKey(0))
    returns = np.asarray(metrics["episode_return"])
    assert returns[-10:].mean() > -5.5, returns
    assert returns[-10:].mean() > returns[:3].mean() + 7.0, returns
    # The exported policy's memory is the GRU state, threaded through `act`.
    policy = export_policy(trainer, state)
    memory = policy.init(jax.random.PRNGKey(0))
    obs, _ = env.reset(jax.random.PRNGKey(1), params)
    action, next_memory = jax.eval_shape(policy.act, obs, memory, jax.random.PRNGKey(2))
    assert memory.shape == next_memory.shape == (16,)
    assert action.shape == () and action.dtype == jnp.int32


# ---------------------------------------------------------------- Car Tag, export


@pytest.fixture(scope="module")
def car_tag_pursuer():
    """A pursuer trained for two tiny updates against `straight_flee`."""
    env, params = make("car_tag")
    view = SingleAgentView(env, "pursuer", EVADERS["straight_flee"])
    config = PPOConfig(
        num_envs=8,
        num_steps=16,
        total_timesteps=8 * 16 * 2,
        update_epochs=1,
        num_minibatches=2,
        hidden_sizes=(16,),
        continuous="tanh",
    )
    trainer = make_train(config, view, params)
    state, metrics = jax.jit(trainer.train, compiler_options=FAST_COMPILE)(jax.random.PRNGKey(0))
    return env, params, trainer, state, metrics


def test_exported_pursuer_plays_car_tag_rollout(car_tag_pursuer):
    env, params, trainer, state, metrics = car_tag_pursuer
    assert trainer.obs_size == 21 and "info/captured" in metrics
    assert np.all(np.isfinite(metrics["policy_loss"]))
    policy = export_policy(trainer, state, name="ppo_pursuer")
    assert policy.role == "pursuer"
    policies = {"pursuer": policy, "evader": EVADERS["straight_flee"]}
    result = rollout(env, params, policies, jax.random.PRNGKey(1), 4, num_steps=20, record=True)
    assert result.returns["pursuer"].shape == (4,)
    assert np.all(np.isfinite(result.returns["evader"]))

    # On every state of those episodes, deterministic and stochastic actions lie in [-1, 1].
    stochastic = export_policy(trainer, state, stochastic=True)

    @jax.jit
    def actions(states, key):
        flat = jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), states)
        obs = jax.vmap(lambda s: observe(s, params))(flat)["pursuer"]
        keys = jax.random.split(key, flat.t.shape[0])
        return [
            jax.vmap(p.act, in_axes=(0, None, 0))(obs, (), keys)[0] for p in (policy, stochastic)
        ]

    for a in actions(result.states, jax.random.PRNGKey(2)):
        assert a.shape == (4 * 21, 1)
        assert bool(jnp.all(jnp.abs(a) <= 1.0))


def test_saved_agent_loads_as_the_same_policy(car_tag_pursuer, tmp_path):
    _, _, trainer, state, _ = car_tag_pursuer
    save_agent(tmp_path / "pursuer", export_agent(trainer, state), name="ppo", role="pursuer")
    loaded = load_policy(tmp_path / "pursuer")
    assert (loaded.name, loaded.role) == ("ppo", "pursuer")
    agent, _ = load_agent(tmp_path / "pursuer")
    assert leaves_equal(agent.params, state.params)
    assert leaves_equal(agent.obs_norm, state.obs_norm)
    assert agent.config == trainer.config and agent.spec == trainer.spec
    with pytest.raises(FileNotFoundError):
        load_policy(tmp_path / "missing")
