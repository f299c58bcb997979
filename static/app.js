// Small behaviours on top of htmx: CSRF header, live timers, merging live inbox rows,
// inserting canned templates, confirm prompts. No inline scripts (the CSP forbids them).
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";

  document.addEventListener("htmx:configRequest", function (e) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) e.detail.headers["X-CSRFToken"] = meta.content;
  });

  // "waiting 12 min" ticks in the browser; colour against the SLA target.
  var units = [["day", 86400], ["hour", 3600], ["minute", 60]];
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
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".waiting-timer[data-since]").forEach(function (el) {
      var seconds = (now - Date.parse(el.dataset.since)) / 1000;
      var target = parseInt(el.dataset.target || "86400", 10);
      var label = el.dataset.label || (lang.indexOf("ko") === 0 ? "대기 " : "waiting ");
      el.textContent = label + formatWait(seconds);
      el.classList.toggle("sla-breached", seconds > target);
      el.classList.toggle("sla-soon", seconds <= target && seconds > target * 0.75);
      el.classList.toggle("sla-ok", seconds <= target * 0.75);
    });
  }
  setInterval(tick, 30000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);

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
