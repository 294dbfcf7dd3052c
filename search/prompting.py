"""Chat messages for a `ProposalRequest`, filled from the templates in `search/prompts/`.

The system message is the same for every request (the game's rules and
observation fields, the policy protocol, the JAX tracing rules, the helper
API, the answer format); the user message names the role and carries the
archive context and the task of the request's mode. Templates use
`string.Template` (`$name`), so code braces need no escaping. Facts about the
game come from the environment's docstrings (`prompt_facts`), and the size of
the context is bounded by `PromptLimits`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from arenax.search import prompt_facts
from arenax.search.proposal import ProgramSummary, ProposalRequest

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
ROLES = ("pursuer", "evader")
MODES = ("improve", "novel", "repair")


@dataclass(frozen=True)
class PromptLimits:
    """Bounds on what a prompt shows (the rest is cut, with a marker saying how much).

    Attributes:
        max_parents: parents shown with their source.
        max_archive: other programs of the role shown by name, score and description.
        max_opponents: opponents shown by name, score and description.
        max_opponent_sources: of those, how many also show their source.
        max_source_chars: characters of one shown source.
        max_failed_source_chars: characters of the failed source in repair mode.
        max_error_chars: characters of the error text in repair mode.
        max_description_chars: characters of one description.
    """

    max_parents: int = 3
    max_archive: int = 12
    max_opponents: int = 8
    max_opponent_sources: int = 2
    max_source_chars: int = 6000
    max_failed_source_chars: int = 20000
    max_error_chars: int = 4000
    max_description_chars: int = 300


@functools.cache
def template(name: str) -> Template:
    """The prompt template `search/prompts/<name>.md`."""
    path = PROMPTS_DIR / f"{name}.md"
    if not path.is_file():
        raise FileNotFoundError(f"prompt template {path} is missing")
    return Template(path.read_text())


def truncate(text: str, limit: int, comment: str = "# ") -> str:
    """`text` cut to about `limit` characters: its head and tail with a marker line between."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 2 // 3], text[len(text) - limit // 3 :]
    omitted = len(text) - len(head) - len(tail)
    return f"{head}\n{comment}... [{omitted} characters omitted] ...\n{tail}"


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run inside `text`."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _score(program: ProgramSummary) -> str:
    return "unscored" if program.quality is None else f"score {program.quality:.3f}"


def _summary_line(program: ProgramSummary, limits: PromptLimits) -> str:
    description = _one_line(program.description, limits.max_description_chars) or "(no description)"
    return f"- `{program.name}` ({_score(program)}): {description}"


def _with_source(program: ProgramSummary, limits: PromptLimits) -> str:
    source = truncate(program.source.strip("\n"), limits.max_source_chars)
    return template("program").substitute(
        title=f"`{program.name}` ({program.role}, {_score(program)})",
        description=_one_line(program.description, limits.max_description_chars),
        fence=fence_for(source),
        source=source,
    )


@functools.cache
def system_prompt(helper_api: str | None = None) -> str:
    """The system message: rules, observation, protocol, tracing rules, helper API, format."""
    defaults = "\n".join(
        f"- `{name}` = {value}: {meaning}"
        for name, (value, meaning) in prompt_facts.parameter_defaults().items()
    )
    fields = "\n".join(
        f"- `obs.{name}`: {meaning}" for name, meaning in prompt_facts.observation_fields().items()
    )
    rules = template("rules").substitute(parameter_defaults=defaults, observation_fields=fields)
    reference = helper_api if helper_api is not None else prompt_facts.helper_api_reference()
    return template("system").substitute(
        rules=rules.strip(),
        protocol=template("protocol").template.strip(),
        tracing=template("tracing").template.strip(),
        helper_api=template("helper_api").substitute(reference=reference).strip(),
        answer_format=template("answer_format").template.strip(),
    )


def _context(request: ProposalRequest, limits: PromptLimits) -> str:
    """The archive context: parents with sources, the role's archive, the opponents."""
    other = ROLES[1 - ROLES.index(request.role)]
    parts: list[str] = []
    parents = request.parents[: limits.max_parents]
    if parents:
        parts.append(
            "# Parents: the programs to build on\n"
            if request.mode == "improve"
            else f"# Existing {request.role} programs (yours must differ from them)\n"
        )
        parts.extend(_with_source(p, limits) for p in parents)
    parent_ids = {p.id for p in request.parents}
    archive = [p for p in request.archive if p.id not in parent_ids][: limits.max_archive]
    if archive:
        parts.append(f"# Other {request.role} programs in the archive\n")
        parts.append("\n".join(_summary_line(p, limits) for p in archive) + "\n")
    opponents = request.opponents[: limits.max_opponents]
    if opponents:
        parts.append(
            f"# Opponents: the {other} programs yours is scored against "
            f"(scores are theirs, as {other})\n"
        )
        parts.append("\n".join(_summary_line(p, limits) for p in opponents) + "\n")
        parts.extend(_with_source(p, limits) for p in opponents[: limits.max_opponent_sources])
    if not parts:
        parts.append(
            f"(No {request.role} or {other} programs exist yet: write a strong first one.)\n"
        )
    return "\n".join(parts)


def _task(request: ProposalRequest, limits: PromptLimits) -> str:
    if request.mode != "repair":
        return template(f"task_{request.mode}").substitute(role=request.role)
    source = truncate(request.failed_source or "", limits.max_failed_source_chars)
    error = truncate(request.error or "", limits.max_error_chars, comment="")
    return template("task_repair").substitute(
        role=request.role,
        fence=fence_for(source),
        failed_source=source.strip("\n"),
        error_fence=fence_for(error),
        error=error.strip("\n"),
    )


def build_messages(
    request: ProposalRequest,
    helper_api: str | None = None,
    limits: PromptLimits | None = None,
) -> list[dict[str, str]]:
    """`[system, user]` chat messages asking for the program `request` describes.

    Args:
        request: role, mode and archive context.
        helper_api: documentation of the helper API to show; None generates it
            from `dynamics` and `dubins`.
        limits: caps on the programs shown and on text lengths (None: the defaults).

    Raises:
        ValueError: unknown role or mode, or a repair request without the
            failed source or the error.
    """
    if request.role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {request.role!r}")
    if request.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {request.mode!r}")
    if request.mode == "repair" and not (request.failed_source and request.error):
        raise ValueError("a repair request needs both failed_source and error")
    limits = limits or PromptLimits()
    role_text = template(f"role_{request.role}").substitute(
        action_spec=prompt_facts.action_specs()[request.role]
    )
    context = "" if request.mode == "repair" else _context(request, limits)
    user = template("user").substitute(
        role=request.role,
        role_text=role_text.strip() + "\n",
        context=context,
        task=_task(request, limits).strip(),
    )
    return [
        {"role": "system", "content": system_prompt(helper_api)},
        {"role": "user", "content": user},
    ]
