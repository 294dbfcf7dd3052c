"""Can PPO beat the best human-designed Car Tag strategy against the strongest opponent,
within a fixed wall-clock budget on this machine? And how fast does it train?

For each role (pursuer, then evader):

1. The strongest hand-written opponent is the `lookahead` strategy of the other role
   (lowest column / row mean in the `arenax demo` table). Every hand-written
   strategy of the role plays it (`--eval-episodes` episodes, common keys); the best
   of them is the reference score, measured in this run.
2. PPO trains against that opponent for `--budget-s` seconds of wall-clock,
   compile included, with distance shaping (`--shaping`; the score reported is
   always the game's own). The pursuer's bonus is undiscounted
   (`--pursuer-shaping-gamma 1`), which with PPO's gamma 0.99 also pays a small
   reward for closeness every step; the evader's is discounted with PPO's gamma
   (`--evader-shaping-gamma 0.99`), which leaves the optimal policy unchanged (the
   undiscounted one pays it for distance and holds it at fleeing), and its
   potential also counts the evader's shortfall of clearance from the nearest wall
   (`--evader-wall-shaping 2`, within 1.5 m): with distance alone the evader
   learns to flee to a wall and is caught there (`--ablate-wall-shaping`, default:
   the evader is trained a second time without the wall term, as the reference;
   both report the share of their captures within 0.5 m of a wall). The pursuer
   learns through `car_tag_pursuer_car_frame` (`--pursuer-interface`: extra
   features in its own frame, the evader's bearing among them; or `flat`, the
   flattened observation and its steering as the action), the evader through
   `car_tag_evader_car_frame` (`--evader-interface`: extra features, velocity in
   the car's heading frame); with `--ablate-interface` (default) a role whose
   interface is not `flat` is trained a second time through `flat` (first seed),
   as the reference for that choice. The pursuer trains with a capture-radius curriculum
   (`--pursuer-capture-curriculum 0.6`: the radius starts at 0.6 m and shrinks
   linearly to the game's 0.2 m over the first `--curriculum-fraction 0.5` of the
   budget; `arenax.param_anneal`): without it, a pursuer that learned to follow
   the look-ahead evader closely sometimes never caught it once, and so never
   learned to (one of two seeds, `--pursuer-capture-curriculum 0`).
   Every `--eval-every-s` seconds of training the current policy (deterministic
   actions) is scored on held-out episodes; evaluation time is not counted in the
   training clock.
3. The final policy is scored on `--eval-episodes` episodes. With `--seeds K` each
   role trains K times from independent keys; the target is met when every
   seed's final mean exceeds the reference.

Throughput: steady env-steps/s of PPO training against the cheap `straight_flee` /
`pure_pursuit` opponents (the learner's own cost) and against the lookahead opponent
(its planning dominates); and, through the `flat` interface, against the
lookahead opponent with the opponent's observation recomputed from the state (as
trained) and carried in the view's state (the reference; XLA's CPU code for the
planner is slower with per-env constants).

Writes `benchmarks/results/train_cartag.json` and `train_cartag.png` (score vs
training wall-clock, both roles, reference lines).

    python benchmarks/train_cartag.py --seeds 3       # ~80 min on 2 CPU cores
    python benchmarks/train_cartag.py                 # one seed per role, ~35 min
    python benchmarks/train_cartag.py --roles pursuer --update ...  # rerun one role
    python benchmarks/train_cartag.py --quick         # a ~3 min smoke run (targets not expected)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from arenax.agent_evaluation import AgentEvaluator, mean_ci95
from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.agents.ppo import PPOConfig, make_train
from arenax.agents.ppo.export import export_agent, to_policy
from arenax.car_tag_training import learner_env, other_role
from arenax.envs import make
from arenax.envs.wrappers import WithoutObserve
from arenax.param_anneal import ParamAnneal
from arenax.plots import new_figure, save_figure
from arenax.rollout import rollout
from arenax.tournament import tournament

RESULTS = Path(__file__).parent / "results"
STRONGEST = {"pursuer": "lookahead", "evader": "lookahead"}  # strongest opponent per role
CHEAP = {"pursuer": "straight_flee", "evader": "pure_pursuit"}  # for learner throughput


def ppo_config(args: argparse.Namespace, role: str) -> PPOConfig:
    return PPOConfig(
        num_envs=args.num_envs,
        num_steps=args.num_steps,
        total_timesteps=args.max_steps,
        updates_per_chunk=args.updates_per_chunk,
        update_epochs=4,
        num_minibatches=4,
        hidden_sizes=tuple(int(h) for h in getattr(args, f"{role}_hidden").split(",")),
        lr=args.lr,
        gamma=0.99,
        ent_coef=args.ent_coef,
        anneal_lr=False,
        continuous=args.continuous,
        vf_clip_eps=args.vf_clip_eps,
    )


def reference(env, params, role: str, opponent, episodes: int, key) -> dict:
    """Every hand-written strategy of `role` against `opponent`; the best is the reference."""
    mine = list((PURSUERS if role == "pursuer" else EVADERS).values())
    result = tournament(
        env, params, mine, [opponent], key, episodes, row_role=role, col_role=other_role(role)
    )
    scores = {
        n: (float(m[0]), float(c[0]))
        for n, m, c in zip(result.row_names, result.mean, result.ci95, strict=True)
    }
    best = max(scores, key=lambda n: scores[n][0])
    return {"scores": scores, "best": best, "best_score": scores[best][0]}


def interface_for(args, role: str) -> str:
    return args.evader_interface if role == "evader" else args.pursuer_interface


def shaping_gamma(args, role: str) -> float:
    return args.evader_shaping_gamma if role == "evader" else args.pursuer_shaping_gamma


def wall_weight(args, role: str) -> float:
    return args.evader_wall_shaping if role == "evader" else args.pursuer_wall_shaping


def curriculum(args, role: str) -> ParamAnneal:
    """The capture-radius curriculum of `role` (none when its start radius is 0)."""
    start = getattr(args, f"{role}_capture_curriculum")
    starts = {"capture_radius": start} if start > 0.0 else {}
    return ParamAnneal(starts, args.curriculum_fraction)


def shaped_view(args, env, role: str, opponent, interface: str):
    """The single-agent view `role` trains in, shaped as the arguments say."""
    return learner_env(
        env,
        role,
        opponent,
        args.shaping,
        interface,
        shaping_gamma(args, role),
        wall_weight(args, role),
    )


def train_role(args, env, params, role: str, key, interface: str, ref: dict | None = None) -> dict:
    """PPO for `role` against the strongest opponent under a wall-clock budget, through
    the learner `interface`; `ref` (from `reference`) is measured here when not given."""
    opponent = (EVADERS if role == "pursuer" else PURSUERS)[STRONGEST[role]]
    config = ppo_config(args, role)
    view = shaped_view(args, env, role, opponent, interface)
    trainer = make_train(config, view, params)
    k_init, k_eval, k_ref, k_final = jax.random.split(key, 4)
    if ref is None:
        ref = reference(env, params, role, opponent, args.eval_episodes, k_ref)
    print(f"[{role}] reference: best hand-written {ref['best']} scores {ref['best_score']:.3f}")
    print(f"[{role}] learner interface: {interface}")

    evaluator = None
    curve = []
    train_clock, steps = 0.0, 0
    next_eval = args.eval_every_s
    t = time.perf_counter()
    anneal = curriculum(args, role)
    state = trainer.init(k_init)
    while train_clock < args.budget_s:
        state = anneal.apply(state, params, train_clock / args.budget_s)
        if args.anneal_lr_over_budget:
            state = with_lr(state, args.lr * max(0.0, 1.0 - train_clock / args.budget_s))
        state, metrics = trainer.train_chunk(state)
        jax.block_until_ready(state)
        now = time.perf_counter()
        train_clock += now - t
        steps = int(metrics["env_steps"][-1])
        if train_clock >= next_eval or train_clock >= args.budget_s:
            agent = export_agent(trainer, state)
            if evaluator is None:
                evaluator = AgentEvaluator(env, params, role, opponent, agent, args.curve_episodes)
            mean, ci = mean_ci95(evaluator(agent.params, agent.obs_norm, k_eval))
            curve.append(
                {"train_s": round(train_clock, 1), "env_steps": steps, "score": mean, "ci95": ci}
            )
            print(
                f"[{role}/{interface}] {train_clock:6.1f}s {steps:>9,} steps  "
                f"score {mean:.3f} ±{ci:.3f}",
                flush=True,
            )
            next_eval += args.eval_every_s
        t = time.perf_counter()
    agent = export_agent(trainer, state)
    final_eval = AgentEvaluator(env, params, role, opponent, agent, args.eval_episodes)
    mean, ci = mean_ci95(final_eval(agent.params, agent.obs_norm, k_final))
    met = mean > ref["best_score"]
    verdict = "MET" if met else "not met"
    print(
        f"[{role}/{interface}] final {mean:.3f} ±{ci:.3f} vs reference "
        f"{ref['best_score']:.3f}: {verdict}"
    )
    walls = {}
    if role == "evader":
        walls = captures_at_wall(env, params, to_policy(agent), k_final, args.eval_episodes)
        print(f"[{role}/{interface}] {walls}")
    return {
        **walls,
        "opponent": STRONGEST[role],
        "interface": interface,
        "shaping_gamma": shaping_gamma(args, role),
        "wall_shaping": wall_weight(args, role),
        "curriculum": anneal.to_dict(),
        "reference": ref,
        "train_wall_clock_s": round(train_clock, 1),
        "env_steps": steps,
        "steps_per_s_incl_compile": round(steps / train_clock),
        "curve": curve,
        "final_score": mean,
        "final_ci95": ci,
        "target_met": bool(met),
    }


def train_seeds(args, env, params, role: str, key) -> dict:
    """`train_role` for `args.seeds` independent seeds (the first on `key`, the others on
    keys folded from it), all against one reference. The first seed's result carries the
    curve; `seeds` lists every seed's final score, and the target is met when every seed
    beats the reference."""
    interface = interface_for(args, role)
    first = train_role(args, env, params, role, key, interface)
    runs = [first] + [
        train_role(
            args, env, params, role, jax.random.fold_in(key, i), interface, first["reference"]
        )
        for i in range(1, args.seeds)
    ]
    if role == "evader":
        best = EVADERS[first["reference"]["best"]]
        first["reference"]["walls"] = captures_at_wall(
            env, params, best, jax.random.PRNGKey(args.seed), args.eval_episodes
        )
    finals = [r["final_score"] for r in runs]
    above = sum(r["target_met"] for r in runs)
    print(
        f"[{role}] {above}/{len(runs)} seeds above the reference "
        f"{first['reference']['best_score']:.3f}: " + ", ".join(f"{f:.3f}" for f in finals)
    )
    return {
        **first,
        "seeds": [
            {k: r[k] for k in ("final_score", "final_ci95", "env_steps", "train_wall_clock_s")}
            for r in runs
        ],
        "mean_final_score": float(np.mean(finals)),
        "seeds_above_reference": above,
        "target_met": above == len(runs),
    }


def captures_at_wall(env, params, evader, key, episodes: int) -> dict:
    """How often `evader` is caught by the look-ahead pursuer, and the share of those
    captures that happen within 0.5 m of a wall (a finished state is absorbing, so the
    final evader position is where it was caught)."""
    result = rollout(
        env, params, {"pursuer": PURSUERS["lookahead"], "evader": evader}, key, episodes
    )
    final = jax.device_get(result.final_state)
    clearance = np.min(float(params.arena_half_size) - np.abs(final.evader_pos), axis=-1)
    caught = np.asarray(final.captured)
    at_wall = float(np.mean(clearance[caught] < 0.5)) if caught.any() else 0.0
    return {"captured": float(caught.mean()), "captures_within_0.5m_of_wall": at_wall}


def with_lr(state, lr: float):
    """`state` with the step size of its next updates set to `lr` (no recompile: the
    step size is a traced hyper-parameter)."""
    return state.replace(hparams=state.hparams.replace(lr=jnp.asarray(lr, jnp.float32)))


def steady_rate(args, env, params, role: str, opponent, key, interface: str) -> float:
    """Env-steps/s of PPO training, compile excluded (one warm-up chunk, then three)."""
    config = ppo_config(args, role)
    view = shaped_view(args, env, role, opponent, interface)
    trainer = make_train(config, view, params)
    state = trainer.init(key)
    state, _ = trainer.train_chunk(state)
    jax.block_until_ready(state)
    t = time.perf_counter()
    chunks = 3
    for _ in range(chunks):
        state, _ = trainer.train_chunk(state)
    jax.block_until_ready(state)
    seconds = time.perf_counter() - t
    return chunks * args.updates_per_chunk * args.num_envs * args.num_steps / seconds


def learner_throughput(args, env, params, role: str, key) -> dict:
    """Steady env-steps/s of the trained setup against the cheap opponent (the learner's
    own cost) and against the strongest one; and, through the `flat` interface, against
    the strongest one with the opponent's observation recomputed from the state (as
    trained) and, as the reference, carried in the view's state (an interface that
    reads the learner's observation to act needs the recomputation)."""
    others = EVADERS if role == "pursuer" else PURSUERS
    strongest = others[STRONGEST[role]]
    interface = interface_for(args, role)
    trained = steady_rate(args, env, params, role, strongest, key, interface)
    flat = (
        trained
        if interface == "flat"
        else steady_rate(args, env, params, role, strongest, key, "flat")
    )
    carried = steady_rate(args, WithoutObserve(env), params, role, strongest, key, "flat")
    cheap = steady_rate(args, env, params, role, others[CHEAP[role]], key, interface)
    return {
        "opponent": CHEAP[role],
        "interface": interface,
        "steps_per_s": round(cheap),
        "vs_strongest": {
            "opponent": STRONGEST[role],
            "steps_per_s": round(trained),
            "flat_observation_recomputed_steps_per_s": round(flat),
            "flat_observation_carried_steps_per_s": round(carried),
            "ratio": round(flat / carried, 2),
        },
    }


