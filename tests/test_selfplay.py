"""Self-play PPO: opponent-pool semantics, the pool view playing the snapshot it drew,
a tiny two-role run (chunks, pools, determinism, checkpoint resume, export) and the
exploitability helpers.

One self-play trainer is compiled for the module (tiny networks, 20-step episodes,
fast-compile XLA options); every run-level test reuses its compiled chunk.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.agents.ppo import (
    ActionSpec,
    PPOConfig,
    restore_checkpoint,
    save_checkpoint,
    to_policy,
)
from arenax.agents.ppo.networks import init_params
from arenax.agents.ppo.normalization import RunningNorm
from arenax.agents.selfplay import (
    OpponentPool,
    PoolView,
    PoolViewParams,
    SelfPlayConfig,
    best_response_score,
    make_selfplay,
    score_vs_strategies,
)
from arenax.agents.selfplay.exploitability import default_strategies
from arenax.envs import make
from arenax.envs.car_tag.observation import observe

FAST_COMPILE = {"xla_backend_optimization_level": 0}
HORIZON = 20
TINY_PPO = PPOConfig(
    num_envs=8,
    num_steps=16,
    update_epochs=1,
    num_minibatches=2,
    hidden_sizes=(16,),
    lr=3e-3,
)
CHUNK = 2  # iterations per chunk
CAPACITY = 3
KEY = jax.random.PRNGKey(0)


def leaves_equal(a, b) -> bool:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    same_tree = jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    return same_tree and all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))


def scalar_pool(capacity: int, values) -> OpponentPool:
    """A pool whose snapshot k is {"w": values[k]} (pushed in order after the first)."""
    norm = RunningNorm.create(2)
    pool = OpponentPool.create(capacity, {"w": jnp.float32(values[0])}, norm)
    for v in values[1:]:
        pool = pool.push({"w": jnp.float32(v)}, norm)
    return pool


# ---------------------------------------------------------------- the pool


def test_pool_is_a_ring_buffer_with_a_pure_jittable_push():
    pool = jax.jit(lambda: scalar_pool(3, [0.0, 1.0, 2.0, 3.0, 4.0]))()
    # 0 fills slot 0; 1 and 2 the next ones; 3 overwrites slot 0, 4 slot 1.
    np.testing.assert_array_equal(pool.params["w"], [3.0, 4.0, 2.0])
    assert (int(pool.size), int(pool.next), int(pool.latest), int(pool.pushes)) == (3, 2, 1, 5)
    assert pool.capacity == 3
    partial = scalar_pool(4, [7.0, 8.0])
    assert (int(partial.size), int(partial.next), int(partial.latest)) == (2, 2, 1)
    # Unfilled slots hold copies of the first snapshot, so any gathered slot is a valid net.
    np.testing.assert_array_equal(partial.params["w"], [7.0, 8.0, 7.0, 7.0])
    params, norm = partial.get(1)
    assert float(params["w"]) == 8.0 and norm.mean.shape == (2,)
    with pytest.raises(ValueError, match="capacity"):
        OpponentPool.create(0, {"w": jnp.zeros(())}, RunningNorm.create(2))


def test_pool_samples_uniformly_over_filled_slots_and_mixes_in_the_latest():
    n = 6000
    keys = jax.random.split(jax.random.PRNGKey(0), n)
    draw = jax.jit(jax.vmap(lambda pool, k, p: pool.sample(k, p), in_axes=(None, 0, None)))

    def counts(pool, latest_prob):
        return np.bincount(np.asarray(draw(pool, keys, latest_prob)), minlength=pool.capacity)

    # Two of three slots filled: uniform over them (binomial sd ~39 draws; allow 4.5 sd).
    c = counts(scalar_pool(3, [0.0, 1.0]), 0.0)
    assert c[2] == 0, c
    np.testing.assert_allclose(c[:2], n / 2, atol=4.5 * np.sqrt(n * 0.25))
    # A wrapped pool (latest is slot 1): half the episodes face it, the rest uniform.
    c = counts(scalar_pool(3, [0.0, 1.0, 2.0, 3.0, 4.0]), 0.5)
    expected = n * np.array([1 / 6, 0.5 + 1 / 6, 1 / 6])
    np.testing.assert_allclose(c, expected, atol=4.5 * np.sqrt(n * 0.25))


# ---------------------------------------------------------------- the pool view


def random_pool(view: PoolView, obs_size: int, capacity: int, filled: int) -> OpponentPool:
    """`filled` very different random snapshots (parameters and observation statistics),
    built on the host (no compilation); slots beyond `filled` repeat slot 0."""
    config, network = view.opponent_config, view.opponent_network
    shapes = jax.eval_shape(lambda k: init_params(network, config, k, obs_size), KEY)
    rng = np.random.default_rng(0)

    def stack(shape):
        x = rng.normal(0.0, 0.5, (filled, *shape)).astype(np.float32)
        return jnp.asarray(np.concatenate([x, np.repeat(x[:1], capacity - filled, 0)]))

    norm = RunningNorm(
        mean=stack((obs_size,)) * 0.4,
        var=jnp.full((capacity, obs_size), 2.0),
        count=jnp.full((capacity,), 10.0),
    )
    return OpponentPool(
        params=jax.tree_util.tree_map(lambda s: stack(s.shape), shapes),
        obs_norm=norm,
        size=jnp.int32(filled),
        next=jnp.int32(filled % capacity),
        pushes=jnp.int32(filled),
    )


@pytest.mark.parametrize("recurrent", [False, True], ids=["mlp", "gru"])
def test_pool_view_plays_the_snapshot_it_sampled(recurrent):
    """The evader actions the view plays are those of `to_policy` of the drawn slot."""
    env, game = make("car_tag", horizon=HORIZON)
    spec = ActionSpec.from_space(env.action_space(game)["evader"])
    config = TINY_PPO.replace(recurrent=recurrent, gru_size=8)
    view = PoolView(env, "pursuer", config, spec)
    pool = random_pool(view, 21, capacity=4, filled=3)
    params = PoolViewParams(game=game, pool=pool)
    steering, steps, episodes = jnp.array([0.4]), 6, 16

    def play(k):
        """The view's states before each of `steps` steps (leaves (steps, ...))."""
        _, state = view.reset(k, params)

        def body(s, k_t):
            _, s_next, _, _, _ = view.step(k_t, s, steering, params)
            return s_next, s

        return jax.lax.scan(body, state, jax.random.split(k, steps))[1]

    def direct(slot, first_state):
        """The game from `first_state` driven by `to_policy` of pool slot `slot`, memory
        threaded as `rollout` does; states after each move (leaves (steps, ...))."""
        policy = to_policy(view.snapshot_agent(pool, slot, 21))

        def body(carry, k_t):
            s, memory = carry
            action, memory = policy.act(observe(s, game)["evader"], memory, k_t)
            _, s, _, _, _ = env.step(k_t, s, {"pursuer": steering, "evader": action}, game)
            return (s, memory), s

        carry = (first_state, policy.init(jax.random.PRNGKey(0)))
        return jax.lax.scan(body, carry, jax.random.split(jax.random.PRNGKey(0), steps))[1]

    def check(keys):
        before = jax.vmap(play)(keys)
        slots = before.slot[:, 0]
        first = jax.tree_util.tree_map(lambda x: jnp.concatenate([x[:, 0]] * 2), before.env_state)
        # Each episode again with its own slot, then with another filled slot.
        both = jax.vmap(direct)(jnp.concatenate([slots, (slots + 1) % 3]), first)
        right = jax.tree_util.tree_map(lambda x: x[:episodes], both)
        wrong = jax.tree_util.tree_map(lambda x: x[episodes:], both)
        return before, right, wrong

    check = jax.jit(check, compiler_options=FAST_COMPILE)
    before, right, wrong = check(jax.random.split(jax.random.PRNGKey(2), episodes))
    slots = np.asarray(before.slot)
    assert np.all(slots == slots[:, :1])  # one opponent per episode
    assert slots.max() < 3 and len(set(slots[:, 0].tolist())) >= 2, slots[:, 0]
    # The view's state before move t + 1 is the direct game's state after move t.
    for field in ("evader_pos", "pursuer_pos", "evader_vel"):
        got = np.asarray(getattr(before.env_state, field))[:, 1:]
        np.testing.assert_allclose(got, getattr(right, field)[:, :-1], atol=1e-5, err_msg=field)
    # Another snapshot would mostly have moved the evader elsewhere (the check can fail;
    # an evader pinned against a wall may move alike under both).
    got = np.asarray(before.env_state.evader_pos)[:, 1:]
    gap = np.abs(got - np.asarray(wrong.evader_pos)[:, :-1]).max(axis=(1, 2))
    assert np.mean(gap > 1e-2) >= 0.75, gap


