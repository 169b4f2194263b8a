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

  /* Show only the controls the chosen code needs (data-needs="minutes" etc.). */
  function applyVisibility(form) {
    var select = $("#f-code", form);
    if (!select) { return; }
    var option = select.options[select.selectedIndex];
    var fields = ((option && option.getAttribute("data-fields")) || "").split(" ");
    var chosen = !!select.value;
    $all("[data-needs]", form).forEach(function (el) {
      var needs = el.getAttribute("data-needs").split(" ");
      var show = chosen && needs.some(function (n) { return fields.indexOf(n) >= 0; });
      el.hidden = !show;
    });
    var cur = $("#f-curriculum", form);
    var curName = cur ? cur.value : "";
    $all("[data-curriculum]", form).forEach(function (el) {
      el.hidden = el.getAttribute("data-curriculum") !== curName;
    });
    var other = $("#curriculum-other", form);
    if (other) { other.hidden = curName !== "__other__"; }
  }

  function applyResult(form, data) {
    var idInput = form.querySelector("input[name=draft_id]");
    if (idInput && data.draft_id) { idInput.value = data.draft_id; }
    var results = $("#poc-results");
    if (results && typeof data.html === "string") {
      /* The fragment is rendered and autoescaped by the server's templates. */
      results.innerHTML = data.html;
    }
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
    applyVisibility(form);
    form.addEventListener("input", function (e) {
      if (e.target && e.target.id === "f-icd_q") { return; }
      saver.schedule();
    });
    form.addEventListener("change", function (e) {
      if (e.target && (e.target.id === "f-code" || e.target.id === "f-curriculum")) { applyVisibility(form); }
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
