"""The loopback HTTP servers' shared framework, and their one fault-injection API.

:class:`LoopbackServer` owns everything a test server has besides its routes: a
``ThreadingHTTPServer`` on ``127.0.0.1`` (a free port) in a daemon thread, start / stop / ``with``,
:attr:`~LoopbackServer.base_url`, HTTP/1.1 keep-alive with a listen backlog deep enough for many
clients connecting at once, closing every open connection on stop, JSON responses, and faults.
A subclass implements :meth:`~LoopbackServer.respond` and nothing else; the
:class:`~tinyreason.testing.ProviderServer` (the provider APIs' wire formats) and the
:class:`~tinyreason.testing.CompletionsServer` (OpenAI-compatible completions over a model) do.

Faults, the same on every server:

* :meth:`~LoopbackServer.inject` queues faults (a kind, a :class:`~.faults.Fault`, or an HTTP
  status) for the next requests, or for the next requests about one question; each is used once.
  :meth:`~LoopbackServer.fail_next` is its short form for HTTP statuses.
* ``fault_rate`` draws a fault from ``fault_kinds`` for a share of requests, reproducibly from
  ``seed``; queued faults come first.
* Kinds: :data:`~.faults.FAULT_KINDS` (HTTP errors, ``drop``, ``slow``, ``malformed``, ``empty``
  and ``safety``, in the server's own format; any other status with ``Fault(kind, status=...)``).
* A sustained rate limit: :meth:`~LoopbackServer.limit_in_flight` refuses (429, ``Retry-After``)
  every request that arrives while ``limit`` others are served; ``limit_stats`` counts them.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar

from ..errors import ConfigError
from .faults import (
    FAULT_KINDS,
    FAULT_MESSAGES,
    MALFORMED_BODY,
    RANDOM_FAULT_KINDS,
    Fault,
    FaultQueue,
    InFlightLimit,
    LimitStats,
    openai_error,
)

__all__ = [
    "DROP",
    "LoopbackServer",
    "Request",
    "Response",
    "openai_error",  # re-exported from .faults, where the fault bodies are made
]


@dataclass(frozen=True)
class Request:
    """One HTTP request, as a :class:`LoopbackServer` hands it to :meth:`~LoopbackServer.respond`.

    Attributes:
        method: ``"GET"``, ``"POST"``...
        path: The request path, query included.
        headers: The request headers (case-insensitive ``get``; iterating gives the names).
        body: The raw body.

    Example:
        >>> Request("POST", "/v1/completions/?x=1", Message(), b'{"n": 1}').route
        '/v1/completions'
        >>> Request("POST", "/", Message(), b"not json").json() is None
        True
    """

    method: str
    path: str
    headers: Message
    body: bytes = b""

    @property
    def route(self) -> str:
        """The path without its query string or a trailing slash."""
        return self.path.split("?", 1)[0].rstrip("/")

    def json(self) -> Any:
        """The body parsed as JSON; None when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass(frozen=True)
