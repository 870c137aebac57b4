// Loaded by templates/nudges/index.html (a static file, so the CSP can forbid inline script).
// Stream nudges: open the Server-Sent Events stream, then start a scan; each nudge the scan
// stores arrives as an event carrying its server-rendered (escaped) card.
(function () {
  var button = document.getElementById("stream-nudges");
  var list = document.getElementById("nudge-list");
  var status = document.getElementById("stream-status");
  var received = 0;
  if (!button) return;
  // The scan form beside the button carries the CSRF token (no template values in static files).
  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  button.addEventListener("click", function () {
    button.disabled = true;
    var url = button.dataset.streamUrl + "?html=1&last_event_id=" + encodeURIComponent(button.dataset.lastId);
    var source = new EventSource(url);
    source.onopen = function () { status.textContent = "Streaming…"; };
    source.addEventListener("nudge", function (event) {
      var data = JSON.parse(event.data);
      if (document.getElementById("nudge-" + data.id)) return;
      var empty = document.getElementById("no-nudges");
      if (empty) empty.remove();
      list.insertAdjacentHTML("afterbegin", data.html);
      htmx.process(document.getElementById("nudge-" + data.id));
      received += 1;
      status.textContent = "Streaming… " + received + " new nudge" + (received === 1 ? "" : "s");
    });
    fetch(button.dataset.scanUrl, {method: "POST", headers: {"X-CSRFToken": csrfToken(), "HX-Request": "true"}});
  });
})();
