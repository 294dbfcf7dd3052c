"""What a policy program may use: modules, builtins, attributes, and size limits.

One table for the static checks (`program_checks.py`), the restricted runtime
(`program_runtime.py`) and the prompts (`helper_api.py`), so they never
disagree.
"""

from __future__ import annotations

MAX_SOURCE_CHARS = 20_000
MAX_SOURCE_LINES = 800
MAX_AST_NODES = 8_000
MAX_NESTING = 60  # AST depth; the hand-written strategies reach about 20

# Modules a program may import, by full name.
IMPORTABLE_MODULES: tuple[str, ...] = (
    "math",
    "functools",
    "jax",
    "jax.numpy",
    "jax.lax",
    "jax.random",
    "jax.nn",
    "jax.tree_util",
    "arenax.envs.car_tag.dynamics",
    "arenax.envs.car_tag.dubins",
)

# Modules reachable as attributes (`jax.numpy.linalg`, `dynamics.jnp`), by name or
# package prefix. Anything else (jax.experimental, jax.config, jax.debug, ...) is hidden.
VISIBLE_MODULE_PREFIXES: tuple[str, ...] = (
    *IMPORTABLE_MODULES,
    "jax.scipy",
    "jax.tree",
    "jax.ops",
    "jax.image",
    "jax.dtypes",
)

# Modules whose public attributes are filtered further (name -> the only names visible).
MODULE_ATTRIBUTE_ALLOW: dict[str, frozenset[str]] = {
    "functools": frozenset({"partial", "reduce", "lru_cache", "cache"}),
}

# Builtins a program can call. `print` is a no-op in programs (nobody reads a worker's output).
SAFE_BUILTIN_NAMES: tuple[str, ...] = (
    "abs",
    "all",
    "any",
    "bool",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "frozenset",
    "int",
    "isinstance",
    "len",
    "list",
    "map",
    "max",
    "min",
    "pow",
    "print",
    "range",
    "reversed",
    "round",
    "set",
    "slice",
    "sorted",
    "str",
    "sum",
    "tuple",
    "zip",
    "ArithmeticError",
    "AssertionError",
    "Exception",
    "IndexError",
    "KeyError",
    "NotImplementedError",
    "RuntimeError",
    "TypeError",
    "ValueError",
    "ZeroDivisionError",
)

# Builtins that are refused with a specific hint (anything else undefined is refused too).
FORBIDDEN_NAME_HINTS: dict[str, str] = {
    "exec": "programs cannot run code from strings; write the code directly",
    "eval": "programs cannot run code from strings; write the expression directly",
    "compile": "programs cannot compile code; write the code directly",
    "open": "programs cannot touch files; everything a policy needs is in obs",
    "input": "programs cannot read input; everything a policy needs is in obs",
    "breakpoint": "remove the debugging call",
    "getattr": "access attributes directly (obs.opp_pos)",
    "setattr": "programs cannot set attributes; return new values instead",
    "delattr": "programs cannot delete attributes",
    "hasattr": "access attributes directly (obs.opp_pos)",
    "globals": "use module-level constants by name",
    "locals": "use variables by name",
    "vars": "access attributes directly",
    "dir": "the helper API and the observation fields are documented in the prompt",
    "type": "use isinstance or jnp dtypes; programs cannot create types",
    "object": "use dicts and tuples for memory",
    "super": "programs cannot define classes; use functions",
    "memoryview": "use jax.numpy arrays",
    "bytearray": "use jax.numpy arrays",
    "bytes": "use jax.numpy arrays",
    "classmethod": "programs cannot define classes; use functions",
    "staticmethod": "programs cannot define classes; use functions",
    "property": "programs cannot define classes; use functions",
    "iter": "loop with for over a range or a tuple, or with jax.lax.fori_loop / jax.lax.scan",
    "next": "loop with for over a range or a tuple, or with jax.lax.fori_loop / jax.lax.scan",
    "id": "compare values, not object identities",
    "help": "remove the call",
    "exit": "return (action, memory) from act instead",
    "quit": "return (action, memory) from act instead",
}

# Attribute names refused on any object: file access, host callbacks, global JAX state,
# compiler internals, frame and code introspection, and wrappers that copy attributes.
DENIED_ATTRIBUTES: frozenset[str] = frozenset(
    {
        # files and raw memory
        "load",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "loadtxt",
        "genfromtxt",
        "fromfile",
        "tofile",
        "dump",
        "dumps",
        "memmap",
        "ctypes",
        "from_dlpack",
        "dlpack",
        "unsafe_buffer_pointer",
        # host callbacks and global state
        "config",
        "callback",
        "pure_callback",
        "io_callback",
        "debug",
        "experimental",
        "extend",
        "ffi",
        "lib",
        "interpreters",
        "core",
        "clear_caches",
        "clear_backends",
        "distributed",
        "profiler",
        "monitoring",
        "export",
        "stages",
        "effects_barrier",
        "live_arrays",
        # compiler objects (they can write files)
        "lower",
        "compile",
        "compiler_ir",
        "as_text",
        "write_bytecode",
        # frames, code objects, generators
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "ag_frame",
        "ag_code",
        "f_back",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_code",
        "tb_frame",
        "tb_next",
        "co_code",
        "co_consts",
        "mro",
        # functools helpers that copy attributes by name
        "update_wrapper",
        "wraps",
        "singledispatch",
    }
)

ATTRIBUTE_HINT = (
    "programs may read attributes of obs, arrays and the allowed modules, but not {name!r} "
    "(files, host callbacks, global JAX settings, compiler objects and introspection are off "
    "limits); compute with jax.numpy / jax.lax instead"
)


def allowed_imports_text() -> str:
    """The importable modules as prompt text."""
    return ", ".join(IMPORTABLE_MODULES)


def module_is_visible(name: str) -> bool:
    """True if module `name` may be reached from a program (imported or as an attribute)."""
    return any(name == p or name.startswith(p + ".") for p in VISIBLE_MODULE_PREFIXES)
