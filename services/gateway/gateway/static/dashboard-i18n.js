// The dashboard's words: every string comes from /dashboard/i18n/<lang>.json; numbers and dates from Intl.
export const LANGUAGES = ["es", "en"];
const FALLBACK = "es"; // wamux's clients are Spanish-speaking businesses first

let catalogue = {};
let locale = FALLBACK;
let timeZone;

/** The client's own setting first (es, es-CO, en…), then the browser's, then Spanish. */
export function chooseLanguage(...preferences) {
  for (const tag of preferences.flat()) {
    const base = String(tag || "").toLowerCase().split(/[-_]/)[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return FALLBACK;
}

export async function load(language, zone) {
  const response = await fetch(`/dashboard/i18n/${language}.json`);
  if (!response.ok) throw new TypeError(`catalogue ${language}: ${response.status}`);
  catalogue = await response.json();
  locale = language;
  timeZone = zone || undefined;
  document.documentElement.lang = language;
}

export function setTimeZone(zone) {
  try {
    new Intl.DateTimeFormat(locale, { timeZone: zone });
    timeZone = zone;
  } catch {
    timeZone = undefined; // an unknown zone name: the browser's own
  }
}

function fill(template, params) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** The catalogue's text for ``key``; a missing key shows itself, so a gap is visible instead of blank. */
export function t(key, params = {}) {
  const entry = catalogue[key];
  if (entry === undefined) return key;
  if (typeof entry === "object") return plural(key, params.n ?? 0, params);
  return fill(entry, formatted(params));
}

export function plural(key, n, params = {}) {
  const forms = catalogue[key];
  if (forms === undefined) return key;
  const form = forms[new Intl.PluralRules(locale).select(n)] ?? forms.other;
  return fill(form, formatted({ ...params, n }));
}

function formatted(params) {
  const out = {};
  for (const [name, value] of Object.entries(params)) out[name] = typeof value === "number" ? number(value) : value;
  return out;
}

export function number(value, options) {
  return new Intl.NumberFormat(locale, options).format(value);
}

export function dateTime(iso) {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone }).format(new Date(iso));
}

export function time(date) {
  return new Intl.DateTimeFormat(locale, { timeStyle: "short", timeZone }).format(date);
}

/** A calendar day or month ("2026-07-01") as written, whatever the zone: it is a date, not an instant. */
export function day(isoDate, options = { day: "numeric", month: "short" }) {
  return new Intl.DateTimeFormat(locale, { ...options, timeZone: "UTC" }).format(new Date(`${isoDate.slice(0, 10)}T12:00:00Z`));
}

export function month(isoDate) {
  return day(isoDate, { month: "long", year: "numeric" });
}

/** Fill every data-i18n (text) and data-i18n-<attribute> (aria-label, placeholder…) under ``root``. */
export function translate(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("*")) {
    for (const name of Object.keys(node.dataset)) {
      if (!name.startsWith("i18n") || name === "i18n") continue;
      const attribute = name.slice(4).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/^-/, "");
      node.setAttribute(attribute, t(node.dataset[name]));
    }
  }
}
