// "Connect a number": the number in, the signup link's QR code (a blob: URL: the key never in a URL) and the link
// out, then the onboarding followed live (every 2 s) until the number is active or the onboarding failed. A link
// no longer live (expired, used) is taken away with its QR, and a new one offered; a failure offers "try again".
import { ApiError, blob, json, send, session } from "./dashboard-api.js";
import { $, el } from "./dashboard-dom.js";
import { t } from "./dashboard-i18n.js";
import { errorWords, finished, progressList, renewButton, retryButton, stateWords, whatToDo } from "./dashboard-onboarding.js";

const FOLLOW_MS = 2000;
const REGISTER_ERRORS = { 400: "connect.invalid_number", 409: "connect.taken" };
const following = { id: null, timer: null, qr: null, qrLink: null, last: null, onActive: () => {} };

const words = (failure) => (failure instanceof ApiError ? t(failure.key, failure.params) : t("error.network"));

function stop() {
  clearTimeout(following.timer);
  following.timer = null;
}

function hideQr() {
  if (following.qr) URL.revokeObjectURL(following.qr);
  following.qr = following.qrLink = null;
  $("connect-qr").removeAttribute("src");
  $("connect-qr").hidden = true;
}

/** The QR code of ``link`` (fetched again when the live link changed: a new one after an expired one). */
async function showQr(url, link) {
  if (!url || (following.qr && following.qrLink === link)) return;
  try {
    const image = await blob(url);
    if (following.qr) URL.revokeObjectURL(following.qr);
    following.qr = URL.createObjectURL(image);
    following.qrLink = link;
    $("connect-qr").src = following.qr;
    $("connect-qr").hidden = false;
  } catch (failure) {
    // 404 for a moment: the directory has not stored the onboarding yet; the next round asks again.
    if (!(failure instanceof ApiError && failure.status === 404)) throw failure;
  }
}

function render(onboarding) {
  following.last = onboarding;
  const parts = [el("strong", stateWords(onboarding.state))];
  if (onboarding.error) parts.push(el("span", errorWords(onboarding), "error"));
  const todo = whatToDo(onboarding);
  if (todo) parts.push(el("span", todo));
  const said = (text) => { $("connect-error").textContent = text; };
  if (onboarding.state === "pending" && onboarding.method === "signup" && !onboarding.signup_url) {
    parts.push(renewButton(onboarding, async () => { said(""); }, said)); // the next round shows the new link
  }
  if (onboarding.state === "failed") parts.push(retryButton(onboarding, connectAgain));
  $("connect-state").replaceChildren(...parts);
  $("connect-state").dataset.state = onboarding.state;
  progressList($("connect-steps"), onboarding);
  if (onboarding.signup_url) $("connect-link").href = onboarding.signup_url;
  else if (onboarding.state !== "submitted") $("connect-link").removeAttribute("href"); // expired or used up
  $("connect-link").hidden = !$("connect-link").getAttribute("href") || finished(onboarding.state);
  if (finished(onboarding.state) || !$("connect-link").getAttribute("href")) hideQr();
}

async function follow(id, qrUrl) {
  if (following.id !== id) return;
  try {
    const onboarding = await json(`/api/onboardings/${encodeURIComponent(id)}`);
    render(onboarding);
    if (finished(onboarding.state)) {
      stop();
      if (onboarding.state === "active") following.onActive();
      return;
    }
    if (onboarding.signup_url) await showQr(onboarding.qr_png_url || qrUrl, onboarding.signup_url);
  } catch (failure) {
    if (!(failure instanceof ApiError && failure.status === 404)) {
      $("connect-error").textContent = words(failure);
      if (failure.key === "error.expired" || failure.key === "error.network") return stop();
    }
  }
  following.timer = setTimeout(() => follow(id, qrUrl), FOLLOW_MS);
}

async function connect() {
  const phone = $("connect-phone").value.trim();
  const name = $("connect-name").value.trim();
  $("connect-error").textContent = "";
  if (!phone) {
    $("connect-error").textContent = t("connect.missing_number");
    return;
  }
  forgetConnect(false);
  const body = { client_id: session.client, phone_number: phone, ...(name ? { display_name: name } : {}) };
  const submit = $("connect").querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const answer = (await send("/api/register-client-number", "POST", body, REGISTER_ERRORS)).body;
    following.id = answer.onboarding_id;
    $("connect-result").hidden = false;
    $("connect-result").dataset.onboardingId = answer.onboarding_id;
    render({ method: "signup", ...answer, state: answer.state || "submitted" });
    await showQr(answer.qr_png_url, answer.signup_url);
    following.timer = setTimeout(() => follow(answer.onboarding_id, answer.qr_png_url), FOLLOW_MS);
  } catch (failure) {
    $("connect-error").textContent = words(failure);
  } finally {
    submit.disabled = false;
  }
}

/** A failed onboarding's "try again": its number (and name) registered anew, followed here. */
export function connectAgain(onboarding) {
  $("connect-phone").value = onboarding.phone_number;
  $("connect-name").value = onboarding.display_name || "";
  $("connect-box").scrollIntoView({ block: "start" });
  return connect();
}

export function rerenderConnect() {
  if (following.last) render(following.last);
}

export function wireConnect(onActive) {
  following.onActive = onActive;
  $("connect").addEventListener("submit", (event) => {
    event.preventDefault();
    connect();
  });
}

/** Sign-out or a new number: stop following, drop the QR's blob and the link. */
export function forgetConnect(clearInputs = true) {
  stop();
  following.id = null;
  following.last = null;
  hideQr();
  $("connect-link").removeAttribute("href");
  $("connect-result").hidden = true;
  $("connect-state").replaceChildren();
  $("connect-steps").replaceChildren();
  if (clearInputs) {
    $("connect-phone").value = "";
    $("connect-name").value = "";
    $("connect-error").textContent = "";
  }
}