# ---------------------------------------------------------------- a tiny run


SELFPLAY = SelfPlayConfig(
    ppo=TINY_PPO,
    role_ppo={"evader": TINY_PPO.replace(hidden_sizes=(8,))},
    total_timesteps=2 * CHUNK * 2 * TINY_PPO.batch_size,
    pool_capacity=CAPACITY,
    iterations_per_chunk=CHUNK,
)


@pytest.fixture(scope="module")
def run():
    """States after 0, 1 and 2 chunks of CHUNK iterations, and each chunk's metrics."""
    env, game = make("car_tag", horizon=HORIZON)
    trainer = make_selfplay(SELFPLAY, env, game, FAST_COMPILE)
    states, metrics = [trainer.init(jax.random.PRNGKey(0))], []
    for _ in range(2):
        state, m = trainer.train_chunk(states[-1])
        states.append(state)
        metrics.append(jax.device_get(m))
    return env, game, trainer, states, metrics


def test_chunk_trains_both_roles_and_fills_the_pools(run):
    _, _, trainer, states, metrics = run
    assert trainer.roles == ("pursuer", "evader")
    assert trainer.num_iterations == 2 * CHUNK
    assert trainer.steps_per_iteration == 2 * TINY_PPO.batch_size
    first, second = metrics
    for name in ("pursuer/info/captured", "evader/episode_return", "evader/policy_loss"):
        assert first[name].shape == (CHUNK,), name
    assert np.all(np.isfinite(first["pursuer/policy_loss"]))
    np.testing.assert_array_equal(first["iteration"], [1, 2])
    np.testing.assert_array_equal(second["iteration"], [3, 4])
    np.testing.assert_array_equal(second["env_steps"], np.array([3, 4]) * 2 * TINY_PPO.batch_size)
    np.testing.assert_array_equal(first["pursuer/update"], [1, 2])
    # Each learner's pool holds the other role: 1 initial snapshot + 1 per iteration, capped.
    np.testing.assert_array_equal(first["pursuer/pool_size"], [2, 3])
    np.testing.assert_array_equal(second["evader/pool_size"], [3, 3])
    end = states[-1]
    assert int(end.iteration) == 2 * CHUNK
    for role in trainer.roles:
        before, after = states[0].learners[role].params, end.learners[role].params
        assert not leaves_equal(before, after), role
        pool = trainer.pool(end, role)
        assert int(pool.pushes) == 1 + 2 * CHUNK
        latest, norm = pool.get(pool.latest)
        assert leaves_equal(latest, after)  # the newest snapshot is the current policy
        assert leaves_equal(norm, end.learners[role].env.obs_norm)
    # The evader's own (narrower) network is what the pursuer's pool holds.
    evader_pool = trainer.pool(end, "evader")
    assert jax.tree_util.tree_leaves(evader_pool.params)[0].shape[0] == CAPACITY
    assert trainer.export(end)["evader"].config.hidden_sizes == (8,)


