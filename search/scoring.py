"""Fast scoring of one candidate policy against many opponents, inside a sandbox worker.

`MatchScorer.score` plays a candidate against O opponents for N episodes each
and returns every episode's returns and the candidate's behaviour descriptor.
Compiling is what costs: a function that holds the candidate and all its
opponents (`arenax.tournament.compile_row_vs_columns`) recompiles every
opponent for every new candidate. Here each opponent's vmapped `act` is
compiled once, cached by the opponent's id, and reused for every later
candidate; the game (environment step, returns, behaviour statistics) is
compiled once per role and number of opponents; a new candidate compiles only
its own `init` and `act`. Python drives the steps (see `match_kernels`) and
stops early once every episode has ended.

Episodes use common random numbers: the same N episode keys for every
opponent and every candidate, split exactly as `arenax.tournament` splits
them, so `returns` equal the tournament's cells for the same pairs and key
`jax.random.PRNGKey(seed)`.

Trusted context: the policies are already loaded (checks happen before).
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from arenax.envs.environment import Environment
from arenax.policy import Policy
from arenax.search.behaviour import descriptor
from arenax.search.match_kernels import (
    EpisodeStarts,
    HubCarry,
    episode_starts,
    match_hub,
    obs_codec,
    policy_functions,
)

# Car Tag observation fields that are the game's constants (params): passed unbatched.
SHARED_OBS_FIELDS = (
    "pursuer_speed",
    "evader_speed",
    "min_turn_radius",
    "capture_radius",
    "arena_half_size",
    "dt",
)
_CACHED_CANDIDATES = 2
_CACHED_HUBS = 4


def enable_compilation_cache(path: str | os.PathLike[str]) -> None:
    """Keep compiled executables on disk under `path` (JAX's persistent compilation cache).

    Call it in a worker process before its first compile. Workers that share
    `path` then compile an opponent, the game and the episode starts once
    between them, and a restarted worker finds them again (tracing still
    runs, about 50 ms per opponent). Entries are keyed by the compiled
    program, so a program seen before under another id is a hit too.
    """
    jax.config.update("jax_compilation_cache_dir", os.fspath(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


class OpponentCompileError(RuntimeError):
    """An opponent (not the candidate) failed to trace or compile; `opponent_id` names it."""

    def __init__(self, opponent_id: str, role: str, error: Exception) -> None:
        super().__init__(
            f"MatchScorer: opponent {opponent_id!r} ({role}) failed to compile: {error}"
        )
        self.opponent_id = opponent_id


@dataclass(frozen=True)
class MatchScores:
    """A candidate's results against each opponent.

    Attributes:
        returns: (O, N) the candidate's return in each episode against each opponent.
        opponent_returns: (O, N) the opponents' returns in the same episodes.
        behaviour: (D,) the candidate's behaviour descriptor (`behaviour.BEHAVIOUR_FIELDS`)
            over all O * N episodes.
        timings: seconds: compile_s (everything this call compiled: the candidate, plus
            opponents and the game when not cached yet), opponent_compile_s (the
            opponents' part), run_s (the rollouts), total_s; and opponents_compiled
            (how many opponents were not cached).
        opponent_ids: the opponents' ids, in row order.
        steps_run: steps played before every episode had ended (at most the horizon).
    """

    returns: np.ndarray
    opponent_returns: np.ndarray
    behaviour: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    opponent_ids: tuple[str, ...] = ()
    steps_run: int = 0

    @property
    def quality(self) -> float:
        """Mean return of the candidate over every opponent and episode."""
        return float(self.returns.mean())

    @property
    def per_opponent(self) -> np.ndarray:
        """(O,) mean return of the candidate against each opponent."""
        return self.returns.mean(-1)


@dataclass(frozen=True)
class _Compiled:
    """A policy's compiled `init(memory_keys)` and `act(obs_flat, memory, keys)`."""

    init: Callable
    act: Callable


@dataclass(frozen=True)
class _Hub:
    """The game's compiled `begin(starts, params)` and `step(...)` (see `match_hub`)."""

    begin: Callable
    step: Callable


class MatchScorer:
    """Scores candidates against opponents, with compiled opponents cached across calls.

    Args:
        env: the environment (Car Tag: the behaviour descriptor reads its state).
        params: environment params.
        num_episodes: N, episodes per opponent.
        seed: episode keys are `jax.random.split(jax.random.PRNGKey(seed), N)`.
        num_steps: steps per episode; defaults to `params.horizon`.
        max_cached_opponents: compiled opponents kept (the least recently used go first).
        done_check_every: every this many steps the host checks which matches have
            ended (it stops calling their opponents, and stops once all have ended).

    The episode starts are computed here, once (`setup_s` seconds).
    """

    def __init__(
        self,
        env: Environment,
        params: Any,
        num_episodes: int,
        seed: int,
        num_steps: int | None = None,
        max_cached_opponents: int = 256,
        done_check_every: int = 25,
    ) -> None:
        if env.name != "car_tag":
            raise ValueError(
                f"MatchScorer: behaviour descriptors are defined for car_tag, not {env.name!r}"
            )
        if num_episodes < 1:
            raise ValueError(f"MatchScorer: num_episodes must be >= 1, got {num_episodes}")
        steps = int(params.horizon) if num_steps is None else int(num_steps)
        if steps < 1:
            raise ValueError(f"MatchScorer: num_steps must be >= 1, got {steps}")
        if max_cached_opponents < 1 or done_check_every < 1:
            raise ValueError(
                "MatchScorer: max_cached_opponents and done_check_every must be >= 1, got "
                f"{max_cached_opponents} and {done_check_every}"
            )
        self.env = env
        self.num_episodes = num_episodes
        self.num_steps = steps
        self.seed = seed
        self.max_cached_opponents = max_cached_opponents
        self.done_check_every = done_check_every
        start = time.perf_counter()
        # Committed arrays with the params' own (weak) types: no conversion per call.
        self._params = jax.device_put(params)
        keys = jax.random.split(jax.random.PRNGKey(seed), num_episodes)
        self._starts: EpisodeStarts = episode_starts(env, steps)(keys, self._params)
        template = jax.tree_util.tree_map(lambda x: x[0], self._starts.obs[env.agents[0]])
        self._codec = obs_codec(template, SHARED_OBS_FIELDS)
        self._shared = self._codec.encode_shared(template)
        for role in env.agents:
            shared = jax.vmap(self._codec.encode_shared)(self._starts.obs[role])
            if not bool((shared == self._shared).all()):
                raise ValueError(f"MatchScorer: {role}'s observed game constants differ")
        jax.block_until_ready(self._starts)
        self.setup_s = time.perf_counter() - start
        self._opponents: OrderedDict[tuple[str, str], _Compiled] = OrderedDict()
        self._candidates: OrderedDict[tuple[Policy, str, int], _Compiled] = OrderedDict()
        self._hubs: OrderedDict[tuple[str, int], _Hub] = OrderedDict()

    @property
    def cached_opponent_ids(self) -> tuple[str, ...]:
        """Ids of the compiled opponents kept, least recently used first."""
        return tuple(opponent_id for opponent_id, _ in self._opponents)

    def _compile_policy(self, policy: Policy, role: str, batch: int) -> _Compiled:
        """`policy`'s init and act, compiled for `role` over `batch` = k * N episodes."""
        space = self.env.action_space(self._params)[role]
        init, act = policy_functions(policy, space, self._codec.decode)
        index = self.env.agents.index(role)
        repeat = lambda x: np.tile(x, (batch // self.num_episodes,) + (1,) * (x.ndim - 1))
        memory_keys = repeat(self._starts.memory_keys[:, index])
        obs = repeat(jax.vmap(self._codec.encode)(self._starts.obs[role]))
        keys = repeat(self._starts.act_keys[0, :, index])
        memory = jax.eval_shape(init, memory_keys)
        return _Compiled(
            init=jax.jit(init).lower(memory_keys).compile(),
            act=jax.jit(act).lower(obs, self._shared, memory, keys).compile(),
        )

    def _opponent(self, opponent_id: str, policy: Policy, role: str) -> tuple[_Compiled, bool]:
        """The compiled opponent `(opponent_id, role)`; True if it was compiled by this call."""
        key = (opponent_id, role)
        if key in self._opponents:
            self._opponents.move_to_end(key)
            return self._opponents[key], False
        try:
            compiled = self._compile_policy(policy, role, self.num_episodes)
        except Exception as error:
            raise OpponentCompileError(opponent_id, role, error) from error
        self._opponents[key] = compiled
        return compiled, True

    def _candidate(self, policy: Policy, role: str, num_opponents: int) -> _Compiled:
        key = (policy, role, num_opponents)
        if key not in self._candidates:
            batch = num_opponents * self.num_episodes
            self._candidates[key] = self._compile_policy(policy, role, batch)
            while len(self._candidates) > _CACHED_CANDIDATES:
                self._candidates.popitem(last=False)
        self._candidates.move_to_end(key)
        return self._candidates[key]

    def _hub(self, role: str, num_opponents: int) -> _Hub:
        key = (role, num_opponents)
        if key not in self._hubs:
            begin, step = match_hub(self.env, role, num_opponents, self._codec.encode)
            first = jax.eval_shape(begin, self._starts, self._params)
            (opp_role,) = [a for a in self.env.agents if a != role]
            spaces = self.env.action_space(self._params)
            batch = num_opponents * self.num_episodes
            cand_action = jax.ShapeDtypeStruct((batch, *spaces[role].shape), spaces[role].dtype)
            opp_action = jax.ShapeDtypeStruct(
                (self.num_episodes, *spaces[opp_role].shape), spaces[opp_role].dtype
            )
            step_c = (
                jax.jit(step, donate_argnums=0)
                .lower(
                    first.carry,
                    cand_action,
                    (opp_action,) * num_opponents,
                    self._starts,
                    self._params,
                )
                .compile()
            )
            begin_c = jax.jit(begin).lower(self._starts, self._params).compile()
            self._hubs[key] = _Hub(begin=begin_c, step=step_c)
            while len(self._hubs) > _CACHED_HUBS:
                self._hubs.popitem(last=False)
        self._hubs.move_to_end(key)
        return self._hubs[key]

    def _check(self, candidate: Policy, role: str, opponents: Sequence[tuple[str, Policy]]) -> str:
        """Validate the arguments of `score`; returns the opponents' role."""
        agents = self.env.agents
        if role not in agents:
            raise ValueError(f"MatchScorer: unknown role {role!r}; choose one of {agents}")
        if not opponents:
            raise ValueError("MatchScorer: no opponents to score against")
        (opp_role,) = [a for a in agents if a != role]
        if candidate.role and candidate.role != role:
            raise ValueError(
                f"MatchScorer: candidate {candidate.name!r} plays {candidate.role}, not {role}"
            )
        for opponent_id, policy in opponents:
            if policy.role and policy.role != opp_role:
                raise ValueError(
                    f"MatchScorer: opponent {opponent_id!r} plays {policy.role}, not {opp_role}"
                )
        return opp_role

    def score(
        self, candidate: Policy, role: str, opponents: Sequence[tuple[str, Policy]]
    ) -> MatchScores:
        """Play `candidate` (as `role`) against each `(opponent_id, policy)` for N episodes.

        Opponents are compiled on first sight and cached by `(opponent_id, role)`;
        an id must always name the same policy.
        """
        opp_role = self._check(candidate, role, opponents)
        start = time.perf_counter()
        compiled_opponents, new = [], 0
        for opponent_id, policy in opponents:
            compiled, fresh = self._opponent(opponent_id, policy, opp_role)
            compiled_opponents.append(compiled)
            new += fresh
        opponent_compile_s = time.perf_counter() - start
        hub = self._hub(role, len(opponents))
        compiled_candidate = self._candidate(candidate, role, len(opponents))
        compile_s = time.perf_counter() - start

        run_start = time.perf_counter()
        carry, steps_run = self._play(hub, compiled_candidate, compiled_opponents)
        returns = np.asarray(carry.returns[role]).reshape(len(opponents), self.num_episodes)
        opponent_returns = np.asarray(carry.returns[opp_role]).reshape(returns.shape)
        behaviour = descriptor(
            np.asarray(carry.statistics),
            np.asarray(carry.active_steps),
            np.asarray(carry.state.captured),
        )
        run_s = time.perf_counter() - run_start
        while len(self._opponents) > self.max_cached_opponents:
            self._opponents.popitem(last=False)
        return MatchScores(
            returns=returns,
            opponent_returns=opponent_returns,
            behaviour=behaviour,
            timings={
                "compile_s": compile_s,
                "opponent_compile_s": opponent_compile_s,
                "run_s": run_s,
                "total_s": compile_s + run_s,
                "opponents_compiled": float(new),
            },
            opponent_ids=tuple(opponent_id for opponent_id, _ in opponents),
            steps_run=steps_run,
        )

    def _play(
        self, hub: _Hub, candidate: _Compiled, opponents: list[_Compiled]
    ) -> tuple[HubCarry, int]:
        """The host loop: returns the final carry and the number of steps played."""
        starts, params, shared = self._starts, self._params, self._shared
        first = hub.begin(starts, params)
        carry, cand_obs, cand_keys = first.carry, first.cand_obs, first.cand_keys
        cand_memory = candidate.init(first.cand_memory_keys)
        opp_memories = [opponent.init(first.opp_memory_keys) for opponent in opponents]
        opp_obs, opp_keys = [first.opp_obs] * len(opponents), first.opp_keys
        opp_actions: list[Any] = [None] * len(opponents)
        live = range(len(opponents))
        for t in range(self.num_steps):
            for j in live:
                opp_actions[j], opp_memories[j] = opponents[j].act(
                    opp_obs[j], shared, opp_memories[j], opp_keys
                )
            cand_action, cand_memory = candidate.act(cand_obs, shared, cand_memory, cand_keys)
            carry, cand_obs, cand_keys, opp_obs, opp_keys, group_done = hub.step(
                carry, cand_action, tuple(opp_actions), starts, params
            )
            if (t + 1) % self.done_check_every == 0 and t + 1 < self.num_steps:
                done = np.asarray(group_done)
                if done.all():
                    return carry, t + 1
                # A finished match is absorbing: its opponent's actions no longer matter.
                live = [j for j in live if not done[j]]
        return carry, self.num_steps
