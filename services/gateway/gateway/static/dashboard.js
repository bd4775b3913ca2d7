// The client dashboard: sign-in, the header, the views, the language. Reads only the client API, with the
// client's own key; every word comes from the catalogue (dashboard-i18n.js).
import { ApiError, IDLE_MS, json, optionalJson, session, SessionExpired } from "./dashboard-api.js";
import { forget, knowNumbers, onError, refreshConversations, rerender, wireConversations } from "./dashboard-conversations.js";
import { $ } from "./dashboard-dom.js";
import { chooseLanguage, load, plural, setTimeZone, t, time, translate } from "./dashboard-i18n.js";
import { renderAlerts, renderNumbers, renderUsage } from "./dashboard-numbers.js";
import { connectAgain, forgetConnect, rerenderConnect, wireConnect } from "./dashboard-connect.js";
import { renderOnboardings } from "./dashboard-onboarding.js";
import { forgetPersonality, loadPersonality, rerenderPersonality, wirePersonality } from "./dashboard-personality.js";

const REFRESH_MS = 10000;
const VIEWS = ["numbers", "usage", "conversations", "personality"];
let client = null;
let last = { stats: null, usage: null, onboardings: null, at: null };
let timer = null;
let error = null; // the last sign-in error, kept to show it again in another language

function showError(failure) {
  error = failure;
  const text = failure instanceof ApiError
    ? (failure.key === "error.rate" ? plural("error.rate", failure.params.n) : t(failure.key, failure.params))
    : t("error.network");
  $("sign-in-error").textContent = text;
}

/** A failure of one action (a download): said beside the numbers; an ended session still signs out. */
function numbersError(failure) {
  if (failure instanceof SessionExpired) return fail(failure);
  if (!(failure instanceof ApiError)) console.error(failure);
  $("numbers-error").textContent = failure instanceof ApiError ? t(failure.key, failure.params) : t("error.network");
}

function fail(failure) {
  if (!(failure instanceof ApiError)) console.error(failure);
  signOut();
  showError(failure);
}

async function setLanguage(language) {
  await load(language);
  if (client) setTimeZone(client.timezone);
  $("language").value = language;
  translate();
  if (error) showError(error);
  if (last.stats) renderNumbers(last.stats, numbersError);
  if (last.onboardings) renderOnboardings(last.onboardings, refresh, connectAgain);
  rerenderConnect();
  rerenderPersonality();
  renderUsage(last.usage);
  renderAlerts(last.usage);
  if (client) rerender();
  $("updated").textContent = last.at ? t("footer.updated", { time: time(last.at) }) : "";
}

function show(view) {
  for (const name of VIEWS) {
    $(`view-${name}`).hidden = name !== view;
    const button = document.querySelector(`[data-view=${name}]`);
    if (name === view) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
}

async function refresh() {
  const [stats, usage, onboardings] = await Promise.all([
    json("/stats"), optionalJson("/usage?days=30"), optionalJson("/onboardings"), refreshConversations(),
  ]);
  last = { stats, usage, onboardings, at: new Date() };
  knowNumbers(stats.numbers);
  renderNumbers(stats, numbersError);
  renderOnboardings(onboardings, refresh, connectAgain);
  renderUsage(usage);
  renderAlerts(usage);
  if (!usage && !$("view-usage").hidden) show("numbers");
  $("updated").textContent = t("footer.updated", { time: time(last.at) });
}

async function open() {
  client = await json("");
  $("business").textContent = client.name;
  // The client's language setting wins over the browser's, unless the person chose one in this tab.
  await setLanguage(session.language || chooseLanguage(client.language, navigator.languages));
  $("sign-in").hidden = true;
  $("dashboard").hidden = false;
  $("sign-out").hidden = false;
  error = null;
  $("sign-in-error").textContent = "";
  await Promise.all([refresh(), loadPersonality()]);
  clearInterval(timer);
  timer = setInterval(() => refresh().catch(fail), REFRESH_MS);
}

function signOut() {
  session.clear();
  clearInterval(timer);
  client = null;
  last = { stats: null, usage: null, onboardings: null, at: null };
  forget();
  forgetConnect();
  forgetPersonality();
  $("numbers-error").textContent = "";
  $("dashboard").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("business").textContent = "";
  $("alerts").replaceChildren();
  error = null;
  $("sign-in-error").textContent = "";
}

function watchIdle() {
  let touched = 0;
  const touch = () => {
    if (!session.key || Date.now() - touched < 5000) return;
    touched = Date.now();
    session.touch();
  };
  for (const event of ["pointerdown", "keydown", "scroll", "input"]) addEventListener(event, touch, { passive: true, capture: true });
  setInterval(() => { if (session.expired()) fail(new SessionExpired()); }, Math.min(IDLE_MS, 30000));
}

async function start() {
  await setLanguage(session.language || chooseLanguage(navigator.languages));
  onError(fail);
  wireConversations();
  wirePersonality(fail);
  wireConnect(() => refresh().catch(fail));
  watchIdle();
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("client-id").value.trim();
    const key = $("api-key").value.trim();
    if (!id || !key) return showError(new ApiError("error.mismatch"));
    session.save(id, key);
    $("api-key").value = "";
    open().catch(fail);
  });
  $("sign-out").addEventListener("click", signOut);
  $("language").addEventListener("change", () => {
    session.language = $("language").value;
    setLanguage($("language").value).catch(fail);
  });
  for (const button of document.querySelectorAll("[data-view]")) button.addEventListener("click", () => show(button.dataset.view));
  show("numbers");
  // A link may name the client (never the key): ?client=<id> fills the first field.
  $("client-id").value = new URLSearchParams(location.search).get("client") || session.client;
  if (session.expired()) fail(new SessionExpired());
  else if (session.client && session.key) open().catch(fail);
}

start().catch((failure) => console.error(failure));
