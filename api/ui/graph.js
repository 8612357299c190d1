// An interactive network (cytoscape.js) of entities, relations, chunks and documents, with a
// detail panel: click an entity to expand its neighbourhood and read its aliases, type, rank,
// communities and the sentences that mention it. Labels are drawn on a canvas (no HTML).

import * as api from "./api.js";
import { cut, docHref, el, entityHref, fill, num, visible } from "./dom.js";

const STYLE = [
  { selector: "node", style: {
    label: "data(label)", "font-size": 10, "text-wrap": "ellipsis", "text-max-width": 120,
    "text-valign": "bottom", "text-margin-y": 3, color: "#1f2937", "background-color": "#64748b",
    width: 18, height: 18 } },
  { selector: "node.entity", style: { width: "mapData(weight, 0, 1, 16, 34)", height: "mapData(weight, 0, 1, 16, 34)" } },
  { selector: "node.question", style: { "background-color": "#2563eb", "font-weight": "bold" } },
  { selector: "node.bridge", style: { "background-color": "#d97706", shape: "diamond", "font-weight": "bold" } },
  { selector: "node.endpoint", style: { "background-color": "#16a34a" } },
  { selector: "node.expanded", style: { "background-color": "#a78bfa" } },
  { selector: "node.chunk", style: { shape: "rectangle", "background-color": "#cbd5e1", width: 14, height: 14, "font-size": 9 } },
  { selector: "node.chunk.cited", style: { "background-color": "#f59e0b" } },
  { selector: "node.document", style: { shape: "round-rectangle", "background-color": "#e2e8f0", "border-width": 1, "border-color": "#94a3b8", width: 24, height: 16 } },
  { selector: "node:selected", style: { "border-width": 3, "border-color": "#dc2626" } },
  { selector: "edge", style: {
    width: 1, "line-color": "#94a3b8", "curve-style": "bezier", "target-arrow-shape": "triangle",
    "target-arrow-color": "#94a3b8", "arrow-scale": 0.6, label: "data(label)", "font-size": 8,
    color: "#475569", "text-rotation": "autorotate" } },
  { selector: "edge.cooccur", style: { "line-style": "dashed", "target-arrow-shape": "none", label: "" } },
  { selector: "edge.mention, edge.part", style: { "line-style": "dashed", "line-dash-pattern": [4, 3], "target-arrow-shape": "none", label: "", "line-color": "#a3b1c4", width: 1.2 } },
  { selector: "edge.path", style: { width: 3, "line-color": "#d97706", "target-arrow-color": "#d97706", "line-style": "solid" } },
];

const ROLE_TEXT = { question: "question entity", bridge: "bridge entity", endpoint: "path end", expanded: "expanded" };

const norm = (name) => String(name ?? "").trim().toLowerCase();

export class GraphPanel {
  /** container: an element to fill; onError(error) reports failures. */
  constructor(container, { onError } = {}) {
    this.onError = onError || (() => {});
    this.canvas = el("div", { class: "graph-canvas", role: "img",
      "aria-label": "Network of entities, chunks and documents" });
    this.summary = el("p", { class: "muted graph-summary" });
    this.nodeList = el("ul", { class: "node-list" });
    this.detail = el("div", { class: "entity-detail", "aria-live": "polite" });
    fill(container, legend(), this.canvas, this.summary,
      el("details", { class: "node-details" }, el("summary", {}, "Entities in the graph"), this.nodeList),
      this.detail);
    this.cy = null;
  }

  ensure() {
    if (this.cy) return this.cy;
    this.cy = cytoscape({ container: this.canvas, style: STYLE, maxZoom: 3, minZoom: 0.2 });
    this.cy.on("tap", "node.entity", (event) => this.select(event.target.id()));
    this.cy.on("tap", "node.chunk, node.document", (event) => {
      const data = event.target.data();
      location.hash = docHref(data.documentId, data.chunkId).slice(1);
    });
    return this.cy;
  }

