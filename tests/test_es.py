"""Evolution strategies: learning on the toy target-reaching task (OpenAI-ES and SNES),
determinism, vmap over seeds, evaluation == exported policy, export round trip and Car Tag
play, config validation.

Each trainer compiles once (module-scoped fixtures); networks and populations are tiny.
"""

from __future__ import annotations

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.agents.car_tag import EVADERS
from arenax.agents.es import ESConfig, evaluate_population, make_es
from arenax.agents.es import genome as genome_lib
from arenax.agents.ppo import ActionSpec, PPOConfig, load_agent, load_policy, save_agent, to_policy
from arenax.agents.ppo.networks import build_network
from arenax.envs import make
from arenax.envs.single_agent import SingleAgentView
from arenax.envs.toy import TargetReach, oracle_return
from arenax.rollout import rollout

FAST_COMPILE = {"xla_backend_optimization_level": 0}
CHUNK = 10  # generations per train_chunk; every toy chunk uses it, so each compiles once
TOY_CONFIG = ESConfig(
    population_size=32,
    episodes_per_member=4,
    num_generations=CHUNK,
    generations_per_chunk=CHUNK,
    sigma_init=0.1,
    learning_rate=0.03,
    network=PPOConfig(hidden_sizes=(16,)),
)
HELD_OUT = 128  # episodes for held-out evaluation


def leaves_equal(a, b) -> bool:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    same_tree = jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    return same_tree and all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))


@pytest.fixture(scope="module")
def toy():
    env = TargetReach()
    return env, env.default_params


@pytest.fixture(scope="module")
def held_out(toy):
    """`score(trainer, params, norm)`: mean return of one solution on HELD_OUT fixed
    toy episodes (evaluate_population with P=1), and the oracle's mean on the same."""
    env, params = toy
    keys = jax.random.split(jax.random.PRNGKey(99), HELD_OUT)

    compiled = {}

    def score(trainer, net_params, norm):
        if trainer not in compiled:

            def run(net_params, norm):
                genome = jax.tree_util.tree_map(lambda x: x[None], genome_lib.extract(net_params))
                return evaluate_population(
                    trainer.network,
                    trainer.config.network,
                    trainer.spec,
                    env,
                    params,
                    net_params,
                    genome,
                    norm,
                    keys,
                    trainer.num_steps,
                ).fitness[0]

            compiled[trainer] = jax.jit(run, compiler_options=FAST_COMPILE)
        return float(compiled[trainer](net_params, norm))

    oracle = float(oracle_return(env, params, jax.random.PRNGKey(99), HELD_OUT).mean())
    return score, oracle


def _run_two_chunks(config: ESConfig, toy):
    env, params = toy
    trainer = make_es(config, env, params, compiler_options=FAST_COMPILE)
    state0 = trainer.init(jax.random.PRNGKey(0))
    state1, m1 = trainer.train_chunk(state0)
    state2, m2 = trainer.train_chunk(state1)
    metrics = {k: np.concatenate([m1[k], m2[k]]) for k in m1}
    return trainer, state0, state1, state2, metrics


@pytest.fixture(scope="module")
def open_es_run(toy):
    return _run_two_chunks(TOY_CONFIG, toy)


@pytest.fixture(scope="module")
def snes_run(toy):
    return _run_two_chunks(TOY_CONFIG.replace(strategy="snes"), toy)


# ---------------------------------------------------------------- learning


@pytest.mark.parametrize("run", ["open_es_run", "snes_run"])
def test_es_learns_target_reaching(run, request, held_out):
    trainer, state0, _, state, metrics = request.getfixturevalue(run)
    score, oracle = held_out
    before = score(trainer, trainer.mean_params(state0), state0.obs_norm)
    after = score(trainer, trainer.mean_params(state), state.obs_norm)
    # The initial policy barely moves (about -13); the oracle scores about -1.
    assert before < oracle - 8.0
    # Within 2 * CHUNK generations the mean solution closes at least 70% of the gap to the optimum.
    assert after > before + 0.7 * (oracle - before), (before, after, oracle)
    # Population statistics improve as well, and the counters add up.
    assert metrics["fitness_mean"][-5:].mean() > metrics["fitness_mean"][:5].mean() + 3.0
    np.testing.assert_array_equal(metrics["generation"], np.arange(1, 2 * CHUNK + 1))
    assert np.all(np.diff(metrics["env_steps"]) == 33 * 4 * 20)  # (P + centre) x E x horizon
    assert np.all(metrics["fitness_max"] >= metrics["fitness_mean"])
    assert np.all(metrics["fitness_mean"] >= metrics["fitness_min"])
    assert np.all(np.diff(metrics["best_fitness"]) >= 0.0)
    assert trainer.num_dims == 3 * 16 + 16 + 16 * 1 + 1  # actor only: no critic, no log_std


