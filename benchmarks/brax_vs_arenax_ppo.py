"""Car Tag pursuer: arenax PPO vs brax PPO (through `BraxEnv`), wall-clock to the same score.

Both learners train the pursuer against the same fixed evader (default
`straight_flee`) with the same PPO settings (table in the JSON: parallel envs,
unroll length, minibatches, epochs, learning rate, discount, GAE lambda, clip,
networks, observation normalisation, tanh-squashed Gaussian actions, constant
learning rate) and are evaluated the same way:

- **arenax**: `make_train(config, SingleAgentView(...))`, `train_chunk` repeatedly
  (one chunk = one evaluation interval), `export_policy`.
- **brax**: `brax.training.agents.ppo.train.train(environment=BraxEnv(...))` with
  `episode_length` = the Car Tag horizon (episodes end terminally exactly where
  arenax's do) and `wrap_for_training` (fresh random restarts, as arenax's
  `AutoReset`); its policy is wrapped with `to_arenax_policy`. Evaluations happen
  in `policy_params_fn`, once per brax epoch; brax's own evaluator also runs there
  (its `eval/episode_reward` and `eval/episode_captured` are recorded as a
  cross-check of the wrapper's metrics).

Every `--eval-every` env steps each learner's deterministic policy plays
`--eval-episodes` Car Tag episodes against the evader with
`arenax.rollout.rollout` (same keys, so the same start positions, for both);
the score is the mean pursuer return (1 - capture time / horizon when caught,
else 0; pure pursuit scores about 0.70 against straight flee). A learner stops
at the first evaluation that reaches the highest of `--targets` or when its time
budget is spent (but not before two intervals after the first, compiling, one).

Reported per learner and target: wall-clock to the first evaluation at or above
the target, counting everything but evaluations (setup, compilation and
training), and the env steps it took; overall env-steps/s (compile included)
and steady-state env-steps/s (median and best of the per-interval rates after
the first interval, which holds the compilation); and a final score of the last policy on
`--final-episodes` fresh episodes. Timings are wall-clock on a possibly shared
machine: `other_cpu_cores` records how many cores other processes took meanwhile.

    python benchmarks/brax_vs_arenax_ppo.py            # targets 0.3/0.45/0.6, <= ~10 min
    python benchmarks/brax_vs_arenax_ppo.py --quick    # smoke run, about a minute
    python benchmarks/brax_vs_arenax_ppo.py --evader wall_flee --targets 0.2,0.4
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import brax
import jax
import numpy as np
from brax.training.agents.ppo import networks as brax_networks
from brax.training.agents.ppo import train as brax_ppo
from flax import linen
from rich.console import Console
from rich.table import Table

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.agents.ppo import PPOConfig, make_train
from arenax.agents.ppo.export import ExportedAgent, to_policy
from arenax.envs import make
from arenax.envs.brax_env import BraxEnv, to_arenax_policy, wrap_for_training
from arenax.envs.single_agent import SingleAgentView
from arenax.policy import Policy
from arenax.rollout import rollout

RESULTS = Path(__file__).resolve().parent / "results" / "brax_vs_arenax_ppo.json"

MIN_INTERVALS = 2  # evaluation intervals after the first (compiling) one, whatever the budget

# Shared PPO settings, in each library's terms below.
SHARED = {
    "num_envs": 64,
    "unroll_length": 128,  # arenax num_steps; brax unroll_length
    "num_minibatches": 4,  # minibatch = 64 * 128 / 4 = 2048 transitions in both
    "update_epochs": 4,  # arenax update_epochs; brax num_updates_per_batch
    "learning_rate": 3e-4,  # constant (arenax anneal_lr=False; brax no schedule)
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_eps": 0.2,
    "value_clip": None,  # arenax vf_clip_eps=0 (off); brax clipping_epsilon_value=None
    "entropy_coef": 0.0,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "normalize_observations": True,
    "normalize_advantages": True,
    "hidden_sizes": [64, 64],  # separate policy and value MLPs in both
    "activation": "tanh",
    "action_distribution": "tanh-squashed diagonal Gaussian, state-independent std, initial 1",
    "reward_scaling": 1.0,
}


class StopTraining(Exception):
    """Raised from brax's callback to end `train` early (target reached or time up)."""


