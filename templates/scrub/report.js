"use strict";
// The charge table, drawn from the page's data block (smart_app/scrub/page_data.py describes its layout):
// sorted and filtered over every charge, drawn a page of rows at a time, every value written as text.
(function () {
  var data = JSON.parse(document.getElementById("scrub-data").textContent);
  var S = data.strings, F = data.findings;
  var STATES = ["block", "warn", "clean"];
  var WORDS = { block: "Blocked", warn: "Warned", clean: "No warnings" };
  var RANK = { block: 0, warn: 1 };
  var table = document.getElementById("charges");
  var pageRows = Number(table.dataset.page) || 200;
  var shown = document.getElementById("shown");
  var more = document.getElementById("more");
  var text = document.getElementById("f-text");
  var status = document.getElementById("f-status");
  var rule = document.getElementById("f-rule");
  var clinician = document.getElementById("f-clinician");
  var collator = new Intl.Collator();

  var charges = data.charges.map(function (c, n) {
    var rank = 2, rules = [];
    c[7].forEach(function (f) {
      var r = RANK[S[F[f][0]]], name = S[F[f][1]];
      if (r !== undefined && r < rank) { rank = r; }
      if (rules.indexOf(name) < 0) { rules.push(name); }
    });
    rules.sort();
    var row = {
      order: n, date: S[c[0]], patient: S[c[1]], charge: c[2], code: S[c[3]], mods: S[c[4]],
      units: c[5] === null ? -1 : c[5], clinician: S[c[6]], status: rank, findings: c[7].length,
      list: c[7], rules: rules
    };
    row.text = [row.charge, row.patient, row.code, row.clinician].concat(rules).join(" ").toLowerCase();
    return row;
  });
  var order = charges.slice();  // every charge in the chosen sort order
  var view = [];  // the charges that pass the filters, in that order
  var drawn = 0;

  function el(tag, cls, content) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (content !== undefined) { e.textContent = content; }
    return e;
  }

  function cell(tr, content) {
    var td = el("td", null, content);
    tr.appendChild(td);
    return td;
  }

  function finding(f) {
    var x = F[f], severity = S[x[0]];
    var li = el("li", severity);
    var what = el("p");
    what.appendChild(el("span", "badge " + severity, severity));
    what.appendChild(document.createTextNode(" "));
    what.appendChild(el("code", null, S[x[1]]));
    what.appendChild(document.createTextNode(" " + S[x[2]]));
    li.appendChild(what);
    var prompt = el("p", "prompt");
    prompt.appendChild(el("strong", null, "What to do:"));
    prompt.appendChild(document.createTextNode(" " + S[x[3]]));
    li.appendChild(prompt);
    li.appendChild(el("p", "source", "Source: " + S[x[4]]));
    return li;
  }

  function body(row) {
    var state = STATES[row.status];
    var tbody = el("tbody", "charge " + state);
    var d = tbody.dataset;
    d.charge = row.charge; d.patient = row.patient; d.date = row.date; d.code = row.code;
    d.clinician = row.clinician; d.state = state; d.rules = row.rules.join(" ");
    var tr = el("tr");
    tbody.appendChild(tr);
    cell(tr, row.date || "no date");
    cell(tr, row.patient);
    cell(tr, row.charge);
    var code = cell(tr, row.code || "none");
    if (row.mods) {
      code.appendChild(document.createTextNode(" "));
      code.appendChild(el("span", "mods", row.mods));
    }
    cell(tr, row.units < 0 ? "" : String(row.units)).className = "num";
    cell(tr, row.clinician);
    cell(tr).appendChild(el("span", "badge " + state, WORDS[state]));
    var last = cell(tr, row.list.length ? undefined : "none");
    if (row.list.length) {
      var details = el("details");
      details.appendChild(el("summary", null, row.list.length + " finding" + (row.list.length === 1 ? "" : "s")));
      var list = el("ul", "findings");
      row.list.forEach(function (f) { list.appendChild(finding(f)); });
      details.appendChild(list);
      last.appendChild(details);
    }
    return tbody;
  }

  function draw(limit) {
    var end = Math.min(limit, view.length);
    var fragment = document.createDocumentFragment();
    for (; drawn < end; drawn += 1) { fragment.appendChild(body(view[drawn])); }
    table.appendChild(fragment);
    var total = charges.length;
    if (drawn >= view.length) {
      shown.textContent = view.length + " of " + total + " charges shown";
    } else {
      shown.textContent = (view.length === total ? total + " charges" : view.length + " of " + total + " charges match") +
        "; the first " + drawn + " are shown";
    }
    more.hidden = drawn >= view.length;
    more.textContent = "Show " + Math.min(pageRows, view.length - drawn) + " more";
  }

  function filter() {
    var words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
    var st = status.value, ru = rule.value, cl = clinician.value;
    view = order.filter(function (row) {
      return (!st || (st === "action" ? row.status < 2 : STATES[row.status] === st)) &&
        (!ru || row.rules.indexOf(ru) >= 0) &&
        (!cl || row.clinician === cl) &&
        words.every(function (w) { return row.text.indexOf(w) >= 0; });
    });
    while (table.tBodies.length) { table.removeChild(table.tBodies[0]); }
    drawn = 0;
    draw(pageRows);
  }

  function sortBy(button) {
    var th = button.parentNode;
    var key = button.dataset.key;
    var numeric = button.dataset.type === "number";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.querySelectorAll("th"), function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    order.sort(function (a, b) {
      var x = a[key], y = b[key];
      var c = numeric ? x - y : collator.compare(x, y);
      if (c === 0) { return a.order - b.order; }
      return ascending ? c : -c;
    });
    filter();
  }

  Array.prototype.forEach.call(table.querySelectorAll("th button"), function (button) {
    button.addEventListener("click", function () { sortBy(button); });
  });
  [text, status, rule, clinician].forEach(function (e) { e.addEventListener("input", filter); });
  document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  more.addEventListener("click", function () { draw(drawn + pageRows); });

  var opened = [];
  window.addEventListener("beforeprint", function () {
    opened = Array.prototype.filter.call(document.querySelectorAll("details"), function (d) { return !d.open; });
    opened.forEach(function (d) { d.open = true; });
  });
  window.addEventListener("afterprint", function () { opened.forEach(function (d) { d.open = false; }); });

  document.getElementById("table-ui").hidden = false;
  filter();
})();
