"""HTTP for live ingest, polite and safe: `Fetcher.fetch(url) -> Fetched`.

- SSRF guard: every connection (the first and each redirect's) resolves the host and refuses loopback,
  private, link-local, shared, reserved and cloud-metadata addresses, then connects to the very address
  it checked (no second lookup an attacker's DNS could answer differently). `fetch_allow_private` lifts it.
- Only http and https; redirects followed by hand (at most MAX_REDIRECTS), each hop recorded.
- Timeouts, a size limit counted on the decoded bytes, content types checked before the body is read.
- Retries with exponential backoff on 429 and 5xx, honouring Retry-After (up to MAX_RETRY_WAIT).
- robots.txt per origin (RFC 9309: 4xx allows everything, 5xx or unreachable disallows).
- At most `fetch_per_host_concurrency` requests in flight per host, starts spaced `fetch_per_host_delay`.
- Conditional GET from the HTTP cache (ETag, Last-Modified). New validators are held until `commit()`:
  the caller commits once what was fetched is stored, so a crash never leaves a 304 hiding lost work.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import urllib.robotparser
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from ingest.state import CacheEntry, HttpCache
from rag.errors import InvalidInput, NewsragError
from rag.settings import Settings

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
RETRIES = 2  # attempts after the first, on 429, 5xx and refused connections
BACKOFF = 0.5  # seconds before the first retry, doubled each time
MAX_RETRY_WAIT = 30.0  # a Retry-After longer than this fails the URL instead of stalling the poll
ROBOTS_MAX_BYTES = 500_000
_DISALLOW_ALL = ["User-agent: *", "Disallow: /"]
CONTENT_TYPES = (
    "text/html",
    "application/xhtml+xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    "application/gzip",
    "application/x-gzip",
    "text/plain",  # feeds and sitemaps served as plain text: recognised by their content
)


class UnsafeURL(InvalidInput):
    """A URL newsrag will not fetch: not http(s), or its host resolves to a non-public address."""


class FetchFailed(NewsragError):
    """A URL could not be fetched (network, HTTP status, size, content type, robots.txt)."""


@dataclass(frozen=True)
class FetchPolicy:
    timeout: float = 10.0
    max_bytes: int = 10_000_000
    user_agent: str = "newsrag/0.1"
    allow_private: bool = False
    per_host_concurrency: int = 2
    per_host_delay: float = 0.5

    @classmethod
    def of(cls, settings: Settings) -> FetchPolicy:
        """Each field from the setting of its name after `fetch_` (`timeout`: NEWSRAG_FETCH_TIMEOUT)."""
        return cls(**{f.name: getattr(settings, f"fetch_{f.name}") for f in fields(cls)})

    @property
    def robots_agent(self) -> str:
        """The product token robots.txt rules name ('newsrag' of 'newsrag/0.1 (...)')."""
        return self.user_agent.split("/")[0].split()[0]


@dataclass(frozen=True)
class Fetched:
    """One URL's answer after redirects: a body (status 200) or `not_modified` (304, no body)."""

    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes
    redirects: tuple[str, ...] = ()
    charset: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def check_scheme(url: str) -> str:
    """The URL, stripped, if it is http(s) with a host; else UnsafeURL saying why."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port out of range)
    except ValueError as exc:
        raise UnsafeURL(f"invalid URL {url!r}: {exc}", field="url") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsafeURL(f"only http and https URLs are fetched, not {url!r}", field="url")
    if not parts.hostname:
        raise UnsafeURL(f"URL {url!r} has no host", field="url")
    return url


def public_addresses(host: str, port: int) -> list[str]:
    """The host's addresses, all of them public, or UnsafeURL naming the one that is not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(f"cannot resolve host {host!r}: {getattr(exc, 'strerror', None) or exc}") from exc
    addresses: list[str] = []
    for info in infos:
        raw = str(info[4][0]).split("%")[0]
        address = ipaddress.ip_address(raw)
        mapped = getattr(address, "ipv4_mapped", None)
        if not (mapped or address).is_global:
            raise UnsafeURL(
                f"refusing to fetch from {host!r}: it resolves to {raw}, a loopback, private, link-local or "
                "metadata address (set NEWSRAG_FETCH_ALLOW_PRIVATE=true to allow such addresses)",
                field="url",
            )
        addresses.append(raw)
    return addresses


