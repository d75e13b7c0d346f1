"""Fetching a media URL safely: the server must not become a proxy into its own network,
and a slow server must not hold the gateway's threads.

The host is resolved once and every address it resolves to is checked: loopback,
private, link-local (cloud metadata at 169.254.169.254), shared, reserved, multicast and
unspecified addresses are refused unless the operator allows them
(``[media] allow_private_urls``), and so are IPv6 addresses that carry an IPv4 one
(IPv4-mapped and -compatible, SIIT, NAT64, 6to4, Teredo) when that IPv4 address is not
public. The request then goes to the checked address itself (with the URL's host name
for HTTP and for TLS), so a second, different DNS answer cannot redirect it. Redirects
are followed by hand, each hop checked the same way. An error message names the host
the client gave, never the addresses it resolved to.

A fetch has one deadline for all of it (the DNS lookups, every redirect, every byte):
a server that sends a byte at a time is cut off when it is reached. Fetches and DNS
lookups run on small pools of threads of their own (``Fetcher``), so a slow server holds
one of those and nothing else. There is also a size cap (read as a stream, stopped at
the cap) and a content-type check. See docs/configuration.md, "Media input".
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

__all__ = ["FetchError", "FetchPolicy", "Fetched", "Fetcher", "address_allowed"]

T = TypeVar("T")

_REDIRECTS = {301, 302, 303, 307, 308}
_FETCH_THREADS = 8
_DNS_THREADS = 4

# IPv6 ranges whose addresses carry an IPv4 address (RFC 4291, 6145, 6052, 8215).
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class FetchError(Exception):
    """The URL cannot be fetched; the message says why, for the caller."""


@dataclass(frozen=True)
class FetchPolicy:
    timeout: float
    """Seconds for the whole fetch: DNS, redirects and the body."""
    max_bytes: int
    max_redirects: int = 3
    allow_private: bool = False


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str


def address_allowed(address: str) -> bool:
    """Whether ``address`` is a public unicast address, and so is every IPv4 address it
    carries."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        carried = _carried_ipv4(ip)
        if ip.ipv4_mapped is not None:
            return _public(carried[0])
        if not all(_public(v4) for v4 in carried):
            return False
    return _public(ip)


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def _carried_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for, if it is of a translated form."""
    value = int(ip)
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _SIIT or ip in _NAT64 or ip in _COMPATIBLE:
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if ip in _NAT64_LOCAL:
        # RFC 6052 with a /48 prefix: bits 48-63 and 72-87 (bits 64-71 are zero); and
        # the /96 layout, which an operator may use inside this range too.
        split = ((value >> 64) & 0xFFFF) << 16 | (value >> 40) & 0xFFFF
        return [ipaddress.IPv4Address(split), ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    return []


class Fetcher:
    """Fetches media URLs on threads of its own: ``_FETCH_THREADS`` for the requests and
    ``_DNS_THREADS`` for the lookups (``getaddrinfo`` has no timeout of its own, so a
    lookup is waited for until the fetch's deadline and then abandoned to its thread)."""

    def __init__(self) -> None:
        self._fetches = ThreadPoolExecutor(_FETCH_THREADS, thread_name_prefix="glmserve-fetch")
        self._lookups = ThreadPoolExecutor(_DNS_THREADS, thread_name_prefix="glmserve-dns")

    def close(self) -> None:
        self._fetches.shutdown(wait=False, cancel_futures=True)
        self._lookups.shutdown(wait=False, cancel_futures=True)

    def fetch(self, url: str, policy: FetchPolicy, accept: tuple[str, ...]) -> Fetched:
        """GET ``url`` under ``policy``; ``accept``: content-type prefixes allowed
        (``"image/"``...). Blocks until the answer or the deadline; raises FetchError."""
        deadline = time.monotonic() + policy.timeout
        future = self._fetches.submit(_fetch, url, policy, accept, deadline, self._resolver)
        # The thread stops by itself soon after the deadline (each of its reads has a
        # timeout, and it checks the clock between them); this caller does not wait.
        return _within(future, deadline, policy.timeout)

    def _resolver(self, host: str, port: int, deadline: float, timeout: float) -> list[str]:
        future = self._lookups.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            infos = _within(future, deadline, timeout)
        except (OSError, UnicodeError):
            raise FetchError(f"the host {host} cannot be resolved") from None
        return [str(info[4][0]) for info in infos]


Resolver = Callable[[str, int, float, float], list[str]]


def _within(future: Future[T], deadline: float, timeout: float) -> T:
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        future.cancel()
        raise FetchError(f"it did not arrive within {timeout:g} seconds") from None


def _fetch(
    url: str, policy: FetchPolicy, accept: tuple[str, ...], deadline: float, resolve: Resolver
) -> Fetched:
    for _ in range(policy.max_redirects + 1):
        response = _get(url, policy, accept, deadline, resolve)
        if isinstance(response, Fetched):
            return response
        url = response
    raise FetchError(f"more than {policy.max_redirects} redirects")


def _get(
    url: str, policy: FetchPolicy, accept: tuple[str, ...], deadline: float, resolve: Resolver
) -> Fetched | str:
    """The body, or the URL a redirect points to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("only http and https URLs can be fetched")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError("the URL's port is not valid") from None
    address = _checked_address(host, resolve(host, port, deadline, policy.timeout), policy)
    literal = f"[{address}]" if ":" in address else address
    pinned = parts._replace(netloc=f"{literal}:{port}").geturl()
    headers = {
        "Host": parts.netloc.rsplit("@", 1)[-1],
        "Accept": ", ".join(f"{a}*" for a in accept),
    }
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    late = FetchError(f"it did not arrive within {policy.timeout:g} seconds")
    # Each connect and read waits at most what is left of the fetch's time.
    timeout = max(0.001, min(policy.timeout, deadline - time.monotonic()))
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream("GET", pinned, headers=headers, extensions=extensions) as response,
        ):
            if response.status_code in _REDIRECTS and "location" in response.headers:
                return urljoin(url, response.headers["location"])
            if response.status_code != 200:
                raise FetchError(f"the server answered HTTP {response.status_code}")
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if not any(content_type.startswith(a) for a in accept):
                wanted = " or ".join(f"{a}*" for a in accept)
                raise FetchError(f"its content type is {content_type or 'missing'}, not {wanted}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > policy.max_bytes:
                raise FetchError(f"it is larger than {policy.max_bytes} bytes")
            body = bytearray()
            for piece in response.iter_bytes():
                body += piece
                if len(body) > policy.max_bytes:
                    raise FetchError(f"it is larger than {policy.max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise late
            return Fetched(bytes(body), content_type)
    except httpx.TimeoutException:
        raise late from None
    except httpx.HTTPError as exc:
        raise FetchError(f"the request failed ({type(exc).__name__})") from None


def _checked_address(host: str, addresses: list[str], policy: FetchPolicy) -> str:
    """One address of ``host``, after checking all of them. The message names the host
    only: the addresses are the server's network's business, not the client's."""
    if not addresses:
        raise FetchError(f"the host {host} cannot be resolved")
    if not policy.allow_private and not all(address_allowed(a) for a in addresses):
        raise FetchError(
            f"the host {host} resolves to a non-public address, which this server does not fetch"
        )
    return addresses[0]
