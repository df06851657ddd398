// batchops serve: the little the pages need beyond HTML forms. Every text goes in with textContent,
// never innerHTML, so a cell or a message holding markup shows as text.
"use strict";

function $(id) { return document.getElementById(id); }

function say(element, text, kind) {
  if (!element) return;
  element.textContent = text;
  element.className = "status" + (kind ? " " + kind : "");
}

async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body || {}),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { /* an empty answer */ }
  if (!response.ok) throw new Error(data.error || ("the server answered " + response.status));
  return data;
}

// -- uploads: a progress bar while the file goes up, then the Check page ---------------------------
function upload(form) {
  const input = form.querySelector("input[type=file]");
  const status = form.querySelector(".status");
  const bar = form.querySelector("progress");
  if (!input || !input.files.length) { say(status, "Choose a file first.", "bad"); return; }
  const limit = Number(form.dataset.maxBytes || 0);
  if (limit && input.files[0].size > limit) {
    say(status, "The file is larger than the upload limit of " + Math.round(limit / 1048576) + " MB.", "bad");
    return;
  }
  const request = new XMLHttpRequest();
  request.open("POST", form.action);
  request.responseType = "json";
  bar.hidden = false; bar.value = 0;
  say(status, "Uploading " + input.files[0].name + " …");
  request.upload.onprogress = (e) => {
    if (e.lengthComputable) {
      bar.value = Math.round(100 * e.loaded / e.total);
      if (e.loaded === e.total) say(status, "Checking every row …");
    }
  };
  request.onload = () => {
    const data = request.response || {};
    if (request.status === 201 || request.status === 200) {
      window.location.assign("/files/" + encodeURIComponent(data.id));
    } else {
      bar.hidden = true;
      say(status, data.error || ("The server answered " + request.status + "."), "bad");
    }
  };
  request.onerror = () => { bar.hidden = true; say(status, "The upload did not reach the server.", "bad"); };
  request.send(new FormData(form));
}

function wireUpload(form) {
  if (!form) return;
  form.addEventListener("submit", (e) => { e.preventDefault(); upload(form); });
  const input = form.querySelector("input[type=file]");
  form.addEventListener("dragover", (e) => { e.preventDefault(); form.classList.add("over"); });
  form.addEventListener("dragleave", () => form.classList.remove("over"));
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    form.classList.remove("over");
    if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; upload(form); }
  });
}

// -- the target: another profile of the config file ----------------------------------------------
function wireProfile() {
  const select = $("profile-select");
  if (!select) return;
  select.addEventListener("change", async () => {
    try {
      await postJSON("/api/target", {profile: select.value});
      window.location.reload();
    } catch (e) {
      window.alert(e.message);
    }
  });
}

// -- a run, live ------------------------------------------------------------------------------------
let lastSeq = 0;

function showRun(run) {
  // The stream and a fetch's answer can cross: a snapshot older than the one shown is dropped.
  if (run.seq <= lastSeq) return;
  lastSeq = run.seq;
  const state = $("run-state");
  state.textContent = run.cancel_requested && run.state === "running" ? "cancelling" : run.state;
  state.dataset.state = run.state;
  const bar = $("run-progress");
  const done = run.done || 0;
  bar.max = run.total || 1;
  bar.value = done;
  const counts = Object.entries(run.counts || {}).filter(([, n]) => n).map(([k, n]) => n + " " + k);
  let line = run.kind === "export" ? done + " rows read" + (run.total ? " of " + run.total : "")
                                   : done + " / " + run.total;
  if (counts.length) line += " · " + counts.join(", ");
  const rate = run.rows_per_second || run.rate;
  if (rate) line += " · " + Number(rate).toFixed(1) + " rows/s";
  if (run.eta_seconds != null && run.state === "running") line += " · about " + Math.ceil(run.eta_seconds) + " s left";
  if (run.held_back && run.state === "running") line += " · held back by the server's throttling";
  if (run.throttled_answers) line += " · " + run.throttled_answers + " answered 429 (sent again)";
  $("run-counts").textContent = line;
  $("run-cancel").disabled = run.state !== "running" || run.cancel_requested;
  $("run-error").textContent = run.error || "";
}

