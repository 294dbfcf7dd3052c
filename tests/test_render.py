"""Car Tag episode pictures (PNG, GIF) and report figures (heatmap, learning curve)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from PIL import Image

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.envs import make
from arenax.envs.car_tag.render import animate_episode, plot_episode
from arenax.plots import plot_learning_curve, plot_score_matrix
from arenax.rollout import rollout


@pytest.fixture(scope="module")
def episode():
    """(one episode's states as jax arrays, params) from a tiny rollout, compiled once."""
    env, params = make("car_tag", horizon=20)
    policies = {"pursuer": PURSUERS["pure_pursuit"], "evader": EVADERS["straight_flee"]}
    result = rollout(env, params, policies, jax.random.PRNGKey(0), 2, record=True)
    return jax.tree_util.tree_map(lambda x: x[0], result.states), params


def test_plot_episode_writes_png(episode, tmp_path):
    states, params = episode
    path = plot_episode(states, params, tmp_path / "sub" / "ep.png", title="t", names=("a", "b"))
    assert path.stat().st_size > 0
    with Image.open(path) as im:
        assert im.format == "PNG" and min(im.size) > 100


def test_plot_episode_accepts_numpy_and_capture(episode, tmp_path):
    states, params = episode
    states = jax.tree_util.tree_map(np.asarray, states)
    # Fake a capture half-way through step 3, after which the state is frozen.
    n, steps = 3, np.arange(len(states.t))
    frozen = jax.tree_util.tree_map(lambda x: x[np.minimum(steps, n)], states).replace(
        t=np.minimum(steps, n).astype(np.int32),
        captured=steps >= n,
        capture_time=np.where(steps >= n, (n - 0.5) * float(params.dt), 2.0),
        done=steps >= n,
    )
    path = plot_episode(frozen, params, tmp_path / "cap.png", names={"pursuer": "p", "evader": "e"})
    with Image.open(path) as im:
        im.verify()


def test_plot_episode_rejects_batched_states(episode, tmp_path):
    states, params = episode
    batched = jax.tree_util.tree_map(lambda x: x[None], states)
    with pytest.raises(ValueError, match="one episode"):
        plot_episode(batched, params, tmp_path / "x.png")


def test_animate_episode_writes_gif(episode, tmp_path):
    states, params = episode
    path = animate_episode(states, params, tmp_path / "ep.gif", fps=10)
    assert path.stat().st_size > 0
    with Image.open(path) as im:
        assert im.format == "GIF"
        assert im.n_frames > 1
        assert im.size == (320, 320)


def test_animate_episode_caps_frames(episode, tmp_path, monkeypatch):
    from arenax.envs.car_tag import render

    monkeypatch.setattr(render, "MAX_FRAMES", 4)
    states, params = episode
    path = animate_episode(states, params, tmp_path / "few.gif")
    with Image.open(path) as im:
        assert 1 < im.n_frames <= 4 + 1  # the final state is always shown


def test_plot_score_matrix_writes_png(tmp_path):
    matrix = np.array([[0.1, 0.9, np.nan], [0.5, 0.0, 1.0]])
    path = plot_score_matrix(
        matrix,
        0.05 * np.ones_like(matrix),
        ["p1", "p2"],
        ["e1", "a_long_evader_name", "e3"],
        tmp_path / "m.png",
        "scores",
    )
    with Image.open(path) as im:
        assert im.format == "PNG"
    with pytest.raises(ValueError):
        plot_score_matrix(matrix, None, ["p1"], ["e1"], tmp_path / "bad.png", "bad")


def test_plot_learning_curve_writes_png(tmp_path):
    steps = np.arange(10)
    one = plot_learning_curve(steps, steps**0.5, tmp_path / "one.png", "return", "single")
    many = plot_learning_curve(
        steps,
        np.stack([steps, 2 * steps]),
        tmp_path / "many.png",
        "return",
        "two",
        labels=["a", "b"],
        band=np.ones((2, 10)),
    )
    for path in (one, many):
        with Image.open(path) as im:
            assert im.format == "PNG"
