"""``wsredis demo``: a chat page that shows the whole path, browser -> Redis -> every browser.

The page is self-contained (no CDN): inline CSS, and the package's JavaScript client loaded from
``/ws/wsredis.js``, which the middleware serves. Chat lines travel as JSON ``{"name", "text"}``;
anything else on the facility, such as ``wsredis publish chat "hi" --broadcast``, shows as a
notice, so the page also demonstrates publishing from outside the browser.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

from .cli import EXIT_FAILURE, CommandError, check_redis, connection_url, parse_connection, server_url, start_server

__all__ = ["DEMO_FACILITY", "HEARTBEAT", "make_demo_app", "run_demo"]

DEMO_FACILITY = "chat"
HEARTBEAT = "--heartbeat--"
DEMO_SETTINGS: dict[str, Any] = {
    # The demo's sockets may publish on the broadcast channel; a real site decides this per user.
    "allowed_channels": ["subscribe-broadcast", "publish-broadcast"],
    "heartbeat": HEARTBEAT,
}


def run_demo(args: argparse.Namespace) -> int:
    """Serve the chat page until Ctrl-C; Redis as configured if reachable, else embedded."""
    from .embedded import start_embedded_redis
    from .exceptions import ConfigurationError
    from .middleware import WebSocketRedisMiddleware
    from .server import serve_until_stopped

    url = connection_url(args)
    if url is not None:
        try:
            check_redis(parse_connection(url))
        except CommandError as exc:
            print(f"wsredis: {exc} Using an embedded Redis instead.", file=sys.stderr, flush=True)
            url = None
    if url is None:
        try:
            url = start_embedded_redis()
        except ConfigurationError as exc:
            raise CommandError(str(exc), EXIT_FAILURE) from None
        where = f"embedded Redis at {url} (removed on exit)"
    else:
        where = f"Redis at {parse_connection(url).description}"
    app = WebSocketRedisMiddleware(make_demo_app(url), connection=url, **DEMO_SETTINGS)
    server = start_server(app, args.bind)
    print(
        f"wsredis demo: open {server_url(server)} in a browser ({where}).\n"
        f"  Publish from a shell: wsredis publish {DEMO_FACILITY} 'Hello from the shell' --broadcast "
        f"--redis '{url}'\n  Ctrl-C stops.",
        file=sys.stderr, flush=True,
    )
    serve_until_stopped(server, shutdown_timeout=5.0)
    return 0


def make_demo_app(redis_url: str) -> Callable[..., Iterable[bytes]]:
    """The WSGI application behind the middleware: the page at ``/``, 404 elsewhere."""
    page = render_page(redis_url).encode("utf-8")

    def demo_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in ("/", "/index.html") and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                      ("Content-Length", str(len(page))), ("Cache-Control", "no-store")])
            return [page] if environ["REQUEST_METHOD"] == "GET" else []
        body = b"Not found. The demo is at /\n"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return demo_app


def render_page(redis_url: str) -> str:
    command = f"wsredis publish {DEMO_FACILITY} 'Hello from the shell' --broadcast --redis '{redis_url}'"
    return (_PAGE.replace("{{COMMAND}}", html.escape(command))
            .replace("{{SETTINGS}}", html.escape(json.dumps({"facility": DEMO_FACILITY, "heartbeat": HEARTBEAT}))))


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsredis demo: chat</title>
<link rel="icon" href="data:,">
<style>
  :root { --ink: #1d2433; --muted: #667085; --line: #e4e7ec; --accent: #3056d3; --bg: #f6f7fb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
         color: var(--ink); background: var(--bg); }
  main { max-width: 760px; margin: 0 auto; padding: 24px 16px; }
  header { display: flex; align-items: center; justify-content: space-between; gap: 12px; }
  h1 { font-size: 1.35rem; margin: 0; }
  .status { font-size: .85rem; padding: 2px 10px; border-radius: 999px; background: #fff4e5; color: #9a5b00; }
  .status.connected { background: #e7f7ee; color: #1a7f45; }
  .status.disconnected { background: #fdecec; color: #b42318; }
  p.lead { color: var(--muted); margin: 6px 0 16px; }
  #log { list-style: none; margin: 0; padding: 12px; height: 52vh; overflow-y: auto; background: #fff;
         border: 1px solid var(--line); border-radius: 10px; }
  #log li { padding: 4px 2px; border-bottom: 1px dashed var(--line); overflow-wrap: anywhere; }
  #log li:last-child { border-bottom: 0; }
  #log .who { font-weight: 600; color: var(--accent); margin-right: 6px; }
  #log .notice { color: var(--muted); font-style: italic; }
  form { display: flex; gap: 8px; margin-top: 12px; }
  input { font: inherit; padding: 8px 10px; border: 1px solid var(--line); border-radius: 8px; background: #fff; }
  #name { width: 9rem; }
  #text { flex: 1; }
  button { font: inherit; padding: 8px 16px; border: 0; border-radius: 8px; background: var(--accent);
           color: #fff; cursor: pointer; }
  button:disabled { opacity: .5; cursor: default; }
  details { margin-top: 16px; color: var(--muted); font-size: .9rem; }
  code { font: .85rem ui-monospace, SFMono-Regular, Menlo, monospace; background: #eef0f5;
         padding: 2px 5px; border-radius: 4px; overflow-wrap: anywhere; }
</style>
</head>
<body>
<main data-settings="{{SETTINGS}}">
  <header><h1>wsredis demo: chat</h1><span id="status" class="status">connecting</span></header>
  <p class="lead">Open this page in a second window: every message goes through Redis pub/sub to every window.</p>
  <ul id="log" aria-live="polite"></ul>
  <form id="form" autocomplete="off">
    <input id="name" placeholder="your name" maxlength="40" aria-label="your name">
    <input id="text" placeholder="say something" maxlength="2000" aria-label="message" required>
    <button id="send" type="submit" disabled>Send</button>
  </form>
  <details><summary>Publish from a shell, a cron job or a task</summary>
    <p><code>{{COMMAND}}</code></p></details>
</main>
<script src="/ws/wsredis.js"></script>
<script>
(function () {
  "use strict";
  var settings = JSON.parse(document.querySelector("main").dataset.settings);
  var log = document.getElementById("log"), status = document.getElementById("status");
  var nameInput = document.getElementById("name"), textInput = document.getElementById("text");
  var sendButton = document.getElementById("send");
  nameInput.value = localStorage.getItem("wsredis-demo-name") || "guest-" + Math.floor(Math.random() * 1000);

  function setStatus(text) { status.textContent = text; status.className = "status " + text; }
  function addLine(who, text, notice) {
    var item = document.createElement("li");
    if (who) { var span = document.createElement("span"); span.className = "who"; span.textContent = who;
               item.appendChild(span); }
    var body = document.createElement("span"); body.textContent = text;
    if (notice) { body.className = "notice"; }
    item.appendChild(body); log.appendChild(item); log.scrollTop = log.scrollHeight;
  }
  function receive(message) {
    if (typeof message !== "string") {
      addLine("", "(a binary message of " + message.byteLength + " bytes)", true);
      return;
    }
    var chat = null;
    try { chat = JSON.parse(message); } catch (e) { chat = null; }
    if (chat && typeof chat.name === "string" && typeof chat.text === "string") { addLine(chat.name, chat.text); }
    else { addLine("", message, true); }
  }
  // The package's client; a few lines of plain WebSocket stand in if it could not be loaded.
  function plainClient(options) {
    var socket, closed = false;
    function open() {
      options.connecting();
      socket = new WebSocket(options.uri);
      socket.onopen = options.connected;
      socket.onmessage = function (e) { if (e.data !== options.heartbeat_msg) { options.receive_message(e.data); } };
      socket.onclose = function (e) { options.disconnected(e); if (!closed) { setTimeout(open, 2000); } };
    }
    open();
    return { send_message: function (m) { socket.send(m); }, close: function () { closed = true; socket.close(); } };
  }
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  var options = {
    uri: scheme + location.host + "/ws/" + settings.facility + "?subscribe-broadcast&publish-broadcast&echo",
    heartbeat_msg: settings.heartbeat,
    connecting: function () { setStatus("connecting"); sendButton.disabled = true; },
    connected: function () { setStatus("connected"); sendButton.disabled = false; },
    disconnected: function () { setStatus("disconnected"); sendButton.disabled = true; },
    receive_message: receive
  };
  var client = typeof WS4Redis === "function" ? WS4Redis(options) : plainClient(options);
  document.getElementById("form").addEventListener("submit", function (event) {
    event.preventDefault();
    var name = nameInput.value.trim() || "guest", text = textInput.value.trim();
    if (!text) { return; }
    localStorage.setItem("wsredis-demo-name", name);
    client.send_message(JSON.stringify({ name: name, text: text }));
    textInput.value = ""; textInput.focus();
  });
  window.addEventListener("beforeunload", function () { client.close(); });
}());
</script>
</body>
</html>
"""
