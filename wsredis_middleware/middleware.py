"""The WSGI middleware: WebSockets under one URL prefix, relayed to and from Redis pub/sub.

    from gevent import monkey; monkey.patch_all()
    from wsredis_middleware import WebSocketRedisMiddleware
    from wsredis_middleware.server import serve

    application = WebSocketRedisMiddleware(my_wsgi_app, connection="redis://127.0.0.1:6379/0")
    serve(application, "127.0.0.1", 8000)

Requests outside ``websocket_url`` go to the wrapped application untouched; plain GETs of
``{websocket_url}wsredis.js`` (and ``.mjs``) get the browser client. A WebSocket request is
checked (handshake, facility, Origin), resolved to an identity, and its channels allowed, all
*before* the upgrade, so a refusal is a plain HTTP status.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import redis
from webob import Request

from .channels import SUBSCRIBE_KEYS, parse_query
from .client_js import CLIENT_FILES, serve_client_file
from .config import Config, require_gevent_patched
from .connection import configure, has_default
from .exceptions import ConfigurationError, HandshakeError, is_permission_denied
from .frames import CLOSE_INTERNAL_ERROR, CLOSE_POLICY_VIOLATION, CLOSE_TRY_AGAIN_LATER
from .handshake import (
    check_handshake,
    check_origin,
    facility_from_path,
    is_upgrade_request,
    switching_protocols_headers,
)
from .hub import Hub, HubUnavailable
from .limits import AddressLimiter, PublishRate, check_subscription_count
from .websocket import WebSocket

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .subscriber import RedisSubscriber

__all__ = ["WebSocketRedisMiddleware"]

logger = logging.getLogger(__name__)

#: Set by servers that let the middleware decide before upgrading (ours): a callable that
#: takes the 101 response headers, sends them, and returns ``(rfile, socket)``.
UPGRADE_ENVIRON_KEY = "wsredis.upgrade"
_STOCK_WEBSOCKET_KEY = "wsgi.websocket"  # gevent-websocket's handler: upgraded before we run


class WebSocketRedisMiddleware:
    """Wrap a WSGI application so that ``websocket_url`` serves WebSockets relayed through Redis.

    Keyword arguments are the settings of :meth:`Config.from_kwargs` (``connection``, ``expire``,
    ``prefix``, ``heartbeat``, ``allowed_channels``, ``resolver``, ...), or pass ``config=``.
    """

    def __init__(self, app: WSGIApplication, *, config: Config | None = None, **settings: Any) -> None:
        # Building the middleware does not require gevent: `flask` commands, migrations and
        # workers that only publish import the application without serving it. Servers check
        # at start-up (server.make_server) and every WebSocket request checks below.
        if config is not None and settings:
            raise TypeError("pass either config= or individual settings, not both")
        self.app = app
        self.config = config if config is not None else Config.from_kwargs(**settings)
        self.hub = Hub(self.config)
        self._reported: set[str] = set()
        self._addresses = AddressLimiter(self.config.max_sockets_per_address)
        if not has_default():
            configure(self.config)  # RedisPublisher() in this process uses these settings

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith(self.config.websocket_url):
            return self.app(environ, start_response)
        return self.handle_websocket(environ, start_response)

    def make_request(self, environ: WSGIEnvironment) -> Any:
        """The request object handed to the resolver and callbacks; integrations override this."""
        return Request(environ)

    # -- handshake -------------------------------------------------------------------------------

    def handle_websocket(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        name = environ.get("PATH_INFO", "")[len(self.config.websocket_url):]
        if name in CLIENT_FILES and environ.get("REQUEST_METHOD") in ("GET", "HEAD") \
                and not is_upgrade_request(environ):
            return serve_client_file(name, environ, start_response)
        stock = environ.get(_STOCK_WEBSOCKET_KEY)
        upgrade = environ.get(UPGRADE_ENVIRON_KEY)
        try:
            require_gevent_patched()
        except ConfigurationError as exc:
            return self._misconfigured(str(exc), start_response)
        try:
            key = None if stock is not None else check_handshake(environ)
            if stock is None and upgrade is None:
                return self._unsupported_server(environ, start_response)
            _request, subscriber, echo = self.prepare(environ)
            address = self._addresses.acquire(environ)
        except HandshakeError as exc:
            return self._refuse(exc, environ, start_response, stock)
        try:
            try:
                self._subscribe(subscriber, echo)
            except HandshakeError as exc:
                return self._refuse(exc, environ, start_response, stock)
            try:
                if stock is not None:
                    rfile, sock = stock.handler.rfile, stock.handler.socket
                    stock.closed = True  # from now on we speak the protocol; its handler must not
                else:
                    assert key is not None and upgrade is not None
                    rfile, sock = upgrade(switching_protocols_headers(key))
            except BaseException:
                subscriber.release()
                raise
            websocket = WebSocket(
                rfile, sock,
                max_message_size=self.config.max_message_size,
                send_queue_bytes=self.config.send_queue_bytes,
                close_timeout=self.config.close_timeout,
            )
            self.run_websocket(websocket, subscriber)
        finally:
            self._addresses.release(address)
        return []

    def _refuse(self, exc: HandshakeError, environ: WSGIEnvironment, start_response: StartResponse,
                stock: Any) -> Iterable[bytes]:
        """An HTTP status before the upgrade; under gevent-websocket's stock handler, a close code."""
        # %r: the path is client input, and must not write lines of its own into the log.
        logger.info("WebSocket handshake refused (%s): %r %s", exc.status, environ.get("PATH_INFO"), exc.reason)
        if stock is not None:
            code = CLOSE_TRY_AGAIN_LATER if exc.status.startswith("503") else CLOSE_POLICY_VIOLATION
            return self._close_stock(stock, code, exc.reason)
        return _respond(start_response, exc.status, exc.reason)

    def _subscribe(self, subscriber: RedisSubscriber, echo: bool) -> None:
        """Subscribe before the upgrade: once the client sees the socket open, nothing is missed."""
        try:
            subscriber.subscribe(echo=echo)
        except HubUnavailable as exc:
            logger.warning("%s", exc)
            raise HandshakeError("503 Service Unavailable", "Redis is unavailable; try again later.") from exc

    def prepare(self, environ: WSGIEnvironment) -> tuple[Any, RedisSubscriber, bool]:
        """Everything decided before the upgrade: facility, Origin, identity, allowed channels."""
        config = self.config
        facility = facility_from_path(environ, config.websocket_url)
        check_origin(environ, config.allowed_origins)
        request = self.make_request(environ)
        request.facility = facility
        try:
            if config.process_request is not None:
                config.process_request(request)
            request.identity = config.resolver(request)
            keys, echo = parse_query(environ.get("QUERY_STRING", ""))
            keys = self.allowed_channels(request, keys)
        except Exception as exc:
            if is_permission_denied(exc):
                raise HandshakeError("403 Forbidden", str(exc) or "Permission denied.") from exc
            raise
        subscriber: RedisSubscriber = config.subscriber(config)
        subscriber.hub = self.hub
        subscriber.set_pubsub_channels(request, keys)
        check_subscription_count(len(subscriber.subscribed), config.max_subscriptions)
        return request, subscriber, echo

    def allowed_channels(self, request: Any, keys: list[str]) -> list[str]:
        """Apply ``allowed_channels``: a callback's answer, a fixed list, or subscribe-only."""
        allowed = self.config.allowed_channels
        if callable(allowed):
            answer: Iterable[str] | None = allowed(request, keys)
            if answer is not None:
                return [key for key in answer if key in keys]  # never more than the client asked for
            allowed = None
        if allowed is None:
            return [key for key in keys if key in SUBSCRIBE_KEYS]
        return [key for key in keys if key in allowed]

    def _unsupported_server(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        message = (
            f"The server ({environ.get('SERVER_SOFTWARE', 'unknown')}) cannot upgrade to WebSocket. "
            "Serve the application with wsredis_middleware.server.serve(), `wsredis serve MODULE:APP`, "
            "or gunicorn -k wsredis_middleware.gunicorn.GeventWebSocketWorker."
        )
        return self._misconfigured(message, start_response, "501 Not Implemented")

    def _misconfigured(self, message: str, start_response: StartResponse,
                       status: str = "500 Internal Server Error") -> Iterable[bytes]:
        """A deployment mistake: logged once (not once per browser), answered with the fix."""
        if message not in self._reported:
            logger.error(message)
            self._reported.add(message)
        return _respond(start_response, status, message)

    def _close_stock(self, stock: Any, code: int, reason: str) -> Iterable[bytes]:
        """gevent-websocket's handler upgraded before we could refuse: close with *code* instead."""
        websocket = WebSocket(stock.handler.rfile, stock.handler.socket, max_message_size=125,
                              send_queue_bytes=4096, close_timeout=self.config.close_timeout)
        stock.closed = True
        websocket.close(code, reason)
        while websocket.receive_raw() is not None:
            pass
        websocket.flush(self.config.close_timeout)
        return []

    # -- the open socket -------------------------------------------------------------------------

    def run_websocket(self, websocket: WebSocket, subscriber: RedisSubscriber) -> None:
        """Replay persisted messages, go live, then relay until the socket closes."""
        try:
            try:
                subscriber.send_persisted_messages(websocket)
            finally:
                subscriber.start_live_delivery(websocket)
            self._relay_from_client(websocket, subscriber)
        except Exception:
            logger.exception("WebSocket session failed")
            websocket.close(CLOSE_INTERNAL_ERROR, "internal error")
        finally:
            subscriber.release()
            websocket.flush(self.config.close_timeout)
            websocket.abort()

    def _relay_from_client(self, websocket: WebSocket, subscriber: RedisSubscriber) -> None:
        heartbeat = self.config.heartbeat.encode("utf-8") if self.config.heartbeat else None
        may_publish = bool(subscriber.published)
        rate = PublishRate(self.config.max_publish_rate)
        while True:
            message = websocket.receive_raw()
            if message is None:
                return
            data = message[1]
            if not data or data == heartbeat:
                continue
            if not may_publish:
                logger.debug("dropping a client message: this socket may not publish")
                continue
            if not rate.allow():
                logger.info("closing WebSocket with 1008: it publishes faster than WS4REDIS_MAX_PUBLISH_RATE")
                websocket.close(CLOSE_POLICY_VIOLATION, "publish rate exceeded")
                continue  # read on until the peer answers the close
            try:
                subscriber.publish_message(data)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                logger.warning("could not publish a client message, Redis unavailable: %s", exc)


def _respond(start_response: StartResponse, status: str, reason: str) -> list[bytes]:
    body = (reason + "\n").encode("utf-8")
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    if status.startswith("426"):
        headers.append(("Sec-WebSocket-Version", "13"))
    start_response(status, headers)
    return [body]