def test_same_key_same_run_other_key_other_run(run):
    _, _, trainer, states, _ = run
    again, _ = trainer.train_chunk(trainer.init(jax.random.PRNGKey(0)))
    assert leaves_equal(again, states[1])
    other, _ = trainer.train_chunk(trainer.init(jax.random.PRNGKey(1)))
    assert not leaves_equal(other.learners["pursuer"].params, states[1].learners["pursuer"].params)


def test_checkpoint_round_trip_continues_identically(run, tmp_path):
    _, _, trainer, states, _ = run
    leaves = jax.tree_util.tree_leaves(states[1])
    assert all(isinstance(x, jax.Array) for x in leaves)
    path = save_checkpoint(tmp_path / "selfplay", states[1])
    restored = restore_checkpoint(path, jax.eval_shape(trainer.init, jax.random.PRNGKey(0)))
    assert leaves_equal(restored, states[1])
    resumed, _ = trainer.train_chunk(restored)
    assert leaves_equal(resumed, states[2])


def test_train_is_pure_and_vmappable_over_seeds(run):
    _, _, trainer, states, _ = run
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    state, metrics = jax.eval_shape(jax.vmap(trainer.train), keys)
    assert metrics["pursuer/episode_return"].shape == (2, trainer.num_iterations)
    assert state.iteration.shape == (2,)
    single = jax.tree_util.tree_structure(states[-1])
    assert jax.tree_util.tree_structure(state) == single


