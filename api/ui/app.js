// The explorer's shell: sign-in (token in session storage), the caller's role, views, routing.

import * as api from "./api.js";
import { initAsk } from "./ask.js";
import { initDocuments, loadDocuments, showDocument } from "./documents.js";
import { $, alertMessage } from "./dom.js";
import { loadEval } from "./evaluation.js";
import { initExplore, loadExplore } from "./explore.js";
import { GraphPanel } from "./graph.js";

const VIEWS = ["signin", "ask", "documents", "document", "explore", "eval"];
const loaded = new Set();
let caller = null;
let graphs = null;

function report(error) {
  if (error && error.name === "AbortError") return;
  alertMessage(error && error.message ? error.message : String(error));
}

function show(view) {
  for (const name of VIEWS) $("view-" + name).hidden = name !== view;
  for (const link of document.querySelectorAll("#tabs a")) {
    const current = link.dataset.view === view || (view === "document" && link.dataset.view === "documents");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  if (!caller) return show("signin");
  alertMessage("");
  const [name, ...rest] = (location.hash.slice(1) || "ask").split("/");
  const args = rest.map(decodeURIComponent);
  try {
    if (name === "doc" && args[0]) {
      show("document");
      await showDocument(args[0], args[1]);
    } else if (name === "entity" && args[0]) {
      show("explore");
      await once("explore", loadExplore);
      await graphs.explore.showEntity(args[0]);
    } else if (name === "documents") {
      show("documents");
      await once("documents", loadDocuments);
    } else if (name === "explore") {
      show("explore");
      await once("explore", loadExplore);
    } else if (name === "eval") {
      show("eval");
      await once("eval", loadEval);
    } else {
      show("ask");
    }
  } catch (error) {
    report(error);
  }
}

async function once(key, load) {
  if (loaded.has(key)) return;
  await load();
  loaded.add(key);
}

async function signIn(token) {
  api.session.token = token;
  try {
    caller = await api.get("/v1/me");
  } catch (error) {
    api.session.token = "";
    caller = null;
    throw error;
  }
  const writer = caller.role === "writer" || caller.role === "admin";
  document.body.dataset.role = caller.role;
  $("who-text").textContent = `${caller.subject} · ${caller.role} · workspace ${caller.workspace}`;
  $("who").hidden = false;
  $("tabs").hidden = false;
  initDocuments(writer, report);
}

function signOut() {
  api.session.token = "";
  location.hash = "";
  location.reload();
}

function start() {
  graphs = { ask: new GraphPanel($("ask-graph"), { onError: report }),
    explore: new GraphPanel($("explore-graph"), { onError: report }) };
  window.graphragExplorer = graphs; // read by the browser tests; holds no secret
  initAsk(graphs.ask, report);
  initExplore(graphs.explore, report);
  api.setUnauthorizedHandler((message) => {
    api.session.token = "";
    caller = null;
    $("who").hidden = true;
    $("tabs").hidden = true;
    show("signin");
    alertMessage("Signed out: " + message);
  });
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("token-input");
    signIn(input.value.trim()).then(() => { input.value = ""; return route(); }, report);
  });
  $("sign-out").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", route);
  if (api.session.token) signIn(api.session.token).then(route, (error) => { report(error); show("signin"); });
  else show("signin");
}

start();
