/* Draws the BPMN diagrams of a page (templates/_diagram.html) with bpmn.io's NavigatedViewer
   (vendor/bpmn-js, global BpmnJS): the file from its role-checked address (data-source) or the page
   (data-xml), the highlights from data-marks (CSS class -> element ids), shown first at 100 % around
   data-focus, and figures (the process insight) from data-figures. Zoom and pan: the viewer's own
   (drag, Ctrl + wheel) and the toolbar's buttons.
   A diagram inside a closed <details> is drawn when it is opened (the viewer needs its size). */
(function () {
  "use strict";

  var STEP = 1.25;
  var SMALLEST = 0.2;
  var LARGEST = 4;
  var MARGIN = 40;
  var LOWEST = 160;
  // What a highlight means, in a badge over the element: the colour alone would not say it to everyone.
  var BADGES = {
    "hl-current": "now",
    "hl-waiting": "waits",
    "hl-added": "added",
    "hl-removed": "removed",
    "hl-changed": "changed",
    "hl-rewired": "flows changed"
  };

  function start() {
    document.querySelectorAll(".bpmn-figure").forEach(function (figure) {
      var folded = figure.closest("details");
      if (folded && !folded.open) {
        folded.addEventListener("toggle", function () {
          if (folded.open) {
            draw(figure);
          }
        });
      } else {
        draw(figure);
      }
    });
  }

  function draw(figure) {
    if (figure.dataset.drawn) {
      return;
    }
    figure.dataset.drawn = "yes";
    var canvasElement = figure.querySelector(".bpmn-canvas");
    var status = figure.querySelector(".bpmn-status");
    if (typeof window.BpmnJS !== "function") {
      status.textContent = "The diagram viewer did not load; reload the page.";
      return;
    }
    var viewer = new window.BpmnJS({ container: canvasElement });
    source(canvasElement)
      .then(function (xml) {
        return viewer.importXML(xml);
      })
      .then(function () {
        var focus = JSON.parse(canvasElement.dataset.focus || "[]");
        mark(viewer, JSON.parse(canvasElement.dataset.marks || "{}"));
        showFigures(viewer, JSON.parse(canvasElement.dataset.figures || "{}"));
        followScale(viewer, figure.querySelector(".bpmn-scale"));
        fitHeight(viewer, canvasElement);
        showAtFullSize(viewer, focus);
        wireButtons(viewer, figure, focus);
        status.hidden = true;
        figure.classList.add("bpmn-drawn");
      })
      .catch(function (error) {
        status.textContent = "The diagram could not be drawn: " + error.message;
      });
  }

  function source(canvasElement) {
    if (!canvasElement.dataset.source) {
      return Promise.resolve(canvasElement.dataset.xml || "");
    }
    return fetch(canvasElement.dataset.source, { credentials: "same-origin" }).then(function (answer) {
      if (!answer.ok) {
        throw new Error("the file did not load (" + answer.status + " " + answer.statusText + ")");
      }
      return answer.text();
    });
  }

  function mark(viewer, marks) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    Object.keys(marks).forEach(function (css) {
      marks[css].forEach(function (id) {
        var element = registry.get(id);
        if (!element) {
          return; // an element of another file of the set, or not drawn
        }
        canvas.addMarker(element, css);
        if (BADGES[css] && !element.waypoints) {
          overlays.add(element, { position: { top: -20, left: -4 }, html: badge(BADGES[css], css) });
        }
      });
    });
  }

  function badge(words, css) {
    var element = document.createElement("span");
    element.className = "bpmn-badge " + css;
    element.textContent = words;
    return element;
  }

  /* The process insight, as Camunda Cockpit puts counts on a diagram: over each element's top edge the
     tickets there now, those that passed in the period and the SLA breaches while there (in rows as
     wide as a task, growing upwards); inside its bottom edge the median working time there. A figure the store does not record (null) or of nought
     has no badge, and an element with nothing to show none at all. */
  var BADGE_HEIGHT = 18;

  function showFigures(viewer, figures) {
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    Object.keys(figures).forEach(function (id) {
      var element = registry.get(id);
      if (!element) {
        return;
      }
      var shown = figures[id];
      var counts = badgeRow("bpmn-figures bpmn-figures-above", [
        shown.now && figureBadge("fig-now", shown.now + " now", "tickets there now"),
        shown.passed && figureBadge("fig-passed", shown.passed + " passed", "tickets that passed it in the period"),
        shown.breaches && figureBadge("fig-breach", shown.breaches + (shown.breaches === 1 ? " breach" : " breaches"),
          "SLA breaches while there")
      ]);
      var times = badgeRow("bpmn-figures", [
        shown.median && figureBadge("fig-median", shown.median, "median working time there")
      ]);
      if (counts) {
        overlays.add(element, "figures", { position: { top: -3, left: 0 }, html: counts });
      }
      if (times) {
        overlays.add(element, "figures", { position: { top: element.height - BADGE_HEIGHT - 3, left: 3 }, html: times });
      }
    });
  }

  function badgeRow(css, badges) {
    var row = document.createElement("div");
    row.className = css;
    badges.filter(Boolean).forEach(function (badge) { row.appendChild(badge); });
    return row.childNodes.length ? row : null;
  }

  function figureBadge(css, words, meaning) {
    var element = document.createElement("span");
    element.className = "bpmn-figure-badge " + css;
    element.textContent = words;
    element.title = meaning;
    return element;
  }

  function followScale(viewer, output) {
    viewer.on("canvas.viewbox.changed", function (event) {
      output.textContent = Math.round(event.viewbox.scale * 100) + " %";
    });
  }

  /* A diagram lower than the canvas at 100 % gets a canvas as low as it (no empty band under it). */
  function fitHeight(viewer, canvasElement) {
    var canvas = viewer.get("canvas");
    var needed = Math.ceil(canvas.viewbox().inner.height + 2 * MARGIN);
    if (needed < canvasElement.clientHeight) {
      canvasElement.style.height = Math.max(needed, LOWEST) + "px";
      canvas.resized();
    }
  }

  /* 100 %: the focused elements in the middle (or the first of them, when they do not fit), else the
     whole diagram when it fits, else its top left corner. */
  function showAtFullSize(viewer, focus) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var outer = canvas.viewbox().outer;
    var elements = focus.map(function (id) { return registry.get(id); }).filter(Boolean);
    var box = canvas.viewbox().inner;
    var centred = fits(box, outer);
    if (elements.length) {
      box = bounds(elements);
      if (!fits(box, outer)) {
        box = bounds(elements.slice(0, 1));
      }
      centred = true;
    }
    var x = centred ? box.x + box.width / 2 - outer.width / 2 : box.x - MARGIN;
    var y = centred ? box.y + box.height / 2 - outer.height / 2 : box.y - MARGIN;
    canvas.viewbox({ x: x, y: y, width: outer.width, height: outer.height });
  }

  function fits(box, outer) {
    return box.width + 2 * MARGIN <= outer.width && box.height + 2 * MARGIN <= outer.height;
  }

  function bounds(elements) {
    var left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
    elements.forEach(function (element) {
      (element.waypoints || [element]).forEach(function (part) {
        left = Math.min(left, part.x);
        top = Math.min(top, part.y);
        right = Math.max(right, part.x + (part.width || 0));
        bottom = Math.max(bottom, part.y + (part.height || 0));
      });
    });
    return { x: left, y: top, width: right - left, height: bottom - top };
  }

  function wireButtons(viewer, figure, focus) {
    var canvas = viewer.get("canvas");
    var actions = {
      in: function () { canvas.zoom(Math.min(LARGEST, canvas.zoom() * STEP), "auto"); },
      out: function () { canvas.zoom(Math.max(SMALLEST, canvas.zoom() / STEP), "auto"); },
      actual: function () { canvas.zoom(1, "auto"); },
      fit: function () { canvas.zoom("fit-viewport", "auto"); },
      focus: function () { showAtFullSize(viewer, focus); }
    };
    figure.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", actions[button.dataset.zoom]);
    });
  }

  start();
})();