  clear(hint = "") {
    this.ensure().elements().remove();
    this.detail.replaceChildren();
    this.summary.textContent = hint;
    this.nodeList.replaceChildren();
  }

  /** Add (or mark) an entity node; role is one of question, bridge, endpoint, expanded. */
  addEntity(ref, role, weight = 0.3) {
    const cy = this.ensure();
    let node = cy.getElementById(ref.id);
    if (node.empty()) {
      node = cy.add({ group: "nodes", classes: "entity", data: {
        id: ref.id, label: visible(ref.name || ref.label || ref.id), name: ref.name || ref.label || ref.id,
        type: ref.type || "", rank: ref.rank ?? null, weight } });
    }
    if (role && !node.hasClass("question") && !(role === "endpoint" && node.hasClass("bridge"))) {
      node.removeClass("expanded endpoint bridge").addClass(role);
    }
    return node;
  }

  addEdge(id, source, target, label, classes) {
    const cy = this.ensure();
    if (!cy.getElementById(id).empty()) return cy.getElementById(id);
    if (cy.getElementById(source).empty() || cy.getElementById(target).empty()) return null;
    return cy.add({ group: "edges", classes, data: { id, source, target, label: visible(label || "") } });
  }

  addRelation(relation) {
    const predicate = relation.predicate ?? relation.label;
    const kind = relation.kind ?? "";
    const cooccur = kind === "cooccurrence" || predicate === "co_occurs_with";
    return this.addEdge("rel:" + relation.id, relation.source_id ?? relation.source,
      relation.target_id ?? relation.target, cooccur ? "" : predicate, cooccur ? "cooccur" : "relation");
  }

  /** Draw the subgraph behind an answer: its entities, relations, paths, chunks, documents. */
  async showAnswer(context, citations) {
    this.clear();
    const known = new Map(context.entities.map((e) => [e.id, e]));
    const chunkIds = context.chunks.map((c) => c.id);
    const mentions = chunkIds.length
      ? (await api.get("/v1/chunks/entities" + api.query({ id: chunkIds.slice(0, 100) }))).chunks : {};
    for (const refs of Object.values(mentions)) for (const ref of refs) if (!known.has(ref.id)) known.set(ref.id, ref);
    await this.fetchMissing(known, context.relations.flatMap((r) => [r.source_id, r.target_id]));
    const top = Math.max(...context.entities.map((e) => e.score), 1e-9);
    for (const entity of context.entities) this.addEntity(entity, null, entity.score / top);
    const roles = pathRoles(context.paths, known, context.entities);
    for (const [id, role] of roles) this.addEntity(known.get(id), role);
    for (const relation of context.relations) {
      for (const end of [relation.source_id, relation.target_id]) {
        if (known.has(end)) this.addEntity(known.get(end), null, 0.1);
      }
      this.addRelation(relation);
    }
    this.markPaths(context.paths, known, context.entities);
    this.addChunks(context.chunks, citations, mentions);
    this.layout();
    const bridges = [...roles.values()].filter((r) => r === "bridge").length;
    this.summary.textContent = `${this.cy.nodes(".entity").length} entities, ${context.relations.length} relations, `
      + `${context.paths.length} paths (${bridges} bridge entities), ${context.chunks.length} chunks. Click an entity to expand it.`;
    this.renderNodeList();
  }

  async fetchMissing(known, ids) {
    const missing = [...new Set(ids)].filter((id) => id && !known.has(id)).slice(0, 40);
    const found = await Promise.all(missing.map((id) =>
      api.get("/v1/entities/" + encodeURIComponent(id)).then((d) => d.entity, () => null)));
    for (const entity of found) if (entity) known.set(entity.id, entity);
  }

  markPaths(paths, known, entities) {
    for (const path of paths) {
      const ids = path.map((step) => resolve(step, known, entities)).filter(Boolean);
      for (let i = 0; i + 1 < ids.length; i++) {
        const [a, b] = [ids[i], ids[i + 1]];
        const edges = this.cy.edges(`[source = "${cssEscape(a)}"][target = "${cssEscape(b)}"], [source = "${cssEscape(b)}"][target = "${cssEscape(a)}"]`);
        if (edges.empty()) this.addEdge(`path:${a}:${b}`, a, b, "", "path");
        else edges.addClass("path");
      }
    }
  }

