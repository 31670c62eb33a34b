/* The example's chat rooms: show what arrives on the WebSocket, send what the form holds. */
(function () {
  "use strict";

  function line(parts) {
    var item = document.createElement("li");
    parts.forEach(function (part) {
      var span = document.createElement("span");
      span.className = part[0];
      span.textContent = part[1];  // textContent: a message can never inject markup
      item.appendChild(span);
    });
    return item;
  }

  function describe(message) {
    try {
      var data = JSON.parse(message);
      if (data && typeof data === "object" && "sender" in data) {
        var to = data.recipient ? " → " + data.recipient : data.group ? " → " + data.group : "";
        return [["who", data.sender + to], ["text", data.text]];
      }
    } catch (err) { /* plain text from the broadcast room */ }
    return [["text", String(message)]];
  }

  window.chatRoom = function (options) {
    var list = document.getElementById("messages");
    var status = document.getElementById("status");
    var form = document.getElementById("composer");

    function show(message) {
      list.appendChild(line(describe(message)));
      list.scrollTop = list.scrollHeight;
    }
    function setStatus(text, state) {
      status.textContent = text;
      status.dataset.state = state;
    }

    var socket = WS4Redis({
      uri: options.uri,
      heartbeat_msg: options.heartbeat,
      connecting: function () { setStatus("connecting…", "connecting"); },
      connected: function () { setStatus("connected", "connected"); },
      disconnected: function () { setStatus("reconnecting…", "disconnected"); },
      receive_message: show
    });

    if (!form) { return socket; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = form.elements.text;
      if (options.sendThroughSocket) {
        socket.send_message(input.value);
        input.value = "";
        return;
      }
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          if (answer.error) { show(JSON.stringify({sender: "server", text: answer.error})); }
          else { input.value = ""; }
        });
    });
    return socket;
  };
})();
