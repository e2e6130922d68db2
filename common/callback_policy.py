"""Where a callback may go: the rule that keeps callbacks from being an SSRF port scanner.

A callback target is refused unless every address its host resolves to is a public unicast
address (not loopback, private, link-local, multicast, reserved, shared/CGNAT, unspecified...),
or lies in a network the deployment allow-listed explicitly (``GRADER_CALLBACK_ALLOWED_NETWORKS``,
e.g. ``10.1.2.0/24`` for an LMS on the campus network).

Two moments check it:

- at submission time, :func:`check_callback_url` refuses what no resolution can make safe:
  schemes other than http/https, user-info, control characters or spaces, a bad port, and hosts
  that *are* numbers (``127.0.0.1``, ``2130706433``, ``0x7f.1``, ``[::1]``), without any DNS;
- at send time, :func:`resolve_target` resolves the host *once*, checks every address, and the
  sender connects to a checked address (never resolving again), so a name that changes its
  answer between the check and the connect (DNS rebinding) cannot reach an internal address.

Torch-free: the web imports it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``(host, port) -> addresses``; :func:`system_resolver` in production, a table in tests.
Resolver = Callable[[str, int], Sequence[str]]
MAX_URL_LENGTH = 2000


class CallbackRefused(ValueError):
    """The callback target is not allowed; the message says why (without network detail)."""


@dataclass(frozen=True)
class Target:
    """A callback URL taken apart, with the address to connect to (checked)."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` -> networks; ValueError names a bad entry."""
    networks: list[IPNetwork] = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"not an address or network: {entry!r}") from exc
    return tuple(networks)


def _unmapped(address: IPAddress) -> IPAddress:
    # ::ffff:127.0.0.1 reaches 127.0.0.1: judge the IPv4 address it carries.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_allowed(address: IPAddress, allowed: Iterable[IPNetwork] = ()) -> bool:
    """True for a public unicast address, or one inside an allow-listed network."""
    address = _unmapped(address)
    if any(address.version == n.version and address in n for n in allowed):
        return True
    return address.is_global and not (address.is_multicast or address.is_reserved
                                      or address.is_unspecified or address.is_loopback)


def _split(url: str) -> SplitResult:
    if len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(f"callback_url is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in url):
        raise CallbackRefused("callback_url may not hold spaces, control or non-ASCII "
                              "characters (percent-encode them)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused("callback_url must be an http or https URL with a host")
    if "@" in parts.netloc:
        raise CallbackRefused("callback_url may not hold a user name or password")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise CallbackRefused("callback_url has an invalid port") from exc
    return parts


def check_callback_syntax(url: str) -> str:
    """Refuse a URL that is not a plain http(s) URL (see :func:`check_callback_url`)."""
    _split(url)
    return url


def numeric_host(host: str) -> IPAddress | None:
    """The address a host that is a number stands for (any form the C library accepts:
    ``127.0.0.1``, ``2130706433``, ``0x7f.1``, ``::1``), else None; never uses DNS."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM,
                                   flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        return None
    return ipaddress.ip_address(str(infos[0][4][0]).split("%")[0])


def check_callback_url(url: str, allowed: Iterable[IPNetwork] = ()) -> str:
    """Refuse, without any DNS, a URL no resolution can make a safe callback target."""
    parts = _split(url)
    address = numeric_host(parts.hostname or "")
    if address is not None and not address_allowed(address, tuple(allowed)):
        raise CallbackRefused("callback_url names an address this grader does not call "
                              "(loopback, private, link-local, multicast or reserved)")
    return url


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (for TCP), through the C library."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def resolve_target(url: str, allowed: Iterable[IPNetwork] = (),
                   resolver: Resolver = system_resolver) -> Target:
    """Resolve the URL's host once and check every address; the returned target names the
    address to connect to. Raises CallbackRefused (refused by policy) or OSError (the name
    does not resolve)."""
    parts = _split(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    networks = tuple(allowed)
    addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolver(host, port)]
    if not addresses:
        raise OSError(f"{host} has no address")
    # One refused address refuses the target: a name that answers both a public and an
    # internal address could otherwise be steered to the internal one.
    if not all(address_allowed(a, networks) for a in addresses):
        raise CallbackRefused("the callback target resolves to an address this grader does "
                              "not call")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme, host=host, port=port, path=path,
                  address=str(_unmapped(addresses[0])))
