// Rubric editor: add and remove criterion rows of a Django formset. Without JavaScript the
// page shows a fixed set of rows with "Remove" checkboxes and two spare rows instead.
(function () {
  "use strict";
  var list = document.getElementById("criteria");
  var template = document.getElementById("criterion-template");
  var add = document.getElementById("add-criterion");
  if (!list || !template || !add) return;
  document.documentElement.classList.add("js");
  var total = document.getElementById("id_criteria-TOTAL_FORMS");

  function rows() { return list.querySelectorAll("fieldset[data-criterion]"); }

  function renumber() {
    var n = 0;
    rows().forEach(function (row) {
      if (row.classList.contains("removed") || row.classList.contains("spare")) return;
      n += 1;
      row.querySelector("legend .num").textContent = String(n);
      var key = row.querySelector('input[name$="-key"]');
      row.querySelector("[data-remove]").setAttribute(
        "aria-label", "Remove criterion " + n + (key && key.value ? " (" + key.value + ")" : ""));
    });
  }

  function wire(row) {
    var button = row.querySelector("[data-remove]");
    var box = row.querySelector('input[type=checkbox][name$="-DELETE"]');
    if (box && box.checked) row.classList.add("removed");
    button.hidden = false;
    button.addEventListener("click", function () {
      if (box) box.checked = true;
      row.classList.add("removed");
      renumber();
      add.focus();
    });
  }

  rows().forEach(wire);
  add.hidden = false;
  add.addEventListener("click", function () {
    var row = list.querySelector("fieldset.spare");
    if (row) {
      row.classList.remove("spare");
    } else {
      var index = Number(total.value);
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      var holder = document.createElement("div");
      holder.innerHTML = html;
      row = holder.querySelector("fieldset");
      row.classList.remove("spare");
      list.appendChild(row);
      total.value = String(index + 1);
      wire(row);
    }
    renumber();
    var key = row.querySelector('input[name$="-key"]');
    if (key) key.focus();
  });
  // A spare row the user already typed into (the page came back with errors) stays visible.
  rows().forEach(function (row) {
    var key = row.querySelector('input[name$="-key"]');
    if (key && key.value) row.classList.remove("spare");
  });
  renumber();
})();
