// Pages that stay current without a reload (web/live.py says why polling).
//
// A page watched for changes has an element with data-live-changes (the marker's address) and
// data-live-since (the marker it was drawn at), and regions with data-live-region and an id.
// When the marker moves, the page is fetched again and each region is swapped for its new
// version, except a region holding something typed: that one is kept, and a notice says so.
//
// A task form has an element with data-live-task (the task's address): it says at once when
// someone else claims or does the task, or the call changes, and the send button is held back
// when an answer would be refused.
(function () {
  "use strict";
  var EVERY_MS = 3000;

  function typedInto(region) {
    var fields = region.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.type === "hidden" || field.type === "submit") continue;
      if (field === document.activeElement) return true;
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) return true;
      } else if (field.tagName === "SELECT") {
        for (var j = 0; j < field.options.length; j++) {
          if (field.options[j].selected !== field.options[j].defaultSelected) return true;
        }
      } else if (field.value !== field.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function notice(id, text) {
    var shown = document.getElementById(id);
    if (!shown) {
      shown = document.createElement("p");
      shown.id = id;
      shown.className = "flash flash-warning live-notice";
      shown.setAttribute("role", "status");
      var main = document.querySelector("main");
      main.insertBefore(shown, main.firstChild);
    }
    shown.textContent = text;
    shown.hidden = !text;
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    });
  }

  function redraw() {
    return fetch(location.href, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var kept = false;
        document.querySelectorAll("[data-live-region]").forEach(function (region) {
          var newer = fresh.getElementById(region.id);
          if (!newer) return;
          if (typedInto(region)) {
            kept = true;
            return;
          }
          region.replaceWith(document.importNode(newer, true));
        });
        notice(
          "live-kept",
          kept ? "This page has changed since you began typing; reload it to see everything once you have sent." : ""
        );
      });
  }

  function watchChanges(watched) {
    var since = watched.getAttribute("data-live-since");
    var url = watched.getAttribute("data-live-changes");
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      getJson(url)
        .then(function (body) {
          if (String(body.since) === since) return;
          return redraw().then(function () {
            since = String(body.since);
          });
        })
        .catch(function () {}) // the next poll tries again
        .then(function () {
          busy = false;
        });
    }, EVERY_MS);
  }

  function watchTask(watched) {
    var url = watched.getAttribute("data-live-task");
    var send = document.querySelectorAll(watched.getAttribute("data-live-holds") || "[data-live-send]");
    function check() {
      if (document.hidden) return;
      getJson(url)
        .then(function (body) {
          watched.textContent = body.message;
          watched.hidden = !body.message;
          send.forEach(function (button) {
            button.disabled = body.blocked;
          });
        })
        .catch(function () {});
    }
    check();
    setInterval(check, EVERY_MS);
  }

  var watched = document.querySelector("[data-live-changes]");
  if (watched) watchChanges(watched);
  var task = document.querySelector("[data-live-task]");
  if (task) watchTask(task);
})();
