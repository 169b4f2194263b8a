"use strict";
(function () {
  var table = document.getElementById("charges");
  var bodies = Array.prototype.slice.call(table.querySelectorAll("tbody.charge"));
  var shown = document.getElementById("shown");
  var text = document.getElementById("f-text");
  var status = document.getElementById("f-status");
  var rule = document.getElementById("f-rule");
  var clinician = document.getElementById("f-clinician");

  function filter() {
    var words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    bodies.forEach(function (body) {
      var d = body.dataset;
      var ok = (!status.value || d.state === status.value) &&
        (!rule.value || d.rules.split(" ").indexOf(rule.value) >= 0) &&
        (!clinician.value || d.clinician === clinician.value) &&
        words.every(function (w) { return d.text.indexOf(w) >= 0; });
      body.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + bodies.length + " charges shown";
  }

  function sortBy(button) {
    var th = button.parentNode;
    var key = button.dataset.key;
    var numeric = button.dataset.type === "number";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.querySelectorAll("th"), function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    bodies.sort(function (a, b) {
      var x = a.dataset[key], y = b.dataset[key];
      var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      if (c === 0) { c = Number(a.dataset.order) - Number(b.dataset.order); return c; }
      return ascending ? c : -c;
    });
    bodies.forEach(function (body) { table.appendChild(body); });
  }

  Array.prototype.forEach.call(table.querySelectorAll("th button"), function (button) {
    button.addEventListener("click", function () { sortBy(button); });
  });
  [text, status, rule, clinician].forEach(function (el) { el.addEventListener("input", filter); });
  document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });

  var opened = [];
  window.addEventListener("beforeprint", function () {
    opened = Array.prototype.filter.call(document.querySelectorAll("details"), function (d) { return !d.open; });
    opened.forEach(function (d) { d.open = true; });
  });
  window.addEventListener("afterprint", function () { opened.forEach(function (d) { d.open = false; }); });
})();
