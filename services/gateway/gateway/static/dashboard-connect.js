// "Connect a number": the number in, the signup link's QR code (a blob: URL: the key never in a URL) and the link
// out, then the onboarding followed live (every 2 s) until the number is active or the onboarding failed.
import { ApiError, blob, json, send, session } from "./dashboard-api.js";
import { $, el } from "./dashboard-dom.js";
import { t } from "./dashboard-i18n.js";
import { finished, progressList, stateWords, whatToDo } from "./dashboard-onboarding.js";

const FOLLOW_MS = 2000;
const REGISTER_ERRORS = { 400: "connect.invalid_number", 409: "connect.taken" };
const following = { id: null, timer: null, qr: null, last: null, onActive: () => {} };

const words = (failure) => (failure instanceof ApiError ? t(failure.key, failure.params) : t("error.network"));

function stop() {
  clearTimeout(following.timer);
  following.timer = null;
}

async function showQr(url) {
  if (following.qr || !url) return;
  try {
    const image = await blob(url);
    following.qr = URL.createObjectURL(image);
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
  if (onboarding.error) parts.push(el("span", t("onboarding.meta_error", { text: onboarding.error.text }), "error"));
  const todo = whatToDo(onboarding);
  if (todo) parts.push(el("span", todo));
  $("connect-state").replaceChildren(...parts);
  $("connect-state").dataset.state = onboarding.state;
  progressList($("connect-steps"), onboarding);
  if (onboarding.signup_url) $("connect-link").href = onboarding.signup_url;
  $("connect-link").hidden = !$("connect-link").getAttribute("href") || finished(onboarding.state);
  if (finished(onboarding.state)) $("connect-qr").hidden = true;
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
    await showQr(onboarding.qr_png_url || qrUrl);
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
    await showQr(answer.qr_png_url);
    following.timer = setTimeout(() => follow(answer.onboarding_id, answer.qr_png_url), FOLLOW_MS);
  } catch (failure) {
    $("connect-error").textContent = words(failure);
  } finally {
    submit.disabled = false;
  }
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
  if (following.qr) URL.revokeObjectURL(following.qr);
  following.qr = null;
  $("connect-qr").removeAttribute("src");
  $("connect-qr").hidden = true;
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
