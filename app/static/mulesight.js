/* MuleSight pages: progressive enhancement only. Every form and link works without this file. */
(function () {
  "use strict";

  /* Forms with data-progress: say what is happening and stop a second submission. */
  document.querySelectorAll("form[data-progress]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("aria-busy") === "true") {
        event.preventDefault();
        return;
      }
      form.setAttribute("aria-busy", "true");
      var status = document.getElementById(form.dataset.progressTarget || "");
      if (status) {
        status.textContent = form.dataset.progress;
        status.hidden = false;
      }
      // A bar and a seconds count that move while the run is under way (the status text above
      // is announced once; the count is not, so screen readers are not flooded).
      var bar = document.getElementById(form.dataset.progressBar || "");
      var deadline = parseFloat(form.dataset.deadline || "0");
      if (bar && deadline > 0) {
        var started = Date.now();
        var count = document.createElement("span");
        count.className = "progress-count";
        count.setAttribute("aria-hidden", "true");
        bar.hidden = false;
        bar.after(count);
        window.setInterval(function () {
          var seconds = Math.min(deadline, Math.floor((Date.now() - started) / 1000));
          bar.value = seconds;
          count.textContent = seconds + " s of up to " + deadline + " s";
        }, 250);
      }
      // Disabled controls are left out of the form data: disable once the data is taken.
      window.setTimeout(function () {
        form.querySelectorAll("button").forEach(function (button) {
          button.disabled = true;
        });
      }, 0);
    });
  });

  /* After a run the page opens at its verdict: focus it so screen readers read it out. */
  var verdict = document.getElementById("verdict");
  if (verdict && window.location.hash === "#verdict") {
    verdict.focus();
  }

  /* Copy buttons: the clipboard API, else select the text and copy it the old way. */
  function copyBySelection(field) {
    var details = field.closest("details");
    if (details) details.open = true;
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.dataset.copy);
    var status = document.getElementById(button.dataset.copyStatus || "");
    if (!field) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var report = function (ok) {
        if (!status) return;
        status.textContent = ok
          ? "Copied. Paste it into the Jira ticket."
          : "Could not copy: the text is selected below, press Ctrl+C (or ⌘C).";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(
          function () { report(true); },
          function () { report(copyBySelection(field)); }
        );
      } else {
        report(copyBySelection(field));
      }
    });
  });

  /* Attach form: the ticket key is only needed when attaching to an existing ticket. */
  document.querySelectorAll("form[data-attach]").forEach(function (form) {
    var key = form.querySelector("input[name=ticket_key]");
    var sync = function () {
      var existing = form.querySelector("input[name=target][value=existing]");
      if (key && existing) key.required = existing.checked;
    };
    form.querySelectorAll("input[name=target]").forEach(function (radio) {
      radio.addEventListener("change", sync);
    });
    if (key) key.addEventListener("focus", function () {
      var existing = form.querySelector("input[name=target][value=existing]");
      if (existing) { existing.checked = true; sync(); }
    });
    sync();
  });
})();
