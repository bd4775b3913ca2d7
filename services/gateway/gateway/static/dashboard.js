// The client dashboard. Reads only the client API, with the key the client typed (kept for this tab only).
"use strict";

const $ = (id) => document.getElementById(id);
const session = {
  get client() { return sessionStorage.getItem("wamux.client") || ""; },
  get key() { return sessionStorage.getItem("wamux.key") || ""; },
  save(client, key) { sessionStorage.setItem("wamux.client", client); sessionStorage.setItem("wamux.key", key); },
  clear() { sessionStorage.removeItem("wamux.client"); sessionStorage.removeItem("wamux.key"); },
};
let selected = null;
let timer = null;

async function api(path) {
  const response = await fetch(`/api/clients/${encodeURIComponent(session.client)}${path}`, {
    headers: { Authorization: `Bearer ${session.key}` },
  });
  if (response.status === 401 || response.status === 404) throw new Error("That client ID and API key do not match.");
  if (!response.ok) throw new Error(`The server answered ${response.status}.`);
  return response;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function when(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function renderNumbers(stats) {
  const body = $("numbers").querySelector("tbody");
  body.replaceChildren();
  for (const n of stats.numbers) {
    const row = el("tr");
    row.dataset.phoneNumberId = n.phone_number_id;
    row.append(el("td", `${n.phone_number}${n.display_name ? " · " + n.display_name : ""}`), el("td", n.status));
    const free = el("td", `${n.free_remaining} of ${n.free_quota}`, "free-remaining");
    const meter = el("div", null, "meter");
    const bar = el("span");
    bar.style.width = `${n.free_quota ? (100 * n.free_remaining) / n.free_quota : 0}%`;
    meter.append(bar);
    free.append(meter);
    row.append(free, el("td", n.conversations_this_month, "conversations-month"), el("td", n.paid_conversations),
      el("td", n.conversations_total), el("td", `${n.messages_in} / ${n.messages_out}`, "messages"),
      el("td", n.messages_delivered));
    body.append(row);
    $("month").textContent = `— ${new Date(n.month + "T12:00:00").toLocaleString(undefined, { month: "long", year: "numeric" })}`;
  }
}

function renderConversations(list) {
  const ul = $("conversations");
  ul.replaceChildren();
  $("no-conversations").hidden = list.length > 0;
  for (const c of list) {
    const li = el("li");
    const key = `${c.phone_number_id}/${c.wa_id}`;
    li.dataset.key = key;
    if (selected === key) li.classList.add("active");
    li.append(el("strong", c.profile_name || `+${c.wa_id}`), el("div", `${c.last_direction === "outbound" ? "↪ " : ""}${c.last_body ?? "(media)"}`, "last"),
      el("small", `${c.messages} messages · ${when(c.last_message_at)}`));
    li.addEventListener("click", () => { selected = key; showThread(c).catch(fail); renderConversations(list); });
    ul.append(li);
  }
}

async function mediaImage(mediaId) {
  const blob = await (await api(`/media/${encodeURIComponent(mediaId)}`)).blob();
  const img = el("img");
  img.alt = "photo from the customer";
  img.src = URL.createObjectURL(blob);
  return img;
}

async function showThread(conversation) {
  $("thread-title").textContent = `Messages with ${conversation.profile_name || "+" + conversation.wa_id}`;
  const { messages } = await (await api(`/conversations/${conversation.phone_number_id}/${conversation.wa_id}/messages`)).json();
  const thread = $("thread");
  thread.replaceChildren();
  for (const m of messages) {
    const li = el("li", null, m.direction);
    if (m.media_id && (m.media_mime_type || "").startsWith("image/")) li.append(await mediaImage(m.media_id).catch(() => el("em", "(photo unavailable)")));
    if (m.body) li.append(el("span", m.body));
    else if (!m.media_id) li.append(el("em", `(${m.message_type})`));
    li.append(el("time", when(m.sent_at)));
    thread.append(li);
  }
}

async function refresh() {
  const [stats, conversations] = await Promise.all([api("/stats").then((r) => r.json()), api("/conversations").then((r) => r.json())]);
  renderNumbers(stats);
  renderConversations(conversations.conversations);
  $("updated").textContent = new Date().toLocaleTimeString();
}

function fail(error) {
  $("sign-in-error").textContent = error.message;
  signOut(false);
}

function showDashboard() {
  $("sign-in").hidden = true;
  $("dashboard").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = `Client ${session.client}`;
  refresh().catch(fail);
  clearInterval(timer);
  timer = setInterval(() => refresh().catch(fail), 10000);
}

function signOut(clearError = true) {
  session.clear();
  clearInterval(timer);
  $("dashboard").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("who").textContent = "";
  if (clearError) $("sign-in-error").textContent = "";
}

$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  session.save($("client-id").value.trim(), $("api-key").value.trim());
  $("sign-in-error").textContent = "";
  showDashboard();
});
$("sign-out").addEventListener("click", () => signOut());
$("client-id").value = new URLSearchParams(location.search).get("client") || session.client;
if (session.client && session.key) showDashboard();
