// Ask: a question, a mode, the streamed answer with citation links, the retrieved chunks with
// their scores, the extractive note, and the graph behind the answer.

import * as api from "./api.js";
import { $, docHref, el, fill, marked, num, shortSource, visible } from "./dom.js";

/** Quotes of the last answer's citations by chunk id (the document view marks them). */
export const citedQuotes = new Map();

let controller = null;

export function initAsk(graph, onError) {
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const view = $("view-ask");
    view.dataset.state = "asking";
    ask(graph).then(() => { view.dataset.state = "done"; }, (error) => {
      view.dataset.state = "failed";
      onError(error);
    });
  });
}

function reset() {
  fill($("answer"));
  fill($("answer-notes"));
  fill($("citations"));
  fill($("chunks").tBodies[0]);
  $("answer-kind").hidden = true;
  delete $("ask-status").dataset.firstMs;
  citedQuotes.clear();
}

async function ask(graph) {
  const question = $("question").value.trim();
  if (!question) return;
  controller?.abort();
  controller = new AbortController();
  reset();
  const body = { question, mode: $("mode").value };
  const topK = Number.parseInt($("top-k").value, 10);
  if (topK > 0) body.top_k = topK;
  const status = $("ask-status");
  status.textContent = "Retrieving…";
  $("ask-button").disabled = true;
  performance.clearMarks();
  performance.mark("ask-start");
  const state = { text: "", context: null, answer: null, error: null, first: null };
  try {
    await api.stream("/v1/query/stream", body, (name, data) => onEvent(state, name, data), controller.signal);
  } finally {
    $("ask-button").disabled = false;
  }
  if (state.error) throw new api.ApiError(500, state.error.code, state.error.message);
  if (!state.answer) throw new Error("the answer stream ended without an answer; ask again");
  const done = performance.now() - performance.getEntriesByName("ask-start")[0].startTime;
  renderAnswer(state.answer);
  status.textContent = `First words after ${Math.round(state.first ?? done)} ms, complete after ${Math.round(done)} ms.`;
  status.dataset.firstMs = String(Math.round(state.first ?? done));
  if (state.context) await graph.showAnswer(state.context, state.answer.citations);
}

function onEvent(state, name, data) {
  if (name === "context") {
    state.context = data;
    renderChunks(data.chunks, []);
    $("ask-status").textContent = `Retrieved ${data.chunks.length} chunks; answering…`;
  } else if (name === "delta") {
    state.text += data.text;
    $("answer").append(document.createTextNode(visible(data.text)));
    if (state.first === null) {
      state.first = performance.now() - performance.getEntriesByName("ask-start")[0].startTime;
      requestAnimationFrame(() => performance.mark("first-answer"));
    }
  } else if (name === "done") {
    state.answer = data;
  } else if (name === "error") {
    state.error = data.error || { code: "error", message: "the answer failed" };
  }
}

function renderAnswer(answer) {
  const byMarker = new Map(answer.citations.map((c) => [c.marker, c]));
  const parts = answer.text.split(/(\[\d+\])/);
  fill($("answer"), parts.map((part) => {
    const match = /^\[(\d+)\]$/.exec(part);
    const citation = match && byMarker.get(Number(match[1]));
    return citation
      ? el("a", { href: docHref(citation.document_id, citation.chunk_id), class: "cite",
        title: citation.title }, part)
      : part;
  }));
  const kind = $("answer-kind");
  kind.textContent = answer.kind;
  kind.className = "badge " + answer.kind;
  kind.hidden = false;
  fill($("answer-notes"), answer.notes.map((note) => el("li", {}, note)));
  for (const c of answer.citations) {
    citedQuotes.set(c.chunk_id, [...(citedQuotes.get(c.chunk_id) || []), c.quote]);
  }
  fill($("citations"), answer.citations.map((c) => el("li", { value: c.marker, class: "citation" },
    el("a", { href: docHref(c.document_id, c.chunk_id), class: "citation-link" }, c.title || c.source),
    " ", el("span", { class: "muted", title: c.source }, shortSource(c.source)), el("blockquote", {}, c.quote))));
  if (answer.context) renderChunks(answer.context.chunks, answer.citations);
  else if (lastChunks) renderChunks(lastChunks, answer.citations);
}

let lastChunks = null;

/** About `max` characters of a chunk: from its start, or around the first cited quote. */
function excerpt(text, quotes, max) {
  const at = Math.min(...quotes.map((q) => text.indexOf(q)).filter((i) => i >= 0), Infinity);
  const start = at === Infinity || at < max / 3 ? 0 : at - Math.round(max / 4);
  const end = Math.max(start + max, at === Infinity ? 0 : at + Math.max(...quotes.map((q) => q.length)));
  return (start ? "…" : "") + text.slice(start, end) + (end < text.length ? "…" : "");
}

function renderChunks(chunks, citations) {
  lastChunks = chunks;
  const cited = new Map();
  for (const c of citations) cited.set(c.chunk_id, [...(cited.get(c.chunk_id) || []), c]);
  fill($("chunks").tBodies[0], chunks.map((chunk, index) => {
    const marks = cited.get(chunk.id) || [];
    return el("tr", { class: marks.length ? "cited" : "", dataset: { chunkId: chunk.id } },
      el("td", {}, String(index + 1), marks.map((c) => ` [${c.marker}]`).join("")),
      el("td", { class: "score" }, num(chunk.score, 4)),
      el("td", {}, el("a", { href: docHref(chunk.document_id, chunk.id) }, chunk.title || chunk.source),
        el("div", { class: "muted" }, `chunk ${chunk.ordinal + 1}`)),
      el("td", { class: "chunk-text" }, marked(excerpt(chunk.text, marks.map((c) => c.quote), 360),
        marks.map((c) => c.quote))));
  }));
}
