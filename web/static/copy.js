// "Copy" buttons: <button data-copy="ID"> copies the value of the input ID to the clipboard.
// A file of its own: the pages' Content-Security-Policy runs no inline script.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", () => copy(button));
  }
});

async function copy(button) {
  const field = document.getElementById(button.dataset.copy);
  const said = button.parentElement.querySelector(".copied");
  field.select(); // selected either way, so Ctrl+C works where the clipboard is not ours to write
  try {
    await navigator.clipboard.writeText(field.value);
    said.textContent = "Copied.";
  } catch {
    said.textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
  }
}