  addChunks(chunks, citations, mentions) {
    const cited = new Map();
    for (const c of citations || []) if (!cited.has(c.chunk_id)) cited.set(c.chunk_id, c.marker);
    chunks.forEach((chunk, index) => {
      const id = "chunk:" + chunk.id;
      const marker = cited.get(chunk.id);
      this.cy.add({ group: "nodes", classes: "chunk" + (marker ? " cited" : ""), data: {
        id, label: marker ? `[${marker}] #${index + 1}` : `#${index + 1}`, chunkId: chunk.id, documentId: chunk.document_id } });
      const docId = "doc:" + chunk.document_id;
      if (this.cy.getElementById(docId).empty()) {
        this.cy.add({ group: "nodes", classes: "document", data: {
          id: docId, label: cut(chunk.title || chunk.source, 40), documentId: chunk.document_id } });
      }
      this.addEdge(`part:${chunk.id}`, id, docId, "", "part");
      for (const ref of mentions[chunk.id] || []) {
        if (!this.cy.getElementById(ref.id).empty()) this.addEdge(`mention:${chunk.id}:${ref.id}`, ref.id, id, "", "mention");
      }
    });
  }

  layout() {
    const cy = this.ensure();
    cy.resize();
    cy.layout({ name: "cose", animate: false, randomize: false, padding: 20, numIter: 1500,
      nodeOverlap: 40, gravity: 0.3, componentSpacing: 60,
      nodeRepulsion: (node) => (node.hasClass("entity") ? 120000 : 40000),
      idealEdgeLength: (edge) => (edge.hasClass("mention") ? 140 : edge.hasClass("part") ? 50 : 90),
      edgeElasticity: (edge) => (edge.hasClass("mention") ? 200 : 100) }).run();
    cy.fit(undefined, 20);
  }

  renderNodeList() {
    const nodes = this.cy.nodes(".entity").sort((a, b) => roleOrder(a) - roleOrder(b) || a.data("name").localeCompare(b.data("name")));
    fill(this.nodeList, nodes.map((node) => {
      const role = ["question", "bridge", "endpoint", "expanded"].find((r) => node.hasClass(r)) || "retrieved";
      return el("li", { class: "node-item " + role, dataset: { entityId: node.id(), role } },
        el("button", { type: "button", class: "link", onclick: () => this.select(node.id()) }, node.data("name")),
        " ", el("span", { class: "muted" }, [node.data("type"), ROLE_TEXT[role]].filter(Boolean).join(" · ")));
    }));
  }

  /** Show a single entity (the Explore view) and expand it. */
  async showEntity(entityId) {
    this.clear();
    const detail = await api.get("/v1/entities/" + encodeURIComponent(entityId));
    this.addEntity(detail.entity, "question", 1);
    await this.select(entityId, detail);
  }

  /** Select an entity: expand its neighbourhood and show its details. */
  async select(entityId, known) {
    const cy = this.ensure();
    cy.$(":selected").unselect();
    cy.getElementById(entityId).select();
    fill(this.detail, el("p", { class: "muted" }, "Loading…"));
    try {
      const id = encodeURIComponent(entityId);
      const [detail, mentions, around] = await Promise.all([
        known ? Promise.resolve(known) : api.get(`/v1/entities/${id}`),
        api.get(`/v1/entities/${id}/mentions?limit=8`),
        api.get(`/v1/entities/${id}/neighbourhood?hops=1&limit=25`),
      ]);
      const added = this.expand(around);
      this.renderDetail(detail, mentions, added);
      this.renderNodeList();
      cy.getElementById(entityId).select();
    } catch (error) {
      fill(this.detail, el("p", { class: "error" }, error.message));
      this.onError(error);
    }
  }

