"""Lock down a sandbox worker process before it imports JAX or runs any program.

Called first thing in a fresh worker (still single-threaded):

- network: a new, empty network namespace (unprivileged, via a user
  namespace) when the kernel allows it, so no socket can reach anything;
  and in every case the `socket` module's constructors are replaced by
  functions that raise.
- memory: `RLIMIT_DATA` (heap and anonymous mappings; unlike `RLIMIT_AS` it
  does not count XLA's thread stacks and reservations), and no core files.
- stdout goes to /dev/null; stderr stays (the parent keeps its tail for
  crash reports); `faulthandler` prints a traceback on a segfault.
"""

from __future__ import annotations

import ctypes
import faulthandler
import os
import resource
import socket
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
SOCKET_FUNCTIONS = (
    "create_connection",
    "create_server",
    "socketpair",
    "fromfd",
    "getaddrinfo",
    "gethostbyname",
    "gethostbyname_ex",
)


class NetworkDisabledError(PermissionError):
    """Raised by every socket constructor inside a sandbox worker."""


def _no_network(*args: Any, **kwargs: Any) -> Any:
    raise NetworkDisabledError("network access is disabled in sandbox workers")


class BlockedSocket(socket.socket):
    """Stands in for `socket.socket`: still a class (modules subclass it), never constructed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _no_network()


def enter_network_namespace() -> bool:
    """Move this (single-threaded) process into new user + network namespaces; True on success."""
    uid, gid = os.getuid(), os.getgid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
            return False
    except (OSError, AttributeError):
        return False
    # Keep our own uid/gid inside the namespace (otherwise they read as "nobody").
    for path, text in (
        ("/proc/self/setgroups", "deny"),
        ("/proc/self/uid_map", f"{uid} {uid} 1"),
        ("/proc/self/gid_map", f"{gid} {gid} 1"),
    ):
        try:
            with open(path, "w") as f:
                f.write(text)
        except OSError:
            pass
    return True


def block_sockets() -> None:
    """Replace the `socket` module's constructors (and `_socket.socket`) with raising stubs."""
    import _socket

    for name in SOCKET_FUNCTIONS:
        if hasattr(socket, name):
            setattr(socket, name, _no_network)
    socket.socket = socket.SocketType = BlockedSocket
    _socket.socket = _socket.SocketType = BlockedSocket


def limit_memory(memory_limit_mb: int | None) -> None:
    """RLIMIT_DATA to `memory_limit_mb` MiB (None: unchanged) and no core dumps."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_limit_mb is not None:
        limit = int(memory_limit_mb) << 20
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def isolate(memory_limit_mb: int | None) -> str:
    """Apply all of the above; returns how the network was cut ("namespace" or "sockets")."""
    network = "namespace" if enter_network_namespace() else "sockets"
    block_sockets()
    limit_memory(memory_limit_mb)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    faulthandler.enable()
    return network
