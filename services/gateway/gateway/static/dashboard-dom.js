// Building the page from data: text always through textContent, never HTML, so nothing a customer wrote runs.
export const $ = (id) => document.getElementById(id);

export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

/** A table cell that also carries its column's heading, shown beside the value when rows become cards. */
export function cell(label, text, className) {
  const td = el("td", text, className);
  td.dataset.label = label;
  return td;
}
