"""Behaviour cloning on the gap environments: the loss falls; with no gap BC recovers
the expert's optimal return; with the gap it earns what blind imitation earns (about
-2/3 on PoisonedDoors), the imitation gap; demonstrations files round-trip and bad
ones fail clearly."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from arenax.agents.imitation import (
    BCConfig,
    DAggerConfig,
    collect_demonstrations,
    evaluate_policy,
    load_demonstrations,
    save_demonstrations,
    train_bc,
    train_dagger,
)
from arenax.agents.ppo.action_spec import ActionSpec
from arenax.envs.gap import PoisonedDoors, PoisonedDoorsParams, TigerDoor, TigerDoorParams

ENV = PoisonedDoors()
CONFIG = BCConfig(hidden_sizes=(32, 32), steps=200)


@pytest.fixture(scope="module", params=[True, False], ids=["gap", "no_gap"])
def cloned(request):
    params = PoisonedDoorsParams(gap=request.param)
    demos = collect_demonstrations(ENV, params, jax.random.PRNGKey(0), 128, params.horizon)
    spec = ActionSpec.from_space(ENV.action_space(params)["agent"])
    network, result = train_bc(demos, spec, CONFIG, jax.random.PRNGKey(1))
    returns = evaluate_policy(
        ENV, params, network, CONFIG, result.params, jax.random.PRNGKey(2), 512, params.horizon
    )
    return params, demos, result, float(np.mean(np.asarray(returns)))


def test_demonstrations_are_the_experts(cloned):
    _, demos, _, _ = cloned
    np.testing.assert_allclose(np.asarray(demos.returns), 2.0)
    assert np.all(np.asarray(demos.mask)[:, 0]) and not np.any(np.asarray(demos.mask)[:, 1:])


def test_bc_loss_falls_to_its_floor(cloned):
    params, _, result, _ = cloned
    losses = np.asarray(result.losses)
    assert losses[0] == pytest.approx(np.log(4.0), abs=0.05)  # near-uniform start
    # Unseen good door: the best the agent can do is a uniform guess over doors 1-3.
    floor = np.log(3.0) if params.gap else 0.0
    assert losses[-1] == pytest.approx(floor, abs=0.05)


def test_bc_is_optimal_without_the_gap_and_fails_with_it(cloned):
    params, _, _, value = cloned
    if params.gap:
        assert value == pytest.approx(params.imitation_return, abs=0.25)  # about -2/3
        assert value < params.optimal_return - 1.0
    else:
        assert value > 0.95 * params.optimal_return


def test_demonstration_files_round_trip_and_bad_files_fail(cloned, tmp_path):
    _, demos, _, _ = cloned
    path = save_demonstrations(tmp_path / "demos.npz", demos)
    loaded = load_demonstrations(path)
    np.testing.assert_array_equal(np.asarray(loaded.actions), np.asarray(demos.actions))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a demonstrations file"):
        load_demonstrations(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="no such demonstrations file"):
        load_demonstrations(tmp_path / "missing.npz")


@pytest.fixture(scope="module")
def dagger_tiger():
    """DAgger on TigerDoor with the gap: expert labels on the learner's own states."""
    params = TigerDoorParams(gap=True)
    config = DAggerConfig(iterations=3, episodes=64, horizon=params.horizon, bc=CONFIG)
    return train_dagger(TigerDoor(), params, config, jax.random.PRNGKey(3))


def test_dagger_refits_on_its_own_states_and_still_cannot_close_the_gap(dagger_tiger):
    _, result, returns = dagger_tiger
    assert len(returns) == 3
    assert returns[0] == pytest.approx(1.0)  # iteration 0 is the expert itself
    # The expert never presses the button, so the learner's labels never ask for it:
    # with the treasure unseen, its doors are coin flips.
    assert abs(returns[-1]) < 0.35
    assert np.asarray(result.losses)[-1] == pytest.approx(np.log(2.0), abs=0.1)


def test_noise_injected_demonstrations_visit_new_states_with_the_experts_labels():
    params = PoisonedDoorsParams(gap=False)
    demos = collect_demonstrations(
        ENV, params, jax.random.PRNGKey(3), 256, params.horizon, noise=0.3
    )
    mask, obs, actions = (np.asarray(x) for x in (demos.mask, demos.obs, demos.actions))
    entering = mask & (obs[..., 3] > 0.5)  # door 0's combination, never the expert's choice
    assert entering.sum() > 10
    digits = np.argmax(obs[..., 5:], axis=-1)
    expected = np.asarray((*params.combination, 0))[digits]
    np.testing.assert_array_equal(actions[entering], expected[entering])
    first = mask[:, 0]
    np.testing.assert_array_equal(actions[first, 0], 1 + np.argmax(obs[first, 0, :3], axis=-1))


@pytest.mark.parametrize("noise", [-0.1, 1.5])
def test_demonstration_noise_must_be_a_probability(noise):
    with pytest.raises(ValueError, match="probability in \\[0, 1\\]"):
        collect_demonstrations(ENV, ENV.default_params, jax.random.PRNGKey(0), 2, 3, noise=noise)


def test_label_smoothing_keeps_untried_actions_possible(cloned):
    params, demos, _, _ = cloned
    if not params.gap:
        pytest.skip("one case is enough")
    spec = ActionSpec.from_space(ENV.action_space(params)["agent"])
    smoothed = dataclasses.replace(CONFIG, label_smoothing=0.2)
    _, result = train_bc(demos, spec, smoothed, jax.random.PRNGKey(1))
    # Every demonstration is one blind door choice: the loss's floor is the entropy of
    # the smoothed target, door 0 (never chosen by the expert) at 0.2 / 4.
    target = np.array([0.05, 0.95 / 3, 0.95 / 3, 0.95 / 3])
    entropy = -np.sum(target * np.log(target))
    assert np.asarray(result.losses)[-1] == pytest.approx(entropy, abs=0.05)
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        BCConfig(label_smoothing=1.0)
