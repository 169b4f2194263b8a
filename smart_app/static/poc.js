/* Point-of-care page: live evaluation, draft autosave, field visibility, ICD-10-CM search.
   No inline script (CSP). The page works without this file: every button submits the form. */
(function () {
  "use strict";

  var DEBOUNCE_MS = 350;

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  /* One request in flight per form; a change during the flight sends once more afterwards, so saves never
     arrive out of order and the last thing typed is always what the server keeps. */
  function Saver(form, url, onResult) {
    this.form = form; this.url = url; this.onResult = onResult;
    this.timer = null; this.busy = false; this.again = false;
  }
  Saver.prototype.schedule = function () {
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.send(); }, DEBOUNCE_MS);
  };
  Saver.prototype.send = function () {
    var self = this;
    if (this.busy) { this.again = true; return; }
    this.busy = true;
    var body = new URLSearchParams(new FormData(this.form));
    body.delete("action");
    setStatus("Saving…");
    fetch(this.url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(this.form), "Accept": "application/json" }
    }).then(function (resp) {
      if (resp.status === 409) {
        return resp.json().then(function (d) { setStatus(d.error || "This draft was signed elsewhere. Reload the page."); return null; });
      }
      if (resp.status === 401 || resp.status === 403) {
        setStatus("Your session ended. Your draft is saved: relaunch the app from the EHR to continue.");
        return null;
      }
      if (resp.status === 413) {
        return resp.json().then(function (d) { setStatus(d.error || "Too large to save. Shorten the longest text."); return null; },
                                function () { setStatus("Too large to save. Shorten the longest text."); return null; });
      }
      if (!resp.ok) { setStatus("Could not save (server error " + resp.status + "). Keep typing; we will retry."); return null; }
      return resp.json();
    }).then(function (data) {
      if (data) { self.onResult(data); }
    }).catch(function () {
      setStatus("Offline: not saved yet. We will retry when you type again.");
    }).then(function () {
      self.busy = false;
      if (self.again) { self.again = false; self.send(); }
    });
  };

  function setStatus(text) {
    var el = $("#poc-save-status");
    if (el) { el.textContent = text; }
  }

  function savedText(data) {
    return data.saved_at ? "Draft saved " + data.saved_at + "." : "";
  }

  /* Show only the controls the chosen codes need: a row's own controls follow its code (data-row-needs), the
     visit's shared controls follow every row's code together (data-needs). */
  function selectedOptions(form) {
    return $all("select[data-row-code]", form).map(function (sel) { return sel.options[sel.selectedIndex]; })
      .filter(function (o) { return o && o.value; });
  }
  function fieldsOf(option) { return ((option && option.getAttribute("data-fields")) || "").split(" "); }

  function applyVisibility(form) {
    var chosen = selectedOptions(form);
    var fields = [];
    chosen.forEach(function (o) { fields = fields.concat(fieldsOf(o)); });
    var group = chosen.some(function (o) { return o.getAttribute("data-group") === "1"; });
    var families = chosen.map(function (o) { return o.getAttribute("data-family"); });
    $all("fieldset[data-family]", form).forEach(function (el) {
      el.hidden = families.indexOf(el.getAttribute("data-family")) < 0;
    });
    $all("[data-needs]", form).forEach(function (el) {
      var needs = el.getAttribute("data-needs").split(" ");
      var show = chosen.length > 0 && needs.some(function (n) { return fields.indexOf(n) >= 0; });
      if (el.hasAttribute("data-group-only")) { show = show && group; }
      el.hidden = !show;
    });
    $all(".svc-row", form).forEach(function (row) {
      var sel = $("select[data-row-code]", row);
      var own = sel && sel.value ? fieldsOf(sel.options[sel.selectedIndex]) : ["minutes"];
      var n = Number(row.getAttribute("data-row")) + 1;
      var named = "Service " + n + (sel && sel.value ? ": " + sel.value : "");
      var title = $(".svc-title", row), remove = $("button[id^=remove-]", row);
      if (title && title.textContent !== named) { title.textContent = named; }
      if (remove) { remove.setAttribute("aria-label", "Remove service " + n + (sel && sel.value ? " (" + sel.value + ")" : "")); }
      var by = $("select[data-furnished]", row);
      $all("[data-row-needs]", row).forEach(function (el) {
        var show = own.indexOf(el.getAttribute("data-row-needs")) >= 0;
        if (el.hasAttribute("data-shared-only")) { show = show && !!by && by.value === "shared"; }
        el.hidden = !show;
      });
      var fam = sel && sel.value ? sel.options[sel.selectedIndex].getAttribute("data-family") : "";
      $all("[data-row-family]", row).forEach(function (el) {
        el.hidden = el.getAttribute("data-row-family") !== fam;
      });
    });
    var cur = $("#f-curriculum", form);
    var curName = cur ? cur.value : "";
    $all("[data-curriculum]", form).forEach(function (el) {
      el.hidden = el.getAttribute("data-curriculum") !== curName;
    });
    var other = $("#curriculum-other", form);
    if (other) { other.hidden = curName !== "__other__"; }
  }

  /* The code picker: an ARIA 1.2 combobox (editable, list autocomplete) over the row's native select, which
     stays the form's value and the no-JavaScript control. Searches the code and the words of its description. */
  var comboCount = 0;
  function Combobox(select) {
    var self = this;
    comboCount += 1;
    this.select = select;
    this.input = document.createElement("input");
    this.list = document.createElement("ul");
    var id = select.id + "-search";
    this.input.id = id; this.input.type = "text"; this.input.className = "combo-input";
    this.input.setAttribute("role", "combobox");
    this.input.setAttribute("aria-autocomplete", "list");
    this.input.setAttribute("aria-expanded", "false");
    this.input.setAttribute("autocomplete", "off");
    this.input.setAttribute("placeholder", "Code or words, e.g. 97110 or balance");
    this.list.id = select.id + "-list"; this.list.className = "combo-list";
    this.list.setAttribute("role", "listbox"); this.list.hidden = true;
    this.input.setAttribute("aria-controls", this.list.id);
    var label = document.querySelector("label[for='" + select.id + "']");
    if (label) { label.htmlFor = id; this.list.setAttribute("aria-label", label.textContent + " choices"); }
    this.options = $all("option", select).filter(function (o) { return o.value; }).map(function (o) {
      var group = o.parentNode && o.parentNode.label ? o.parentNode.label : "";
      return { value: o.value, text: o.textContent, hay: (o.textContent + " " + group).toLowerCase() };
    });
    select.classList.add("visually-hidden");
    select.tabIndex = -1;
    select.setAttribute("aria-hidden", "true");
    select.parentNode.insertBefore(this.input, select);
    select.parentNode.insertBefore(this.list, select.nextSibling);
    this.active = -1; this.shown = [];
    this.sync();
    this.input.addEventListener("input", function (e) { e.stopPropagation(); self.open(self.input.value); });
    this.input.addEventListener("change", function (e) { e.stopPropagation(); });
    this.input.addEventListener("keydown", function (e) { self.key(e); });
    this.input.addEventListener("blur", function () { setTimeout(function () { self.close(true); }, 150); });
    this.list.addEventListener("mousedown", function (e) { e.preventDefault(); });
    this.list.addEventListener("click", function (e) {
      var li = e.target.closest("[role=option]");
      if (li) { self.choose(li.getAttribute("data-value")); }
    });
    select.addEventListener("change", function () { self.sync(); });
    if (select.hasAttribute("autofocus")) { this.input.focus(); }
  }
  Combobox.prototype.sync = function () {
    var o = this.select.options[this.select.selectedIndex];
    this.input.value = o && o.value ? o.textContent : "";
  };
  Combobox.prototype.open = function (query) {
    var words = query.toLowerCase().split(/\s+/).filter(Boolean);
    this.shown = this.options.filter(function (o) {
      return words.every(function (w) { return o.hay.indexOf(w) >= 0; });
    }).slice(0, 30);
    var list = this.list, sid = this.select.id;
    list.textContent = "";
    this.shown.forEach(function (o, n) {
      var li = document.createElement("li");
      li.id = sid + "-opt-" + n; li.setAttribute("role", "option"); li.setAttribute("data-value", o.value);
      li.setAttribute("aria-selected", "false");
      li.textContent = o.text;
      list.appendChild(li);
    });
    if (!this.shown.length) {
      var none = document.createElement("li");
      none.className = "combo-none"; none.textContent = "No code matches.";
      list.appendChild(none);
    }
    list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.move(this.shown.length ? 0 : -1);
  };
  Combobox.prototype.move = function (n) {
    var items = $all("[role=option]", this.list);
    items.forEach(function (li) { li.setAttribute("aria-selected", "false"); });
    this.active = n;
    if (n >= 0 && items[n]) {
      items[n].setAttribute("aria-selected", "true");
      this.input.setAttribute("aria-activedescendant", items[n].id);
      items[n].scrollIntoView({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  };
  Combobox.prototype.close = function (restore) {
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    if (restore) { this.sync(); }
  };
  Combobox.prototype.choose = function (value) {
    this.select.value = value;
    this.close(false);
    this.sync();
    this.select.dispatchEvent(new Event("change", { bubbles: true }));
    this.input.focus();
  };
  Combobox.prototype.key = function (e) {
    var open = !this.list.hidden;
    if (e.key === "ArrowDown") {
      e.preventDefault();
      if (!open) { this.open(""); return; }
      this.move(Math.min(this.active + 1, this.shown.length - 1));
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      if (open) { this.move(Math.max(this.active - 1, 0)); }
    } else if (e.key === "Enter") {
      if (open && this.active >= 0) { e.preventDefault(); this.choose(this.shown[this.active].value); }
      else { e.preventDefault(); }
    } else if (e.key === "Escape") {
      if (open) { e.preventDefault(); this.close(true); }
    }
  };

  function applyResult(form, data) {
    var idInput = form.querySelector("input[name=draft_id]");
    if (idInput && data.draft_id) { idInput.value = data.draft_id; }
    var results = $("#poc-results");
    if (results && typeof data.html === "string") {
      /* The fragment is rendered and autoescaped by the server's templates. */
      results.innerHTML = data.html;
    }
    (data.rows_html || []).forEach(function (html, n) {
      var box = document.getElementById("row-result-" + n);
      if (box && typeof html === "string") { box.innerHTML = html; }
    });
    var h1 = $("h1");
    if (h1 && data.heading && h1.textContent !== data.heading) {
      h1.textContent = data.heading;
      document.title = data.heading + " — billing check";
    }
    var alloc = $("#visit-allocation");
    if (alloc && typeof data.allocation_html === "string") { alloc.innerHTML = data.allocation_html; }
    var summary = $("#poc-summary");
    if (summary && data.summary) { summary.textContent = data.summary; }
    announce(data);
    $all("[data-requires-signable]").forEach(function (btn) { btn.disabled = !data.can_review; });
    setStatus(savedText(data));
  }

  /* Screen readers hear the new summary and the blocking and warning findings, once per change. */
  function announce(data) {
    var region = $("#poc-announce");
    if (!region || !data.summary) { return; }
    var findings = (data.evaluation && data.evaluation.findings) || [];
    var said = [data.summary].concat(findings.filter(function (f) {
      return f.severity === "block" || f.severity === "warn";
    }).map(function (f) { return f.message; })).join(" ");
    if (region.textContent !== said) { region.textContent = said; }
  }

  function focusFromLink(event) {
    var link = event.target.closest("a[data-focus]");
    if (!link) { return; }
    var target = document.getElementById(link.getAttribute("data-focus"));
    if (target) {
      event.preventDefault();
      var box = target.closest("[data-needs]");
      if (box && box.hidden) { box.hidden = false; }
      target.focus();
    }
  }

  function addDiagnosis(code, description) {
    var list = $("#dx-list");
    if (!list) { return; }
    var existing = $all("input[name=dx]", list).filter(function (i) { return i.value === code; });
    if (existing.length) { existing[0].checked = true; existing[0].dispatchEvent(new Event("change", { bubbles: true })); return; }
    var id = "dx-added-" + code.replace(/[^A-Za-z0-9]/g, "");
    var wrap = document.createElement("div");
    wrap.className = "check";
    var input = document.createElement("input");
    input.type = "checkbox"; input.name = "dx"; input.value = code; input.id = id; input.checked = true;
    var label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = code + " — " + description;
    wrap.appendChild(input); wrap.appendChild(label);
    list.appendChild(wrap);
    input.dispatchEvent(new Event("change", { bubbles: true }));
    input.focus();
  }

  function searchIcd(form) {
    var box = $("#f-icd_q", form);
    var out = $("#icd-results");
    if (!box || !out || !box.value.trim()) { return; }
    var url = form.getAttribute("data-icd-url") + "?q=" + encodeURIComponent(box.value.trim());
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : { results: [] }; })
      .then(function (data) {
        out.textContent = "";
        var results = data.results || [];
        var note = document.createElement("p");
        note.textContent = results.length + " ICD-10-CM code(s) found.";
        note.setAttribute("role", "status");
        out.appendChild(note);
        results.forEach(function (r) {
          var b = document.createElement("button");
          b.type = "button"; b.className = "link-button";
          b.textContent = "Link " + r.code + " — " + r.description;
          b.addEventListener("click", function () { addDiagnosis(r.code, r.description); });
          var li = document.createElement("div");
          li.appendChild(b);
          out.appendChild(li);
        });
      });
  }

  function initDocumentForm(form) {
    var saver = new Saver(form, form.getAttribute("data-evaluate-url"), function (data) { applyResult(form, data); });
    $all("select[data-combobox]", form).forEach(function (sel) { new Combobox(sel); });
    applyVisibility(form);
    var focusNow = $("[autofocus]", form);
    if (focusNow && focusNow.tagName !== "SELECT") { focusNow.focus(); }
    form.addEventListener("input", function (e) {
      if (e.target && e.target.id === "f-icd_q") { return; }
      saver.schedule();
    });
    form.addEventListener("change", function (e) {
      if (e.target && (e.target.hasAttribute("data-row-code") || e.target.hasAttribute("data-furnished") ||
          e.target.id === "f-curriculum")) { applyVisibility(form); }
      if (e.target && e.target.id === "f-icd_q") { return; }
      saver.schedule();
    });
    var search = $("#icd-search-button", form);
    if (search) {
      search.addEventListener("click", function (e) { e.preventDefault(); searchIcd(form); });
      $("#f-icd_q", form).addEventListener("keydown", function (e) {
        if (e.key === "Enter") { e.preventDefault(); searchIcd(form); }
      });
    }
    var update = $("#poc-update", form);
    if (update) { update.hidden = true; }
  }

  function initNoteForm(form) {
    var saver = new Saver(form, form.getAttribute("data-draft-url"), function (data) { setStatus(savedText(data)); });
    var note = $("#f-note", form);
    if (note) { note.addEventListener("input", function () { saver.schedule(); }); }
  }

  /* A second click on "sign" while the first request is on its way does nothing (the server also refuses a
     second signing of the same draft). */
  function guardDoubleSubmit(form) {
    form.addEventListener("submit", function (e) {
      if (form.getAttribute("data-submitted") === "1") { e.preventDefault(); return; }
      form.setAttribute("data-submitted", "1");
      $all("button[type=submit]", form).forEach(function (b) {
        setTimeout(function () { b.disabled = true; }, 0);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("click", focusFromLink);
    var form = $("#poc-form");
    if (form) { initDocumentForm(form); }
    var noteForm = $("#poc-sign-form");
    if (noteForm) { initNoteForm(noteForm); }
    $all("form[data-once]").forEach(guardDoubleSubmit);
    $all("[data-print]").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () { window.print(); });
    });
  });
})();
