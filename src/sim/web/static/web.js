// The little the pages do in the browser: draw Mermaid graphs, and add inline
// review comments on diff lines to the review form. Everything else is plain HTML forms.
(function () {
  "use strict";
  function drawGraphs() {
    var blocks = document.querySelectorAll("pre.mermaid");
    if (!blocks.length) return;
    if (!window.mermaid) {
      blocks.forEach(function (b) {
        b.insertAdjacentHTML("beforebegin", '<p class="mermaid-failed">The graph could not be drawn (Mermaid did not load); its source follows.</p>');
      });
      return;
    }
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "default" });
    window.mermaid.run({ nodes: blocks }).then(function () {
      document.body.setAttribute("data-mermaid", "drawn");
    }).catch(function (e) {
      document.body.setAttribute("data-mermaid", "failed");
      blocks.forEach(function (b) {
        b.insertAdjacentHTML("beforebegin", '<p class="mermaid-failed">The graph could not be drawn: ' + String(e && e.message || e).replace(/[<>&]/g, "") + "</p>");
      });
    });
  }
  function pending() {
    var n = document.querySelectorAll("tr.inline-form").length;
    var c = document.getElementById("pending-count");
    if (c) c.textContent = n ? n + " pending inline comment" + (n > 1 ? "s" : "") : "";
  }
  function inlineComments() {
    document.querySelectorAll("button.add-comment").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var row = btn.closest("tr");
        var next = row.nextElementSibling;
        if (next && next.classList.contains("inline-form")) { next.querySelector("textarea").focus(); return; }
        var path = btn.closest("table.diff").getAttribute("data-path");
        var tr = document.createElement("tr");
        tr.className = "inline-form";
        var td = document.createElement("td");
        td.colSpan = 3;
        var place = document.createElement("input");
        place.type = "hidden"; place.name = "inline";
        place.value = path + "\u001f" + row.getAttribute("data-side") + "\u001f" + row.getAttribute("data-line");
        var ta = document.createElement("textarea");
        ta.name = "inline_body"; ta.rows = 3;
        ta.placeholder = "Comment on " + path + " line " + row.getAttribute("data-line") + " (sent with the review)";
        var hint = document.createElement("div");
        hint.className = "hint";
        hint.textContent = "Pending: submit the review at the top to send it. ";
        var cancel = document.createElement("button");
        cancel.type = "button"; cancel.className = "btn btn-sm"; cancel.textContent = "Cancel";
        cancel.addEventListener("click", function () { tr.remove(); pending(); });
        hint.appendChild(cancel);
        td.appendChild(place); td.appendChild(ta); td.appendChild(hint);
        tr.appendChild(td);
        row.parentNode.insertBefore(tr, row.nextSibling);
        ta.focus();
        pending();
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawGraphs(); inlineComments(); });
})();
