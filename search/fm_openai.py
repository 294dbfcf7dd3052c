"""`OpenAIProposer`: programs from any OpenAI-compatible chat-completions endpoint.

One client covers hosted APIs and local servers (vLLM, Ollama, llama.cpp
server) through the official `openai` package, with its own retries switched
off (`max_retries=0`) so that the policy below is the only one:

- timeouts, 429, 408/409, 5xx, dropped connections and unparseable bodies are
  retried up to `max_retries` times with exponential backoff and jitter
  (`backoff_s * 2**k`, capped at `max_backoff_s`, half of it random; a 429's
  `Retry-After` header is honoured up to the cap); when every attempt fails
  the error kind says which fault it was (`timeout_exhausted`, ...);
- 401/403 raise `auth` and other 4xx raise `bad_request` at once: repeating
  the same request cannot help;
- an empty answer is retried like a server fault, then raises `empty`;
- `finish_reason == "length"` (the answer hit `max_tokens`): `chat` raises
  `truncated`; `propose` asks once more, the same prompt plus a request for a
  shorter program, and raises `truncated` if that is cut off too.

Token usage and cost (from the per-1k-token prices) are counted per call,
including failed attempts that the endpoint billed, and summed in `.usage`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import openai

from arenax.search.code_extraction import parse_answer
from arenax.search.fm_errors import ProposerError
from arenax.search.prompting import build_messages
from arenax.search.proposal import Proposal, ProposalRequest, Usage

log = logging.getLogger("arenax.search.fm")

Message = dict[str, str]
TOKEN_LIMIT_FIELDS = ("max_tokens", "max_completion_tokens")
_RETRYABLE_STATUS = {408, 409}
SHORTER_REQUEST = (
    "\n\nYour previous answer was cut off at the {max_tokens}-token limit before the "
    "program was complete. Answer again, in the same format, with a shorter program: "
    "no reasoning before the NAME line, a brief docstring, few comments, the same idea "
    "in fewer lines."
)


def is_local_url(url: str) -> bool:
    """Whether `url` points at this machine or a private network (where servers take any key).

    Local: localhost, loopback, private and link-local addresses, and dotless
    host names (container or cluster service names such as `vllm`).
    """
    host = (urlparse(url).hostname or "").lower()
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith(".localhost") or "." not in host
    return address.is_loopback or address.is_private or address.is_link_local


def resolve_api_key(api_key: str | None, api_key_env: str, base_url: str | None) -> str:
    """The key to send: `api_key`, else `$api_key_env`, else "EMPTY" for a local `base_url`.

    Raises `ProposerError("config")` naming the variable when none applies.
    """
    if api_key:
        return api_key
    from_env = os.environ.get(api_key_env, "").strip()
    if from_env:
        return from_env
    if base_url and is_local_url(base_url):
        return "EMPTY"
    where = base_url or "the OpenAI API"
    raise ProposerError(
        "config",
        f"no API key for {where}: set the environment variable {api_key_env} "
        "(servers that need no key, e.g. a remote vLLM, accept api_key='EMPTY')",
    )


@dataclass(frozen=True)
class _Answer:
    """What one HTTP attempt brought back."""

    text: str
    finish_reason: str | None
    usage: Usage


@dataclass(frozen=True)
class _Fault:
    """A retryable failure of one attempt: the kind to raise if it persists, and why."""

    kind: str
    detail: str
    retry_after_s: float | None = None


def _retry_after_s(error: openai.APIStatusError) -> float | None:
    """Seconds from a `Retry-After` header (numeric form only), or None."""
    value = error.response.headers.get("retry-after")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


class OpenAIProposer:
    """Policy programs from an OpenAI-compatible chat endpoint.

    Args:
        model: the model name the endpoint serves (e.g. "gpt-4.1-mini", "qwen2.5-coder:7b").
        base_url: endpoint root such as "http://127.0.0.1:11434/v1"; None uses
            `$OPENAI_BASE_URL`, else the OpenAI API.
        api_key_env: environment variable holding the key.
        temperature: sampling temperature; None leaves it to the server (some
            reasoning models accept only their default).
        max_tokens: completion token limit per answer.
        timeout_s: per-attempt HTTP timeout, seconds.
        max_retries: extra attempts after a retryable fault (0 = try once).
        backoff_s: first backoff delay, seconds (doubles per retry).
        price_per_1k_prompt, price_per_1k_completion: USD per 1000 tokens, for `cost_usd`.
        api_key: the key itself, overriding the environment (e.g. "EMPTY").
        max_backoff_s: cap on one backoff delay, seconds.
        token_limit_field: "max_tokens" (most servers) or "max_completion_tokens"
            (OpenAI reasoning models refuse "max_tokens").
        helper_api: documentation of the helper API for the prompts (None: generated).
        seed: seed of the backoff jitter.

    Attributes:
        name: "openai:<model>".
        usage: tokens and cost of every call so far, failed attempts included.
        attempts: HTTP requests sent so far.
        retries: of those, how many were retries.
        failures: `Counter` of failed answers by `ProposerError` kind (a truncated answer
            counts even when the shorter retry then succeeds).
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        temperature: float | None = 0.8,
        max_tokens: int = 4096,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        price_per_1k_prompt: float = 0.0,
        price_per_1k_completion: float = 0.0,
        *,
        api_key: str | None = None,
        max_backoff_s: float = 60.0,
        token_limit_field: str = "max_tokens",
        helper_api: str | None = None,
        seed: int | None = None,
    ) -> None:
        if not model or not model.strip():
            raise ValueError("model must be a non-empty model name")
        if temperature is not None and temperature < 0:
            raise ValueError(f"temperature must be >= 0 or None, got {temperature}")
        if max_tokens < 1 or timeout_s <= 0 or max_retries < 0:
            raise ValueError(
                f"need max_tokens >= 1, timeout_s > 0, max_retries >= 0; got {max_tokens}, "
                f"{timeout_s}, {max_retries}"
            )
        if (
            backoff_s < 0
            or max_backoff_s < 0
            or min(price_per_1k_prompt, price_per_1k_completion) < 0
        ):
            raise ValueError("backoff times and prices must be >= 0")
        if token_limit_field not in TOKEN_LIMIT_FIELDS:
            raise ValueError(f"token_limit_field must be one of {TOKEN_LIMIT_FIELDS}")
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.name = f"openai:{model}"
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.price_per_1k_prompt = price_per_1k_prompt
        self.price_per_1k_completion = price_per_1k_completion
        self.token_limit_field = token_limit_field
        self.helper_api = helper_api
        key = resolve_api_key(api_key, api_key_env, self.base_url)
        self.client = openai.OpenAI(
            api_key=key, base_url=self.base_url, max_retries=0, timeout=timeout_s
        )
        self.usage = Usage()
        self.attempts = 0
        self.retries = 0
        self.failures: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def stats(self) -> dict[str, Any]:
        """Counters for logs and progress bars: tokens, cost, attempts, retries, failures."""
        with self._lock:
            return {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "cost_usd": self.usage.cost_usd,
                "attempts": self.attempts,
                "retries": self.retries,
                "failures": dict(self.failures),
            }

    def propose(self, request: ProposalRequest) -> Proposal:
        """A new program for `request` (see the module docstring for the failure policy)."""
        messages = build_messages(request, helper_api=self.helper_api)
        try:
            text, usage = self.chat(messages)
        except ProposerError as error:
            if error.kind != "truncated":
                raise
            shorter = [*messages[:-1], dict(messages[-1])]
            shorter[-1]["content"] += SHORTER_REQUEST.format(max_tokens=self.max_tokens)
            try:
                text, usage = self.chat(shorter)
            except ProposerError as again:
                raise ProposerError(
                    again.kind,
                    again.args[0],
                    raw=again.raw,
                    usage=error.usage + again.usage,
                    attempts=error.attempts + again.attempts,
                ) from None
            usage = error.usage + usage
        try:
            source, name, description = parse_answer(text, request.role)
        except ProposerError as error:
            raise self._failed(error.kind, error.args[0], raw=text, usage=usage) from None
        return Proposal(source, name, description, usage=usage, raw=text)

    def chat(self, messages: list[Message], max_tokens: int | None = None) -> tuple[str, Usage]:
        """One answer to `messages` with bounded retries: `(text, usage of all attempts)`.

        Reusable for any chat (an FM novelty judge, say). Raises `ProposerError`
        with kind auth, bad_request, rate_limit_exhausted, timeout_exhausted,
        server_error_exhausted, empty or truncated (the partial text in `.raw`).
        """
        spent = Usage()
        fault = _Fault("server_error_exhausted", "no attempt made")
        limit = max_tokens or self.max_tokens
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._sleep_before_retry(attempt - 1, fault)
            with self._lock:
                self.attempts += 1
                self.retries += attempt > 0
            try:
                outcome = self._attempt(messages, limit)
            except ProposerError as error:  # not retryable; earlier attempts may have been billed
                error.usage, error.attempts = spent, attempt + 1
                raise
            if isinstance(outcome, _Answer):
                spent = spent + outcome.usage
                if outcome.finish_reason == "length":
                    raise self._failed(
                        "truncated",
                        f"{self.name}: the answer hit the token limit (max_tokens={limit}, "
                        "finish_reason 'length')",
                        raw=outcome.text,
                        usage=spent,
                        attempts=attempt + 1,
                    )
                if outcome.text.strip():
                    log.info(
                        "%s: %d prompt + %d completion tokens, $%.4f (run total $%.4f)",
                        self.name,
                        outcome.usage.prompt_tokens,
                        outcome.usage.completion_tokens,
                        outcome.usage.cost_usd,
                        self.usage.cost_usd,
                    )
                    return outcome.text, spent
                fault = _Fault("empty", f"empty answer (finish_reason {outcome.finish_reason!r})")
            else:
                fault = outcome
            log.warning("%s: attempt %d failed: %s", self.name, attempt + 1, fault.detail)
        raise self._failed(
            fault.kind,
            f"{self.name} at {self.base_url or 'api.openai.com'}: {self.max_retries + 1} "
            f"attempt(s) failed; last: {fault.detail}",
            usage=spent,
            attempts=self.max_retries + 1,
        )

    def _attempt(self, messages: list[Message], max_tokens: int) -> _Answer | _Fault:
        """One HTTP request: its answer, or a retryable fault; raises on non-retryable errors."""
        kwargs: dict[str, Any] = {self.token_limit_field: max_tokens}
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        try:
            response = self.client.chat.completions.create(
                model=self.model, messages=messages, timeout=self.timeout_s, **kwargs
            )
        except openai.APITimeoutError:
            return _Fault("timeout_exhausted", f"timed out after {self.timeout_s} s")
        except openai.APIConnectionError as error:
            return _Fault("server_error_exhausted", f"connection failed: {error}")
        except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
            raise self._failed(
                "auth", f"{self.name}: the endpoint refused the key ({error})"
            ) from None
        except openai.RateLimitError as error:
            return _Fault(
                "rate_limit_exhausted", f"rate limited (429): {error}", _retry_after_s(error)
            )
        except openai.APIStatusError as error:
            if error.status_code >= 500 or error.status_code in _RETRYABLE_STATUS:
                return _Fault("server_error_exhausted", f"HTTP {error.status_code}: {error}")
            raise self._failed(
                "bad_request",
                f"{self.name}: the endpoint rejected the request (HTTP {error.status_code}): "
                f"{error}",
            ) from None
        except (openai.APIResponseValidationError, ValueError) as error:
            return _Fault("server_error_exhausted", f"unparseable response: {error}")
        choices = getattr(response, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            return _Fault("server_error_exhausted", "response has no choices/message")
        usage = self._count(getattr(response, "usage", None))
        message = choices[0].message
        text = message.content or ""
        refusal = getattr(message, "refusal", None)
        if not text.strip() and refusal:
            log.warning("%s refused: %s", self.name, refusal)
        return _Answer(text, choices[0].finish_reason, usage)

    def _count(self, raw_usage: Any) -> Usage:
        """This response's `Usage` (zeros when the server reports none), added to `.usage`."""
        prompt = int(getattr(raw_usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(raw_usage, "completion_tokens", 0) or 0)
        cost = (prompt * self.price_per_1k_prompt + completion * self.price_per_1k_completion) / 1e3
        usage = Usage(prompt, completion, cost)
        with self._lock:
            self.usage = self.usage + usage
        return usage

    def _sleep_before_retry(self, retry: int, fault: _Fault) -> None:
        """Exponential backoff with jitter; a 429's Retry-After wins when it is longer."""
        delay = min(self.max_backoff_s, self.backoff_s * 2.0**retry)
        delay = 0.5 * delay + self._rng.uniform(0.0, 0.5 * delay)
        if fault.retry_after_s is not None:
            delay = max(delay, min(fault.retry_after_s, self.max_backoff_s))
        time.sleep(delay)

    def _failed(
        self,
        kind: str,
        message: str,
        *,
        raw: str = "",
        usage: Usage | None = None,
        attempts: int = 0,
    ) -> ProposerError:
        """A `ProposerError`, counted in `.failures`."""
        with self._lock:
            self.failures[kind] += 1
        return ProposerError(kind, message, raw=raw, usage=usage, attempts=attempts)
