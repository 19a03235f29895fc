// An audit run's page follows the run while a worker does it (web/auditor_desk.py): every second it asks
// the run's status (JSON) and moves the progress bar and its words; when the run is over it loads the page
// again, which then shows the findings. A file of its own: the pages' Content-Security-Policy runs no
// inline script.
"use strict";

const EVERY_MS = 1000;

document.addEventListener("DOMContentLoaded", () => {
  const section = document.querySelector("[data-run-status]");
  if (section && section.dataset.status !== "done") {
    follow(section);
  }
});

function follow(section) {
  const bar = section.querySelector("progress");
  const state = section.querySelector("[data-run-state]");
  const words = section.querySelector("[data-run-progress]");
  const look = async () => {
    let run;
    try {
      const answer = await fetch(section.dataset.runStatus, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        cache: "no-store",
      });
      if (!answer.ok) throw new Error(String(answer.status));
      run = await answer.json();
    } catch {
      words.textContent = "Could not reach the desk; trying again.";
      setTimeout(look, EVERY_MS * 5);
      return;
    }
    bar.value = run.percent;
    bar.textContent = `${run.percent} %`;
    state.textContent = run.status;
    state.className = `status status-${run.status}`;
    words.textContent = run.progress;
    section.dataset.status = run.status;
    if (run.finished) {
      window.location.reload(); // the page shows the findings now
    } else {
      setTimeout(look, EVERY_MS);
    }
  };
  setTimeout(look, EVERY_MS);
}
