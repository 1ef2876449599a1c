"""Which addresses are inside the network the aggregator runs in, and the guard that keeps a feed
from making it connect to them.

A feed names URLs we then request: its items' article pages (fulltext.py) and its WebSub hub
(websub/subscriber.py). Without a guard a feed could have us fetch, and publish, a page of our own
network (a metrics endpoint, a router, a cloud metadata service), or POST to it. The guard works on
the address actually connected to, for every connection of every hop: host names resolve to
anything, redirects go anywhere, and the resolver reads IPv4 spellings (127.1, 2130706433, 0x7f.1,
0177.0.0.1) that a check on the URL's text would take for host names.

Internal: every address that is not globally reachable (RFC 6890 registries, as `ipaddress` knows
them: loopback, private, shared, link-local, unique-local, unspecified, reserved, documentation),
and multicast; an IPv4-mapped or 6to4 IPv6 address counts as the IPv4 address it carries.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class InternalAddress(OSError):
    """A connection to an internal address was refused. One message for every address, so that
    a host with several refused addresses still raises this error (aiohappyeyeballs raises the
    first of several errors when all say the same)."""

    def __init__(self) -> None:
        super().__init__("refused to connect to an address inside our network")


def internal(address: IPAddress) -> bool:
    """Whether `address` is inside our network (see the module docstring)."""
    if isinstance(address, ipaddress.IPv6Address):
        address = address.ipv4_mapped or address.sixtofour or address
    return not address.is_global or address.is_multicast


def public_socket(addr_info: tuple) -> socket.socket:
    """A socket for aiohttp's connector (its `socket_factory`, given a getaddrinfo() entry) to
    connect to a public address; raises InternalAddress for an internal one, before connecting."""
    family, type_, proto, _, sockaddr = addr_info
    try:
        # The numeric form the connect will use: aiohttp may pass an IP literal as written in the
        # URL, and inet_aton reads the legacy IPv4 spellings as the socket layer does.
        if family == socket.AF_INET:
            address: IPAddress = ipaddress.IPv4Address(socket.inet_aton(sockaddr[0]))
        else:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
    except (OSError, ValueError):
        raise InternalAddress() from None  # an address we cannot read is not one we can vouch for
    if internal(address):
        raise InternalAddress()
    return socket.socket(family, type_, proto)


ANSWER_SECONDS = 3600.0  # how long on_internal_network keeps its answer for a host
MAX_ANSWERS = 100_000
_answers: dict[str, tuple[bool, float]] = {}  # host -> (answer, until when, time.monotonic)


async def on_internal_network(url: str) -> bool:
    """Whether `url` is an http(s) URL whose host is, or resolves only to, internal addresses: a
    source there may have its feed's links and hubs inside our network fetched too.

    Answers are kept for ANSWER_SECONDS per host: every poll asks, and a second resolution of
    each source's host per poll would double the DNS traffic.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return False
    kept = _answers.get(parts.hostname)
    if kept is not None and kept[1] > time.monotonic():
        return kept[0]
    answer = await _resolves_inward(parts.hostname)
    if len(_answers) >= MAX_ANSWERS:
        _answers.clear()
    _answers[parts.hostname] = (answer, time.monotonic() + ANSWER_SECONDS)
    return answer


async def _resolves_inward(hostname: str) -> bool:
    try:
        found = await asyncio.get_running_loop().getaddrinfo(hostname, None, type=socket.SOCK_STREAM)
        addresses = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found}
    except (OSError, ValueError):  # unresolvable: nothing to allow
        return False
    return bool(addresses) and all(internal(address) for address in addresses)