  expand(around) {
    const before = this.cy.nodes(".entity").length;
    for (const node of around.nodes) this.addEntity({ id: node.id, name: node.label, type: node.type, rank: node.rank }, null, 0.2);
    for (const node of this.cy.nodes(".entity")) {
      if (!node.hasClass("question") && !node.hasClass("bridge") && !node.hasClass("endpoint")
          && around.nodes.some((n) => n.id === node.id()) && !node.scratch("seen")) node.addClass("expanded");
      node.scratch("seen", true);
    }
    for (const edge of around.edges) this.addRelation(edge);
    const added = this.cy.nodes(".entity").length - before;
    if (added) this.layout();
    return added;
  }

  renderDetail(detail, mentions, added) {
    const entity = detail.entity;
    const merged = detail.merges.filter((m) => !m.undone_at).map((m) => m.alias_name);
    const aliases = [...new Set([...entity.aliases, ...merged])];
    fill(this.detail,
      el("h3", { class: "entity-name" }, entity.name),
      el("dl", { class: "facts" },
        el("dt", {}, "type"), el("dd", { class: "entity-type" }, entity.type),
        el("dt", {}, "rank"), el("dd", { class: "entity-rank" }, entity.rank === null ? "not analysed (run graphrag analyze)" : num(entity.rank, 5)),
        el("dt", {}, "aliases"), el("dd", { class: "entity-aliases" }, aliases.length ? aliases.join(", ") : "none"),
        el("dt", {}, "mentioned in"), el("dd", {}, `${mentions.chunks} chunk(s)`),
        el("dt", {}, "community"), el("dd", { class: "entity-communities" },
          detail.communities.length ? detail.communities.map((c) => el("div", {},
            el("strong", {}, c.title), ` (${c.size} members)`, c.summary ? el("p", { class: "muted" }, cut(c.summary, 400)) : null))
            : "none (run graphrag analyze)")),
      el("p", { class: "muted expanded-count" }, `Expanded: ${added} new neighbour(s).`),
      el("h4", {}, "Sentences that mention it"),
      el("ul", { class: "sentences" }, mentions.sentences.map((s) => el("li", {},
        el("q", {}, s.sentence), " ", el("a", { href: docHref(s.document_id, s.chunk_id) }, cut(s.title || s.source, 60))))),
      el("p", {}, el("a", { href: entityHref(entity.id) }, "Open in Explore")));
  }
}

function legend() {
  const item = (cls, text) => el("span", { class: "legend-item" }, el("span", { class: "swatch " + cls }), text);
  return el("div", { class: "legend" }, item("question", "question entity"), item("bridge", "bridge entity"),
    item("endpoint", "path end"), item("retrieved", "retrieved"), item("expanded", "expanded"),
    item("chunk", "chunk"), item("cited", "cited chunk"), item("document", "document"));
}

function roleOrder(node) {
  return ["question", "bridge", "endpoint"].findIndex((r) => node.hasClass(r)) + 1 || 4;
}

/** A path step (an entity id or name) as an entity id. */
function resolve(step, known, entities) {
  if (known.has(step)) return step;
  const wanted = norm(step);
  const hit = entities.find((e) => norm(e.name) === wanted) || [...known.values()].find((e) => norm(e.name) === wanted);
  return hit ? hit.id : null;
}

/** Roles of path entities: the first of a path is a question entity, inner ones bridges. */
function pathRoles(paths, known, entities) {
  const roles = new Map();
  const rank = { question: 3, bridge: 2, endpoint: 1 };
  for (const path of paths) {
    const ids = path.map((step) => resolve(step, known, entities));
    ids.forEach((id, i) => {
      if (!id || !known.has(id)) return;
      const role = i === 0 ? "question" : i === ids.length - 1 ? "endpoint" : "bridge";
      if (!roles.has(id) || rank[role] > rank[roles.get(id)]) roles.set(id, role);
    });
  }
  return roles;
}

function cssEscape(value) {
  return String(value).replace(/["\\]/g, "\\$&");
}