function wireRun() {
  const panel = $("run");
  if (!panel) return;
  if (panel.dataset.state !== "running") { document.body.dataset.runEnded = "1"; return; }
  const source = new EventSource(panel.dataset.events);
  for (const kind of ["state", "progress"]) {
    source.addEventListener(kind, (e) => showRun(JSON.parse(e.data)));
  }
  source.addEventListener("end", (e) => {
    showRun(JSON.parse(e.data));
    source.close();
    window.location.reload();  // the finished run's page: its outcome, results and downloads
  });
  $("run-cancel").addEventListener("click", async () => {
    $("run-cancel").disabled = true;
    try { showRun(await postJSON(panel.dataset.cancel)); } catch (e) { $("run-error").textContent = e.message; }
  });
}

// -- plan, apply, export: the steps that start something on the server ------------------------------
function wirePlan() {
  const button = $("make-plan");
  if (!button) return;
  const cancel = $("plan-cancel");
  // A plan of 100,000 rows reads for a while: Cancel stops it as a run's Cancel does (reads under way
  // finish, nothing is planned; the earlier plan, if any, stays).
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try { await postJSON(cancel.dataset.cancel); say($("plan-status"), "Cancelling …"); }
    catch (e) { say($("plan-status"), e.message, "bad"); }
  });
  button.addEventListener("click", async () => {
    button.disabled = true;
    cancel.hidden = false;
    cancel.disabled = false;
    say($("plan-status"), "Reading the current value of every record …");
    const bar = $("plan-progress");
    // While the plan reads, the file's summary says how far it got: a bar instead of a long silence.
    const timer = window.setInterval(async () => {
      try {
        const file = await (await fetch(button.dataset.file)).json();
        if (file.reading && !file.reading.cancel_requested) {
          bar.hidden = false;
          bar.max = file.reading.total || 1;
          bar.value = file.reading.done;
          say($("plan-status"), "Read " + file.reading.done + " of " + file.reading.total + " records …");
        }
      } catch (e) { /* the next tick tries again */ }
    }, 500);
    try {
      await postJSON($("plan").dataset.plan, {});
      window.location.assign(window.location.pathname);
    } catch (e) {
      button.disabled = false;
      bar.hidden = true;
      cancel.hidden = true;
      say($("plan-status"), e.message, e.message.startsWith("The plan was cancelled") ? "" : "bad");
    } finally {
      window.clearInterval(timer);
    }
  });
}

// Numbers Excel may have stripped of their leading zeros: the job checks the file again with the choice,
// which its plan and apply then keep (as --accept-lost-zeros does for a command).
function wireLostZeros() {
  const box = $("lost-zeros");
  const button = $("lost-zeros-choice");
  if (!box || !button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    say($("lost-zeros-status"), "Checking the file again …");
    try {
      await postJSON(box.dataset.check, {accept_lost_zeros: button.dataset.accept === "true"});
      if (button.dataset.then === "plan" && $("make-plan")) {
        say($("lost-zeros-status"), "");
        $("make-plan").click();
      } else {
        window.location.reload();
      }
    } catch (e) {
      button.disabled = false;
      say($("lost-zeros-status"), e.message, "bad");
    }
  });
}

// A form that starts a run on the server (apply, export): on success, the run's own page follows it.
function wireRunForm(form, button, status, url, body) {
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    $(button).disabled = true;
    say($(status), "Starting …");
    try {
      const started = await postJSON(url, body());
      window.location.assign("/runs/" + encodeURIComponent(started.run_id));
    } catch (err) {
      $(button).disabled = false;
      say($(status), err.message, "bad");
    }
  });
}

function wireApply() {
  const form = $("apply-form");
  if (form) {
    wireRunForm(form, "apply-button", "apply-status", form.dataset.apply,
                () => ({confirm: true, concurrency: Number($("concurrency").value)}));
  }
}

function wireExport() {
  const form = $("export-form");
  if (!form) return;
  wireRunForm(form, "export-button", "export-status", form.dataset.export, () => {
    const body = {what: $("export-what").value};
    if ($("export-vdn").value) body.vdn_id = Number($("export-vdn").value);
    return body;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  wirePlan();
  wireLostZeros();
  wireApply();
  wireExport();
  wireUpload($("upload-form"));
  wireUpload($("replace-form"));
  wireProfile();
  wireRun();
  document.body.dataset.ready = "1";
});