class Response:
    """What a :class:`LoopbackServer` sends back (or :data:`DROP`: no response at all).

    Attributes:
        status: The HTTP status.
        body: The raw body.
        content_type: Its ``Content-Type``.
        headers: Extra headers.
        unsent: Called when the client had gone before the response could be written.

    Example:
        >>> Response.json(404, {"error": "no route"}).body
        b'{"error": "no route"}'
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    unsent: Callable[[], None] | None = field(default=None, compare=False)

    @classmethod
    def json(
        cls,
        status: int,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        *,
        unsent: Callable[[], None] | None = None,
    ) -> Response:
        """A JSON response."""
        return cls(
            status, json.dumps(payload).encode("utf-8"), headers=headers or {}, unsent=unsent
        )


_Server = TypeVar("_Server", bound="LoopbackServer")

#: Close the connection without sending any response (the ``drop`` fault).
DROP = Response(0)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 for tests: a subclass implements :meth:`respond`, no more.

    It serves in a daemon thread on a free port (HTTP/1.1, keep-alive), one handler thread per
    connection, and closes every connection on :meth:`stop`. Faults are injected the same way on
    every subclass (see the module's documentation): :meth:`inject` / :meth:`fail_next` queue them,
    ``fault_rate`` draws them, and :meth:`fault_response` serves one in the subclass's format.

    Subclasses set the fault settings as attributes (or dataclass fields) before calling
    ``LoopbackServer.__init__``: ``fault_rate``, ``fault_kinds``, ``seed``, ``retry_after`` and
    ``slow_seconds`` (the class defaults below otherwise).

    Args:
        host: The interface to bind; keep the loopback default.
        port: The port; 0 picks a free one.

    Example:
        >>> import urllib.request
        >>> class Echo(LoopbackServer):
        ...     def respond(self, request):
        ...         fault = self.take_fault()
        ...         if fault is not None:
        ...             return self.fault_response(fault, reply=lambda: None)
        ...         return Response.json(200, {"route": request.route})
        >>> with Echo() as server:
        ...     urllib.request.urlopen(server.base_url + "/hello").read()
        b'{"route": "/hello"}'
        >>> with Echo() as server:
        ...     server.fail_next(503)
        ...     urllib.request.urlopen(server.base_url + "/hello")
        Traceback (most recent call last):
        urllib.error.HTTPError: HTTP Error 503: Service Unavailable
    """

    #: Appended to ``http://host:port`` in :attr:`base_url` (e.g. ``"/v1"``).
    url_path: ClassVar[str] = ""
    #: The fault kinds this server can serve.
    fault_kinds_served: ClassVar[tuple[str, ...]] = FAULT_KINDS
    #: Headers sent with every HTTP error fault (e.g. to make an SDK's retries fast).
    fault_headers: ClassVar[Mapping[str, str]] = {}

    fault_rate: float = 0.0
    #: The faults ``fault_rate`` draws from; None: those of
    #: :data:`~.faults.RANDOM_FAULT_KINDS` this server serves.
    fault_kinds: Sequence[str] | None = None
    seed: int = 0
    retry_after: str = "1"
    slow_seconds: float = 2.0

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0):
        problems = self._check_settings()
        if problems:
            raise ConfigError(problems)
        self._bind = (host, port)
        kinds = self.fault_kinds
        if kinds is None:
            kinds = tuple(k for k in RANDOM_FAULT_KINDS if k in self.fault_kinds_served)
        self._faults = FaultQueue(self.fault_rate, kinds, self.seed)
        self._limit: InFlightLimit | None = None
        self._admitted = threading.local()  # per handler thread: the request now served holds one
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _check_settings(self) -> list[str]:
        """Every problem with the settings (subclasses extend it); raised as one ConfigError."""
        problems = []
        if not 0.0 <= self.fault_rate <= 1.0:
            problems.append(f"fault_rate must be between 0 and 1, got {self.fault_rate!r}")
        served, kinds = self.fault_kinds_served, self.fault_kinds
        if kinds is not None and (not kinds or any(k not in served for k in kinds)):
            problems.append(f"fault_kinds must be a non-empty subset of {served}")
        if self.slow_seconds < 0:
            problems.append("slow_seconds must be >= 0")
        return problems

    # -- what a subclass provides --------------------------------------------------------------

    def respond(self, request: Request) -> Response | None:
        """Answer one request: a :class:`Response`, :data:`DROP`, or None to send nothing.

        Called in the connection's handler thread; an exception becomes a 500.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement respond(request)")

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self: _Server) -> _Server:
        """Bind the port and serve in a daemon thread (idempotent); returns the server."""
        if self._httpd is None:
            self._stopping.clear()
            httpd = _HTTPServer(self._bind, _Handler)
            httpd.owner = self
            self._httpd = httpd
            # A short poll interval: stop() waits for it, and tests stop many servers.
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"tinyreason-{type(self).__name__}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection and free the port.

        Replies still waiting (``slow``, a latency) are abandoned.
        """
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self: _Server) -> _Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._httpd is not None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` and :attr:`url_path`; the server must be running."""
        if self._httpd is None:
            raise RuntimeError(
                f"the {type(self).__name__} is not running; call start() or use it in a "
                "`with` block"
            )
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{self.url_path}"

    def wait(self, seconds: float) -> bool:
        """Sleep, unless the server stops first; True when it is still running."""
        return not self._stopping.wait(seconds) if seconds > 0 else True

    # -- faults ------------------------------------------------------------------------------

    def inject(self, *faults: str | int | Fault, question: str | None = None) -> None:
        """Queue faults for the next requests (or the next requests about ``question``), in order.

        Each queued fault is used once; a question's own queue comes before the shared one.

        Args:
            faults: Fault kinds (``"rate_limit"``...), HTTP error statuses (``503``), or
                :class:`Fault` objects.
            question: Only requests about this question take them (where the server knows a
                request's question, as the ProviderServer does).

        Raises:
            ConfigError: an unknown fault, or one this server cannot serve.
        """
        parsed = [Fault.of(f) for f in faults]
        unserved = sorted({f.kind for f in parsed} - set(self.fault_kinds_served))
        if unserved:
            raise ConfigError(
                f"{type(self).__name__} cannot inject {unserved}; it serves "
                f"{self.fault_kinds_served}"
            )
        self._faults.add(parsed, question)

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these HTTP error statuses (one each), then serve again.

        The short form of :meth:`inject` for statuses: ``429`` is a ``rate_limit`` fault (with
        ``Retry-After``), ``503`` ``unavailable``, ``500`` and other 5xx ``server_error``...
        """
        self.inject(*(int(s) for s in statuses))

    def clear_faults(self) -> None:
        """Forget every queued fault."""
        self._faults.clear()

    def limit_in_flight(self, limit: int | None, *, retry_after: str | None = None) -> None:
        """Serve at most ``limit`` requests at once; refuse the others with 429 (None: no limit).

        A sustained rate limit (see :class:`~.faults.InFlightLimit`): a request that arrives while
        ``limit`` others are being served gets a ``rate_limit`` fault with ``retry_after`` (None:
        the server's), unserved. Admitted requests take queued and drawn faults as usual.
        """
        after = self.retry_after if retry_after is None else retry_after
        self._limit = None if limit is None else InFlightLimit(limit, after)

    @property
    def limit_stats(self) -> LimitStats | None:
        """What the in-flight limit saw (None when there is none)."""
        return None if self._limit is None else self._limit.stats()

    def take_fault(self, question: str | None = None) -> Fault | None:
        """The fault: an in-flight refusal, then the question's queue, the shared one, a draw."""
        limit = self._limit
        if limit is not None and not getattr(self._admitted, "limit", None):
            if not limit.admit():
                return limit.refusal()
            self._admitted.limit = limit  # released when this request's response is ready
        return self._faults.take(question)

    def _request_done(self) -> None:
        """The response is ready (not yet written): the request no longer counts as in flight."""
        limit = getattr(self._admitted, "limit", None)
        if limit is not None:
            self._admitted.limit = None
            limit.release()

    def fault_response(
        self,
        fault: Fault,
        *,
        reply: Callable[[], Response | None],
        error: Callable[[int, str, Mapping[str, str]], Response] | None = None,
        bodies: Mapping[str, Callable[[], Any]] | None = None,
    ) -> Response | None:
        """Serve ``fault`` in the subclass's format.

        Args:
            fault: The fault (from :meth:`take_fault`).
            reply: Makes the normal reply, sent late by a ``slow`` fault.
            error: Makes an error response ``(status, message, headers)``; default: OpenAI's
                error body.
            bodies: Makes the 200 payload of the kinds whose body depends on the format
                (``empty``, ``safety``).

        Returns:
            The response, :data:`DROP`, or None (the server stopped while ``slow`` waited).
        """
        kind = fault.kind
        status = fault.http_status
        if status is not None:
            headers = dict(self.fault_headers)
            if kind == "rate_limit":
                after = self.retry_after if fault.retry_after is None else fault.retry_after
                if after:
                    headers["Retry-After"] = after
            message = f"{FAULT_MESSAGES[kind]} (injected)"
            if error is not None:
                return error(status, message, headers)
            return Response.json(status, openai_error(status, message), headers)
        if kind == "drop":
            return DROP
        if kind == "slow":
            seconds = self.slow_seconds if fault.seconds is None else fault.seconds
            return reply() if self.wait(seconds) else None
        if kind == "malformed":
            return Response(200, MALFORMED_BODY)
        make = (bodies or {}).get(kind)
        if make is None:
            raise ConfigError(f"{type(self).__name__} cannot serve the fault {kind!r}")
        return Response.json(200, make())


class _HTTPServer(ThreadingHTTPServer):
    """Handler threads are tracked, so that stop() can close their connections and end them.

    A client that keeps its connection open (HTTP keep-alive) would otherwise leave a handler
    thread, perhaps one that has run torch, blocked until the interpreter kills it at exit, and
    torch's per-thread state does not survive that (``terminate called without an active
    exception``).
    """

    daemon_threads = True
    block_on_close = False
    # The listen backlog. socketserver's default is 5: a client opening 16 connections at once
    # (max_concurrency=16) overflows it, and the kernel resets the connections it cannot queue
    # (the client sees ReadError: connection reset by peer).
    request_queue_size = 1024
    owner: LoopbackServer

    def __init__(self, address: tuple[str, int], handler: type) -> None:
        super().__init__(address, handler)
        self._open: dict[threading.Thread, socket.socket] = {}
        self._open_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open[threading.current_thread()] = request
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is no error worth a traceback; anything else is."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_connections(self, timeout: float = 10.0) -> None:
        """Close every open connection and wait for its handler thread to end."""
        with self._open_lock:
            open_now = list(self._open.items())
        for _, connection in open_now:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        for thread, _ in open_now:
            thread.join(timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a round of requests reuses its connections
    disable_nagle_algorithm = True  # else a reply's body waits for a delayed ACK: +40 ms each
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read the server's own records, not its access log."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, self.headers, body)
        owner = self.server.owner
        try:
            response = owner.respond(request)
        except Exception as exc:  # a bug here must reach the client as a 500, not hang it
            message = f"{type(exc).__name__}: {exc}"
            response = Response.json(500, openai_error(500, message))
        finally:
            # Before the response is written: a client that reads it and sends its next
            # request at once must find this one's place free.
            owner._request_done()
        if response is None:  # nothing to say (the server is stopping)
            self.close_connection = True
        elif response is DROP:
            self._drop()
        elif not self._send(response) and response.unsent is not None:
            response.unsent()

    def _drop(self) -> None:
        # Close without a response: the client sees a disconnect, as when a proxy drops it.
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have gone already
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: Response) -> bool:
        """Write ``response``; False when the client had already gone."""
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
            self.wfile.flush()
        except OSError:  # the client gave up (timed out) first
            self.close_connection = True
            return False
        return True
