// Campaign page: live progress from GET /api/campaigns/<slug>/progress/ every few seconds,
// confirmation for destructive buttons, and select-on-focus for links to copy. The page is
// complete without it (server-rendered tables).
(function () {
  "use strict";
  var REFRESH_MS = 5000;

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
  document.querySelectorAll("input.copy").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });

  var section = document.getElementById("progress");
  if (!section || !window.fetch) return;
  var url = section.getAttribute("data-progress-url");

  function cell(tag, text) {
    var el = document.createElement(tag);
    el.textContent = text;  // untrusted names: never innerHTML
    if (tag === "th") el.scope = "row";
    return el;
  }

  function link(template, rater, text) {
    var a = document.createElement("a");
    a.href = template.replace("__rater__", encodeURIComponent(rater));
    a.textContent = text;
    return a;
  }

  function empty(body, columns, text) {
    var tr = document.createElement("tr");
    var td = cell("td", text);
    td.colSpan = columns;
    td.className = "muted";
    tr.appendChild(td);
    body.replaceChildren(tr);
  }

  function renderSystems(systems) {
    var body = document.querySelector("#progress-systems tbody");
    if (!systems.length) return empty(body, 5, "No outputs yet.");
    body.replaceChildren.apply(body, systems.map(function (s) {
      var tr = document.createElement("tr");
      var pct = Math.round(s.coverage * 100);
      tr.append(cell("th", s.name), cell("td", s.outputs), cell("td", s.submitted),
                cell("td", s.assigned));
      var td = document.createElement("td");
      td.className = "coverage";
      var meter = document.createElement("span");
      meter.className = "meter";
      var fill = document.createElement("span");
      fill.style.width = Math.min(pct, 100) + "%";
      meter.appendChild(fill);
      td.append(meter, " " + pct + "%");
      tr.appendChild(td);
      return tr;
    }));
  }

  function renderRaters(raters) {
    var body = document.querySelector("#progress-raters tbody");
    if (!raters.length) return empty(body, 5, "No rater has started yet.");
    var reset = section.getAttribute("data-reset-url");
    var reassign = section.getAttribute("data-reassign-url");
    body.replaceChildren.apply(body, raters.map(function (r) {
      var tr = document.createElement("tr");
      tr.append(cell("th", r.rater), cell("td", r.done), cell("td", r.assigned),
                cell("td", r.total));
      var td = document.createElement("td");
      td.className = "row-actions";
      td.append(link(reset, r.rater, "Reset"), " ", link(reassign, r.rater, "Reassign"));
      tr.appendChild(td);
      return tr;
    }));
  }

  function refresh() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        section.querySelector('[data-field="done"]').textContent = data.done;
        section.querySelector('[data-field="total"]').textContent = data.total;
        var bar = section.querySelector('[data-field="bar"]');
        bar.max = data.total || 1;
        bar.value = data.done;
        renderSystems(data.systems || []);
        renderRaters(data.raters || []);
        section.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* offline for a moment: keep the last figures */ });
  }

  section.querySelector(".live").hidden = false;
  window.setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
})();
