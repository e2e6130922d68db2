// Progressive enhancement of the grader's pages. Without this script everything still works:
// the submit form posts and redirects to a result page that refreshes itself until graded.
// With it: the code editor, submitting without leaving the page, and results that appear live.
(function () {
  "use strict";

  document.documentElement.classList.remove("no-js");

  var STEPS = ["queued", "running", "graded"];
  var MESSAGES = {
    queued: "Waiting for a grader…",
    running: "Running your code on every case…",
    graded: "Graded.",
    failed: "The grader could not grade this submission."
  };

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  // Mark the steps before the current one as done, the current one as current.
  function showStatus(container, status) {
    var index = status === "failed" ? 2 : STEPS.indexOf(status);
    var finished = status === "graded" || status === "failed";
    container.querySelectorAll("[data-step]").forEach(function (item, i) {
      item.classList.toggle("done", i < index || (finished && i === index));
      item.classList.toggle("current", i === index && !finished);
    });
    var seen = (container.dataset.seen || "").split(" ").filter(Boolean);
    if (seen[seen.length - 1] !== status) seen.push(status);
    container.dataset.seen = seen.join(" ");
    container.dataset.status = status;
    var message = container.querySelector("[data-live-message]");
    if (message) message.textContent = MESSAGES[status] || status;
  }

  // Follow a submission's status until it is finished; returns the last status. After the
  // first answer each request names the status shown (?since=), and the server answers when
  // it changes (or after a while), so the loop needs no timer of its own.
  async function poll(url, onStatus) {
    var delay = 300;
    var since = "";
    for (;;) {
      try {
        var response = await fetch(since ? url + "?since=" + encodeURIComponent(since) : url, {
          headers: { Accept: "application/json" }, credentials: "same-origin"
        });
        if (response.ok) {
          var body = await response.json();
          onStatus(body.status);
          if (body.finished) return body;
          if (since === body.status) {
            // No change after a wait, or an answer at once (too many waits): pace the loop.
            await sleep(delay);
            delay = Math.min(delay * 1.25, 2000);
          } else {
            delay = 300;
          }
          since = body.status;
          continue;
        }
      } catch (error) {
        // The network blinked: try again.
      }
      await sleep(delay);
      delay = Math.min(delay * 1.25, 2000);
    }
  }

  async function loadPanel(url, target) {
    var response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    target.innerHTML = await response.text();
  }

  // The list of attempts beside the editor, re-rendered by the server.
  async function refreshAttempts() {
    var aside = document.querySelector("[data-attempts-url]");
    if (!aside) return;
    var response = await fetch(aside.dataset.attemptsUrl, { credentials: "same-origin" });
    if (response.ok) aside.outerHTML = await response.text();
  }

  function updateBest(final) {
    var box = document.querySelector("[data-testid=best-score]");
    if (!box || final.status !== "graded" || final.score === null) return;
    var best = parseFloat(box.dataset.best);
    if (!isNaN(best) && best >= final.score) return;
    box.dataset.best = final.score;
    var shown = box.querySelector(".score");
    var full = final.score >= final.max_score;
    shown.className = "score " + (full ? "score-full" : final.score === 0 ? "score-zero" : "score-part");
    shown.textContent = String(Math.round(final.score * 100) / 100);
    var max = document.createElement("span");
    max.className = "score-max";
    max.textContent = " / " + final.max_score;
    shown.appendChild(max);
  }

  function setupExercise(form) {
    var textarea = form.querySelector("[data-editor]");
    var editor = null;
    if (textarea && window.GraderEditor) {
      editor = window.GraderEditor.mount(textarea);
      window.graderEditor = editor;
      // An editor first drawn off screen (below the statement on a phone) guesses its line
      // height, and its line numbers drift until it measures. CodeMirror measures on scroll
      // and resize; this also covers coming into view because the content above it changed.
      if (window.IntersectionObserver && editor.view) {
        new IntersectionObserver(function (entries) {
          if (entries.some(function (e) { return e.isIntersecting; })) editor.view.requestMeasure();
        }).observe(editor.view.dom);
      }
    }
    var slot = document.getElementById("result");
    var live = slot.querySelector("[data-live-status]");
    var panel = slot.querySelector("[data-result-panel]");
    var errorBox = form.querySelector("[data-submit-error]");
    var button = form.querySelector("[data-submit-button]");
    var label = button.textContent;

    function done(message) {
      button.disabled = false;
      button.textContent = label;
      if (message) {
        errorBox.textContent = message;
        errorBox.hidden = false;
      }
    }

    // A chosen file is what gets graded: show its code in the editor. A .py file's text becomes
    // the editor's (the file is then dropped, so edits count); a notebook is graded from the
    // file (the server strips IPython magics), so its code cells are shown, and editing them
    // drops the file so that what is shown is what is graded.
    var upload = form.querySelector("[data-upload]");
    var uploadNote = form.querySelector("[data-upload-note]");
    var loadedFromFile = null;
    function notebookCode(text) {
      var notebook = JSON.parse(text);
      return (notebook.cells || []).filter(function (cell) { return cell.cell_type === "code"; })
        .map(function (cell) {
          return Array.isArray(cell.source) ? cell.source.join("") : String(cell.source || "");
        })
        .filter(function (code) { return code.trim(); }).join("\n\n") + "\n";
    }
    function setCode(text) {
      if (editor) editor.setValue(text); else textarea.value = text;
    }
    if (upload) upload.addEventListener("change", async function () {
      var file = upload.files && upload.files[0];
      uploadNote.hidden = true;
      loadedFromFile = null;
      if (!file) return;
      var text = await file.text();
      var name = file.name.toLowerCase();
      try {
        if (name.endsWith(".py")) {
          setCode(text);
          upload.value = "";
          uploadNote.textContent = "Loaded " + file.name + " into the editor.";
        } else if (name.endsWith(".ipynb")) {
          loadedFromFile = notebookCode(text);
          setCode(loadedFromFile);
          uploadNote.textContent = "The code cells of " + file.name + " are shown above; the notebook is graded unless you edit them.";
        } else {
          return;  // the server says what it accepts
        }
      } catch (error) {
        uploadNote.textContent = file.name + " could not be read here; it is still sent as it is.";
      }
      uploadNote.hidden = false;
    });

    // Captured before the editor sees it, which would otherwise insert a blank line.
    form.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
        event.preventDefault();
        event.stopPropagation();
        form.requestSubmit();
      }
    }, true);

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      errorBox.hidden = true;
      button.disabled = true;
      button.textContent = "Submitting…";
      var data = new FormData(form);
      var code = editor ? editor.getValue() : textarea.value;
      data.set("code", code);
      if (loadedFromFile !== null && code !== loadedFromFile) data.delete("file");
      var response;
      var body = {};
      try {
        response = await fetch(form.action, {
          method: "POST", body: data, credentials: "same-origin",
          headers: { Accept: "application/json" }
        });
        body = await response.json().catch(function () { return {}; });
      } catch (error) {
        done("The grader could not be reached. Check your connection and try again.");
        return;
      }
      if (!response.ok) {
        done((body.error && body.error.message) ||
             "The submission was refused (HTTP " + response.status + "). Reload the page and try again.");
        return;
      }
      form.querySelector("[name=attempt_key]").value = body.next_attempt_key;
      form.querySelector("input[type=file]").value = "";
      loadedFromFile = null;
      if (uploadNote) uploadNote.hidden = true;
      live.dataset.seen = "";
      live.dataset.submission = body.id;
      live.hidden = false;
      panel.innerHTML = "";
      showStatus(live, body.status);
      button.textContent = "Grading…";
      slot.scrollIntoView({ behavior: "smooth", block: "nearest" });
      var final = await poll(body.status_url, function (status) { showStatus(live, status); });
      await loadPanel(final.panel_url, panel);
      live.hidden = true;
      done(null);
      refreshAttempts();
      updateBest(final);
    });
  }

  // A result page opened before grading finished: poll, then show the result in place.
  async function followPending(slot) {
    var panel = slot.querySelector("[data-result-panel]");
    var pending = panel && panel.querySelector("[data-poll-url]");
    if (!pending) return;
    var final = await poll(pending.dataset.pollUrl, function (status) { showStatus(pending, status); });
    await loadPanel(final.panel_url, panel);
    document.querySelectorAll("h1 .badge").forEach(function (badge) {
      badge.textContent = final.status;
      badge.className = "badge badge-" + final.status;
    });
  }

  async function followRegrade(box) {
    if (box.dataset.done === "true") return;
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-regrade-text]");
    for (;;) {
      await sleep(800);
      var response = await fetch(box.dataset.regradeUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) continue;
      var job = await response.json();
      bar.max = job.total || 1;
      bar.value = job.total ? job.finished : 1;
      text.textContent = job.finished + " of " + job.total + " graded" +
        (job.failed ? ", " + job.failed + " failed" : "");
      if (job.done) {
        box.dataset.done = "true";
        window.location.reload();  // the statistics above changed
        return;
      }
    }
  }

  function setupBusyForms() {
    document.querySelectorAll("form[data-busy-text]").forEach(function (form) {
      form.addEventListener("submit", function () {
        var button = form.querySelector("[data-submit-button]");
        if (button) {
          button.classList.add("busy");
          button.textContent = form.dataset.busyText;
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-live-submit]");
    if (form) setupExercise(form);
    var slot = document.getElementById("result");
    if (slot && !form) followPending(slot);
    var regrade = document.querySelector("[data-regrade-url]");
    if (regrade) followRegrade(regrade);
    setupBusyForms();
  });
})();
