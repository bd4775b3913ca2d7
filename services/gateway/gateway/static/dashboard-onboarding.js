// Onboardings in the Numbers view: each one's steps as a progress list, Meta's last error and what to do, a new
// link when the old one expired, "try again" once one failed; and each active number's customer QR (wa.me),
// downloaded from a blob: URL.
import { ApiError, blob, send } from "./dashboard-api.js";
import { $, el } from "./dashboard-dom.js";
import { dateTime, t } from "./dashboard-i18n.js";

// The directory's states in the order an onboarding passes them (shared/contracts/directory.py OnboardingState).
const STEPS = {
  signup: ["pending", "signup_started", "code_exchanged", "subscribed", "registered", "active"],
  manual: ["pending", "code_requested", "code_verified", "registered", "active"],
};
const STATES = new Set([...STEPS.signup, ...STEPS.manual, "failed", "suspended"]);
const FINISHED = new Set(["active", "failed", "suspended"]);

export const finished = (state) => FINISHED.has(state);

export function stateWords(state) {
  return STATES.has(state) ? t(`onboarding.state.${state}`) : t("onboarding.state.submitted");
}

// Where a failed onboarding stopped: the state the failed Meta call would have reached (machine.py's order; a
// failed onboarding keeps that call as its step).
const FAILED_AT = {
  add_phone_number: "code_requested",
  request_code: "code_requested",
  verify_code: "code_verified",
  exchange_code: "code_exchanged",
  find_number: "subscribed",
  subscribe_app: "subscribed",
  override_callback: "registered",
  register: "registered",
  sync_contacts: "active",
  sync_history: "active",
  read_number: "active",
};

function stepsOf(onboarding) {
  const steps = STEPS[onboarding.method] || STEPS.signup;
  // A coexistence number keeps its Business app: it is never registered, it goes from subscribed to active.
  return onboarding.coexistence ? steps.filter((s) => s !== "registered") : steps;
}

/** The index of the step an onboarding is at (for a failed one, the step it failed on), or -1. */
function stepIndex(steps, onboarding) {
  if (onboarding.state !== "failed") return steps.indexOf(onboarding.state);
  const at = steps.indexOf(FAILED_AT[onboarding.step]);
  return at < 0 && FAILED_AT[onboarding.step] === "registered" ? steps.indexOf("active") : at;
}

/** The steps as an ordered list: those passed marked done, the one it is at marked current (aria-current), or
 * for a failed onboarding the one it failed on marked failed. */
export function progressList(list, onboarding) {
  const steps = stepsOf(onboarding);
  const at = stepIndex(steps, onboarding);
  const failed = onboarding.state === "failed";
  list.replaceChildren();
  if (at < 0 && onboarding.state !== "submitted") return;
  steps.forEach((step, i) => {
    const done = i < at || onboarding.state === "active";
    const kind = done ? "done" : i === at ? (failed ? "failed" : "current") : "todo";
    const li = el("li", null, kind);
    li.dataset.step = step;
    const mark = { done: "onboarding.mark_done", current: "onboarding.mark_now", failed: "onboarding.mark_failed", todo: "onboarding.mark_todo" }[kind];
    li.append(el("span", t(mark), "visually-hidden"), el("span", t(`onboarding.step.${step}`)));
    if (i === at) li.setAttribute("aria-current", "step");
    list.append(li);
  });
}

/** The catalogue's words for a Meta refusal the client can act on (by subcode, then code), or null. */
function knownError(error) {
  if (!error || error.source === "wamux") return null;
  for (const key of [`onboarding.meta.${error.subcode}`, `onboarding.meta.${error.code}`]) {
    const words = t(key);
    if (words !== key) return words; // t() answers a missing key with the key itself
  }
  return null;
}

/** Meta's last error in the page's language when the catalogue knows it (it says what to do), else its words. */
export function errorWords(onboarding) {
  return knownError(onboarding.error) || t("onboarding.meta_error", { text: onboarding.error.text });
}

