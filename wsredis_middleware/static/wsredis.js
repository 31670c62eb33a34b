/*
 * wsredis.js: the browser client of wsredis-middleware. No dependencies.
 *
 * The API of ws4redis's client, so existing templates keep working:
 *
 *   var ws = WS4Redis({
 *     uri: "ws://example.com/ws/chat?subscribe-broadcast&publish-broadcast",
 *     connecting: function () {},            // before each connection attempt
 *     connected: function () {},             // after each successful open
 *     receive_message: function (msg) {},    // every message except heartbeats
 *     disconnected: function (event) {},     // after each close (event: the CloseEvent)
 *     heartbeat_msg: "--heartbeat--"         // WS4REDIS_HEARTBEAT, or null
 *   });
 *   ws.send_message("hello"); ws.close();
 *
 * It reconnects with exponential backoff, jitter and a cap, reset after a successful open. With a
 * heartbeat, a connection that stays silent for `max_missed_heartbeats` heartbeat periods is
 * considered dead and replaced. Each attempt gets fresh listeners and timers; nothing from an old
 * socket survives. After close() it never reconnects. Binary messages arrive as ArrayBuffer
 * (binary_type: "arraybuffer", the default) or Blob (binary_type: "blob").
 * Loaded as a classic <script> it defines window.WS4Redis; wsredis.mjs re-exports it as a module.
 */
(function (global) {
  "use strict";

  var DEFAULTS = {
    uri: null,
    connecting: null,
    connected: null,
    receive_message: null,
    disconnected: null,
    heartbeat_msg: null,
    heartbeat_interval: 5000,    // ms between heartbeat checks (the server sends one per ~4 s idle)
    max_missed_heartbeats: 3,
    reconnect_min_delay: 500,    // ms before the first retry
    reconnect_max_delay: 30000,  // ms, the cap of the exponential backoff
    binary_type: "arraybuffer"
  };

  function call(fn, arg) {
    if (typeof fn === "function") {
      try { fn(arg); } catch (err) { setTimeout(function () { throw err; }); }
    }
  }

  function WS4Redis(options) {
    if (!(this instanceof WS4Redis)) {
      return new WS4Redis(options);
    }
    var opts = {}, key;
    for (key in DEFAULTS) { opts[key] = DEFAULTS[key]; }
    for (key in options || {}) { opts[key] = options[key]; }
    if (!opts.uri) {
      throw new Error("WS4Redis: the 'uri' option is required");
    }
    if (typeof opts.uri === "string" && opts.uri.indexOf("//") === 0) {
      opts.uri = (global.location && global.location.protocol === "https:" ? "wss:" : "ws:") + opts.uri;
    }

    var self = this;
    var ws = null;
    var stopped = false;
    var attempts = 0;
    var reconnectTimer = null;
    var heartbeatTimer = null;
    var missed = 0;

    function clearTimers() {
      if (heartbeatTimer !== null) { clearInterval(heartbeatTimer); heartbeatTimer = null; }
      if (reconnectTimer !== null) { clearTimeout(reconnectTimer); reconnectTimer = null; }
    }

    function detach(socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    }

    function nextDelay() {
      var cap = Math.min(opts.reconnect_max_delay, opts.reconnect_min_delay * Math.pow(2, attempts));
      attempts += 1;
      return cap / 2 + Math.random() * cap / 2;  // "equal jitter": spread reconnect storms
    }

    function scheduleReconnect() {
      if (stopped || reconnectTimer !== null) { return; }
      reconnectTimer = setTimeout(function () {
        reconnectTimer = null;
        connect();
      }, nextDelay());
    }

    function onDead(socket, event) {
      if (socket !== ws) { return; }  // an old socket's late event: ignore it
      detach(socket);
      clearTimers();
      ws = null;
      call(opts.disconnected, event);
      scheduleReconnect();
    }

    function watchHeartbeat(socket) {
      if (!opts.heartbeat_msg) { return; }
      missed = 0;
      heartbeatTimer = setInterval(function () {
        missed += 1;
        if (missed >= opts.max_missed_heartbeats) {
          try { socket.close(4000, "heartbeat missed"); } catch (err) { /* already closing */ }
          onDead(socket, {type: "close", code: 4000, reason: "heartbeat missed", wasClean: false});
          return;
        }
        try { socket.send(opts.heartbeat_msg); } catch (err) { /* the close event follows */ }
      }, opts.heartbeat_interval);
    }

    function connect() {
      if (stopped) { return; }
      call(opts.connecting);
      var socket;
      try {
        socket = new WebSocket(opts.uri);
      } catch (err) {
        scheduleReconnect();
        return;
      }
      socket.binaryType = opts.binary_type;
      ws = socket;
      socket.onopen = function () {
        if (socket !== ws) { return; }
        attempts = 0;
        watchHeartbeat(socket);
        call(opts.connected);
      };
      socket.onmessage = function (event) {
        if (socket !== ws) { return; }
        missed = 0;  // any traffic proves the connection is alive
        if (opts.heartbeat_msg && event.data === opts.heartbeat_msg) { return; }
        call(opts.receive_message, event.data);
      };
      socket.onclose = function (event) { onDead(socket, event); };
      socket.onerror = function () { /* a close event always follows */ };
    }

    this.send_message = function (message) {
      if (!ws || ws.readyState !== 1) {
        throw new Error("WS4Redis: not connected");
      }
      ws.send(message);
    };

    this.close = function () {
      stopped = true;
      clearTimers();
      if (ws) {
        var socket = ws;
        ws = null;
        detach(socket);
        try { socket.close(1000); } catch (err) { /* already closed */ }
      }
    };

    function state(value) { return ws !== null && ws.readyState === value; }
    this.is_connecting = function () { return state(0) || (!stopped && ws === null); };
    this.is_connected = function () { return state(1); };
    this.is_closing = function () { return state(2); };
    this.is_closed = function () { return stopped || state(3); };

    connect();
    return self;
  }

  global.WS4Redis = WS4Redis;
})(typeof globalThis !== "undefined" ? globalThis : this);