def test_same_key_same_run_other_key_differs(open_es_run):
    trainer, _, state1, _, _ = open_es_run
    again, _ = trainer.train_chunk(trainer.init(jax.random.PRNGKey(0)))
    assert leaves_equal(again, state1)
    other, _ = trainer.train_chunk(trainer.init(jax.random.PRNGKey(1)))
    assert not np.array_equal(other.strategy.mean, state1.strategy.mean)


@pytest.fixture(scope="module")
def recurrent_seeds(toy):
    """A GRU actor evolved for 3 generations, `jax.vmap(train)` over 2 seeds."""
    env, params = toy
    config = TOY_CONFIG.replace(
        num_generations=3,
        population_size=8,
        episodes_per_member=2,
        network=PPOConfig(hidden_sizes=(16,), recurrent=True, gru_size=8),
    )
    trainer = make_es(config, env, params, compiler_options=FAST_COMPILE)
    train = jax.jit(jax.vmap(trainer.train), compiler_options=FAST_COMPILE)
    state, metrics = train(jax.random.split(jax.random.PRNGKey(0), 2))
    return trainer, state, metrics


def test_train_vmaps_over_seeds(recurrent_seeds):
    trainer, state, metrics = recurrent_seeds
    assert metrics["fitness_mean"].shape == (2, 3)
    assert state.generation.tolist() == [3, 3]
    assert not np.array_equal(state.strategy.mean[0], state.strategy.mean[1])
    single = trainer.export_agent(state, index=1)
    assert single.params["params"]["gru"]["cell"]["hr"]["kernel"].shape == (8, 8)
    np.testing.assert_array_equal(
        jax.flatten_util.ravel_pytree(genome_lib.extract(single.params))[0],
        state.strategy.mean[1],
    )


# ---------------------------------------------------------------- evaluation == export


@pytest.mark.parametrize("run", ["open_es_run", "recurrent_seeds"])
def test_evaluation_matches_the_exported_policy(run, request, toy, held_out):
    """Fitness is exactly what the exported deterministic policy (feed-forward, or GRU
    carrying its memory) scores on the same episodes (same normalisation, same actions)."""
    env, params = toy
    fixture = request.getfixturevalue(run)
    trainer, state = fixture[0], fixture[-2]  # the trained state
    score, _ = held_out
    agent = trainer.export_agent(state, index=0 if run == "recurrent_seeds" else None)
    assert bool(jnp.any(agent.obs_norm.var != 1.0))  # statistics were learned
    policy = to_policy(agent)
    keys = jax.random.split(jax.random.PRNGKey(99), HELD_OUT)

    @jax.jit
    def play(keys):
        def episode(k):
            obs, s = env.reset(k, params)

            def body(carry, _):
                obs, s, memory = carry
                action, memory = policy.act(obs, memory, k)
                obs, s, r, _, _ = env.step(k, s, action, params)
                return (obs, s, memory), r

            carry = (obs, s, policy.init(k))
            return jax.lax.scan(body, carry, None, length=params.horizon)[1].sum()

        return jax.vmap(episode)(keys).mean()

    expected = score(trainer, agent.params, agent.obs_norm)
    np.testing.assert_allclose(float(play(keys)), expected, rtol=1e-5, atol=1e-5)


def test_best_member_exports_with_its_statistics(open_es_run):
    trainer, state0, _, state, metrics = open_es_run
    # evosax minimises -return: its best-so-far is the running max of the generations' best.
    np.testing.assert_allclose(
        metrics["best_fitness"], np.maximum.accumulate(metrics["fitness_max"]), rtol=1e-6
    )
    best = trainer.export_agent(state, which="best")
    assert leaves_equal(best.obs_norm, state.best_obs_norm)
    flat = jax.flatten_util.ravel_pytree(genome_lib.extract(best.params))[0]
    np.testing.assert_array_equal(flat, state.strategy.best_solution)
    assert float(metrics["best_fitness"][-1]) == -float(state.strategy.best_fitness)
    with pytest.raises(ValueError, match="no generation"):
        trainer.export_agent(state0, which="best")
    with pytest.raises(ValueError, match="which"):
        trainer.export_agent(state, which="worst")


# ---------------------------------------------------------------- Car Tag, save / load


