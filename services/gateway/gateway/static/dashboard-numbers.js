// The Numbers and Usage views: each number's state and free conversations, the month's usage, the daily chart.
import { $, cell, el, svg } from "./dashboard-dom.js";
import { day, month, number, plural, t } from "./dashboard-i18n.js";
import { downloadQr } from "./dashboard-onboarding.js";

const STATUSES = ["active", "pending", "suspended"];

export function statusWords(status) {
  return STATUSES.includes(status) ? t(`status.${status}`) : t("status.unknown", { status });
}

function meter(left, quota) {
  const bar = el("div", null, "meter");
  bar.setAttribute("aria-hidden", "true"); // the cell's text says the same in words
  const fill = el("span");
  fill.style.width = `${quota ? Math.max(0, Math.min(100, (100 * left) / quota)) : 0}%`;
  bar.append(fill);
  return bar;
}

export function numberLabel(n) {
  return n.display_name ? `${n.phone_number} · ${n.display_name}` : n.phone_number;
}

const QUALITY = ["GREEN", "YELLOW", "RED"];

function qualityWords(rating) {
  return QUALITY.includes(rating) ? t(`quality.${rating.toLowerCase()}`) : t("quality.unknown", { rating });
}

/** PNG and SVG of the number's customer QR (wa.me), for an active number: a shop window's sticker. */
function qrCell(label, n, onError) {
  const td = cell(label, null, "customer-qr");
  if (n.status !== "active") {
    td.textContent = t("qr.when_active");
    return td;
  }
  const buttons = el("div", null, "qr-buttons");
  for (const kind of ["png", "svg"]) {
    const button = el("button", t(`qr.${kind}`), "secondary");
    button.type = "button";
    button.dataset.qr = kind;
    button.setAttribute("aria-label", t(`qr.${kind}_for`, { number: numberLabel(n) }));
    button.addEventListener("click", () => downloadQr(n, kind).catch(onError));
    buttons.append(button);
  }
  td.append(buttons);
  return td;
}

export function renderNumbers(stats, onError = console.error) {
  const body = $("numbers").querySelector("tbody");
  const heading = (key) => t(`numbers.col.${key}`);
  body.replaceChildren();
  $("no-numbers").hidden = stats.numbers.length > 0;
  $("numbers").hidden = stats.numbers.length === 0;
  for (const n of stats.numbers) {
    const row = el("tr");
    row.dataset.phoneNumberId = n.phone_number_id;
    const status = cell(heading("status"), statusWords(n.status), `status ${n.status}`);
    if (n.quality_rating) status.append(el("small", qualityWords(n.quality_rating), "quality"));
    const free = cell(heading("free"), t("numbers.free_of", { left: n.free_remaining, quota: n.free_quota }), "free-remaining");
    free.dataset.freeRemaining = n.free_remaining;
    free.append(meter(n.free_remaining, n.free_quota));
    row.append(
      cell(heading("number"), numberLabel(n), "number"),
      status,
      free,
      cell(heading("month"), number(n.conversations_this_month), "conversations-month"),
      cell(heading("paid"), number(n.paid_conversations)),
      cell(heading("total"), number(n.conversations_total)),
      cell(heading("messages"), `${number(n.messages_in)} / ${number(n.messages_out)}`, "messages"),
      cell(heading("delivered"), number(n.messages_delivered)),
      qrCell(heading("qr"), n, onError),
    );
    body.append(row);
  }
  const first = stats.numbers[0];
  $("month").textContent = first ? t("numbers.month", { month: month(first.month) }) : "";
}

/** The banners at 80 % and 100 %: what happens next depends on the client's policy (``what_next``). */
export function renderAlerts(usage) {
  const box = $("alerts");
  box.replaceChildren();
  if (!usage) return;
  const next = usage.what_next === "ai_paused" ? "ai_paused" : "counted_as_paid";
  for (const n of usage.numbers || []) {
    if (n.alert !== "warning" && n.alert !== "exhausted") continue;
    const banner = el("p", t(`alert.${n.alert}.${next}`, { number: numberLabel(n), percent: Math.floor(n.percent_used) }));
    banner.className = `banner ${n.alert}`;
    banner.setAttribute("role", n.alert === "exhausted" ? "alert" : "status");
    banner.dataset.phoneNumberId = n.phone_number_id;
    box.append(banner);
  }
}

export function renderUsage(usage) {
  $("view-usage").dataset.available = usage ? "yes" : "no";
  document.querySelector("[data-view=usage]").hidden = !usage;
  if (!usage) return;
  const body = $("usage").querySelector("tbody");
  const heading = (key) => t(`usage.col.${key}`);
  body.replaceChildren();
  for (const n of usage.numbers || []) {
    const row = el("tr");
    row.dataset.phoneNumberId = n.phone_number_id;
    const left = cell(heading("left"), t("numbers.free_of", { left: n.free_left, quota: n.free_quota }));
    left.append(meter(n.free_left, n.free_quota));
    row.append(
      cell(heading("number"), numberLabel(n), "number"),
      left,
      cell(heading("used"), number(n.free_used)),
      cell(heading("paid"), number(n.paid)),
      cell(heading("percent"), t("usage.percent", { percent: Math.floor(n.percent_used) }), n.alert || ""),
    );
    body.append(row);
  }
  $("usage-month").textContent = usage.month ? t("numbers.month", { month: month(`${usage.month}-01`) }) : "";
  renderDaily(usage.daily || []);
}

function renderDaily(days) {
  const chart = $("daily-chart");
  chart.replaceChildren();
  $("daily").hidden = days.length === 0;
  if (!days.length) return;
  const messages = (d) => (d.messages_in || 0) + (d.messages_out || 0);
  const top = Math.max(1, ...days.map((d) => Math.max(d.conversations, messages(d))));
  const width = 10 * days.length;
  const graph = svg("svg", { viewBox: `0 0 ${width} 100`, preserveAspectRatio: "none", role: "img", "aria-labelledby": "daily-title daily-summary", focusable: "false" });
  days.forEach((d, i) => {
    const group = svg("g");
    const title = svg("title");
    title.textContent = t("usage.chart.bar", {
      date: day(d.date),
      conversations: plural("count.conversations", d.conversations),
      messages: plural("count.messages", messages(d)),
    });
    group.append(title);
    for (const [offset, value, name] of [[1, d.conversations, "conversations"], [5, messages(d), "messages"]]) {
      const h = (96 * value) / top;
      group.append(svg("rect", { x: i * 10 + offset, y: 100 - h, width: 4, height: h, class: name }));
    }
    graph.append(group);
  });
  chart.append(graph);
  const busiest = days.reduce((a, b) => (b.conversations > a.conversations ? b : a));
  $("daily-summary").textContent = t("usage.chart.summary", {
    days: days.length,
    conversations: plural("count.conversations", days.reduce((s, d) => s + d.conversations, 0)),
    messages: plural("count.messages", days.reduce((s, d) => s + messages(d), 0)),
    busiest: day(busiest.date),
    most: busiest.conversations,
  });
}
