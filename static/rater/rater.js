/* Keyboard-first rating page. No framework, no network: it only helps the server form.
 *
 * - digits (rating) or a/b/t and 1/2/3 (pairwise) pick a value in the current group
 *   (the fieldset holding the focus, else the first one without a value) and move on;
 * - Tab and the arrow keys are the browser's own (one tab stop per radio group);
 * - Enter submits when every required group has a value, otherwise focuses the first
 *   missing one and says so; Ctrl/Cmd+Enter submits from the comment box;
 * - the time from page render to submit goes into the hidden time_spent_ms field;
 * - a second submit of the same page is ignored (the server is idempotent anyway).
 */
(function () {
  "use strict";

  var form = document.getElementById("rating-form");
  if (!form) {
    return;
  }
  var groups = Array.prototype.slice.call(form.querySelectorAll("fieldset.group"));
  var status = document.getElementById("kbd-status");
  var submitButton = document.getElementById("submit-rating");
  var timeField = form.querySelector("input[name=time_spent_ms]");
  var started = performance.now();
  var submitting = false;

  function isSet(group) {
    var number = group.querySelector("input[type=number]");
    if (number) {
      return number.value.trim() !== "" && number.checkValidity();
    }
    return group.querySelector("input[type=radio]:checked") !== null;
  }

  function isRequired(group) {
    return group.hasAttribute("data-required");
  }

  function legend(group) {
    var text = group.querySelector(".legend-text");
    return text ? text.textContent.trim() : "this question";
  }

  // One polite live region for both: confirmations in the muted colour, problems in red.
  function say(message, problem) {
    if (status) {
      status.textContent = message;
      status.classList.toggle("problem", Boolean(problem));
    }
  }

  function focusGroup(group, options) {
    var target = group.querySelector("input:checked") || group.querySelector("input");
    if (target) {
      target.focus(options || {});
    }
  }

  function groupOf(element) {
    for (var i = 0; i < groups.length; i += 1) {
      if (groups[i].contains(element)) {
        return groups[i];
      }
    }
    return null;
  }

  function firstUnset() {
    for (var i = 0; i < groups.length; i += 1) {
      if (!isSet(groups[i])) {
        return groups[i];
      }
    }
    return null;
  }

  function missing() {
    return groups.filter(function (group) {
      return isRequired(group) && !isSet(group);
    });
  }

  function trySubmit() {
    if (submitting) {
      return;
    }
    var gaps = missing();
    groups.forEach(function (group) {
      group.classList.toggle("invalid", gaps.indexOf(group) !== -1);
    });
    if (gaps.length) {
      say("Please answer “" + legend(gaps[0]) + "” first" +
          (gaps.length > 1 ? " (" + gaps.length + " questions left)." : "."), true);
      focusGroup(gaps[0]);
      return;
    }
    submitting = true;
    if (timeField) {
      timeField.value = String(Math.round(performance.now() - started));
    }
    if (submitButton) {
      submitButton.disabled = true;
    }
    say("Saving…");
    form.submit();
  }

  function advance(group) {
    var index = groups.indexOf(group);
    var next = groups[index + 1];
    if (next) {
      focusGroup(next);
    } else if (submitButton) {
      submitButton.focus();
    }
  }

  function pick(group, key) {
    var radios = group.querySelectorAll("input[type=radio]");
    for (var i = 0; i < radios.length; i += 1) {
      var keys = (radios[i].getAttribute("data-keys") || "").split(" ");
      if (keys.indexOf(key) !== -1) {
        radios[i].checked = true;
        radios[i].dispatchEvent(new Event("change", { bubbles: true }));
        group.classList.remove("invalid");
        say(legend(group) + ": " + radios[i].value);
        advance(group);
        return true;
      }
    }
    return false;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    trySubmit();
  });

  form.addEventListener("change", function (event) {
    var group = groupOf(event.target);
    if (group && isSet(group)) {
      group.classList.remove("invalid");
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) {
      return;
    }
    var target = event.target;
    var inForm = form.contains(target);
    if (event.key === "Enter") {
      if ((event.ctrlKey || event.metaKey) && (inForm || target === document.body)) {
        event.preventDefault();
        trySubmit();
        return;
      }
      if (event.altKey || event.shiftKey || event.ctrlKey || event.metaKey) {
        return;
      }
      // Links, buttons and other forms (skip) keep their own Enter; the comment keeps newlines.
      if (target.tagName === "TEXTAREA" || target.tagName === "BUTTON" ||
          target.tagName === "A" || target.tagName === "SUMMARY" ||
          (!inForm && target !== document.body && !target.classList.contains("text"))) {
        return;
      }
      event.preventDefault();
      trySubmit();
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey || event.key.length !== 1) {
      return;
    }
    var typing = target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
      target.isContentEditable ||
      (target.tagName === "INPUT" && target.type !== "radio");
    if (typing || (!inForm && target.closest && target.closest("#skip"))) {
      return;
    }
    var group = groupOf(target) || firstUnset();
    if (group && pick(group, event.key.toLowerCase())) {
      event.preventDefault();
    }
  });

  // Back/forward cache: a stale copy of this page (old item, used key) is fetched again,
  // with a GET (a reload of a re-rendered POST would offer to post it again).
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      window.location.replace(window.location.href);
    }
  });

  // Start on the first question still open, without scrolling past the text to rate.
  var start = firstUnset() || groups[0];
  if (start && !form.querySelector(".invalid")) {
    focusGroup(start, { preventScroll: true });
  } else if (form.querySelector(".invalid")) {
    focusGroup(form.querySelector(".invalid"));
  }
})();