def device_info() -> dict:
    return {
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": platform.processor() or platform.machine(),
        "jax_version": jax.__version__,
        "brax_version": brax.__version__,
        "python": platform.python_version(),
    }


class OtherCpuMeter:
    """Cores used by everything but this process (steal time included), from /proc/stat."""

    def start(self) -> None:
        self._begin = self._sample()

    def stop(self) -> float | None:
        end = self._sample()
        if self._begin is None or end is None:
            return None
        (busy0, own0, wall0), (busy1, own1, wall1) = self._begin, end
        return max(0.0, ((busy1 - busy0) - (own1 - own0)) / (wall1 - wall0))

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as f:
                ticks = [int(x) for x in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
        return busy, time.process_time(), time.perf_counter()


def make_scorer(
    game: Any, params: Any, opponent: Policy, to_policy_fn: Callable[[Any], Policy], episodes: int
) -> Callable[[Any, jax.Array], dict[str, float]]:
    """`score(agent_params, key) -> {"score", "capture_rate"}`: `rollout` of the policy
    built from `agent_params` against `opponent`, jitted once (params are arguments)."""

    @jax.jit
    def run(agent_params: Any, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        policies = {"pursuer": to_policy_fn(agent_params), "evader": opponent}
        result = rollout(game, params, policies, key, episodes)
        return result.returns["pursuer"].mean(), result.final_state.captured.mean()

    def score(agent_params: Any, key: jax.Array) -> dict[str, float]:
        mean, captured = run(agent_params, key)
        return {"score": float(mean), "capture_rate": float(captured)}

    return score


class Tracker:
    """Wall-clock bookkeeping for one learner: evaluation time is excluded."""

    def __init__(self, name: str, targets: list[float], budget_s: float, console: Console):
        self.name, self.targets, self.budget_s, self.console = name, targets, budget_s, console
        self.start = time.perf_counter()
        self.excluded = 0.0  # seconds spent evaluating
        self.evals: list[dict] = []
        self.reached: dict[float, dict] = {}  # target -> first evaluation at or above it

    def evaluate(self, env_steps: int, score: Callable[[], dict[str, float]]) -> bool:
        """Run and log one evaluation (its time excluded); True when the learner should stop."""
        start = time.perf_counter()
        train_seconds = start - self.start - self.excluded
        scored = score()
        self.excluded += time.perf_counter() - start
        row = {"env_steps": env_steps, "train_seconds": train_seconds, **scored}
        self.evals.append(row)
        new = [t for t in self.targets if t not in self.reached and scored["score"] >= t]
        self.reached.update({t: row for t in new})
        self.console.print(
            f"  {self.name:>6} {env_steps:>11,} steps {train_seconds:7.1f} s: "
            f"score {scored['score']:.3f}, capture rate {scored['capture_rate']:.3f}"
            + "".join(f" [green]>= {t}[/green]" for t in new)
        )
        done = max(self.targets) in self.reached
        # Past the budget, still run MIN_INTERVALS intervals so steady rates exist.
        trained = sum(e["env_steps"] > 0 for e in self.evals) > MIN_INTERVALS
        return done or (train_seconds >= self.budget_s and trained)


def interval_rates(evals: list[dict]) -> list[float]:
    """env-steps/s between consecutive evaluations (the first interval holds compilation)."""
    pairs = itertools.pairwise(evals)
    return [
        (b["env_steps"] - a["env_steps"]) / (b["train_seconds"] - a["train_seconds"])
        for a, b in pairs
        if b["train_seconds"] > a["train_seconds"]
    ]


def summarize(tracker: Tracker, final: dict[str, float]) -> dict:
    evals, last = tracker.evals, tracker.evals[-1]
    # Intervals after the first evaluation past step 0 (the first one holds compilation).
    rates = interval_rates([e for e in evals if e["env_steps"] > 0])
    to_target = {}
    for t in tracker.targets:
        row = tracker.reached.get(t)
        to_target[str(t)] = {
            "seconds": None if row is None else row["train_seconds"],
            "env_steps": None if row is None else row["env_steps"],
        }
    return {
        "to_target": to_target,
        "best_score": max(e["score"] for e in evals),
        "train_seconds": last["train_seconds"],
        "eval_seconds": tracker.excluded,
        "env_steps": last["env_steps"],
        "steps_per_s_overall": last["env_steps"] / last["train_seconds"],
        "steps_per_s_steady": statistics.median(rates) if rates else None,
        "steps_per_s_best": max(rates) if rates else None,  # the least disturbed interval
        "final_score": final["score"],
        "final_capture_rate": final["capture_rate"],
        "evals": evals,
    }


def run_arenax(args, game, params, opponent, eval_key, final_key, console) -> dict:
    interval = SHARED["num_envs"] * SHARED["unroll_length"]
    config = PPOConfig(
        num_envs=SHARED["num_envs"],
        num_steps=SHARED["unroll_length"],
        total_timesteps=10**9,  # unused: constant learning rate, the loop stops on its own
        update_epochs=SHARED["update_epochs"],
        num_minibatches=SHARED["num_minibatches"],
        updates_per_chunk=max(1, args.eval_every // interval),
        hidden_sizes=tuple(SHARED["hidden_sizes"]),
        activation=SHARED["activation"],
        normalize_obs=SHARED["normalize_observations"],
        normalize_advantages=SHARED["normalize_advantages"],
        anneal_lr=False,
        continuous="tanh",
        init_log_std=0.0,
        lr=SHARED["learning_rate"],
        gamma=SHARED["gamma"],
        gae_lambda=SHARED["gae_lambda"],
        clip_eps=SHARED["clip_eps"],
        vf_clip_eps=0.0,
        ent_coef=SHARED["entropy_coef"],
        vf_coef=SHARED["vf_coef"],
        max_grad_norm=SHARED["max_grad_norm"],
    )
    tracker = Tracker("arenax", args.targets, args.budget, console)
    trainer = make_train(config, SingleAgentView(game, "pursuer", opponent), params)

    def policy_from(agent: tuple[Any, Any]) -> Policy:
        exported = ExportedAgent(config, trainer.spec, trainer.obs_size, agent[0], agent[1])
        return to_policy(exported, name="arenax_ppo", role="pursuer")

    score = make_scorer(game, params, opponent, policy_from, args.eval_episodes)
    state = trainer.init(jax.random.PRNGKey(args.seed))
    # Step 0, as brax's first callback: the untrained policy, after setup.
    stop = tracker.evaluate(0, functools.partial(score, (state.params, state.obs_norm), eval_key))
    while not stop:  # one chunk = one evaluation interval
        state, metrics = trainer.train_chunk(state)
        env_steps = int(metrics["env_steps"][-1])  # blocks until the chunk is done
        agent = (state.params, state.obs_norm)
        stop = tracker.evaluate(env_steps, functools.partial(score, agent, eval_key))
    t = time.perf_counter()
    final = make_scorer(game, params, opponent, policy_from, args.final_episodes)(
        (state.params, state.obs_norm), final_key
    )
    tracker.excluded += time.perf_counter() - t
    return {"config": config.to_dict(), **summarize(tracker, final)}


def run_brax(args, game, params, opponent, eval_key, final_key, console) -> dict:
    env = BraxEnv(SingleAgentView(game, "pursuer", opponent), params)
    batch_size = SHARED["num_envs"] // SHARED["num_minibatches"]  # unrolls per minibatch
    per_step = batch_size * SHARED["num_minibatches"] * SHARED["unroll_length"]
    epoch_steps = max(1, args.eval_every // per_step) * per_step
    max_steps = args.max_steps // epoch_steps * epoch_steps
    network_factory = functools.partial(
        brax_networks.make_ppo_networks,
        policy_hidden_layer_sizes=tuple(SHARED["hidden_sizes"]),
        value_hidden_layer_sizes=tuple(SHARED["hidden_sizes"]),
        activation=linen.tanh,
        distribution_type="tanh_normal",
        init_noise_std=1.0,
    )
    settings = {
        "num_timesteps": max_steps,
        "episode_length": env.episode_length,
        "num_envs": SHARED["num_envs"],
        "batch_size": batch_size,
        "num_minibatches": SHARED["num_minibatches"],
        "unroll_length": SHARED["unroll_length"],
        "num_updates_per_batch": SHARED["update_epochs"],
        "learning_rate": SHARED["learning_rate"],
        "discounting": SHARED["gamma"],
        "gae_lambda": SHARED["gae_lambda"],
        "clipping_epsilon": SHARED["clip_eps"],
        "entropy_cost": SHARED["entropy_coef"],
        "vf_loss_coefficient": SHARED["vf_coef"],
        "max_grad_norm": SHARED["max_grad_norm"],
        "normalize_observations": SHARED["normalize_observations"],
        "normalize_advantage": SHARED["normalize_advantages"],
        "reward_scaling": SHARED["reward_scaling"],
        "num_evals": max_steps // epoch_steps + 1,
        "num_eval_envs": 128,
        "deterministic_eval": True,
        "seed": args.seed,
    }
    tracker = Tracker("brax", args.targets, args.budget, console)
    holder: dict[str, Any] = {}

    def policy_from(brax_params: Any) -> Policy:
        return to_arenax_policy(holder["make_policy"](brax_params, deterministic=True), env)

    def policy_params_fn(step: int, make_policy: Callable, brax_params: Any) -> None:
        if "score" not in holder:
            holder["make_policy"] = make_policy
            holder["score"] = make_scorer(game, params, opponent, policy_from, args.eval_episodes)
        # Host copies: brax's pmapped outputs carry a sharding that would recompile the scorer.
        brax_params = holder["params"] = jax.tree_util.tree_map(np.asarray, brax_params)
        if tracker.evaluate(step, functools.partial(holder["score"], brax_params, eval_key)):
            raise StopTraining

    def progress_fn(step: int, metrics: dict) -> None:
        # Called after brax's own evaluator, whose time (compile included) is excluded too.
        tracker.excluded += float(metrics.get("eval/epoch_eval_time", 0.0))
        row = next((e for e in reversed(tracker.evals) if e["env_steps"] == step), None)
        if row is not None:
            row["brax_eval_episode_reward"] = float(metrics["eval/episode_reward"])
            row["brax_eval_episode_captured"] = float(metrics["eval/episode_captured"])

    with contextlib.suppress(StopTraining):
        brax_ppo.train(
            environment=env,
            wrap_env_fn=wrap_for_training,
            network_factory=network_factory,
            progress_fn=progress_fn,
            policy_params_fn=policy_params_fn,
            **settings,
        )
    t = time.perf_counter()
    final = make_scorer(game, params, opponent, policy_from, args.final_episodes)(
        holder["params"], final_key
    )
    tracker.excluded += time.perf_counter() - t
    settings["wrap_env_fn"] = "arenax.envs.brax_env.wrap_for_training"
    settings["network"] = "make_ppo_networks(64x64 tanh policy and value, tanh_normal)"
    return {"settings": settings, **summarize(tracker, final)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: low targets, ~1 min")
    parser.add_argument("--evader", default="straight_flee", choices=sorted(EVADERS))
    parser.add_argument(
        "--targets", default=None, help="comma-separated mean pursuer scores to time"
    )
    parser.add_argument("--budget", type=float, default=None, help="seconds per learner")
    parser.add_argument("--eval-every", type=int, default=None, help="env steps between evals")
    parser.add_argument("--eval-episodes", type=int, default=None)
    parser.add_argument("--final-episodes", type=int, default=None)
    parser.add_argument("--max-steps", type=int, default=50_000_000, help="brax step cap")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("arenax", "brax"), default=None)
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    interval = SHARED["num_envs"] * SHARED["unroll_length"]
    targets = args.targets or ("0.1,0.2" if args.quick else "0.3,0.45,0.6")
    args.targets = sorted(float(t) for t in targets.split(","))
    if args.budget is None:
        args.budget = 20.0 if args.quick else 240.0
    if args.eval_every is None:
        args.eval_every = (10 if args.quick else 40) * interval
    if args.eval_episodes is None:
        args.eval_episodes = 256 if args.quick else 512
    if args.final_episodes is None:
        args.final_episodes = 256 if args.quick else 1024
    script_start = time.perf_counter()

    console = Console(width=max(Console().width, 110))
    info = device_info()
    game, params = make("car_tag")
    opponent = EVADERS[args.evader]
    console.print(
        f"[bold]Car Tag pursuer vs {args.evader}: arenax PPO vs brax PPO[/bold] "
        f"(backend {info['backend']}, {info['cpus_usable']} usable cores, jax {jax.__version__}, "
        f"brax {brax.__version__}); targets (mean pursuer score) {args.targets} on "
        f"{args.eval_episodes} episodes every {args.eval_every:,} env steps; "
        f"budget {args.budget:.0f} s per learner"
    )
    eval_key, final_key, ref_key = jax.random.split(jax.random.PRNGKey(1234), 3)
    references = {}
    for name in ("pure_pursuit",):
        r = rollout(game, params, {"pursuer": PURSUERS[name], "evader": opponent}, ref_key, 1024)
        references[name] = {
            "score": float(r.returns["pursuer"].mean()),
            "capture_rate": float(r.final_state.captured.mean()),
        }
    console.print(f"  reference: pure_pursuit scores {references['pure_pursuit']['score']:.3f}")

    learners = {"arenax": run_arenax, "brax": run_brax}
    results, meter = {}, OtherCpuMeter()
    for name, run in learners.items():
        if args.only and name != args.only:
            continue
        meter.start()
        results[name] = run(args, game, params, opponent, eval_key, final_key, console)
        results[name]["other_cpu_cores"] = meter.stop()

    console.print(results_table(results, args.targets))
    result = {
        "benchmark": "car_tag pursuer: arenax PPO vs brax PPO (BraxEnv), time to targets",
        "device": info,
        "evader": args.evader,
        "target_scores": args.targets,
        "score": "mean pursuer return of the deterministic policy (1 - capture_time / "
        "horizon_time when caught, else 0), arenax.rollout.rollout, same keys for both",
        "settings": {
            "quick": args.quick,
            "budget_s_per_learner": args.budget,
            "eval_every_env_steps": args.eval_every,
            "eval_episodes": args.eval_episodes,
            "final_episodes": args.final_episodes,
            "seed": args.seed,
            "shared_ppo": SHARED,
            "timing": "train_seconds = wall-clock since the learner started (setup and "
            "compilation included) minus the time spent in evaluations",
        },
        "references": references,
        "learners": results,
        "script_seconds": time.perf_counter() - script_start,
    }
    if "arenax" in results and "brax" in results:
        a, b = results["arenax"], results["brax"]
        result["brax_over_arenax_seconds_to_target"] = {
            t: b["to_target"][t]["seconds"] / a["to_target"][t]["seconds"]
            for t in a["to_target"]
            if a["to_target"][t]["seconds"] and b["to_target"][t]["seconds"]
        }
        if a["steps_per_s_steady"] and b["steps_per_s_steady"]:
            result["arenax_over_brax_steady_steps_per_s"] = (
                a["steps_per_s_steady"] / b["steps_per_s_steady"]
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    console.print(f"wrote {args.out} ({result['script_seconds']:.0f} s in all)")
    return result


def results_table(results: dict, targets: list[float]) -> Table:
    table = Table(title="wall-clock and env steps to mean pursuer score >= target (evals excluded)")
    table.add_column("learner")
    for t in targets:
        table.add_column(f">= {t}", justify="right")
    for col in ("steps/s overall", "steps/s steady", "steps/s best", "best score", "final score",
                "final capture", "others' cores"):  # fmt: skip
        table.add_column(col, justify="right")
    fmt = lambda x, f: "-" if x is None else format(x, f)
    for name, r in results.items():
        reached = [r["to_target"][str(t)] for t in targets]
        cells = [
            "-" if x["seconds"] is None else f"{x['seconds']:.1f} s, {x['env_steps'] / 1e6:.2f}M"
            for x in reached
        ]
        table.add_row(
            name,
            *cells,
            fmt(r["steps_per_s_overall"], ",.0f"),
            fmt(r["steps_per_s_steady"], ",.0f"),
            fmt(r["steps_per_s_best"], ",.0f"),
            f"{r['best_score']:.3f}",
            f"{r['final_score']:.3f}",
            f"{r['final_capture_rate']:.3f}",
            fmt(r["other_cpu_cores"], ".2f"),
        )
    return table


if __name__ == "__main__":
    main()
