// Evaluation: the latest `graphrag eval` results (GET /v1/eval) as tables, with the recall plot.

import * as api from "./api.js";
import { $, el, fill, num } from "./dom.js";

const GROUPS = [["recall", 100, 1, ""], ["all_gold", 100, 1, ""], ["latency_ms", 1, 1, " ms"]];

export async function loadEval() {
  const box = $("eval");
  fill(box, el("p", { class: "muted" }, "Loading…"));
  const data = await api.get("/v1/eval");
  if (!data.runs.length) {
    fill(box, el("p", { class: "muted eval-note" }, data.note || "No evaluation results."));
    return;
  }
  fill(box, el("p", { class: "muted" }, "Recall and all-gold in percent; latency is retrieval wall time."),
    data.runs.map(runSection));
  for (const run of data.runs.filter((r) => r.plot)) {
    const img = box.querySelector(`img[data-run="${CSS.escape(run.name)}"]`);
    api.blobUrl(`/v1/eval/${encodeURIComponent(run.name)}/recall.png`).then((url) => { img.src = url; },
      (error) => img.replaceWith(el("p", { class: "error" }, error.message)));
  }
}

function columns(modes) {
  const cols = [];
  for (const [group, scale, digits, unit] of GROUPS) {
    const keys = [...new Set(modes.flatMap((m) => Object.keys(m[group] || {})))];
    for (const key of keys) cols.push({ group, key, scale, digits, unit });
  }
  return cols;
}

function runSection(run) {
  const cols = columns(run.modes);
  return el("section", { class: "card eval-run", dataset: { run: run.name } },
    el("h3", {}, run.dataset),
    el("p", { class: "muted" }, [run.questions != null ? `${run.questions} questions` : "",
      run.passages != null ? `${run.passages} passages` : "", run.created_at ? `created ${run.created_at}` : ""]
      .filter(Boolean).join(", ")),
    el("table", { class: "table eval-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "mode"), cols.map((c) => el("th", {}, c.key + c.unit)))),
      el("tbody", {}, run.modes.map((m) => el("tr", {}, el("th", {}, String(m.mode ?? "")),
        cols.map((c) => el("td", { class: "score" }, num((m[c.group] || {})[c.key] * c.scale, c.digits))))))),
    run.plot ? el("img", { alt: `recall by mode on ${run.dataset}`, class: "plot", dataset: { run: run.name } }) : null);
}
