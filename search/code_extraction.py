"""Turn an FM's answer into a program: its source, a snake_case name and a description.

The answer format the prompts ask for (search/prompts/answer_format.md)::

    NAME: lead_pursuit_with_wall_bounce
    ```python
    \"\"\"One or two sentences on the idea (the program's description).

    Optional details.
    \"\"\"
    import jax.numpy as jnp

    def act(obs, memory, key):
        ...
    ```

Parsing is forgiving, because FMs drift from any format:
- reasoning in `<think>...</think>` is dropped first (models served by
  Ollama/vLLM often put drafts there);
- fences may use ``` or ~~~, any or no language tag, may be indented, and the
  last one may be unclosed (a cut-off answer); blocks tagged python/py (or
  untagged) are preferred, and among them the last one that defines `act`;
- an answer without fences is accepted when it is code: from its first line
  that starts a module (docstring, import, def, comment) to the end;
- the name comes from a `NAME:` line (any case, markdown bold allowed), else
  from the description's first words, else from the role and a hash;
- the description is the module docstring's first paragraph (what
  `Policy.from_module` reads), else the prose outside the code.
"""

from __future__ import annotations

import ast
import hashlib
import re
import textwrap

from arenax.search.fm_errors import ProposerError

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE_OPEN = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+.-]*)[^\n]*$"
)
_DEF_ACT = re.compile(r"^def[ \t]+act[ \t]*\(", re.MULTILINE)
_NAME_LINE = re.compile(r"^[ \t>*_#-]*name[ \t*_]*:[ \t*_]*`?(?P<name>[^`\n*]+)`?", re.IGNORECASE)
_CODE_START = re.compile(r'^(?:"""|\'\'\'|r"""|import |from |def |#|[A-Z_][A-Z0-9_]* *=)')
_PYTHON_TAGS = {"", "python", "py", "python3", "py3"}
MAX_NAME_CHARS = 48


def strip_thinking(text: str) -> str:
    """`text` without `<think>...</think>` sections and with Unix newlines."""
    return _THINK.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """All fenced blocks of `text` as `(language tag, dedented code)`, in order.

    A fence closes on a line holding the same fence characters (at least as
    many); an unclosed last fence runs to the end of the text.
    """
    lines = text.split("\n")
    blocks: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        opened = _FENCE_OPEN.match(lines[i])
        if opened is None:
            i += 1
            continue
        fence, lang = opened.group("fence"), opened.group("lang").lower()
        body: list[str] = []
        i += 1
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            body.append(lines[i])
            i += 1
        i += 1  # past the closing fence
        blocks.append((lang, textwrap.dedent("\n".join(body)).strip("\n") + "\n"))
    return blocks


def defines_act(code: str) -> bool:
    """Whether `code` defines a top-level `act` (by parsing it, or by pattern if it won't parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return _DEF_ACT.search(code) is not None
    return any(isinstance(node, ast.FunctionDef) and node.name == "act" for node in tree.body)


def _unfenced_code(text: str) -> str | None:
    """The code in an answer without fences, or None.

    The code runs from the first module-like line from which the rest parses
    and defines `act`; if no such line exists (broken code), from the first
    import/def/docstring line when `def act` appears after it, so that the
    sandbox reports the syntax error for repair.
    """
    lines = [line for line in text.split("\n") if not _NAME_LINE.match(line)]
    starts = [i for i, line in enumerate(lines) if _CODE_START.match(line)]
    suffixes = ["\n".join(lines[i:]).strip("\n") + "\n" for i in starts]
    for code in suffixes:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        if any(isinstance(node, ast.FunctionDef) and node.name == "act" for node in tree.body):
            return code
    for start, code in zip(starts, suffixes, strict=True):
        if not lines[start].startswith("#") and _DEF_ACT.search(code):
            return code
    return None


def extract_code(text: str) -> str:
    """The program in an FM answer: the Python source that defines `act`.

    Picks, among the fenced blocks tagged python/py or untagged (all blocks if
    none is), the last one that defines `act`; without fences, the answer
    itself when it is code. Raises `ProposerError("no_code")` otherwise.
    """
    text = strip_thinking(text)
    blocks = fenced_blocks(text)
    if blocks:
        python = [code for lang, code in blocks if lang in _PYTHON_TAGS]
        candidates = python or [code for _, code in blocks]
        with_act = [code for code in candidates if defines_act(code)]
        if with_act:
            return with_act[-1]
        raise ProposerError(
            "no_code",
            f"the answer has {len(blocks)} fenced block(s) but none defines "
            "act(obs, memory, key); answer with one ```python block holding the whole program",
            raw=text,
        )
    code = _unfenced_code(text)
    if code is None:
        raise ProposerError(
            "no_code",
            "the answer holds no program: expected one ```python block that defines "
            "act(obs, memory, key)",
            raw=text,
        )
    return code


def snake_case(text: str, max_chars: int = MAX_NAME_CHARS) -> str:
    """`text` as a snake_case identifier (letters, digits, underscores), at most `max_chars`."""
    text = re.sub(r"['\u2019]", "", text)  # "car's" -> "cars"
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower())
    name = ""
    for word in words:
        candidate = f"{name}_{word}" if name else word
        if len(candidate) > max_chars:
            break
        name = candidate
    if name and name[0].isdigit():
        name = f"p_{name}"[:max_chars]
    return name


def docstring_description(source: str) -> str:
    """First paragraph of the module docstring of `source`, on one line ("" if none).

    Falls back to a pattern when the source does not parse (a repair round
    will fix it, but the idea is still worth recording).
    """
    try:
        doc = ast.get_docstring(ast.parse(source)) or ""
    except SyntaxError:
        found = re.match(r'\s*[rR]?("""|\'\'\')(.*?)\1', source, re.DOTALL)
        doc = textwrap.dedent(found.group(2)).strip() if found else ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def _outside_fences(text: str) -> str:
    """`text` with its fenced blocks replaced by paragraph breaks."""
    return re.sub(r"(`{3,}|~{3,}).*?(\1|\Z)", "\n\n", text, flags=re.DOTALL)


def _prose(text: str) -> str:
    """The first paragraph of `text` outside fenced blocks and NAME lines, on one line."""
    kept = [line for line in _outside_fences(text).split("\n") if not _NAME_LINE.match(line)]
    paragraphs = [" ".join(p.split()) for p in "\n".join(kept).split("\n\n")]
    return next((p for p in paragraphs if p), "")


def answer_name(text: str, description: str, role: str, source: str) -> str:
    """The program's name: the answer's `NAME:` line, else from the description, else a hash."""
    for line in _outside_fences(strip_thinking(text)).split("\n"):
        found = _NAME_LINE.match(line)
        if found:
            name = snake_case(found.group("name"))
            if name:
                return name
    name = snake_case(" ".join(description.split()[:6]))
    if name:
        return name
    return f"{role}_{hashlib.sha1(source.encode()).hexdigest()[:8]}"


def parse_answer(text: str, role: str) -> tuple[str, str, str]:
    """`(source, name, description)` of an FM answer; raises `ProposerError("no_code")`."""
    source = extract_code(text)
    prose = strip_thinking(text).replace("\r\n", "\n").replace(source.strip("\n"), "")
    description = docstring_description(source) or _prose(prose)[:400]
    return source, answer_name(text, description, role, source), description
