"""The genome: the part of the actor-critic's parameters that evolution searches.

ES acts with the distribution's mode, so neither the critic (`critic`, `v`) nor
the Gaussian `log_std` affects behaviour; evolving them would only add noise
dimensions. A genome is a flat dict `"params/actor/Dense_0/kernel" -> array` of
the remaining leaves; `merge` puts (a batch of) genomes back into full network
parameters, so the evolved actor exports exactly like a PPO one.
"""

from __future__ import annotations

from typing import Any

from flax import traverse_util

Genome = dict[str, Any]

SEP = "/"
# Top-level modules and leaf names that do not influence the deterministic action.
FROZEN_MODULES: frozenset[str] = frozenset({"critic", "v"})
FROZEN_LEAVES: frozenset[str] = frozenset({"log_std"})


def _evolved(path: tuple[str, ...]) -> bool:
    # path = ("params", <module>, ..., <leaf>)
    module = path[1] if len(path) > 1 else path[0]
    return module not in FROZEN_MODULES and path[-1] not in FROZEN_LEAVES


def extract(params: Any) -> Genome:
    """The evolved leaves of full network `params` (any leading batch axes kept)."""
    flat = traverse_util.flatten_dict(params, sep=SEP)
    return {k: v for k, v in flat.items() if _evolved(tuple(k.split(SEP)))}


def merge(base: Any, genome: Genome) -> Any:
    """Full network parameters: `base` with the genome's leaves substituted.

    Leaves of `genome` may carry batch axes that `base` lacks when called inside
    `vmap` (then they are per-member and `base`'s leaves are shared).
    """
    flat = traverse_util.flatten_dict(base, sep=SEP)
    missing = sorted(set(genome) - set(flat))
    if missing:
        raise ValueError(f"genome leaves not in the network: {', '.join(missing)}")
    return traverse_util.unflatten_dict({**flat, **genome}, sep=SEP)