def check_url(url: str, allow_private: bool, must_resolve: bool = True) -> str:
    """What a URL is checked for before it is accepted: http(s), and (unless private addresses are
    allowed) a host that resolves to public addresses only. A host that does not resolve is InvalidInput
    when `must_resolve` (a source added), else left for the fetch to report (one URL of a batch)."""
    url = check_scheme(url)
    if not allow_private:
        parts = urlsplit(url)
        try:
            public_addresses(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        except FetchFailed as exc:
            if must_resolve:
                raise InvalidInput(exc.message, field="url") from exc
    return url


class _PublicOnlyBackend(httpcore.SyncBackend):
    """Connects only to public addresses, to the address it checked."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = public_addresses(host, port)[0]
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, policy: FetchPolicy) -> None:
        super().__init__(trust_env=False)
        if not policy.allow_private:
            # httpx builds its pool in __init__ with no way to pass a network backend: replace it.
            self._pool = httpcore.ConnectionPool(
                ssl_context=httpx.create_ssl_context(trust_env=False),
                max_connections=100,
                max_keepalive_connections=20,
                keepalive_expiry=5.0,
                network_backend=_PublicOnlyBackend(),
            )


class _HostGate:
    """Per-host slots: at most `concurrency` in flight, starts at least `delay` seconds apart."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._delay = delay
        self._next_start = 0.0

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start)
                self._next_start = start + self._delay
            if start > now:
                time.sleep(start - now)
            yield


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass
class FetchStats:
    requests: int = 0
    conditional: int = 0
    not_modified: int = 0
    retries: int = 0


