"""IGDrivSim throughput: SDC env-steps per second, observation (with its restriction)
included, for batches of scenes, and the cost of each perception restriction.

Each measurement resets a batch of procedural scenes (8 vehicles, 91 steps, 10
warm-up steps) and runs a jitted `lax.scan` of 80 steps of a fixed bicycle action
under `vmap`; the timed figure is the second call (compiled), scene generation
excluded. The restriction sweep runs at one batch size; ratios are against "full"
(no restriction) in the same run, as is the cost of reactive (IDM) traffic against
log replay.

    python benchmarks/igdrive_throughput.py            # ~5 min on 2 CPU cores
    python benchmarks/igdrive_throughput.py --quick    # small batches, a smoke run

Writes `benchmarks/results/igdrive_throughput.json`.
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

from arenax.envs.igdrive.env import IGDrive, IGDriveParams

RESULTS = Path(__file__).resolve().parent / "results"
RESTRICTIONS = (
    "full",
    "range:radius=30",
    "cone:radius=30,angle=120",
    "blind_spots:angle=40",
    "speed_cone:angle=120,min_angle=40,speed=15,radius=40",
    "drop:p=0.1",
    "noise:std=0.5",
    "speed_noise:coef=0.05",
    "occlusion",
    "cone:radius=30,angle=120 + occlusion + drop:p=0.1",
)
STEPS = 80


def measure(batch: int, perception: str, others: str = "log", repeats: int = 2) -> dict:
    env, params = IGDrive(), IGDriveParams(perception=perception, others=others)
    action = jnp.array([0.3, 0.0])

    def run(keys):
        _, state = jax.vmap(env.reset, (0, None))(keys, params)

        def step(carry, key):
            state, total = carry
            keys = jax.random.split(key, batch)
            actions = {"sdc": jnp.broadcast_to(action, (batch, 2))}
            obs, state, reward, _, _ = jax.vmap(env.step, (0, 0, 0, None))(
                keys, state, actions, params
            )
            return (state, total + obs["sdc"].to_array().sum() + reward["sdc"].sum()), None

        (state, total), _ = jax.lax.scan(step, (state, 0.0), jax.random.split(keys[0], STEPS))
        return total

    reset_only = jax.jit(lambda keys: jax.vmap(env.reset, (0, None))(keys, params)[1].done.sum())
    compiled = jax.jit(run)
    keys = jax.random.split(jax.random.PRNGKey(0), batch)
    started = time.perf_counter()
    compiled(keys).block_until_ready()
    compile_s = time.perf_counter() - started
    reset_only(keys).block_until_ready()
    best, best_reset = float("inf"), float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        compiled(keys).block_until_ready()
        best = min(best, time.perf_counter() - started)
        started = time.perf_counter()
        reset_only(keys).block_until_ready()
        best_reset = min(best_reset, time.perf_counter() - started)
    stepping = max(best - best_reset, 1e-9)
    return {
        "batch": batch,
        "perception": perception,
        "others": others,
        "steps_per_s": batch * STEPS / stepping,
        "seconds": stepping,
        "reset_s": best_reset,
        "first_call_s": compile_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "igdrive_throughput.json")
    args = parser.parse_args()
    batches = (1, 16, 64) if args.quick else (1, 16, 256, 1024, 4096)
    sweep_batch = 64 if args.quick else 1024
    device = jax.devices()[0]
    rows = []
    for perception in ("full", RESTRICTIONS[-1]):
        for batch in batches:
            row = measure(batch, perception)
            rows.append(row)
            print(
                f"batch {batch:5d}  {perception:52s} {row['steps_per_s']:12,.0f} steps/s",
                flush=True,
            )
    sweep = []
    for perception in RESTRICTIONS:
        row = measure(sweep_batch, perception)
        sweep.append(row)
    full = sweep[0]["steps_per_s"]
    print(f"\nrestriction cost at batch {sweep_batch} (ratio to full):")
    for row in sweep:
        row["ratio_to_full"] = row["steps_per_s"] / full
        rate, ratio = row["steps_per_s"], row["ratio_to_full"]
        print(f"  {row['perception']:52s} {rate:12,.0f} steps/s  {ratio:.2f}")
    reactive = measure(sweep_batch, "full", others="idm")
    reactive["ratio_to_log_replay"] = reactive["steps_per_s"] / full
    print(
        f"\nreactive (IDM) traffic at batch {sweep_batch}: {reactive['steps_per_s']:,.0f} "
        f"steps/s, {reactive['ratio_to_log_replay']:.2f} x log replay"
    )
    result = {
        "device": f"{device.platform}:{device.device_kind}",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "jax": jax.__version__,
        },
        "steps_per_measure": STEPS,
        "batches": rows,
        "restriction_sweep": {"batch": sweep_batch, "rows": sweep},
        "reactive_traffic": reactive,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