def test_config_and_builder_validate():
    with pytest.raises(ValueError, match="pool_capacity"):
        SelfPlayConfig(pool_capacity=0)
    with pytest.raises(ValueError, match="latest_prob"):
        SelfPlayConfig(latest_prob=1.5)
    with pytest.raises(ValueError, match="PPOConfig"):
        SelfPlayConfig(role_ppo={"evader": {"lr": 1.0}})
    config = SelfPlayConfig(role_ppo={"evader": PPOConfig(lr=1e-3)})
    assert hash(config) == hash(SelfPlayConfig.from_dict(json.loads(json.dumps(config.to_dict()))))
    assert config.ppo_for("evader").lr == 1e-3 and config.ppo_for("pursuer").lr == 3e-4
    env, game = make("car_tag", horizon=HORIZON)
    with pytest.raises(ValueError, match="unknown role"):
        make_selfplay(SelfPlayConfig(role_ppo={"chaser": PPOConfig()}), env, game)
    with pytest.raises(ValueError, match="latest_prob"):
        PoolView(env, "pursuer", PPOConfig(), ActionSpec(False, (2,)), latest_prob=-0.1)


# ---------------------------------------------------------------- exploitability


def test_exploitability_helpers_return_sane_numbers(run):
    env, game, trainer, states, _ = run
    evader = to_policy(trainer.export(states[-1])["evader"], name="sp_evader", role="evader")
    budget = TINY_PPO.replace(total_timesteps=2 * TINY_PPO.batch_size)
    br = best_response_score(
        env, game, "evader", evader, budget, jax.random.PRNGKey(4), 64, FAST_COMPILE
    )
    assert (br.role, br.target_role, br.target_name) == ("pursuer", "evader", "sp_evader")
    assert 0.0 <= br.score <= 1.0 and br.ci95 >= 0.0
    assert br.score + br.target_score == pytest.approx(1.0, abs=1e-5)
    assert br.train_env_steps == 2 * TINY_PPO.batch_size and br.episodes == 64
    json.dumps(br.to_dict())

    pursuer = to_policy(trainer.export(states[-1])["pursuer"], name="sp", role="pursuer")
    strategies = {k: EVADERS[k] for k in ("straight_flee", "wall_flee")}
    scores = score_vs_strategies(
        env, game, "pursuer", pursuer, jax.random.PRNGKey(5), 32, strategies
    )
    assert scores.opponents == ("straight_flee", "wall_flee")
    assert all(0.0 <= m <= 1.0 for m in scores.mean) and all(c >= 0.0 for c in scores.ci95)
    assert scores.worst[1] == min(scores.mean)
    json.dumps(scores.to_dict())
    with pytest.raises(ValueError, match="unknown role"):
        score_vs_strategies(env, game, "chaser", pursuer, jax.random.PRNGKey(5), 4)
    with pytest.raises(ValueError, match="wall_shaping must be >= 0"):
        best_response_score(
            env, game, "pursuer", pursuer, budget, jax.random.PRNGKey(4), wall_shaping=-1.0
        )
    assert default_strategies(env, "pursuer").keys() == PURSUERS.keys()
