"""The env-parameter curriculum: values along training, batched params, the host-loop hook."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from arenax.envs import make
from arenax.param_anneal import ParamAnneal, parse_anneal
from arenax.training_loop import ChunkPlan, run_chunks

GAME = make("car_tag")[1]  # capture_radius 0.2


def test_values_move_linearly_to_the_game_value_then_stay():
    anneal = ParamAnneal({"capture_radius": 0.6}, fraction=0.5)
    values = [anneal.value("capture_radius", 0.2, p) for p in (0.0, 0.25, 0.5, 0.75, 1.0)]
    np.testing.assert_allclose(values, [0.6, 0.4, 0.2, 0.2, 0.2])


def test_params_at_keeps_other_fields_shapes_and_dtypes():
    anneal = ParamAnneal({"capture_radius": 1.0, "evader_speed": 0.1}, fraction=1.0)
    batched = GAME.replace(
        capture_radius=jnp.full((3,), 0.2, jnp.float32), evader_speed=jnp.float32(0.5)
    )
    out = anneal.params_at(batched, GAME, 0.5)
    assert out.capture_radius.shape == (3,) and out.capture_radius.dtype == jnp.float32
    np.testing.assert_allclose(out.capture_radius, [0.6, 0.6, 0.6], rtol=1e-6)
    np.testing.assert_allclose(out.evader_speed, 0.3, rtol=1e-6)
    assert out.pursuer_speed == GAME.pursuer_speed and out.horizon == GAME.horizon


@pytest.mark.parametrize(
    ("starts", "fraction", "message"),
    [
        ({"capture_radios": 0.6}, 0.5, "cannot anneal 'capture_radios'.*valid: .*capture_radius"),
        ({"capture_radius": float("nan")}, 0.5, "finite"),
        ({"capture_radius": 0.6}, 0.0, r"fraction must be in \(0, 1\]"),
        ({"capture_radius": 0.6}, 1.5, r"fraction must be in \(0, 1\]"),
    ],
)
def test_bad_curricula_are_refused(starts, fraction, message):
    with pytest.raises(ValueError, match=message):
        ParamAnneal(starts, fraction).check(GAME)


def test_parse_anneal():
    assert parse_anneal(["capture_radius=0.6", "evader-speed=0.3"]) == {
        "capture_radius": 0.6,
        "evader_speed": 0.3,
    }
    with pytest.raises(ValueError, match="expected NAME=START"):
        parse_anneal(["capture_radius"])
    with pytest.raises(ValueError, match="'wide' is not a number"):
        parse_anneal(["capture_radius=wide"])


@struct.dataclass
class _State:
    env_params: object
    done: int = 0


class _RecordingLearner:
    """Records the capture radius each chunk trains with (no JAX program)."""

    compiler_options = None

    def __init__(self):
        self.radii: list[float] = []

    def train_chunk(self, state, n):
        self.radii.append(float(state.env_params.capture_radius))
        done = state.done + n
        return state.replace(done=done), {"update": np.arange(state.done + 1, done + 1)}


def test_host_loop_applies_the_curriculum_before_every_chunk():
    anneal = ParamAnneal({"capture_radius": 1.0}, fraction=0.5)
    learner = _RecordingLearner()
    plan = ChunkPlan(total=8, per_chunk=2, steps_per_iteration=1)
    run_chunks(
        learner,
        _State(GAME),
        plan,
        quiet=True,
        before_chunk=lambda state, done: anneal.apply(state, GAME, done / plan.total),
    )
    # chunks start at iterations 0, 2, 4, 6: progress 0, 1/4, 1/2, 3/4
    np.testing.assert_allclose(learner.radii, [1.0, 0.6, 0.2, 0.2], rtol=1e-6)
