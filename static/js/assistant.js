// The co-pilot's answer stream: each pending answer opens its Server-Sent Events stream, shows the
// steps as they arrive and swaps in the server-rendered (autoescaped) answer at the end.
(function () {
  "use strict";

  function follow(article) {
    var url = article.getAttribute("data-stream");
    if (!url || article.dataset.following) return;
    article.dataset.following = "1";
    var steps = article.querySelector(".steps");
    var source = new EventSource(url);
    source.addEventListener("step", function (event) {
      var step = JSON.parse(event.data);
      var li = document.createElement("li");
      li.className = "step-" + step.kind;
      li.textContent = step.text;
      steps.appendChild(li);
    });
    source.addEventListener("answer", function (event) {
      source.close();
      var data = JSON.parse(event.data);
      var template = document.createElement("template");
      template.innerHTML = data.html.trim();
      var fresh = template.content.firstElementChild;
      article.replaceWith(fresh);
      if (window.htmx) window.htmx.process(fresh);
    });
    source.addEventListener("error", function (event) {
      if (event.data) {
        source.close();
        var p = document.createElement("p");
        p.className = "muted";
        p.textContent = JSON.parse(event.data).message;
        article.appendChild(p);
        article.removeAttribute("aria-busy");
      }
    });
  }

  function scan(root) {
    (root || document).querySelectorAll("article.answer[data-stream]").forEach(follow);
  }

  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:afterSwap", function () { scan(document); });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!form || form.id !== "ask-form") return;
    var target = document.getElementById("ask-error");
    if (event.detail.successful) {
      form.reset();
      target.textContent = "";
    } else {
      // The server answers a refused question with plain text (its reason); shown as text, never HTML.
      target.textContent = event.detail.xhr.responseText || "The question could not be sent.";
    }
  });
})();
