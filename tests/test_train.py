"""The training host loop, metrics log, typed overrides and `arenax train ppo` run folders."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from arenax.agents.ppo import PPOConfig
from arenax.cli import app
from arenax.metrics_log import MetricsLog, metric_rows, read_metrics
from arenax.overrides import parse_typed_overrides
from arenax.train_run import TrainRun, train
from arenax.training_loop import ChunkPlan

FAST = {"xla_backend_optimization_level": 0}
TINY_PPO = {
    "num_envs": 8,
    "num_steps": 16,
    "hidden_sizes": (8,),
    "updates_per_chunk": 2,
    "update_epochs": 1,
    "num_minibatches": 2,
}


def test_typed_overrides_follow_field_types():
    parsed = parse_typed_overrides(
        PPOConfig(),
        ["lr=1e-3", "num_envs=32", "hidden_sizes=32,16", "recurrent=true", "continuous=tanh"],
        "PPOConfig",
    )
    assert parsed == {
        "lr": 1e-3,
        "num_envs": 32,
        "hidden_sizes": (32, 16),
        "recurrent": True,
        "continuous": "tanh",
    }
    with pytest.raises(ValueError, match="unknown field 'lrr'"):
        parse_typed_overrides(PPOConfig(), ["lrr=1"], "PPOConfig")
    with pytest.raises(ValueError, match="not a valid int"):
        parse_typed_overrides(PPOConfig(), ["num_envs=many"], "PPOConfig")
    with pytest.raises(ValueError, match="not a valid bool"):
        parse_typed_overrides(PPOConfig(), ["recurrent=maybe"], "PPOConfig")


def test_metric_rows_and_truncate(tmp_path):
    metrics = {"update": np.array([[1, 2], [1, 2]]), "loss": np.array([[0.5, np.nan], [1.0, 2.0]])}
    rows = metric_rows(metrics, "update", num_seeds=2)
    assert rows[0] == {"update": 1, "seed": 0, "loss": 0.5}
    assert rows[2] == {"update": 2, "seed": 0, "loss": None}  # NaN -> null
    log = MetricsLog(tmp_path / "m.jsonl")
    log.write(rows)
    log.truncate(after=1)
    assert [r["update"] for r in read_metrics(tmp_path / "m.jsonl")] == [1, 1]
    with pytest.raises(ValueError, match="lack 'generation'"):
        metric_rows(metrics, "generation", num_seeds=2)


def test_chunk_plan_covers_the_budget_exactly():
    plan = ChunkPlan(total=7, per_chunk=3, steps_per_iteration=10)
    assert plan.chunk_sizes(0) == [3, 3, 1]
    assert plan.chunk_sizes(6) == [1]
    assert plan.chunk_sizes(7) == []


def _params_of(run_dir):
    from arenax.agents.ppo import load_agent

    agent, _ = load_agent(run_dir / "agents" / "seed_1")
    return jax.tree_util.tree_leaves(agent.params)


def test_resumed_run_matches_uninterrupted_run(tmp_path):
    run = TrainRun(
        role="pursuer",
        opponent="straight_flee",
        steps=8 * 16 * 4,  # 4 updates = 2 chunks
        seeds=2,
        game={"horizon": 30},
        config=TINY_PPO,
        checkpoint_every=1,
        anneal={"capture_radius": 0.6},  # the curriculum's state resumes too
        anneal_fraction=0.5,
    )
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(run, whole, quiet=True, evaluate=False, compiler_options=FAST)
    train(run, split, quiet=True, evaluate=False, max_chunks=1, compiler_options=FAST)
    assert not (split / "agents").exists()
    assert len(read_metrics(split / "metrics.jsonl")) == 2 * 2  # 2 updates x 2 seeds
    train(run, split, resume=True, quiet=True, evaluate=False, compiler_options=FAST)
    for a, b in zip(_params_of(whole), _params_of(split), strict=True):
        np.testing.assert_array_equal(a, b)
    assert read_metrics(whole / "metrics.jsonl") == read_metrics(split / "metrics.jsonl")
    assert json.loads((whole / "run.json").read_text())["learner"] == "ppo"
    # seeds differ: the vmapped seeds are independent runs
    first = read_metrics(whole / "metrics.jsonl")
    assert first[0]["seed"] == 0 and first[1]["seed"] == 1
    assert first[0]["value_loss"] != first[1]["value_loss"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "referee"], "unknown role 'referee'"),
        (["--opponent", "teleport"], "unknown evader 'teleport'"),
        (["--role", "evader", "--opponent", "jink"], "unknown pursuer 'jink'"),
        (["-c", "num_envz=3"], "unknown field 'num_envz'"),
        (["--config", "num_envs=0"], "num_envs must be >= 1"),
        (["--env", "atari"], "car_tag only"),
        (["--set", "horizon=abc"], "not a number"),
        (["--resume", "nowhere"], "not a train run folder"),
        (["--interface", "polar"], "unknown learner interface 'polar'"),
        (["--shaping-gamma", "1.5"], "--shaping-gamma must be in (0, 1]"),
        (["--wall-shaping", "-1"], "--wall-shaping"),
        (["--interface", "car_tag_evader_car_frame"], "is for the evader, not the pursuer"),
        (["--anneal", "capture_radios=0.6"], "cannot anneal 'capture_radios'"),
        (["--anneal", "capture_radius=wide"], "'wide' is not a number"),
        (["--anneal", "capture_radius=0.6", "--anneal-fraction", "0"], "anneal fraction"),
    ],
)
def test_train_ppo_cli_rejects_bad_input(tmp_path, args, message):
    result = CliRunner().invoke(
        app, ["train", "ppo", "--out", str(tmp_path / "run"), "--quiet", *args]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "strategy=pso"], "strategy"),
        (["-c", "network.hidden_size=3"], "unknown field 'hidden_size'"),
        (["-c", "population_size=many"], "not a valid int"),
    ],
)
def test_train_es_cli_rejects_bad_input(tmp_path, args, message):
    result = CliRunner().invoke(app, ["train", "es", "--out", str(tmp_path / "run"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "run").exists()


def test_es_run_trains_and_exports(tmp_path):
    run = TrainRun(
        learner="es",
        role="evader",
        opponent="pure_pursuit",
        steps=8 * 2 * 30 * 4,  # 4 generations of 8 members x 2 episodes x 30 steps
        seeds=2,
        game={"horizon": 30},
        config={
            "population_size": 8,
            "episodes_per_member": 2,
            "generations_per_chunk": 2,
            "network.hidden_sizes": (8,),
        },
    )
    train(run, tmp_path, quiet=True, evaluate=False, compiler_options=FAST)
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["generation"] for r in rows] == [1, 1, 2, 2, 3, 3, 4, 4]
    from arenax.agents.ppo import load_policy

    policy = load_policy(tmp_path / "agents" / "seed_0")
    assert policy.role == "evader"


@pytest.mark.slow
def test_selfplay_run_exports_both_roles_and_resumes(tmp_path):
    from arenax.train_selfplay import SelfPlayRun, train_selfplay

    run = SelfPlayRun(
        steps=2 * 8 * 16 * 4,  # 4 iterations (each: one update per role)
        seeds=2,
        game={"horizon": 30},
        ppo={k: v for k, v in TINY_PPO.items() if k != "updates_per_chunk"},
        selfplay={"iterations_per_chunk": 2, "pool_capacity": 3},
        shaping=1.0,
        wall_shaping=2.0,  # the evader's potential counts its wall clearance
        exploit_steps=0,
        checkpoint_every=1,
    )
    whole, split = tmp_path / "whole", tmp_path / "split"
    train_selfplay(run, whole, quiet=True, evaluate=False, compiler_options=FAST)
    train_selfplay(run, split, quiet=True, evaluate=False, max_chunks=1, compiler_options=FAST)
    train_selfplay(run, split, resume=True, quiet=True, evaluate=False, compiler_options=FAST)
    rows = read_metrics(whole / "metrics.jsonl")
    assert [r["iteration"] for r in rows] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert rows == read_metrics(split / "metrics.jsonl")
    from arenax.agents.ppo import load_agent, load_policy

    for role in ("pursuer", "evader"):
        assert load_policy(whole / "agents" / "seed_1" / role).role == role
        a, _ = load_agent(whole / "agents" / "seed_1" / role)
        b, _ = load_agent(split / "agents" / "seed_1" / role)
        for x, y in zip(
            jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params), strict=True
        ):
            np.testing.assert_array_equal(x, y)


def test_train_selfplay_cli_rejects_bad_input(tmp_path):
    result = CliRunner().invoke(
        app, ["train", "selfplay", "--out", str(tmp_path / "r"), "--pool", "shaping=2"]
    )
    assert result.exit_code == 2 and "not a pool setting" in result.output
    result = CliRunner().invoke(
        app, ["train", "selfplay", "--out", str(tmp_path / "r"), "--pool", "pool_capacity=0"]
    )
    assert result.exit_code == 2 and "pool_capacity" in result.output
    result = CliRunner().invoke(
        app, ["train", "selfplay", "--out", str(tmp_path / "r"), "--wall-shaping", "-1"]
    )
    assert result.exit_code == 2 and "--wall-shaping" in result.output
    assert not (tmp_path / "r").exists()
    from arenax.agents.selfplay import SelfPlayConfig

    with pytest.raises(ValueError, match="wall_shaping must be >= 0"):
        SelfPlayConfig(wall_shaping=-0.5)