@pytest.fixture(scope="module")
def car_tag_pursuer():
    """An ES pursuer evolved for two tiny generations against `straight_flee`."""
    env, params = make("car_tag")
    view = SingleAgentView(env, "pursuer", EVADERS["straight_flee"])
    config = ESConfig(
        strategy="sep_cma_es",
        population_size=4,
        episodes_per_member=2,
        num_generations=2,
        num_steps=30,
        network=PPOConfig(hidden_sizes=(8,), continuous="tanh"),
    )
    trainer = make_es(config, view, params, compiler_options=FAST_COMPILE)
    state, metrics = jax.jit(trainer.train, compiler_options=FAST_COMPILE)(jax.random.PRNGKey(0))
    return env, params, trainer, state, metrics


def test_es_pursuer_saves_loads_and_plays_car_tag(car_tag_pursuer, tmp_path):
    env, params, trainer, state, metrics = car_tag_pursuer
    assert trainer.obs_size == 21 and trainer.num_steps == 30
    assert "info/captured" in metrics and "center/info/captured" in metrics
    assert np.all(np.isfinite(metrics["fitness_mean"]))
    assert metrics["env_steps"][-1] > 0

    agent = trainer.export_agent(state)
    save_agent(tmp_path / "es", agent, name="es", role="pursuer")
    loaded_agent, meta = load_agent(tmp_path / "es")
    assert (meta["name"], meta["role"]) == ("es", "pursuer")
    assert leaves_equal(loaded_agent.params, agent.params)
    assert leaves_equal(loaded_agent.obs_norm, agent.obs_norm)
    assert loaded_agent.config == trainer.config.network

    loaded = load_policy(tmp_path / "es")
    assert loaded.role == "pursuer"
    policies = {"pursuer": loaded, "evader": EVADERS["straight_flee"]}
    played = rollout(env, params, policies, jax.random.PRNGKey(1), 4, num_steps=30)
    assert played.returns["pursuer"].shape == (4,)
    returns = np.asarray(played.returns["pursuer"])
    assert np.all((returns >= 0.0) & (returns <= 1.0))
    assert trainer.export_policy(state).role == "pursuer"


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"strategy": "ga"}, "strategy"),
        ({"population_size": 7}, "population_size"),  # odd: open_es mirrors pairs
        ({"population_size": 1, "strategy": "snes"}, "population_size"),
        ({"episodes_per_member": 0}, "episodes_per_member"),
        ({"num_generations": 2.5}, "num_generations"),
        ({"generations_per_chunk": 0}, "generations_per_chunk"),
        ({"num_steps": 0}, "num_steps"),
        ({"sigma_init": 0.0}, "sigma_init"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"network": {"hidden_sizes": (8,)}}, "network"),
    ],
)
def test_bad_config_names_the_field(changes, field):
    with pytest.raises(ValueError, match=field):
        ESConfig(**changes)


def test_config_dict_round_trip_and_missing_horizon():
    config = ESConfig(strategy="cma_es", population_size=6, network=PPOConfig(recurrent=True))
    assert ESConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown field"):
        ESConfig.from_dict({"populaton_size": 8})
    # Params without a `horizon` need an explicit num_steps.
    with pytest.raises(ValueError, match="num_steps"):
        make_es(ESConfig(), TargetReach(), SimpleNamespace(speed=0.25))


def test_genome_excludes_critic_and_log_std():
    spec = ActionSpec.from_space(TargetReach().action_space(None))
    network = build_network(PPOConfig(hidden_sizes=(4,)), spec)
    params = network.init(jax.random.PRNGKey(0), (), jnp.zeros((1, 1, 3)), jnp.zeros((1, 1), bool))
    genome = genome_lib.extract(params)
    assert sorted(genome) == [
        "params/actor/Dense_0/bias",
        "params/actor/Dense_0/kernel",
        "params/pi/Dense_0/bias",
        "params/pi/Dense_0/kernel",
    ]
    doubled = {k: 2.0 * v for k, v in genome.items()}
    merged = genome_lib.merge(params, doubled)
    assert leaves_equal(merged["params"]["critic"], params["params"]["critic"])
    np.testing.assert_array_equal(
        merged["params"]["pi"]["log_std"], params["params"]["pi"]["log_std"]
    )
    np.testing.assert_array_equal(
        merged["params"]["actor"]["Dense_0"]["kernel"],
        2.0 * params["params"]["actor"]["Dense_0"]["kernel"],
    )
    with pytest.raises(ValueError, match="not in the network"):
        genome_lib.merge(params, {"params/nope/kernel": jnp.zeros(1)})
