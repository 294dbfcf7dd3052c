"""FM clients: the proposers that write policy programs, and `make_proposer` to pick one.

- `OpenAIProposer` (fm_openai.py): any OpenAI-compatible chat endpoint
  (hosted APIs, vLLM, Ollama, llama.cpp server), bounded retries, usage and cost.
- `ReplayProposer` / `RecordingProposer` (fm_replay.py): JSONL recordings.
- `OfflineGenerator` (offline.py): no network; composes strategy building blocks.
- `extract_code` (code_extraction.py): the program in an FM answer.
- `ProposerError` (fm_errors.py): every failure, with a `kind`.

Spec strings, as on the command line (`arenax fmsp --fm SPEC`):
"offline", "openai:MODEL" (everything after the first colon is the model, so
"openai:qwen2.5-coder:7b" works) and "replay:FILE".
"""

from __future__ import annotations

import os
from typing import Any

from arenax.search.code_extraction import extract_code, parse_answer
from arenax.search.fm_errors import KINDS, ProposerError
from arenax.search.fm_openai import OpenAIProposer
from arenax.search.fm_replay import RecordingProposer, ReplayProposer
from arenax.search.proposal import Proposer

__all__ = [
    "KINDS",
    "OpenAIProposer",
    "ProposerError",
    "RecordingProposer",
    "ReplayProposer",
    "extract_code",
    "make_proposer",
    "parse_answer",
]

SPEC_FORMS = '"offline", "openai:MODEL" or "replay:FILE"'


def make_proposer(
    spec: str,
    seed: int = 0,
    *,
    base_url: str | None = None,
    record_to: str | os.PathLike[str] | None = None,
    **openai_options: Any,
) -> Proposer:
    """The proposer a spec string names.

    Args:
        spec: "offline", "openai:MODEL" or "replay:FILE".
        seed: seed of the offline generator (and of the OpenAI backoff jitter).
        base_url: endpoint for "openai:" (default `$OPENAI_BASE_URL`, else the OpenAI API).
        record_to: if given, every answer is also appended to this JSONL file
            (a `RecordingProposer`), replayable later with "replay:FILE".
        **openai_options: further `OpenAIProposer` arguments (api_key_env,
            temperature, max_tokens, timeout_s, prices, ...).

    Raises:
        ValueError: an unknown spec, an empty model or file name, or
            `openai_options` given for a spec other than "openai:".
        ProposerError: "config" for a missing API key, "replay_malformed" for
            an unreadable replay file.
    """
    kind, _, argument = spec.strip().partition(":")
    if openai_options and kind != "openai":
        raise ValueError(f"options {sorted(openai_options)} apply only to openai:MODEL specs")
    proposer: Proposer
    if kind == "offline" and not argument:
        from arenax.search.offline import OfflineGenerator  # imported on use

        proposer = OfflineGenerator(seed=seed)
    elif kind == "openai" and argument.strip():
        proposer = OpenAIProposer(
            argument.strip(),
            base_url=base_url or os.environ.get("OPENAI_BASE_URL") or None,
            seed=seed,
            **openai_options,
        )
    elif kind == "replay" and argument.strip():
        proposer = ReplayProposer(argument.strip())
    else:
        raise ValueError(f"unknown FM spec {spec!r}: expected {SPEC_FORMS}")
    return RecordingProposer(proposer, record_to) if record_to is not None else proposer
