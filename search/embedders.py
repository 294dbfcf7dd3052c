"""Text embedders for program novelty: code + description -> unit vector.

Every embedder implements `Embedder`: `name`, `dim`, and `embed(texts) -> (n, dim)`
float32 rows of unit L2 norm (an empty text gives a zero row), so the Euclidean
distance between two rows lies in [0, 2] and equals sqrt(2 - 2 cos).

- `HashedNgramEmbedder` (spec "hashed" or "hashed:DIM"): offline, deterministic,
  no model download; built for Python policy code (see its docstring).
- `OpenAIEmbedder` ("openai:MODEL"): any OpenAI-compatible `/v1/embeddings`
  endpoint (hosted, vLLM, Ollama, llama.cpp server) through the official client.
- `SentenceTransformerEmbedder` ("st:MODEL"): a local sentence-transformers model;
  needs the optional extra (`pip install 'arenax[embeddings]'`).
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import keyword
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


class EmbedderError(RuntimeError):
    """An embedder could not produce embeddings (endpoint failure, missing package)."""


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to unit vectors: `embed(texts) -> (len(texts), dim)` float32."""

    name: str

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows stay zero), as float32 (n, d)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts, got a single str")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"embed(): text {i} is {type(text).__name__}, not str")
    return texts


# ---- offline hashed n-grams ---------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<comment>\#[^\n]*)
    | (?P<string>[rRbBuUfF]{0,2}(?:'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'[^'\n]*'|"[^"\n]*"))
    | (?P<number>(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?j?)
    | (?P<name>[A-Za-z_]\w*)
    | (?P<op>\*\*=?|//=?|->|<<=?|>>=?|[-+*/%@&|^<>=!:]=|[-+*/%@&|^~<>=.,:;()\[\]{}])
    """,
    re.VERBOSE,
)
_WORD = re.compile(r"[a-z][a-z]+")
_KEYWORDS = frozenset(keyword.kwlist)
# Names that mean the same thing in every program: builtins, the policy protocol, the
# allowed modules and their usual aliases. Other bare names are the program's own
# variables and helpers, and become the placeholder ID in the structural stream.
_SHARED_NAMES_TEXT = (
    "abs min max range len float int bool tuple list dict zip enumerate sum round "
    "act init obs memory key self jax jnp lax math functools np numpy dynamics "
    "dubins arenax envs car_tag"
)
_SHARED_NAMES = frozenset(_SHARED_NAMES_TEXT.split())
_STOPWORDS_TEXT = (
    "the and for with that this from into when then than its are was were has have "
    "not but all any one two can may will which while whose where who what how"
)
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def split_identifier(name: str) -> list[str]:
    """Lower-case sub-words of a snake_case or camelCase identifier."""
    parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return [p.lower() for p in parts if len(p) > 1]


def split_prose(text: str) -> tuple[str, str]:
    """Split leading prose (e.g. a description line) from the Python code after it.

    Returns (prose, code): the fewest leading lines whose removal leaves source that
    parses; (text, "") when no such split exists within the first 30 lines, or all
    the text as code when it parses as is.
    """
    lines = text.split("\n")
    for start in range(min(len(lines), 30)):
        code = "\n".join(lines[start:])
        try:
            ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        return "\n".join(lines[:start]), code
    return "", text


def _number_bucket(literal: str) -> str:
    try:
        value = abs(complex(literal.replace("_", "")))
    except ValueError:
        return "num:?"
    if value == 0:
        return "num:0"
    if math.isinf(value) or math.isnan(value):
        return "num:inf"
    return f"num:{math.floor(math.log2(value))}"


class HashedNgramEmbedder:
    """Offline embedding of Python policy code by hashed, normalised token n-grams.

    The text (optionally a description, then Python source) is tokenised and cut into
    four feature streams, each hashed into `dim` signed buckets (blake2b, so the result
    is stable across processes and machines), scaled by sublinear counts (1 + log tf),
    L2-normalised on its own, weighted, summed, and normalised again:

    - structure (weight 1.0): n-grams (sizes `ngram_sizes`) of the token stream in
      which every number is NUM, every string STR, and every bare name that is not
      a keyword, builtin, protocol name (obs, memory, key, act, init) or allowed module
      (jnp, lax, dynamics, dubins, ...) is ID; attribute names after a dot are kept
      (`jnp.arctan2`, `obs.opp_vel`, `dubins.shortest_path`). This stream is what the
      program does, independent of naming and constants.
    - identifiers (0.25): sub-words of the program's own names (`lead_time` -> lead,
      time), so naming carries some signal without dominating.
    - prose (0.25): words and word pairs of the leading description, docstrings and
      comments.
    - numbers (0.1): each numeric literal's order of magnitude (floor log2 |x|).

    So two programs that differ only in a constant differ in at most one magnitude
    bucket (distance near 0), a renamed variable moves the identifier stream only, and
    programs built from different calls and control flow are far apart.
    """

    def __init__(
        self,
        dim: int = 512,
        ngram_sizes: Sequence[int] = (1, 2, 3, 4),
        weights: Sequence[float] = (1.0, 0.25, 0.25, 0.1),
    ):
        if dim < 8:
            raise ValueError(f"HashedNgramEmbedder dim must be >= 8, got {dim}")
        if not ngram_sizes or min(ngram_sizes) < 1:
            raise ValueError(f"ngram_sizes must be positive integers, got {ngram_sizes}")
        if len(weights) != 4 or min(weights) < 0 or max(weights) == 0:
            raise ValueError(
                f"weights are four non-negative numbers (structure, identifiers, prose, "
                f"numbers), not all zero; got {weights}"
            )
        self._dim = int(dim)
        self.ngram_sizes = tuple(int(n) for n in ngram_sizes)
        self.weights = tuple(float(w) for w in weights)
        self.name = f"hashed-ngram-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def features(self, text: str) -> tuple[Counter, Counter, Counter, Counter]:
        """The four feature multisets (structure, identifiers, prose, numbers) of `text`."""
        prose_text, code = split_prose(text)
        prose_parts = [prose_text]
        tokens: list[str] = []
        identifiers: Counter = Counter()
        numbers: Counter = Counter()
        previous = ""
        for match in _TOKEN.finditer(code):
            kind, value = match.lastgroup, match.group()
            if kind == "comment":
                prose_parts.append(value[1:])
                continue
            if kind == "string":
                prose_parts.append(value)
                token = "STR"
            elif kind == "number":
                numbers[_number_bucket(value)] += 1
                token = "NUM"
            elif kind == "name":
                if value in _KEYWORDS or value in _SHARED_NAMES or previous == ".":
                    token = value
                else:
                    token = "ID"
                    identifiers.update(split_identifier(value))
            else:
                token = value
            tokens.append(token)
            previous = token
        structure: Counter = Counter()
        for n in self.ngram_sizes:
            for i in range(len(tokens) - n + 1):
                structure[" ".join(tokens[i : i + n])] += 1
        words = [w for w in _WORD.findall(" ".join(prose_parts).lower()) if w not in _STOPWORDS]
        prose = Counter(words)
        prose.update(f"{a} {b}" for a, b in itertools.pairwise(words))
        return structure, identifiers, prose, numbers

    def _hash_stream(self, stream: str, features: Counter) -> np.ndarray:
        vector = np.zeros(self._dim, dtype=np.float64)
        for feature, count in features.items():
            digest = hashlib.blake2b(f"{stream}\x00{feature}".encode(), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            sign = 1.0 if value & 1 else -1.0
            vector[(value >> 1) % self._dim] += sign * (1.0 + math.log(count))
        norm = np.linalg.norm(vector)
        return vector / norm if norm > 0 else vector

    def embed_one(self, text: str) -> np.ndarray:
        """The (dim,) float64 embedding of one text, before the final float32 cast."""
        streams = zip(
            ("structure", "identifiers", "prose", "numbers"),
            self.features(text),
            self.weights,
            strict=True,
        )
        total = np.zeros(self._dim, dtype=np.float64)
        for stream, features, weight in streams:
            if weight > 0 and features:
                total += weight * self._hash_stream(stream, features)
        return total

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 unit rows; deterministic across runs and machines."""
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return normalise_rows(np.stack([self.embed_one(t) for t in texts]))


# ---- OpenAI-compatible endpoint -----------------------------------------------------


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible `/v1/embeddings` endpoint.

    Args:
        model: the embedding model name (e.g. "text-embedding-3-small").
        base_url: the API base (e.g. "http://localhost:8000/v1"); None uses the client's
            default (OPENAI_BASE_URL or api.openai.com).
        api_key_env: environment variable holding the key. Without it, a local
            `base_url` gets a placeholder key (local servers ignore it); the hosted API
            raises EmbedderError.
        batch_size: texts per request.
        max_retries: the client's retries (with exponential backoff) on connection
            errors, timeouts, 408/409/429 and 5xx; 4xx errors fail at once.
        timeout: seconds per request.

    `dim` is learnt from the first response (a one-text probe if asked before any
    call). Rows are re-normalised to unit length whatever the server returns.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        batch_size: int = 64,
        max_retries: int = 3,
        timeout: float = 60.0,
    ):
        import openai

        if not model:
            raise ValueError("OpenAIEmbedder needs a model name")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        key = os.environ.get(api_key_env)
        if not key:
            if base_url is None and not os.environ.get("OPENAI_BASE_URL"):
                raise EmbedderError(
                    f"OpenAIEmbedder({model!r}): set {api_key_env} to your API key, or pass "
                    "base_url for a local server that needs none"
                )
            key = "not-needed"
        self.model = model
        self.name = f"openai:{model}"
        self.batch_size = int(batch_size)
        self._openai = openai
        self._client = openai.OpenAI(
            api_key=key, base_url=base_url, max_retries=max_retries, timeout=timeout
        )
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def _request(self, batch: list[str]) -> np.ndarray:
        where = f"{self.name} at {self._client.base_url}"
        try:
            response = self._client.embeddings.create(model=self.model, input=batch)
        except self._openai.APIStatusError as err:
            raise EmbedderError(f"{where}: HTTP {err.status_code}: {err.message}") from err
        except self._openai.APIError as err:
            raise EmbedderError(f"{where}: {type(err).__name__}: {err}") from err
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(batch):
            raise EmbedderError(f"{where}: asked for {len(batch)} embeddings, got {len(data)}")
        try:
            rows = np.array([item.embedding for item in data], dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise EmbedderError(f"{where}: embeddings are not equal-length number lists") from err
        if rows.ndim != 2 or rows.shape[1] == 0:
            raise EmbedderError(f"{where}: malformed embeddings of shape {rows.shape}")
        if not np.all(np.isfinite(rows)):
            raise EmbedderError(f"{where}: embeddings contain NaN or inf")
        return rows

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 unit rows, `batch_size` texts per request."""
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = [
            self._request(texts[i : i + self.batch_size])
            for i in range(0, len(texts), self.batch_size)
        ]
        dims = {c.shape[1] for c in chunks} | ({self._dim} if self._dim else set())
        if len(dims) != 1:
            raise EmbedderError(f"{self.name}: embedding sizes changed between calls: {dims}")
        self._dim = dims.pop()
        return normalise_rows(np.concatenate(chunks))


# ---- sentence-transformers (optional extra) -----------------------------------------


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (e.g. "all-MiniLM-L6-v2").

    The package is imported when the embedder is made (a clear error says how to
    install the `embeddings` extra); the model is loaded, and downloaded if needed, on
    first use.
    """

    def __init__(self, model_name: str, device: str | None = None, batch_size: int = 64):
        try:
            import sentence_transformers
        except ImportError as err:
            raise EmbedderError(
                f"st:{model_name} needs the sentence-transformers package: "
                "pip install 'arenax[embeddings]' (or pip install sentence-transformers)"
            ) from err
        self._module = sentence_transformers
        self.model_name = model_name
        self.name = f"st:{model_name}"
        self.device = device
        self.batch_size = int(batch_size)
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            self._model = self._module.SentenceTransformer(self.model_name, device=self.device)
        return self._model

    @property
    def dim(self) -> int:
        return int(self._load().get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 unit rows."""
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = self._load().encode(texts, batch_size=self.batch_size, convert_to_numpy=True)
        return normalise_rows(np.asarray(rows).reshape(len(texts), -1))


# ---- factory ------------------------------------------------------------------------

EMBEDDER_SPECS = ("hashed", "hashed:DIM", "openai:MODEL", "st:MODEL")


def make_embedder(spec: str, **kwargs: Any) -> Embedder:
    """An embedder from a spec string: "hashed", "hashed:DIM", "openai:MODEL", "st:MODEL".

    Extra keyword arguments go to the embedder's constructor (e.g. base_url).
    """
    kind, _, arg = spec.partition(":")
    if kind == "hashed":
        if arg:
            if not arg.isdigit():
                raise ValueError(f"embedder spec {spec!r}: DIM in hashed:DIM must be an integer")
            kwargs.setdefault("dim", int(arg))
        return HashedNgramEmbedder(**kwargs)
    if kind in ("openai", "st") and not arg:
        raise ValueError(f"embedder spec {spec!r} names no model; use {kind}:MODEL")
    if kind == "openai":
        return OpenAIEmbedder(arg, **kwargs)
    if kind == "st":
        return SentenceTransformerEmbedder(arg, **kwargs)
    raise ValueError(f"unknown embedder spec {spec!r}; use one of {', '.join(EMBEDDER_SPECS)}")
