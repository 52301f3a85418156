// Sealbox panel: small enhancements over pages that work without JavaScript.
// Loaded from /static (the CSP allows no inline script); no build step, no dependencies.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  // ---- side panel and modal: open in place, close with Escape, keep focus inside ----
  var lastFocus = null;
  function focusables(el) {
    return Array.prototype.filter.call(
      el.querySelectorAll("a[href], button:not([disabled]), input:not([type=hidden]):not([readonly]), select, textarea"),
      function (e) { return e.offsetParent !== null; });
  }
  function openLayer(id) {
    var el = document.getElementById(id);
    if (!el) return;
    lastFocus = document.activeElement;
    el.classList.add("open");
    var bd = document.querySelector('[data-backdrop="' + id + '"]');
    if (bd) bd.classList.add("open");
    var f = focusables(el);
    var first = el.querySelector("input:not([type=hidden]):not([readonly]), textarea, select") || f[0];
    if (first) first.focus();
  }
  function closeLayer(el) {
    el.classList.remove("open");
    var bd = document.querySelector('[data-backdrop="' + el.id + '"]');
    if (bd) bd.classList.remove("open");
    if (lastFocus && document.body.contains(lastFocus)) lastFocus.focus();
  }
  // One "delete forever" modal serves every row of the trash: point it at the clicked one.
  function preparePurge(opener) {
    var name = opener.getAttribute("data-purge");
    var form = document.querySelector("[data-purge-form]");
    form.setAttribute("action", opener.getAttribute("data-purge-action"));
    document.querySelector("[data-purge-name]").textContent = name;
    var input = form.querySelector("input[data-confirm]");
    input.setAttribute("data-confirm", name);
    input.value = "";
    input.dispatchEvent(new Event("input"));
  }
  function openLayerEl() { return document.querySelector(".sidepanel.open, .modal.open"); }

  ready(function () {
    document.addEventListener("click", function (ev) {
      var opener = ev.target.closest("[data-open]");
      if (opener) {
        ev.preventDefault();
        if (opener.hasAttribute("data-purge")) preparePurge(opener);
        openLayer(opener.getAttribute("data-open"));
        return;
      }
      var closer = ev.target.closest("[data-close]");
      if (closer) {
        var el = document.getElementById(closer.getAttribute("data-close"));
        if (el) { ev.preventDefault(); closeLayer(el); }
        return;
      }
      var bd = ev.target.closest("[data-backdrop]");
      if (bd) { var layer = document.getElementById(bd.getAttribute("data-backdrop")); if (layer) closeLayer(layer); }
    });
    // Space activates link-buttons, as it does real buttons.
    document.addEventListener("keydown", function (ev) {
      var t = ev.target;
      if (ev.key === " " && t.matches && t.matches('a[role="button"]')) { ev.preventDefault(); t.click(); }
      var layer = openLayerEl();
      if (!layer) return;
      if (ev.key === "Escape") { ev.preventDefault(); closeLayer(layer); return; }
      if (ev.key === "Tab") {
        var f = focusables(layer);
        if (!f.length) return;
        var first = f[0], last = f[f.length - 1];
        if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
        else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
      }
    });
    // A layer the server rendered open (a form with errors) gets the focus; on a page without
    // one, a form that came back with errors gets it on its first bad field (or its message).
    var open = openLayerEl();
    if (open) {
      var bad = open.querySelector('[aria-invalid="true"]') || open.querySelector("input:not([type=hidden]), textarea");
      if (bad) bad.focus();
    } else {
      var err = document.querySelector('form [aria-invalid="true"], form .alert[tabindex="-1"]');
      if (err) err.focus();
    }

    // ---- the new-secret form shows the chosen type's fields ----
    var typeSelect = document.querySelector("[data-type-select]");
    function showType() {
      var t = typeSelect.value;
      document.querySelectorAll(".type-fields").forEach(function (fs) {
        fs.classList.toggle("active", fs.getAttribute("data-type") === t);
      });
    }
    if (typeSelect) { typeSelect.addEventListener("change", showType); showType(); }

    // ---- character counters ----
    document.querySelectorAll("textarea[data-count]").forEach(function (ta) {
      var max = parseInt(ta.getAttribute("data-count"), 10);
      var out = document.querySelector('[data-counter-for="' + ta.id + '"]');
      if (!out) return;
      var n = out.querySelector("[data-counter]");
      function update() {
        var count = Array.from(ta.value).length;
        n.textContent = String(count);
        out.classList.toggle("over", count > max);
      }
      ta.addEventListener("input", update);
      update();
    });

    // ---- filters apply when a select changes ----
    document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });

    // ---- delete confirmation: enabled once the name is typed (the server checks it too) ----
    document.querySelectorAll("input[data-confirm]").forEach(function (input) {
      var button = input.form.querySelector("[data-confirm-button]");
      function update() { button.disabled = input.value.trim() !== input.getAttribute("data-confirm"); }
      input.addEventListener("input", update);
      update();
    });

    // ---- reveal: fetch the value (audited by the server), show it, hide and clear it ----
    document.querySelectorAll("form[data-reveal]").forEach(function (form) {
      var card = form.closest(".card");
      var dots = card.querySelector("[data-dots]");
      var shown = card.querySelector("[data-revealed]");
      var status = card.querySelector("[data-reveal-status]");
      var label = form.querySelector("[data-reveal-label]");
      var button = form.querySelector("[data-reveal-button]");
      var initial = status.textContent;
      var timer = null, tick = null;
      function hide() {
        clearTimeout(timer); clearInterval(tick); timer = tick = null;
        shown.textContent = "";
        shown.hidden = true;
        dots.hidden = false;
        label.textContent = "Reveal";
        button.setAttribute("aria-label", "Reveal the value");
        status.textContent = initial;
        card.classList.remove("is-revealed");
      }
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (timer) { hide(); return; }
        button.disabled = true;
        fetch(form.action, {
          method: "POST",
          headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(new FormData(form)).toString(),
          credentials: "same-origin",
          cache: "no-store"
        }).then(function (resp) {
          var type = resp.headers.get("content-type") || "";
          if (resp.ok && (resp.redirected || type.indexOf("application/json") !== 0)) {
            throw new Error("your session has ended; reload the page and sign in again");
          }
          if (!resp.ok) {
            var rid = resp.headers.get("x-request-id") || "";
            throw new Error("could not reveal the value (status " + resp.status + "); request id " + rid);
          }
          return resp.json();
        }).then(function (data) {
          var left = data.seconds;
          shown.textContent = data.value;
          shown.hidden = false;
          dots.hidden = true;
          card.classList.add("is-revealed");
          label.textContent = "Hide";
          button.setAttribute("aria-label", "Hide the value");
          status.textContent = "Shown for " + left + " s, then hidden.";
          tick = setInterval(function () {
            left -= 1;
            if (left > 0) status.textContent = "Shown for " + left + " s, then hidden.";
          }, 1000);
          timer = setTimeout(hide, data.seconds * 1000);
        }).catch(function (err) {
          status.textContent = err.message;
        }).finally(function () { button.disabled = false; });
      });
    });
  });
})();