def plot_reference_curve(ax, result: dict | None, color: str, ls: str, marker: str, label: str):
    """The learning curve of a reference training run (an ablation), when there is one."""
    if result and result["curve"]:
        x = [p["train_s"] for p in result["curve"]]
        y = [p["score"] for p in result["curve"]]
        ax.plot(
            x, y, color=color, lw=1.2, ls=ls, marker=marker, ms=3.5, label=f"{label} (reference)"
        )


def plot(results: dict, path: Path) -> None:
    fig, ax = new_figure((6.5, 4.0))
    for role, color in (("pursuer", "tab:blue"), ("evader", "tab:orange")):
        r = results["roles"].get(role)
        if not r or not r["curve"]:
            continue
        x = [p["train_s"] for p in r["curve"]]
        y = np.array([p["score"] for p in r["curve"]])
        c = np.array([p["ci95"] for p in r["curve"]])
        ax.plot(x, y, color=color, lw=1.8, marker="o", ms=3, label=f"PPO {role} vs lookahead")
        ax.fill_between(x, y - c, y + c, color=color, alpha=0.2, lw=0)
        others = r.get("seeds", [])[1:]
        if others:
            ax.scatter(
                [o["train_wall_clock_s"] for o in others],
                [o["final_score"] for o in others],
                color=color,
                marker="D",
                s=18,
                label=f"PPO {role}, other seeds (final)",
            )
        ref = r["reference"]
        ax.axhline(
            ref["best_score"],
            color=color,
            ls="--",
            lw=1,
            label=f"best hand-written {role} ({ref['best']})",
        )
    for role, color in (("pursuer", "tab:blue"), ("evader", "tab:orange")):
        flat = results.get("interface_ablation", {}).get(role)
        plot_reference_curve(ax, flat, color, ":", "x", f"PPO {role}, flat interface")
    plain = results.get("wall_shaping_ablation", {}).get("evader")
    plot_reference_curve(ax, plain, "tab:red", "--", "+", "PPO evader, distance shaping only")
    ax.set_xlabel("training wall-clock, s (compile included)")
    ax.set_ylabel("score against the lookahead opponent")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"PPO on Car Tag, {results['device']}", fontsize=9)
    save_figure(fig, path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--roles", default="pursuer,evader")
    parser.add_argument(
        "--budget-s", type=float, default=300.0, help="training wall-clock per role"
    )
    parser.add_argument("--eval-every-s", type=float, default=60.0)
    parser.add_argument("--eval-episodes", type=int, default=1024)
    parser.add_argument("--curve-episodes", type=int, default=256)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--num-steps", type=int, default=64)
    parser.add_argument("--updates-per-chunk", type=int, default=5)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument(
        "--anneal-lr-over-budget",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="decay the step size linearly to 0 over the training wall-clock budget",
    )
    parser.add_argument("--pursuer-hidden", default="64,64", help="hidden layer sizes")
    parser.add_argument("--evader-hidden", default="64,64", help="hidden layer sizes")
    parser.add_argument("--ent-coef", type=float, default=0.0)
    parser.add_argument("--shaping", type=float, default=1.0)
    parser.add_argument("--continuous", choices=("clipped", "tanh"), default="clipped")
    parser.add_argument("--vf-clip-eps", type=float, default=0.2)
    parser.add_argument("--max-steps", type=int, default=10**9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="independent training runs per role")
    parser.add_argument("--pursuer-shaping-gamma", type=float, default=1.0)
    parser.add_argument("--evader-shaping-gamma", type=float, default=0.99)
    parser.add_argument(
        "--evader-wall-shaping",
        type=float,
        default=2.0,
        help="weight of the evader's wall-clearance shortfall in the shaping potential",
    )
    parser.add_argument("--pursuer-wall-shaping", type=float, default=0.0)
    parser.add_argument(
        "--pursuer-capture-curriculum",
        type=float,
        default=0.6,
        help="capture radius (m) the pursuer trains with at first, shrinking linearly to "
        "the game's over --curriculum-fraction of the budget (0: no curriculum)",
    )
    parser.add_argument("--evader-capture-curriculum", type=float, default=0.0)
    parser.add_argument(
        "--curriculum-fraction",
        type=float,
        default=0.5,
        help="share of the training budget over which the capture radius anneals",
    )
    parser.add_argument(
        "--evader-interface",
        default="car_tag_evader_car_frame",
        help="learner interface of the evader (arenax.envs.interfaces)",
    )
    parser.add_argument(
        "--pursuer-interface",
        default="car_tag_pursuer_car_frame",
        help="learner interface of the pursuer (arenax.envs.interfaces)",
    )
    parser.add_argument(
        "--ablate-interface",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also train each role whose interface is not flat through flat (reference)",
    )
    parser.add_argument(
        "--ablate-wall-shaping",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also train the evader with distance shaping alone (reference)",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the results of roles not run from the existing --out file",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "train_cartag.json")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.quick:
        args.budget_s, args.eval_every_s, args.eval_episodes, args.curve_episodes = (
            40.0,
            20.0,
            128,
            64,
        )

    env, params = make("car_tag")
    device = f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}"
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    results = {"roles": {}, "learner_throughput": {}, "ppo_config": {}}
    if args.update and args.out.exists():
        results = json.loads(args.out.read_text())
    results.update(
        device=device,
        cpu_count=os.cpu_count(),
        machine=platform.machine(),
        jax=jax.__version__,
        settings=settings,
    )
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    results["ppo_config"].update({role: ppo_config(args, role).to_dict() for role in roles})
    key = jax.random.PRNGKey(args.seed)
    t0 = time.perf_counter()
    for role in roles:
        key, k_train, k_rate = jax.random.split(key, 3)
        for ablation in ("interface_ablation", "wall_shaping_ablation"):
            results.get(ablation, {}).pop(role, None)  # an --update replaces them too
        results["roles"][role] = train_seeds(args, env, params, role, k_train)
        results["roles"][role]["settings"] = settings
        ref = results["roles"][role]["reference"]
        if args.ablate_interface and interface_for(args, role) != "flat":
            flat = train_role(args, env, params, role, k_train, "flat", ref)
            results.setdefault("interface_ablation", {})[role] = flat
        if role == "evader" and args.ablate_wall_shaping and args.evader_wall_shaping != 0.0:
            distance_only = argparse.Namespace(**{**vars(args), "evader_wall_shaping": 0.0})
            results["wall_shaping_ablation"] = {
                "evader": train_role(
                    distance_only, env, params, role, k_train, interface_for(args, role), ref
                )
            }
        results["learner_throughput"][role] = learner_throughput(args, env, params, role, k_rate)
        rates = results["learner_throughput"][role]
        strong = rates["vs_strongest"]
        print(
            f"[{role}] learner throughput ({rates['interface']}) vs {CHEAP[role]}: "
            f"{rates['steps_per_s']:,} steps/s; vs {strong['opponent']}: "
            f"{strong['steps_per_s']:,}; flat, opponent observation recomputed / carried: "
            f"{strong['flat_observation_recomputed_steps_per_s']:,} / "
            f"{strong['flat_observation_carried_steps_per_s']:,} ({strong['ratio']}x)"
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")  # partial, after each role
    results["total_wall_clock_s"] = round(time.perf_counter() - t0, 1)  # of this run
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
