// DOM helpers. Every text from the server (documents are untrusted input) goes into the page
// through textContent or text nodes, never as HTML; links are built here from ids, so no
// server value ever becomes a URL.

/**
 * Create an element: el("a", {href: "#doc/x", class: "c", onclick: fn}, "text", child).
 * Only "#..." links are accepted: a server value must never become a URL.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = visible(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "style") throw new Error("inline styles are refused by the page's CSP");
    else {
      if (key === "href" && !String(value).startsWith("#")) {
        throw new Error("only in-page links are built: " + value);
      }
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

/** Append children (nodes, strings, numbers, arrays; null and false are skipped). */
export function append(node, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(visible(child)));
  }
  return node;
}

const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/**
 * Text with its bidirectional control characters (embeddings, overrides, isolates: they can
 * reverse the text around them, e.g. a title that displays as another) shown as codes.
 */
export function visible(text) {
  return String(text).replace(BIDI_CONTROLS,
    (c) => `<U+${c.codePointAt(0).toString(16).toUpperCase()}>`);
}

/** Replace the children of a node. */
export function fill(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

export const $ = (id) => document.getElementById(id);

/** The in-page link to a document, optionally to one of its chunks. */
export function docHref(documentId, chunkId) {
  const parts = ["#doc", encodeURIComponent(documentId)];
  if (chunkId) parts.push(encodeURIComponent(chunkId));
  return parts.join("/");
}

/** The in-page link to an entity in the Explore view. */
export function entityHref(entityId) {
  return "#entity/" + encodeURIComponent(entityId);
}

/** A document source to show: a file path by its file name (the whole source as a tooltip). */
export function shortSource(source) {
  const value = String(source ?? "");
  if (value.includes("://") || !value.includes("/")) return value;
  return value.slice(value.lastIndexOf("/") + 1) || value;
}

/** A number with a fixed count of decimals ("" when missing). */
export function num(value, digits = 3) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "";
}

/** Text cut to `max` characters, with an ellipsis. */
export function cut(text, max) {
  const value = String(text ?? "");
  return value.length > max ? value.slice(0, max - 1) + "…" : value;
}

/**
 * Text with some exact substrings marked: a list of nodes (text and <mark>), no HTML parsing.
 * `quotes` that are not found are ignored.
 */
export function marked(text, quotes) {
  const value = String(text ?? "");
  const ranges = [];
  for (const quote of quotes) {
    if (!quote) continue;
    const at = value.indexOf(quote);
    if (at >= 0) ranges.push([at, at + quote.length]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const out = [];
  let pos = 0;
  for (const [start, end] of ranges) {
    if (start < pos) continue;
    out.push(value.slice(pos, start), el("mark", {}, value.slice(start, end)));
    pos = end;
  }
  out.push(value.slice(pos));
  return out.filter((part) => part !== "");
}

/** Show an error or a message in the page's alert area (text only). */
export function alertMessage(message, kind = "error") {
  const box = $("alert");
  box.className = "alert " + kind;
  box.textContent = message;
  box.hidden = !message;
}
