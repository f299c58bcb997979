// Small behaviours on top of htmx: CSRF header, live timers, merging live inbox rows,
// inserting canned templates, confirm prompts. No inline scripts (the CSP forbids them).
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";

  document.addEventListener("htmx:configRequest", function (e) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) e.detail.headers["X-CSRFToken"] = meta.content;
  });

  // "waiting 12 min" ticks in the browser. The colour follows the team's SLA policy: the
  // server renders when the badge becomes due soon (data-soon) and when it breaches
  // (data-deadline), business hours already applied, so the browser only compares clocks.
  // It ticks every 30 s, and on a "timers:tick" event on the document.
  var units = [["day", 86400], ["hour", 3600], ["minute", 60]];
  var SLA_CLASSES = { on_track: "sla-ok", due_soon: "sla-soon", breached: "sla-breached" };
  function formatWait(seconds) {
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1] || units[i][0] === "minute") {
        var n = Math.max(0, Math.floor(seconds / units[i][1]));
        try {
          return new Intl.NumberFormat(lang, { style: "unit", unit: units[i][0], unitDisplay: "short" }).format(n);
        } catch (err) { return n + " " + units[i][0]; }
      }
    }
  }
  function slaState(el, now) {
    var deadline = Date.parse(el.dataset.deadline);
    if (isNaN(deadline)) return el.dataset.state || "on_track";
    var soon = Date.parse(el.dataset.soon);
    if (now >= deadline) return "breached";
    return !isNaN(soon) && now >= soon ? "due_soon" : "on_track";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".waiting-timer[data-since]").forEach(function (el) {
      var seconds = (now - Date.parse(el.dataset.since)) / 1000;
      var format = el.dataset.format || (lang.indexOf("ko") === 0 ? "대기 {d}" : "waiting {d}");
      el.textContent = format.replace("{d}", formatWait(seconds));
      var state = slaState(el, now);
      el.dataset.state = state;
      Object.keys(SLA_CLASSES).forEach(function (key) {
        el.classList.toggle(SLA_CLASSES[key], key === state);
      });
    });
  }
  setInterval(tick, 30000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  document.addEventListener("timers:tick", tick);

  // Live inbox: rows that changed move to the top (newest sort) or are replaced in place.
  document.addEventListener("htmx:afterRequest", function (e) {
    // The response swaps in a fresh #inbox-poller (out of band), so htmx re-fires this
    // event on a parent and detail.elt is no longer the poller; requestConfig.elt still is.
    var elt = e.detail.requestConfig ? e.detail.requestConfig.elt : e.detail.elt;
    if (!elt || elt.id !== "inbox-poller" || !e.detail.successful) return;
    var list = document.getElementById("rows");
    if (!list) return;
    var tpl = document.createElement("template");
    tpl.innerHTML = e.detail.xhr.responseText;
    var rows = Array.prototype.slice.call(tpl.content.querySelectorAll("li.row")).reverse();
    var newest = list.dataset.sort !== "waiting";
    rows.forEach(function (row) {
      var old = document.getElementById(row.id);
      if (old) {
        if (newest) { old.remove(); list.insertBefore(row, list.firstChild); }
        else { old.replaceWith(row); }
      } else if (newest) {
        list.insertBefore(row, list.firstChild);
        var empty = document.getElementById("empty-list");
        if (empty) empty.remove();
      }
      row.classList.add("fresh");
      htmx.process(row);
    });
    if (rows.length) tick();
  });

  // Canned templates: click in the picker, or type /shortcut then Tab in the composer.
  function insertText(textarea, text, replaceFrom) {
    var start = replaceFrom == null ? textarea.selectionStart : replaceFrom;
    var before = textarea.value.slice(0, start), after = textarea.value.slice(textarea.selectionEnd);
    textarea.value = before + text + after;
    var pos = (before + text).length;
    textarea.setSelectionRange(pos, pos);
    textarea.focus();
  }
  function fetchTemplate(form, params) {
    var url = form.dataset.renderUrl + "?" + new URLSearchParams(params).toString();
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("template " + r.status);
      return r.text();
    });
  }
  document.addEventListener("click", function (e) {
    var btn = e.target.closest(".insert-template");
    if (!btn) return;
    var form = btn.closest("form.composer");
    var textarea = form.querySelector("textarea[name=text]");
    fetchTemplate(form, { template_id: btn.dataset.templateId }).then(function (text) {
      var chosen = form.querySelector("#template-id");
      if (btn.dataset.approved) {
        // An approved WhatsApp template is sent as itself: its text is shown, not edited.
        textarea.value = text;
        if (chosen) chosen.value = btn.dataset.templateId;
      } else {
        if (chosen) chosen.value = "";
        insertText(textarea, text);
      }
      document.getElementById("template-picker").innerHTML = "";
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });
  document.addEventListener("keydown", function (e) {
    var textarea = e.target;
    if (e.key !== "Tab" || textarea.id !== "reply-text") return;
    var upto = textarea.value.slice(0, textarea.selectionStart);
    var m = upto.match(/(^|\s)\/([\w-]{1,40})$/);
    if (!m) return;
    e.preventDefault();
    var form = textarea.closest("form.composer");
    fetchTemplate(form, { shortcut: m[2] }).then(function (text) {
      insertText(textarea, text, upto.length - m[2].length - 1);
    }).catch(function () {});
  });

  // WhatsApp outside the 24-hour window: free text is off, only approved templates.
  function applyWindow(root) {
    var form = (root || document).querySelector("form.composer");
    if (!form) return;
    var kind = form.querySelector("#reply-kind");
    var win = form.querySelector("#wa-window");
    var textarea = form.querySelector("#reply-text");
    var closed = kind && kind.value === "whatsapp" && win && win.dataset.open === "no";
    textarea.readOnly = !!closed;
    textarea.classList.toggle("template-only", !!closed);
  }
  document.addEventListener("change", function (e) {
    if (e.target.id === "reply-kind") applyWindow();
  });
  document.addEventListener("DOMContentLoaded", function () { applyWindow(); });
  document.addEventListener("htmx:afterSettle", function () { applyWindow(); });

  document.addEventListener("submit", function (e) {
    var msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) e.preventDefault();
  });
})();
