"""ES strategy names -> evosax 0.3 algorithms and their parameters.

evosax *minimises*: callers pass `-return` as fitness. Every algorithm here
shapes fitness by rank itself (OpenAI-ES: centered ranks in [-0.5, 0.5]; SNES
and the CMA variants: log-rank recombination weights), so raw returns of any
scale work.
"""

from __future__ import annotations

from typing import Any

import optax
from evosax.algorithms import CMA_ES, SNES, Open_ES, Sep_CMA_ES

from arenax.agents.es.config import ESConfig


def make_strategy(config: ESConfig, solution: Any) -> tuple[Any, Any]:
    """The evosax algorithm `config.strategy` over pytrees shaped like `solution`.

    Args:
        config: picks the algorithm, population size, step size and learning rate.
        solution: a template pytree (concrete arrays; only shapes matter).

    Returns:
        `(algorithm, algorithm_params)`: `algorithm.init(key, mean, params)`,
        `algorithm.ask(key, state, params) -> (population, state)` with population
        leaves `(P, ...)`, `algorithm.tell(key, population, fitness, state, params)`.
    """
    pop, sigma = config.population_size, config.sigma_init
    if config.strategy == "open_es":
        algo = Open_ES(
            pop,
            solution,
            use_antithetic_sampling=True,
            optimizer=optax.adam(config.learning_rate),
            std_schedule=optax.constant_schedule(sigma),
        )
        return algo, algo.default_params
    cls = {"snes": SNES, "sep_cma_es": Sep_CMA_ES, "cma_es": CMA_ES}[config.strategy]
    algo = cls(pop, solution)
    return algo, algo.default_params.replace(std_init=sigma)
