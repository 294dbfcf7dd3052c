"""`ProposerError`: why a proposer returned no usable program.

Every failure of a proposer (an FM endpoint, a replay file, the offline
generator) surfaces as one `ProposerError` whose `kind` a loop can branch on,
and whose message names the problem and what to do about it.
"""

from __future__ import annotations

from arenax.search.proposal import Usage

# kind -> whether the run should stop (retrying the next proposal cannot help).
KINDS: dict[str, bool] = {
    "config": True,  # the proposer is set up wrongly (missing key, bad spec)
    "auth": True,  # the endpoint refused the credentials (401/403)
    "bad_request": True,  # the endpoint rejected the request (400/404/422, ...)
    "rate_limit_exhausted": False,  # 429 on every attempt
    "timeout_exhausted": False,  # the request timed out on every attempt
    "server_error_exhausted": False,  # 5xx, dropped connections or unparseable bodies throughout
    "empty": False,  # the FM answered with no text on every attempt
    "truncated": False,  # the answer hit the token limit (finish_reason "length")
    "no_code": False,  # the answer holds no program that defines act
    "replay_exhausted": True,  # every recorded answer has been used
    "replay_malformed": True,  # a recorded answer cannot be read
    "replay_mismatch": True,  # the recorded request was for another role
}


class ProposerError(Exception):
    """No usable proposal came back.

    Attributes:
        kind: one of `KINDS` (e.g. "auth", "timeout_exhausted", "no_code").
        fatal: True when retrying later cannot help and the run should stop
            (misconfiguration, refused credentials, a rejected request, an
            exhausted or broken replay file); False for transient or per-answer
            failures a loop may count and move past.
        raw: the FM's text, when an answer came back but was unusable.
        usage: tokens and cost spent on the failed attempts (they were billed).
        attempts: HTTP attempts made.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        raw: str = "",
        usage: Usage | None = None,
        attempts: int = 0,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown ProposerError kind {kind!r}; known: {sorted(KINDS)}")
        super().__init__(message)
        self.kind = kind
        self.fatal = KINDS[kind]
        self.raw = raw
        self.usage = usage if usage is not None else Usage()
        self.attempts = attempts

    def __str__(self) -> str:
        return f"[{self.kind}] {super().__str__()}"