/** What the person can do now, in words: open the link, get a new one, or start again. */
export function whatToDo(onboarding) {
  if (onboarding.state === "failed") return knownError(onboarding.error) ? "" : t("onboarding.todo_failed");
  if (onboarding.state === "suspended") return t("onboarding.todo_suspended");
  if (onboarding.state === "pending" && onboarding.method === "signup") {
    return onboarding.signup_url ? t("onboarding.todo_open") : t("onboarding.todo_expired");
  }
  return onboarding.state === "active" ? "" : t("onboarding.todo_wait");
}

/** "Get a new link" for a signup whose link expired; ``said`` shows a failure in words. */
export function renewButton(o, after, said) {
  const renew = el("button", t("onboarding.new_link"), "secondary");
  renew.type = "button";
  renew.dataset.action = "new-link";
  renew.addEventListener("click", async () => {
    renew.disabled = true;
    try {
      await send(`/api/onboardings/${encodeURIComponent(o.onboarding_id)}/link`, "POST", {});
      await after();
    } catch (failure) {
      renew.disabled = false;
      said(failure instanceof ApiError ? t(failure.key, failure.params) : t("error.network"));
    }
  });
  return renew;
}

/** "Try again" for a failed onboarding: the same number registered anew (the API opens a new onboarding). */
export function retryButton(o, retry) {
  const again = el("button", t("onboarding.try_again"), "secondary");
  again.type = "button";
  again.dataset.action = "try-again";
  again.addEventListener("click", () => retry(o));
  return again;
}

// (Element.append answers undefined: the paragraph is built first, then appended.)
function paragraph(node) {
  const p = el("p");
  p.append(node);
  return p;
}

function item(o, refresh, retry) {
  const li = el("li", null, `onboarding ${o.state}`);
  li.dataset.onboardingId = o.onboarding_id;
  const name = o.display_name ? `${o.phone_number} · ${o.display_name}` : o.phone_number;
  li.append(el("strong", name), el("p", stateWords(o.state), "state"));
  const steps = el("ol", null, "steps");
  progressList(steps, o);
  if (steps.childElementCount) li.append(steps);
  if (o.error) li.append(el("p", errorWords(o), "error"));
  const todo = whatToDo(o);
  if (todo) li.append(el("p", todo, "hint"));
  if (o.signup_url && o.state === "pending") {
    const link = el("a", t("onboarding.open_link"));
    link.href = o.signup_url;
    link.target = "_blank";
    link.rel = "noopener"; // the page's Referrer-Policy already sends no referrer
    li.append(paragraph(link));
  } else if (o.state === "pending" && o.method === "signup") {
    li.append(paragraph(renewButton(o, refresh, (words) => li.append(el("p", words, "error")))));
  } else if (o.state === "failed" && retry) {
    li.append(paragraph(retryButton(o, retry)));
  }
  li.append(el("small", t("onboarding.updated", { when: dateTime(o.updated_at) })));
  return li;
}

/** The onboardings not yet finished, and those that failed (the last month's, as the API lists them, newest
 * first): only each number's newest, so a failure tried again since is not offered again. */
export function renderOnboardings(answer, refresh, retry) {
  const numbers = new Set();
  const newest = (answer?.onboardings || []).filter((o) => !numbers.has(o.phone_number) && numbers.add(o.phone_number));
  const shown = newest.filter((o) => o.state !== "active");
  $("onboardings-box").hidden = shown.length === 0;
  $("onboardings").replaceChildren(...shown.map((o) => item(o, refresh, retry)));
}

/** The customer QR of an active number, saved as a file: fetched with the key, handed over as a blob: URL. */
export async function downloadQr(n, kind) {
  const image = await blob(`/api/numbers/${encodeURIComponent(n.phone_number_id)}/qr.${kind}`);
  const url = URL.createObjectURL(image);
  const link = el("a");
  link.href = url;
  link.download = `whatsapp-${n.phone_number.replace(/\D/g, "")}.${kind}`;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
