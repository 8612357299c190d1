// Explore: entity search by name, top entities by rank, communities with their summaries,
// and one entity's neighbourhood as a graph.

import * as api from "./api.js";
import { $, el, entityHref, fill, num } from "./dom.js";

let report = () => {};

export function initExplore(graph, onError) {
  report = onError;
  graph.clear("Pick an entity (search, top entities or a community) to draw its neighbourhood.");
  $("entity-search").addEventListener("submit", (event) => {
    event.preventDefault();
    search().catch(report);
  });
}

function entityItem(entity, extra) {
  return el("li", { dataset: { entityId: entity.id } },
    el("a", { href: entityHref(entity.id) }, entity.name), " ",
    el("span", { class: "muted" }, [entity.type, extra].filter(Boolean).join(" · ")));
}

async function search() {
  const q = $("entity-q").value.trim();
  if (!q) return;
  const page = await api.get("/v1/entities" + api.query({ q, limit: 20 }));
  fill($("entity-results"), page.items.length
    ? page.items.map((e) => entityItem(e, e.aliases.length ? "also " + e.aliases.join(", ") : ""))
    : el("li", { class: "muted" }, "no entity with a similar name"));
}

/** Top entities and communities (once per sign-in). */
export async function loadExplore() {
  const [top, communities] = await Promise.all([
    api.get("/v1/entities/top?limit=15"), api.get("/v1/communities")]);
  fill($("top-entities"), top.items.length
    ? top.items.map((e) => entityItem(e, "rank " + num(e.rank, 5)))
    : el("li", { class: "muted" }, "no ranks yet: run graphrag analyze"));
  const list = communities.communities;
  fill($("communities"), list.length ? list.map((c) => el("details", { class: "community" },
    el("summary", {}, el("strong", {}, c.title), el("span", { class: "muted" }, ` · ${c.member_ids.length} members`)),
    c.summary ? el("p", {}, c.summary) : el("p", { class: "muted" }, "no summary"),
    el("p", {}, "Top members: ", c.member_ids.slice(0, 5).map((id, i) => [i ? ", " : "",
      el("a", { href: entityHref(id) }, `#${i + 1}`)]))))
    : el("p", { class: "muted" }, "No communities yet: run graphrag analyze."));
}
