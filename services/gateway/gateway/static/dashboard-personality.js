// The Personality view: the form (prefilled from the saved version), saving a new version, its history, and
// "try it": the ai-worker's prompt and model on a sample message, the draft or the saved one, nothing sent.
import { ApiError, json, send } from "./dashboard-api.js";
import { $, el } from "./dashboard-dom.js";
import { dateTime, LANGUAGES, t } from "./dashboard-i18n.js";

const FIELDS = { description: "p-description", tone: "p-tone", offer: "p-offer", hours: "p-hours", never_say: "p-never" };
const SAVE_ERRORS = { 400: "personality.invalid" };
const TRY_ERRORS = { 400: "personality.invalid", 502: "try.model_refused", 503: "try.model_down" };
const POLL_MS = 1000;
const POLL_TRIES = 30;
let saved = null; // the last GET: {version, personality, profile, language, versions}
let report = () => {};
const said = new Map(); // element id → [key, params]: said again in the new language on a switch

function say(id, key, params = {}) {
  if (key) said.set(id, [key, params]);
  else said.delete(id);
  $(id).textContent = key ? t(key, params) : "";
}

const failureWords = (failure) => (failure instanceof ApiError ? [failure.key, failure.params] : ["error.network", {}]);

function form() {
  const profile = {};
  for (const [name, id] of Object.entries(FIELDS)) profile[name] = $(id).value.trim();
  return profile;
}

function savedProfile() {
  if (!saved) return null;
  // A personality written before the form existed (free text, no profile) opens as the business description.
  return saved.profile || { description: saved.personality || "" };
}

function isDraft() {
  const before = savedProfile() || {};
  const now = form();
  return Object.keys(FIELDS).some((name) => (before[name] || "").trim() !== now[name]);
}

function fillLanguages(current) {
  const select = $("p-language");
  const tags = [...new Set([...LANGUAGES, ...(current ? [current] : [])])];
  select.replaceChildren(...tags.map((tag) => {
    const option = el("option", LANGUAGES.includes(tag) ? t(`language.${tag}`) : tag);
    option.value = tag;
    option.lang = tag;
    return option;
  }));
  select.value = current || LANGUAGES[0];
}

function byWhom(who) {
  return ["client", "operator"].includes(who) ? t(`history.by.${who}`) : t("history.by.other", { who: who || "?" });
}

function renderHistory() {
  const versions = saved?.versions || [];
  $("no-history").hidden = versions.length > 0;
  $("history").replaceChildren(...versions.map((v) => {
    const li = el("li");
    li.dataset.version = v.version;
    li.append(el("strong", t("history.version", { version: v.version })),
      el("span", t("history.when", { who: byWhom(v.changed_by), when: dateTime(v.changed_at) })));
    if (v.version === saved.version) li.append(el("span", t("history.current"), "current"));
    return li;
  }));
  $("personality-current").textContent = saved?.version ? t("personality.current", { version: saved.version }) : t("personality.none");
}

function prefill() {
  const profile = savedProfile() || {};
  for (const [name, id] of Object.entries(FIELDS)) $(id).value = profile[name] || "";
  fillLanguages(saved?.language);
}

export async function loadPersonality() {
  saved = await json("/personality");
  prefill();
  renderHistory();
}

export function rerenderPersonality() {
  if (!saved) return;
  const language = $("p-language").value;
  fillLanguages(language || saved.language);
  renderHistory();
  for (const [id, [key, params]] of said) $(id).textContent = t(key, params);
}

async function save() {
  say("personality-error");
  const before = saved?.version || 0;
  const body = { profile: form() };
  if ($("p-language").value) body.language = $("p-language").value;
  $("personality-save").disabled = true;
  say("personality-status", "personality.saving");
  try {
    await send("/personality", "PUT", body, SAVE_ERRORS);
    // The directory stores the version a moment after the 202: follow the GET until it shows it.
    for (let i = 0; i < POLL_TRIES; i += 1) {
      const now = await json("/personality");
      if ((now.version || 0) > before) {
        saved = now;
        renderHistory();
        say("personality-status", "personality.saved", { version: now.version });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    say("personality-status", "personality.slow");
  } catch (failure) {
    say("personality-status");
    say("personality-error", ...failureWords(failure));
    if (failure instanceof ApiError && failure.key === "error.expired") report(failure);
  } finally {
    $("personality-save").disabled = false;
  }
}

async function tryIt() {
  const message = $("try-message").value.trim();
  say("try-error");
  if (!message) return say("try-error", "try.empty");
  const draft = isDraft();
  const body = draft ? { message, profile: form() } : { message };
  $("try-submit").disabled = true;
  try {
    const answer = (await send("/personality/try", "POST", body, TRY_ERRORS)).body;
    if (answer.personality_version) say("try-which", "try.with_version", { version: answer.personality_version });
    else say("try-which", "try.with_draft");
    $("try-reply").textContent = answer.reply;
    $("try-result").hidden = false;
  } catch (failure) {
    say("try-error", ...failureWords(failure));
  } finally {
    $("try-submit").disabled = false;
  }
}

export function wirePersonality(onError) {
  report = onError;
  $("personality").addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  $("try-form").addEventListener("submit", (event) => {
    event.preventDefault();
    tryIt();
  });
}

export function forgetPersonality() {
  saved = null;
  for (const id of [...Object.values(FIELDS), "try-message"]) $(id).value = "";
  for (const id of ["personality-status", "personality-error", "try-error", "try-which"]) say(id);
  $("try-reply").textContent = "";
  $("try-result").hidden = true;
  $("history").replaceChildren();
}
