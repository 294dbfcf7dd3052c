"""The FMSP loops: vFMSP, NSSP, QDSP (and random search), on two co-evolving archives.

One iteration, per role (vFMSP: one role, alternating):

1. choose parents from the role's archive (`selection.py`) and opponents from the
   other role's archive (all members, or a fixed-seed sample of `max_opponents`);
2. ask the proposer (an FM, the offline generator, a replay) for new programs;
3. check, compile and score them in sandbox workers against those opponents
   (a failure goes back to the proposer with its error, `repair_rounds` times);
4. embed each scored program, measure its novelty against the archive, and apply
   the algorithm's insertion rule (`insertion.py`);
5. append the result to the archive (accepted, rejected or retiring a member).

The archives and the event log are append-only on disk, so a run killed at any
moment resumes (`resume=True`) at the first unfinished iteration and keeps every
accepted program.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from arenax.search.archive import Archive, ArchiveEntry
from arenax.search.embedders import Embedder
from arenax.search.event_log import EventLog, read_events
from arenax.search.insertion import decide
from arenax.search.loop_config import LoopConfig
from arenax.search.novelty import NoveltyRule
from arenax.search.program import Program, strategy_programs
from arenax.search.proposal import ProgramSummary, ProposalRequest, Proposer, Usage
from arenax.search.sandbox import Evaluation, Sandbox
from arenax.search.selection import get_selector

ROLES = ("pursuer", "evader")
OTHER = {"pursuer": "evader", "evader": "pursuer"}


@dataclass
class IterationStats:
    """Counters of one iteration, one row of metrics.csv per iteration."""

    iteration: int
    proposed: int = 0
    failed: int = 0
    repaired: int = 0
    accepted: int = 0
    rejected: int = 0
    seconds: float = 0.0


def summary(entry: ArchiveEntry) -> ProgramSummary:
    """What the proposer is shown of an archive entry."""
    return ProgramSummary(
        id=entry.id,
        name=entry.name,
        role=entry.role,
        source=entry.source,
        description=entry.description,
        quality=entry.quality,
    )


def as_program(entry: ArchiveEntry) -> Program:
    return Program(
        name=entry.name, role=entry.role, source=entry.source, description=entry.description
    )


class FMSPLoop:
    """Runs one FMSP algorithm in a run folder.

    Args:
        config: what to run.
        out: the run folder (archives/, events.jsonl, metrics.csv, config.json).
        proposer: writes programs.
        sandbox: scores programs in worker processes.
        embedder: embeds source + description for novelty.
        judge: optional FM judge `judge(candidate, neighbours) -> (bool, reason, Usage)`.
        on_progress: called after each role step with a dict of headline figures.
    """

    def __init__(
        self,
        config: LoopConfig,
        out: Path,
        proposer: Proposer,
        sandbox: Sandbox,
        embedder: Embedder,
        judge: Callable[..., tuple[bool, str, Usage]] | None = None,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.config = config
        self.out = Path(out)
        self.proposer = proposer
        self.sandbox = sandbox
        self.embedder = embedder
        self.judge = judge
        self.on_progress = on_progress
        self.select = get_selector(config.selection)
        self.novelty = NoveltyRule(
            threshold=config.novelty_threshold, k=config.novelty_k, space=config.novelty_space
        )
        (self.out / "archives").mkdir(parents=True, exist_ok=True)
        self.archives = {
            role: Archive(self.out / "archives" / f"{role}.jsonl", role) for role in ROLES
        }
        self.events_path = self.out / "events.jsonl"
        self.events = EventLog(self.events_path)
        self.usage = Usage()
        self.programs_evaluated = 0
        for event in read_events(self.events_path):
            if event["event"] == "usage":
                self.usage = self.usage + Usage(**event["usage"])
            if event["event"] == "evaluated":
                self.programs_evaluated += 1

    # ---- bookkeeping -------------------------------------------------------------

    def completed_iterations(self) -> int:
        """Iterations that finished (seeding is iteration 0)."""
        done = [
            e["iteration"] for e in read_events(self.events_path) if e["event"] == "iteration_end"
        ]
        return max(done) + 1 if done else 0

    def children_counts(self, role: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.archives[role].entries():
            for parent in entry.parent_ids:
                counts[parent] = counts.get(parent, 0) + 1
        return counts

    def headline(self, iteration: int) -> dict[str, Any]:
        """Archive sizes, QD-scores, best qualities and FM usage, for bars and metrics."""
        row: dict[str, Any] = {"iteration": iteration}
        for role in ROLES:
            members = self.archives[role].members()
            qualities = [m.quality for m in members if m.quality is not None]
            row[f"{role}_size"] = len(members)
            row[f"{role}_qd_score"] = float(sum(qualities))
            row[f"{role}_best"] = float(max(qualities)) if qualities else float("nan")
        row["programs_evaluated"] = self.programs_evaluated
        row["prompt_tokens"] = self.usage.prompt_tokens
        row["completion_tokens"] = self.usage.completion_tokens
        row["cost_usd"] = self.usage.cost_usd
        return row

    # ---- seeding -----------------------------------------------------------------

    def seed_archives(self) -> None:
        """Iteration 0: the hand-written strategies, scored against each other."""
        names = set(self.config.seed_names)
        programs = {
            role: [p for p in strategy_programs(role) if not names or p.name in names]
            for role in ROLES
        }
        for role in ROLES:
            jobs = [(p, programs[OTHER[role]]) for p in programs[role]]
            evaluations = self.sandbox.evaluate_many(jobs)
            scored = []
            for program, evaluation in zip(programs[role], evaluations, strict=True):
                if not evaluation.ok:
                    raise RuntimeError(
                        f"hand-written {role} {program.name} failed in the sandbox: "
                        f"{evaluation.error_kind}: {evaluation.error_message}"
                    )
                scored.append((program, evaluation))
            best = max(scored, key=lambda pe: pe[1].quality)[0].id
            embeddings = self.embed([p for p, _ in scored])
            for (program, evaluation), embedding in zip(scored, embeddings, strict=True):
                keep = self.config.algo != "vfmsp" or program.id == best
                reason = "hand-written seed" if keep else "vFMSP keeps one policy per role"
                self.add_entry(program, evaluation, embedding, (), 0, keep, reason, Usage())
        self.events.write("iteration_end", **self.headline(0))

    # ---- one iteration -----------------------------------------------------------

    def run(self, iterations: int) -> None:
        """Run until `iterations` iterations (after seeding) have completed."""
        start = self.completed_iterations()
        if start == 0:
            if self.config.seed_strategies:
                self.seed_archives()
            else:
                self.events.write("iteration_end", **self.headline(0))
            start = 1
        for iteration in range(start, iterations + 1):
            began = time.perf_counter()
            stats = IterationStats(iteration)
            roles = [ROLES[(iteration - 1) % 2]] if self.config.algo == "vfmsp" else list(ROLES)
            for role in roles:
                self.step_role(role, iteration, stats)
            stats.seconds = time.perf_counter() - began
            self.events.write(
                "iteration_end",
                **self.headline(iteration),
                **{k: v for k, v in vars(stats).items() if k != "iteration"},
            )

    def opponents_for(self, role: str, rng: np.random.Generator) -> list[ArchiveEntry]:
        members = self.archives[OTHER[role]].members()
        if len(members) <= self.config.max_opponents:
            return members
        picks = np.sort(rng.choice(len(members), self.config.max_opponents, replace=False))
        return [members[int(i)] for i in picks]

    def requests_for(
        self, role: str, iteration: int, rng: np.random.Generator, opponents: Sequence[ArchiveEntry]
    ) -> list[tuple[ProposalRequest, tuple[str, ...]]]:
        """One request per candidate, with the parent ids it names."""
        members = self.archives[role].members()
        children = self.children_counts(role)
        algo = self.config.algo
        mode = "novel" if algo in ("nssp", "random") else "improve"
        requests = []
        for k in range(self.config.candidates_per_role):
            if algo == "random":
                parents: list[ArchiveEntry] = []
            elif algo == "vfmsp":
                parents = members[:1]
            else:
                parents = self.select(members, children, rng, self.config.num_parents)
            context = [] if algo == "random" else [m for m in members if m not in parents][:6]
            request = ProposalRequest(
                role=role,
                mode=mode,
                parents=tuple(summary(p) for p in parents),
                archive=tuple(summary(m) for m in context),
                opponents=tuple(summary(o) for o in opponents[:4]),
                seed=int(rng.integers(2**31 - 1)) + k,
            )
            requests.append((request, tuple(p.id for p in parents)))
        return requests

    def step_role(self, role: str, iteration: int, stats: IterationStats) -> None:
        rng = np.random.default_rng([self.config.seed, iteration, ROLES.index(role)])
        opponents = self.opponents_for(role, rng)
        opponent_programs = [as_program(o) for o in opponents]
        pending = []
        for request, parent_ids in self.requests_for(role, iteration, rng, opponents):
            proposal = self.propose(request, iteration)
            stats.proposed += 1
            if proposal is not None:
                pending.append((request, parent_ids, proposal))

        for round_ in range(self.config.repair_rounds + 1):
            if not pending:
                break
            programs = [
                Program(name=p.name, role=role, source=p.source, description=p.description)
                for _, _, p in pending
            ]
            evaluations = self.sandbox.evaluate_many([(p, opponent_programs) for p in programs])
            retry = []
            for (request, parent_ids, proposal), program, evaluation in zip(
                pending, programs, evaluations, strict=True
            ):
                self.programs_evaluated += 1
                self.events.write(
                    "evaluated",
                    iteration=iteration,
                    role=role,
                    id=program.id,
                    name=program.name,
                    ok=evaluation.ok,
                    error_kind=evaluation.error_kind,
                    quality=evaluation.quality if evaluation.ok else None,
                    timings=evaluation.timings,
                    repair_round=round_,
                )
                if evaluation.ok:
                    stats.repaired += int(round_ > 0)
                    self.consider(program, evaluation, parent_ids, iteration, proposal.usage, stats)
                    continue
                stats.failed += 1
                if round_ < self.config.repair_rounds:
                    repair = ProposalRequest(
                        role=role,
                        mode="repair",
                        parents=request.parents,
                        opponents=request.opponents,
                        failed_source=program.source,
                        error=f"{evaluation.error_kind}: {evaluation.error_message}",
                        seed=request.seed + 7919 * (round_ + 1),
                    )
                    fixed = self.propose(repair, iteration)
                    if fixed is not None:
                        retry.append((repair, parent_ids, fixed))
                        continue
                reason = f"{evaluation.error_kind}: {evaluation.error_message}"
                self.add_entry(
                    program, evaluation, None, parent_ids, iteration, False, reason, proposal.usage
                )
                stats.rejected += 1
            pending = retry
        if self.on_progress is not None:
            self.on_progress(self.headline(iteration))

    def propose(self, request: ProposalRequest, iteration: int):
        """The proposer's answer, or None (logged) when it gave no usable answer."""
        from arenax.search.fm import ProposerError

        try:
            proposal = self.proposer.propose(request)
        except ProposerError as err:
            if err.usage is not None:
                self.usage = self.usage + err.usage
            if err.fatal:
                raise ValueError(f"FM {self.proposer.name}: {err.kind}: {err}") from err
            self.events.write(
                "proposer_error",
                iteration=iteration,
                role=request.role,
                mode=request.mode,
                kind=getattr(err, "kind", "error"),
                message=str(err),
            )
            return None
        self.usage = self.usage + proposal.usage
        self.events.write(
            "usage",
            iteration=iteration,
            role=request.role,
            mode=request.mode,
            usage=vars(proposal.usage),
            name=proposal.name,
        )
        return proposal

    def embed(self, programs: Sequence[Program]) -> np.ndarray:
        return self.embedder.embed([f"{p.description}\n{p.source}" for p in programs])

    def consider(
        self,
        program: Program,
        evaluation: Evaluation,
        parent_ids: tuple[str, ...],
        iteration: int,
        usage: Usage,
        stats: IterationStats,
    ) -> None:
        """Novelty, the insertion rule, and the archive update for one scored program."""
        archive = self.archives[program.role]
        if self.already_recorded(program, iteration):
            stats.rejected += 1
            return
        members = archive.members()
        embedding = self.embed([program])[0]
        member_embeddings = np.array([m.embedding for m in members], dtype=np.float32)
        member_behaviours = np.array([m.behaviour for m in members], dtype=np.float32)
        novel, novelty, nearest = self.novelty.is_novel(
            embedding, evaluation.behaviour, member_embeddings, member_behaviours
        )
        neighbour = members[nearest] if members and nearest is not None else None
        judge_reason = ""
        if novel and self.judge is not None and members:
            novel, judge_reason, judge_usage = self.judge(program, [neighbour])
            self.usage = self.usage + judge_usage
        current = members[0] if self.config.algo == "vfmsp" and members else None
        decision = decide(
            self.config.algo,
            evaluation.quality,
            novel,
            novelty,
            neighbour.id if neighbour else None,
            neighbour.quality if neighbour else None,
            current.id if current else None,
            current.quality if current else None,
        )
        reason = decision.reason + (f"; judge: {judge_reason}" if judge_reason else "")
        self.add_entry(
            program, evaluation, embedding, parent_ids, iteration, decision.accept, reason, usage
        )
        if decision.retire is not None:
            archive.set_status(decision.retire, "retired", f"replaced by {program.id}")
        stats.accepted += int(decision.accept)
        stats.rejected += int(not decision.accept)

    def add_entry(
        self,
        program: Program,
        evaluation: Evaluation,
        embedding: np.ndarray | None,
        parent_ids: Sequence[str],
        iteration: int,
        accepted: bool,
        reason: str,
        usage: Usage,
    ) -> None:
        if self.already_recorded(program, iteration):
            return
        ok = evaluation.ok  # ArchiveEntry turns arrays and Usage into plain floats and dicts
        entry = ArchiveEntry(
            id=program.id,
            parent_ids=parent_ids,
            generation=iteration,
            role=program.role,
            name=program.name,
            source=program.source,
            description=program.description,
            status="accepted" if accepted else "rejected",
            reason=reason,
            quality=evaluation.quality if ok else None,
            quality_ci95=evaluation.quality_ci95 if ok else None,
            per_opponent=dict(zip(evaluation.opponent_ids, evaluation.per_opponent, strict=True))
            if ok
            else None,
            embedding=embedding,
            behaviour=evaluation.behaviour,
            usage=usage,
            timings=evaluation.timings,
        )
        self.archives[program.role].add(entry)
        self.log_decision(program, iteration, accepted, reason)

    def log_decision(self, program: Program, iteration: int, accepted: bool, reason: str) -> None:
        self.events.write(
            "decision",
            iteration=iteration,
            role=program.role,
            id=program.id,
            accepted=accepted,
            reason=reason,
        )

    def already_recorded(self, program: Program, iteration: int) -> bool:
        """True (and logged) if the archive holds this exact source already: a repeat
        proposal, or the redo of an iteration a killed run had half finished."""
        archive = self.archives[program.role]
        if program.id not in archive:
            return False
        status = archive.get(program.id).status
        reason = f"identical source already in the archive ({status})"
        self.log_decision(program, iteration, False, reason)
        return True

    def close(self) -> None:
        self.events.close()
