"""Fetching a media URL safely: the server must not become a proxy into its own network.

The host is resolved once and every address it resolves to is checked: loopback,
private, link-local (cloud metadata at 169.254.169.254), shared, reserved, multicast and
unspecified addresses are refused unless the operator allows them
(``[media] allow_private_urls``). The request then goes to the checked address itself
(with the URL's host name for HTTP and for TLS), so a second, different DNS answer
cannot redirect it. Redirects are followed by hand, each hop checked the same way.
Every fetch has a timeout, a size cap (read as a stream, stopped at the cap) and a
content-type check. See docs/configuration.md, "Media input".
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

__all__ = ["FetchError", "FetchPolicy", "Fetched", "fetch_url", "address_allowed"]

_REDIRECTS = {301, 302, 303, 307, 308}


class FetchError(Exception):
    """The URL cannot be fetched; the message says why, for the caller."""


@dataclass(frozen=True)
class FetchPolicy:
    timeout: float
    max_bytes: int
    max_redirects: int = 3
    allow_private: bool = False


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str


def address_allowed(address: str) -> bool:
    """Whether ``address`` is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def fetch_url(url: str, policy: FetchPolicy, accept: tuple[str, ...]) -> Fetched:
    """GET ``url`` under ``policy``; ``accept``: content-type prefixes allowed
    (``"image/"``...). Raises FetchError."""
    for _ in range(policy.max_redirects + 1):
        response = _get(url, policy, accept)
        if isinstance(response, Fetched):
            return response
        url = response
    raise FetchError(f"more than {policy.max_redirects} redirects")


def _get(url: str, policy: FetchPolicy, accept: tuple[str, ...]) -> Fetched | str:
    """The body, or the URL a redirect points to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("only http and https URLs can be fetched")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError("the URL's port is not valid") from None
    address = _resolve(host, port, policy.allow_private)
    literal = f"[{address}]" if ":" in address else address
    pinned = parts._replace(netloc=f"{literal}:{port}").geturl()
    headers = {
        "Host": parts.netloc.rsplit("@", 1)[-1],
        "Accept": ", ".join(f"{a}*" for a in accept),
    }
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    try:
        with (
            httpx.Client(timeout=policy.timeout, follow_redirects=False, trust_env=False) as client,
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
            return Fetched(bytes(body), content_type)
    except httpx.TimeoutException:
        raise FetchError(f"no answer within {policy.timeout:g} seconds") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"the request failed ({type(exc).__name__})") from None


def _resolve(host: str, port: int, allow_private: bool) -> str:
    """One address of ``host``, after checking all of them."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"the host {host} cannot be resolved") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise FetchError(f"the host {host} cannot be resolved")
    if not allow_private:
        blocked = [a for a in addresses if not address_allowed(a)]
        if blocked:
            raise FetchError(
                f"the host {host} resolves to a non-public address ({blocked[0]}), "
                "which this server does not fetch"
            )
    return addresses[0]