class Fetcher:
    """One HTTP client for a run (connections kept alive), thread-safe."""

    def __init__(self, policy: FetchPolicy, cache: HttpCache | None = None) -> None:
        self.policy = policy
        self.cache = cache
        self.stats = FetchStats()
        self._client = httpx.Client(
            transport=_GuardedTransport(policy),
            timeout=httpx.Timeout(policy.timeout),
            follow_redirects=False,
            headers={"User-Agent": policy.user_agent},
            trust_env=False,
        )
        self._lock = threading.Lock()
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, tuple[urllib.robotparser.RobotFileParser, str]] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._pending: dict[str, CacheEntry] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------- public
    def cached(self, url: str) -> CacheEntry | None:
        return self.cache.get(url) if self.cache is not None else None

    def fetch(self, url: str, conditional: bool = True) -> Fetched:
        """GET `url` following redirects; FetchFailed or UnsafeURL with a message naming the URL."""
        requested = check_scheme(url)
        current = requested
        hops: list[str] = []
        for _ in range(MAX_REDIRECTS + 1):
            self._check_robots(current)
            response, body = self._get(current, conditional)
            if response.status_code in REDIRECTS:
                location = response.headers.get("location", "")
                if not location:
                    raise FetchFailed(f"{current}: HTTP {response.status_code} redirect without a Location")
                hops.append(current)
                current = check_scheme(urljoin(current, location))
                continue
            if response.status_code == 304:
                return Fetched(requested, current, 304, "", b"", tuple(hops))
            if response.status_code != 200:
                raise FetchFailed(f"{current}: HTTP {response.status_code} {response.reason_phrase}".rstrip())
            self._hold_validators(current, response)
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            charset = response.charset_encoding if "charset" in response.headers.get("content-type", "") else None
            return Fetched(requested, current, 200, content_type, body, tuple(hops), charset)
        raise FetchFailed(f"{requested}: more than {MAX_REDIRECTS} redirects")

    def commit(self) -> None:
        """Store the validators of what was fetched: call once it is safely ingested."""
        with self._lock:
            entries, self._pending = list(self._pending.values()), {}
        if self.cache is not None:
            self.cache.put_many(entries)

    # ------------------------------------------------------------------------------ details
    def _gate(self, url: str) -> _HostGate:
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = _HostGate(self.policy.per_host_concurrency, self.policy.per_host_delay)
            return gate

    def _get(self, url: str, conditional: bool) -> tuple[httpx.Response, bytes]:
        headers: dict[str, str] = {}
        entry = self.cached(url) if conditional else None
        if entry is not None:
            if entry.etag:
                headers["If-None-Match"] = entry.etag
            if entry.last_modified:
                headers["If-Modified-Since"] = entry.last_modified
        for attempt in range(RETRIES + 1):
            try:
                with self._gate(url).slot():
                    self._count(conditional=bool(headers))
                    response, body = self._send(url, headers, self.policy.max_bytes, CONTENT_TYPES)
            except httpx.ConnectError as exc:
                if attempt == RETRIES:
                    raise FetchFailed(f"{url}: cannot connect: {exc}") from exc
                self._pause(BACKOFF * 2**attempt)
                continue
            status = response.status_code
            if (status == 429 or status >= 500) and attempt < RETRIES:
                wait = retry_after(response.headers.get("retry-after"))
                wait = BACKOFF * 2**attempt if wait is None else wait
                if wait > MAX_RETRY_WAIT:
                    raise FetchFailed(f"{url}: HTTP {status}, asked to retry after {wait:.0f}s")
                self._pause(wait)
                continue
            if status == 304:
                with self._lock:
                    self.stats.not_modified += 1
            return response, body
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send(
        self, url: str, headers: dict[str, str], limit: int, types: tuple[str, ...]
    ) -> tuple[httpx.Response, bytes]:
        deadline = time.monotonic() + self.policy.timeout * 3  # a server dripping bytes cannot hold us
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    return response, b""
                content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if content_type and content_type not in types:
                    raise FetchFailed(f"{url}: content type {content_type!r} is not a page, feed or sitemap")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchFailed(f"{url}: {int(declared):,} bytes, over the limit of {limit:,}")
                parts: list[bytes] = []
                size = 0
                for part in response.iter_bytes():
                    size += len(part)
                    if size > limit:
                        raise FetchFailed(f"{url}: more than {limit:,} bytes, over the limit")
                    if time.monotonic() > deadline:
                        raise FetchFailed(f"{url}: still downloading after {self.policy.timeout * 3:.0f}s")
                    parts.append(part)
                return response, b"".join(parts)
        except httpx.TimeoutException as exc:
            raise FetchFailed(f"{url}: timed out after {self.policy.timeout:g}s") from exc
        except httpx.ConnectError:
            raise
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise FetchFailed(f"{url}: invalid URL: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FetchFailed(f"{url}: {type(exc).__name__}: {exc}") from exc

    def _count(self, conditional: bool) -> None:
        with self._lock:
            self.stats.requests += 1
            self.stats.conditional += int(conditional)

    def _pause(self, seconds: float) -> None:
        with self._lock:
            self.stats.retries += 1
        time.sleep(seconds)

    def _hold_validators(self, url: str, response: httpx.Response) -> None:
        etag = response.headers.get("etag")
        modified = response.headers.get("last-modified")
        with self._lock:
            self._pending[url] = CacheEntry(url, etag, modified, datetime.now(UTC))

    def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:
            known = self._robots.get(origin)
            if known is None:
                known = self._robots[origin] = self._load_robots(origin)
        parser, why = known
        if not parser.can_fetch(self.policy.robots_agent, url):
            raise FetchFailed(f"{url}: disallowed by {origin}/robots.txt{why}")

    def _load_robots(self, origin: str) -> tuple[urllib.robotparser.RobotFileParser, str]:
        """The origin's rules, and why everything is disallowed when it is not the rules themselves."""
        parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        try:
            with self._gate(origin).slot():
                self._count(conditional=False)
                response, body = self._send(origin + "/robots.txt", {}, ROBOTS_MAX_BYTES, CONTENT_TYPES)
        except FetchFailed as exc:  # unreachable: assume complete disallow (RFC 9309)
            parser.parse(_DISALLOW_ALL)
            return parser, f" (it could not be read: {exc.message})"
        except httpx.ConnectError as exc:
            parser.parse(_DISALLOW_ALL)
            return parser, f" (it could not be read: {exc})"
        status = response.status_code
        if 300 <= status < 500:  # none (4xx), or moved away: no rules
            parser.parse([])
        elif status != 200:
            parser.parse(_DISALLOW_ALL)
            return parser, f" (it answered HTTP {status})"
        else:
            parser.parse(body.decode("utf-8", errors="replace").splitlines())
        return parser, ""
