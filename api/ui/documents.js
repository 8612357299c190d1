// Documents: upload with the job's progress (writers), list, delete (writers), and one
// document with its chunks and the entities found in each.

import * as api from "./api.js";
import { citedQuotes } from "./ask.js";
import { $, docHref, el, entityHref, fill, marked, shortSource } from "./dom.js";

const FINISHED = new Set(["succeeded", "failed", "interrupted"]);
let canWrite = false;
let report = () => {};
let wired = false;

/** Set up the view for a role: only writers and admins get the upload and delete controls. */
export function initDocuments(writer, onError) {
  canWrite = writer;
  report = onError;
  fill($("upload-area"), writer ? uploadForm() : null);
  if (wired) return;
  wired = true;
  $("docs-refresh").addEventListener("click", () => loadDocuments().catch(report));
  $("docs-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    loadDocuments().catch(report);
  });
}

function uploadForm() {
  const input = el("input", { type: "file", id: "upload-files", multiple: true, required: true });
  const force = el("input", { type: "checkbox", id: "upload-force" });
  const form = el("form", { id: "upload-form", class: "row upload" },
    el("label", { for: "upload-files" }, "Upload files"), input,
    el("label", {}, force, " rebuild unchanged"), el("button", { type: "submit" }, "Upload"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    upload(input, force).catch(report);
  });
  return el("section", { class: "card" }, el("h2", {}, "Upload"),
    el("p", { class: "muted" }, "Text, Markdown, HTML, PDF, JSON or CSV; ingested by a background job."),
    form);
}

async function upload(input, force) {
  if (!input.files.length) return;
  const form = new FormData();
  for (const file of input.files) form.append("files", file, file.name);
  if (force.checked) form.append("force", "true");
  const job = await api.request("POST", "/v1/documents", { form });
  input.value = "";
  await trackJob(job);
}

async function trackJob(job) {
  const card = el("div", { class: "card job", dataset: { jobId: job.id } });
  $("jobs").prepend(card);
  for (;;) {
    renderJob(card, job);
    if (FINISHED.has(job.status)) break;
    await new Promise((resolve) => setTimeout(resolve, 700));
    job = await api.get("/v1/jobs/" + encodeURIComponent(job.id));
  }
  await loadDocuments();
}

function renderJob(card, job) {
  card.dataset.status = job.status;
  const percent = job.total ? Math.round((100 * job.done) / job.total) : 0;
  fill(card,
    el("div", {}, el("strong", {}, "Ingest job "), el("code", {}, job.id), " ",
      el("span", { class: "badge job-status " + job.status }, job.status), ` ${job.done}/${job.total} inputs`),
    el("progress", { max: 100, value: percent }, `${percent}%`),
    el("ul", { class: "job-files" }, job.files.map((f) => el("li", {}, f.name, " ",
      el("span", { class: "muted" }, f.status + (f.documents ? `, ${f.documents} document(s)` : "")),
      f.error ? el("div", { class: "error" }, f.error) : null))),
    job.error ? el("p", { class: "error" }, job.error) : null);
}

export async function loadDocuments() {
  const contains = $("docs-contains").value.trim();
  const page = await api.get("/v1/documents" + api.query({ limit: 500, contains }));
  $("docs-count").textContent = `${page.total} document(s)`;
  fill($("docs-table").tBodies[0], page.items.map((d) => el("tr", { dataset: { documentId: d.id } },
    el("td", {}, el("a", { href: docHref(d.id) }, d.title || shortSource(d.source))),
    el("td", { class: "muted", title: d.source }, shortSource(d.source)),
    el("td", {}, d.status, d.error ? el("div", { class: "error" }, d.error) : null),
    el("td", {}, String(d.chunk_count)),
    el("td", { class: "muted" }, new Date(d.updated_at).toLocaleString()),
    el("td", {}, canWrite ? deleteButton(d) : null))));
}

function deleteButton(document) {
  const button = el("button", { type: "button", class: "danger delete" }, "Delete");
  button.addEventListener("click", async () => {
    if (!button.classList.contains("confirm")) {
      button.classList.add("confirm");
      button.textContent = "Confirm delete";
      return;
    }
    button.disabled = true;
    try {
      await api.del("/v1/documents/" + encodeURIComponent(document.id));
      await loadDocuments();
    } catch (error) {
      button.disabled = false;
      report(error);
    }
  });
  return button;
}

/** The document view: its facts, its chunks and the entities of each chunk. */
export async function showDocument(documentId, chunkId) {
  const id = encodeURIComponent(documentId);
  const box = $("document");
  fill(box, el("p", { class: "muted" }, "Loading…"));
  let detail, entities;
  try {
    [detail, entities] = await Promise.all([
      api.get(`/v1/documents/${id}`), api.get(`/v1/documents/${id}/entities`)]);
  } catch (error) {  // deleted meanwhile, or no access: say so instead of "Loading…"
    fill(box, el("p", { class: "error" }, String(error.message || error)));
    throw error;
  }
  const d = detail.document;
  fill(box,
    el("h2", { class: "document-title" }, d.title || d.source),
    el("dl", { class: "facts" },
      el("dt", {}, "source"), el("dd", {}, d.source),
      el("dt", {}, "type"), el("dd", {}, d.mime),
      el("dt", {}, "status"), el("dd", {}, d.status),
      el("dt", {}, "chunks"), el("dd", {}, String(d.chunk_count)),
      el("dt", {}, "updated"), el("dd", {}, new Date(d.updated_at).toLocaleString())),
    detail.chunks.map((chunk) => chunkCard(chunk, entities.chunks[chunk.id] || [], chunk.id === chunkId)));
  const focus = box.querySelector(".chunk.focus");
  if (focus) focus.scrollIntoView({ block: "center" });
}

function chunkCard(chunk, refs, focus) {
  return el("article", { class: "chunk card" + (focus ? " focus" : ""), id: "chunk-" + chunk.ordinal,
    dataset: { chunkId: chunk.id } },
    el("h3", {}, `Chunk ${chunk.ordinal + 1}`, el("span", { class: "muted" }, ` · ${chunk.token_count} tokens`)),
    el("p", { class: "chunk-text" }, marked(chunk.text, focus ? citedQuotes.get(chunk.id) || [] : [])),
    el("div", { class: "chips" }, refs.length ? refs.map((r) => el("a", { class: "chip", href: entityHref(r.id),
      title: r.type }, r.name, el("span", { class: "muted" }, " " + r.type))) : el("span", { class: "muted" }, "no entities")));
}
