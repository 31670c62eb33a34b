// The chat page: one WebSocket listens; messages are sent with a POST so the server checks them.
(function () {
  "use strict";
  var config = window.CHAT;
  var list = document.getElementById("messages");
  var status = document.getElementById("status");
  var form = document.getElementById("send");

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function label(message) {
    if (message.audience === "user") {
      return message.from === config.me ? "to " + message.to : "private";
    }
    if (message.audience === "group") { return "group " + message.to; }
    return "everyone";
  }

  function show(message) {
    var item = document.createElement("li");
    item.className = "message " + message.audience + (message.from === config.me ? " mine" : "");
    var head = document.createElement("span");
    head.className = "meta";
    head.textContent = message.from + " · " + label(message) + " · " + new Date().toLocaleTimeString();
    var body = document.createElement("span");
    body.className = "text";
    body.textContent = message.text;  // text, never HTML: messages come from other users
    item.appendChild(head);
    item.appendChild(body);
    list.appendChild(item);
    list.scrollTop = list.scrollHeight;
  }

  WS4Redis({
    uri: config.uri,
    heartbeat_msg: config.heartbeat,
    connecting: function () { setStatus("connecting", "Connecting…"); },
    connected: function () { setStatus("connected", "Connected"); },
    disconnected: function () { setStatus("disconnected", "Disconnected, retrying…"); },
    receive_message: function (data) {
      try { show(JSON.parse(data)); } catch (err) { /* not one of ours: ignore it */ }
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var target = form.elements.target.value.split(":");
    var input = form.elements.text;
    fetch(config.sendUrl, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({audience: target[0], to: target.slice(1).join(":"), text: input.value})
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      input.value = "";
      input.focus();
    }).catch(function (err) {
      setStatus("error", "Could not send: " + err.message);
    });
  });
})();
