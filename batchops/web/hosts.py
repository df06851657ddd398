"""Which ``Host`` header values name the address being served: the DNS-rebinding defence.

A page on ``evil.example`` whose DNS name is re-pointed at 127.0.0.1 reaches this server with
``Host: evil.example``; refusing every name but the served address stops it before the token is even
looked at. IP literals cannot be re-pointed, so a wildcard bind (``0.0.0.0``) accepts any IP literal and
this machine's own names.
"""

from __future__ import annotations

import ipaddress
import socket

WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def split_host(value: str) -> tuple[str, int | None]:
    """``"127.0.0.1:8708"`` → ``("127.0.0.1", 8708)``; ``"[::1]:80"`` → ``("::1", 80)``; no port → None."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return value, None
        name, rest = value[1:end], value[end + 1:]
        port_text = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, port_text = value.split(":")
    else:
        name, port_text = value, ""
    port = int(port_text) if port_text.isdigit() else None
    return name.rstrip("."), port


class HostCheck:
    """Tells whether a request's ``Host`` header names the address this server listens on."""

    def __init__(self, bound_host: str, port: int) -> None:
        self.port = port
        bound = bound_host.strip("[]").lower()
        self.wildcard = bound in WILDCARDS
        names = {bound}
        if is_loopback(bound) or self.wildcard:
            names |= {"localhost", "127.0.0.1", "::1"}
        if self.wildcard:
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        self.names = frozenset(names)

    def allows(self, header: str | None) -> bool:
        """True when ``header`` is ``NAME:PORT`` with a served name and this server's port."""
        if not header:
            return False
        name, port = split_host(header)
        if port != self.port:
            return False
        return name in self.names or (self.wildcard and _is_ip(name))
