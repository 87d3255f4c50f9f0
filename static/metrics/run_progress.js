/* Metric run panel (templates/metrics/_run_panel.html): start a run, show its progress, cancel.
 * Polls the run's progress endpoint while the run is pending or running. No framework, no CDN.
 * Every text from the server (errors, metric names) goes in through textContent, never as HTML.
 */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var RETRY_MS = 5000;

  function cookie(name) {
    var found = document.cookie.split(";").map(function (part) { return part.trim(); })
      .filter(function (part) { return part.indexOf(name + "=") === 0; })[0];
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  function firstError(body, status) {
    if (body && typeof body === "object") {
      if (typeof body.detail === "string") { return body.detail; }
      for (var key in body) {
        var value = body[key];
        if (Array.isArray(value) && value.length) { return key + ": " + value[0]; }
        if (typeof value === "string") { return key + ": " + value; }
      }
    }
    return "request failed (HTTP " + status + ")";
  }

  function RunPanel(panel) {
    this.panel = panel;
    this.bar = panel.querySelector("[data-run-bar]");
    this.text = panel.querySelector("[data-run-text]");
    this.error = panel.querySelector("[data-run-error]");
    this.skipped = panel.querySelector("[data-run-skipped]");
    this.start = panel.querySelector("[data-run-start]");
    this.cancel = panel.querySelector("[data-run-cancel]");
    this.timer = null;
    this.run = null;
    this.pollMs = Number(panel.getAttribute("data-poll-ms")) || POLL_MS;
    var self = this;
    this.start.addEventListener("click", function () { self.startRun(); });
    this.cancel.addEventListener("click", function () { self.cancelRun(); });
    var runId = panel.getAttribute("data-run-id");
    var status = panel.getAttribute("data-status");
    if (runId && (status === "pending" || status === "running")) {
      this.run = { id: Number(runId), active: true };
      this.schedule();
    }
  }

  RunPanel.prototype.runsUrl = function (suffix) {
    return this.panel.getAttribute("data-start-url") + this.run.id + "/" + (suffix || "");
  };

  RunPanel.prototype.request = function (method, url, body) {
    var token = this.panel.getAttribute("data-csrf") || cookie("csrftoken");
    var options = {
      method: method, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": token }
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      if (response.status === 204) { return null; }
      return response.json().catch(function () { return null; }).then(function (data) {
        // 409: a run is already active; its progress comes back and is shown.
        if (!response.ok && response.status !== 409) {
          throw new Error(firstError(data, response.status));
        }
        return data;
      });
    });
  };

  RunPanel.prototype.show = function (run) {
    this.run = run;
    this.panel.setAttribute("data-status", run ? run.status : "none");
    if (!run) {
      this.text.textContent = "No metric run yet.";
      this.bar.max = 1;
      this.bar.value = 0;
      this.start.disabled = false;
      this.cancel.hidden = true;
      return;
    }
    this.panel.setAttribute("data-run-id", String(run.id));
    var total = run.chunks_total || 0;
    this.bar.max = total > 0 ? total : 1;
    this.bar.value = total > 0 ? run.chunks_done : (run.active ? 0 : 1);
    this.text.textContent = run.text;
    this.error.textContent = run.error || "";
    this.error.hidden = !run.error;
    var skipped = Object.keys(run.skipped || {}).map(function (name) {
      return name + " (" + run.skipped[name] + ")";
    });
    this.skipped.textContent = skipped.length ? "Not computed: " + skipped.join("; ") : "";
    this.skipped.hidden = !skipped.length;
    this.start.disabled = run.active;
    this.cancel.hidden = !run.active;
    if (run.active) { this.schedule(); } else { this.stop(); }
  };

  RunPanel.prototype.fail = function (error) {
    this.stop();
    this.error.textContent = error.message;
    this.error.hidden = false;
    this.start.disabled = false;
  };

  RunPanel.prototype.schedule = function () {
    var self = this;
    this.stop();
    this.timer = window.setTimeout(function () { self.poll(); }, this.pollMs);
  };

  RunPanel.prototype.stop = function () {
    if (this.timer !== null) { window.clearTimeout(this.timer); this.timer = null; }
  };

  RunPanel.prototype.poll = function () {
    var self = this;
    var url = this.run ? this.runsUrl() : this.panel.getAttribute("data-latest-url");
    this.request("GET", url).then(function (run) { self.show(run); }, function (error) {
      // A lost connection or a restarting server must not freeze the bar: say so, keep
      // the run's state and try again more slowly.
      self.fail(error);
      if (self.run && self.run.active) {
        self.start.disabled = true;
        self.timer = window.setTimeout(function () { self.poll(); }, RETRY_MS);
      }
    });
  };

  RunPanel.prototype.startRun = function () {
    var self = this;
    this.start.disabled = true;
    this.error.hidden = true;
    this.text.textContent = "Starting…";
    this.request("POST", this.panel.getAttribute("data-start-url"), {})
      .then(function (run) { self.show(run); }, function (error) { self.fail(error); });
  };

  RunPanel.prototype.cancelRun = function () {
    var self = this;
    if (!this.run) { return; }
    this.cancel.disabled = true;
    this.request("POST", this.runsUrl("cancel/"))
      .then(function (run) { self.cancel.disabled = false; self.show(run); },
            function (error) { self.cancel.disabled = false; self.fail(error); });
  };

  function init() {
    var panels = document.querySelectorAll("[data-metric-run]");
    for (var i = 0; i < panels.length; i++) { new RunPanel(panels[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
