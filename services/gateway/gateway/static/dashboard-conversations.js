// The Conversations view: the list (which number, the customer's last message, search, more) and one thread.
import { json, query } from "./dashboard-api.js";
import { $, el } from "./dashboard-dom.js";
import { dateTime, plural, t } from "./dashboard-i18n.js";
import { messageItem } from "./dashboard-messages.js";

const PREVIEWS = ["audio", "image", "video", "document", "location", "sticker", "reaction"];
const state = { list: [], nextBefore: null, q: "", selected: null, open: null, older: null, numbers: new Map() };

export function knowNumbers(numbers) {
  state.numbers = new Map(numbers.map((n) => [n.phone_number_id, n]));
}

const keyOf = (c) => `${c.phone_number_id}/${c.wa_id}`;
const customer = (c) => c.profile_name || `+${c.wa_id}`;

function numberOf(c) {
  const known = state.numbers.get(c.phone_number_id) || {};
  const phone = c.phone_number || known.phone_number || c.phone_number_id;
  const name = c.display_name || known.display_name;
  return name ? `${phone} · ${name}` : phone;
}

/** The customer's last message (``preview``, newer API), else the last message of either side (older API). */
function previewText(c) {
  const p = c.preview;
  if (p) {
    if (p.text) return p.text;
    if (p.filename) return p.filename;
    const kind = p.kind === "voice" ? "audio" : p.kind || p.type;
    return t(PREVIEWS.includes(kind) ? `preview.${kind}` : "preview.other");
  }
  const text = c.last_body ?? t("preview.other");
  return c.last_direction === "outbound" ? t("conversations.you", { text }) : text;
}

function matches(c, q) {
  if (!q) return true;
  const digits = q.replace(/\D/g, "");
  return (c.profile_name || "").toLowerCase().includes(q.toLowerCase()) || (digits && c.wa_id.includes(digits));
}

function renderList() {
  const ul = $("conversations");
  ul.replaceChildren();
  const shown = state.list.filter((c) => matches(c, state.q)); // the older API ignores q: filter here too
  const empty = $("no-conversations");
  empty.hidden = shown.length > 0;
  empty.textContent = state.q ? t("conversations.no_match", { q: state.q }) : t("conversations.empty");
  for (const c of shown) {
    const li = el("li");
    li.dataset.key = keyOf(c);
    const open = el("button", null, "conversation");
    open.type = "button";
    open.setAttribute("aria-label", t("thread.open", { name: customer(c) }));
    if (state.selected === keyOf(c)) open.setAttribute("aria-current", "true");
    const count = plural("count.messages", c.messages);
    open.append(el("strong", customer(c), "customer"), el("span", t("conversations.on_number", { number: numberOf(c) }), "on"),
      el("span", previewText(c), "last"), el("small", `${count} · ${dateTime(c.last_message_at)}`));
    open.addEventListener("click", () => openThread(c).catch(report));
    li.append(open);
    ul.append(li);
  }
  $("more-conversations").hidden = !state.nextBefore;
}

let report = (error) => { throw error; };

export function onError(handler) {
  report = handler;
}

export async function refreshConversations() {
  const answer = await json(`/conversations${query({ q: state.q })}`);
  state.list = answer.conversations;
  state.nextBefore = answer.next_before ?? null;
  renderList();
}

async function moreConversations() {
  const answer = await json(`/conversations${query({ q: state.q, before: state.nextBefore })}`);
  const seen = new Set(state.list.map(keyOf));
  state.list.push(...answer.conversations.filter((c) => !seen.has(keyOf(c))));
  state.nextBefore = answer.next_before ?? null;
  renderList();
}

const byTime = (a, b) => (a.sent_at < b.sent_at ? -1 : a.sent_at > b.sent_at ? 1 : 0);

async function page(c, before) {
  const answer = await json(`/conversations/${encodeURIComponent(c.phone_number_id)}/${encodeURIComponent(c.wa_id)}/messages${query({ before })}`);
  return { messages: [...answer.messages].sort(byTime), nextBefore: answer.next_before ?? null };
}

async function openThread(c) {
  state.selected = keyOf(c);
  state.open = c;
  renderList();
  const { messages, nextBefore } = await page(c);
  const title = $("thread-title");
  title.textContent = t("thread.with", { name: customer(c) });
  const thread = $("thread");
  thread.replaceChildren(...(await Promise.all(messages.map(messageItem))));
  state.older = nextBefore;
  $("older").hidden = !nextBefore;
  $("thread-hint").hidden = messages.length > 0;
  $("thread-hint").textContent = t("thread.empty");
  thread.scrollTop = thread.scrollHeight;
  title.focus(); // on a phone the thread is below the list: take the reader there
}

async function loadOlder() {
  if (!state.open || !state.older) return;
  const thread = $("thread");
  const before = state.older;
  state.older = null; // one page at a time, however fast the person scrolls
  const { messages, nextBefore } = await page(state.open, before);
  const seen = new Set([...thread.querySelectorAll("li[data-wamid]")].map((li) => li.dataset.wamid));
  const fresh = messages.filter((m) => !m.wamid || !seen.has(m.wamid));
  const height = thread.scrollHeight;
  thread.prepend(...(await Promise.all(fresh.map(messageItem))));
  thread.scrollTop += thread.scrollHeight - height; // keep the message the person was reading in place
  state.older = nextBefore;
  $("older").hidden = !nextBefore;
}

let searchTimer = null;

export function wireConversations() {
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    state.q = $("search-q").value.trim();
    refreshConversations().catch(report);
  });
  $("search-q").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.q = $("search-q").value.trim(); refreshConversations().catch(report); }, 300);
  });
  $("more-conversations").addEventListener("click", () => moreConversations().catch(report));
  $("older").addEventListener("click", () => loadOlder().catch(report));
  $("thread").addEventListener("scroll", () => { if ($("thread").scrollTop < 40) loadOlder().catch(report); });
}

export function rerender() {
  renderList();
  if (state.open) openThread(state.open).catch(report);
}

export function forget() {
  Object.assign(state, { list: [], nextBefore: null, q: "", selected: null, open: null, older: null });
  $("conversations").replaceChildren();
  $("thread").replaceChildren();
  $("thread-hint").hidden = false;
  $("thread-hint").textContent = t("thread.pick");
  $("search-q").value = "";
}
