"""BC+RL: the PPO learner with a behaviour-cloning term. On TigerDoor with the gap,
a small BC weight lets RL on the task reward learn to press the button (BC alone
earns about 0); a large one keeps the policy on the expert's coin-flip doors."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from arenax.agents.imitation import collect_demonstrations, make_bc_rl
from arenax.agents.ppo.config import PPOConfig
from arenax.envs.gap import TigerDoor, TigerDoorParams
from arenax.envs.single_agent import SoloView

PARAMS = TigerDoorParams(gap=True)
CONFIG = PPOConfig(
    num_envs=32,
    num_steps=16,
    total_timesteps=32 * 16 * 50,
    hidden_sizes=(32, 32),
    ent_coef=0.01,
    lr=3e-3,
)


@pytest.fixture(scope="module", params=[0.1, 3.0], ids=["small_bc", "large_bc"])
def trained(request):
    env = TigerDoor()
    demos = collect_demonstrations(env, PARAMS, jax.random.PRNGKey(0), 128, PARAMS.horizon)
    trainer = make_bc_rl(
        CONFIG,
        SoloView(env),
        demos,
        request.param,
        PARAMS,
        compiler_options={"xla_backend_optimization_level": 0},
    )
    _, metrics = trainer.train(jax.random.PRNGKey(1))
    return request.param, {k: np.asarray(v) for k, v in metrics.items()}


def test_bc_weight_trades_imitation_for_return(trained):
    coef, metrics = trained
    final_return = metrics["episode_return"][-5:].mean()
    if coef < 1.0:
        assert final_return > 0.6  # pressing, then opening the seen door: 0.9 at best
        assert metrics["bc_loss"][-1] > metrics["bc_loss"][0]  # it left the expert's ways
    else:
        assert abs(final_return) < 0.3
        assert metrics["bc_loss"][-1] == pytest.approx(np.log(2.0), abs=0.15)


def test_negative_bc_weight_is_refused():
    with pytest.raises(ValueError, match="bc_coef must be >= 0"):
        make_bc_rl(CONFIG, SoloView(TigerDoor()), None, -1.0, PARAMS)
