"""IGDrivSim driver checkpoints: a saved driver loads back acting identically;
`arenax igdrive evaluate` refuses bad checkpoints and masks with a clear error; the
full train -> evaluate round trip is a slow test."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from arenax.agents.imitation.bc import BCConfig
from arenax.agents.imitation.igdrive_runs import (
    ENV,
    check_observation_size,
    driver_actor,
    driving_params,
    load_driver,
    save_driver,
)
from arenax.agents.ppo.action_spec import ActionSpec
from arenax.agents.ppo.export import ExportedAgent
from arenax.agents.ppo.networks import build_network, init_params
from arenax.agents.ppo.normalization import RunningNorm
from arenax.cli import app
from arenax.envs.igdrive.generator import ScenarioConfig
from arenax.envs.single_agent import flatten_observation

runner = CliRunner()
SCENE = ScenarioConfig(num_objects=4, num_timesteps=12)


def small(params):
    return params.replace(scenario=SCENE)


RECORD = {"method": "bc", "setting": "cone", "perception": "cone:radius=30,angle=120", "seed": 3}


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """A small untrained driver saved to disk, with a random observation of the size a
    small scene gives (traced, not compiled: IGDrivSim's reset is slow to compile)."""
    params = small(driving_params(RECORD["perception"]))
    shape = jax.eval_shape(
        lambda k: flatten_observation(ENV.reset(k, params)[0]["sdc"]), jax.random.PRNGKey(0)
    ).shape
    flat = jax.random.normal(jax.random.PRNGKey(2), shape)
    state = None  # a trained driver acts from its observation alone
    config = BCConfig(hidden_sizes=(16,)).network_config()
    spec = ActionSpec.from_space(ENV.action_space(params)["sdc"])
    network = build_network(config, spec)
    weights = init_params(network, config, jax.random.PRNGKey(1), flat.shape[-1])
    norm = RunningNorm.create(flat.shape[-1]).update(flat[None] + 1.0)
    agent = ExportedAgent(config, spec, flat.shape[-1], weights, norm)
    path = save_driver(tmp_path_factory.mktemp("run") / "driver", agent, RECORD)
    return params, agent, path, flat, state


def test_a_saved_driver_loads_back_and_acts_the_same(driver):
    params, agent, path, flat, state = driver
    loaded, meta = load_driver(path)
    assert {k: meta[k] for k in RECORD} == RECORD
    before = driver_actor(agent, params)(flat, state)
    after = driver_actor(loaded, params)(flat, state)
    np.testing.assert_allclose(np.asarray(after), np.asarray(before), rtol=1e-6)
    check_observation_size(loaded, small(driving_params("occlusion")))  # same size: accepted


def test_a_driver_for_other_observations_is_refused(driver):
    params, agent, *_ = driver
    other = ExportedAgent(
        agent.config, agent.spec, agent.obs_size + 1, agent.params, agent.obs_norm
    )
    with pytest.raises(ValueError, match="the driver observes"):
        check_observation_size(other, params)


def test_evaluate_errors_name_the_problem(driver, tmp_path):
    _, _, path, *_ = driver
    (tmp_path / "empty").mkdir()
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "driver.json").write_text("{not json")
    cases = [
        ([str(tmp_path / "missing")], "is not a folder"),
        ([str(tmp_path / "empty")], "not an IGDrivSim driver checkpoint"),
        ([str(damaged)], "is not valid JSON"),
        ([str(path), "--mask", "cone:radius=20"], "cone needs angle"),
        ([str(path), "--mask", "xray"], "xray"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["igdrive", "evaluate", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)


@pytest.mark.slow
def test_train_then_evaluate_under_another_mask(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["igdrive", "train", "--method", "bc", "--scale", "0.02",
                                 "--test", "2", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["igdrive", "evaluate", str(out / "driver"),
                                 "--mask", "range:radius=15", "--test", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((out / "evaluate" / "metrics.json").read_text())
    assert record["evaluated_perception"] == "range:radius=15" and record["setting"] == "cone"
    assert 0.0 <= record["overlap"] <= 1.0 and (out / "evaluate" / "test_episode.gif").is_file()
