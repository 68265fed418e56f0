"""Listening sockets for rgym's local servers (`rgym view`, `rgym serve`): loopback checks and
a bound socket with a clear error."""

from __future__ import annotations

import ipaddress
import socket

from rgym.errors import RgymError

LOOPBACK_NAMES = ("localhost",)


class PortUnavailable(RgymError):
    """The address could not be bound."""


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1); a name is never assumed
    to resolve to loopback."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int, backlog: int = 128) -> socket.socket:
    """A listening, inheritable socket on ``host:port`` (port 0: a free one).

    Raises:
        PortUnavailable: the port is in use or the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it a response's body waits out the client's delayed ACK (40 ms a request)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise PortUnavailable(
            f"cannot listen on {host}:{port} ({e.strerror}); pass another --port (0 picks a free "
            "one) or --host"
        ) from None
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock
