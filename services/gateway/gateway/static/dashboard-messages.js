// One message of a thread, shown for what it is: text, voice note, video, photo, document, location, reaction…
import { blob } from "./dashboard-api.js";
import { el } from "./dashboard-dom.js";
import { dateTime, number, t } from "./dashboard-i18n.js";

const AUTHORS = ["ai", "crm", "person"];
const DELIVERY = ["sent", "delivered", "read", "failed"];

/** The media of a message, from the typed ``media`` field when the API gives it, else the older flat fields. */
function mediaOf(m) {
  if (m.media) return { id: m.media_id, ...m.media };
  if (!m.media_id) return null;
  return { id: m.media_id, mime_type: m.media_mime_type || "", kind: m.message_type };
}

function mediaPath(media) {
  return media.url || `/media/${encodeURIComponent(media.id)}`;
}

async function objectUrl(media) {
  return URL.createObjectURL(await blob(mediaPath(media)));
}

function kindOf(m, media) {
  const kind = media.kind || m.type || m.message_type || "";
  const mime = media.mime_type || "";
  if (kind === "voice" || (kind === "audio" && (media.voice || mime.includes("ogg")))) return "voice";
  if (kind === "image" || kind === "sticker" || kind === "video" || kind === "audio" || kind === "document") return kind;
  for (const k of ["image", "video", "audio"]) if (mime.startsWith(`${k}/`)) return k;
  return "document";
}

async function player(tag, media, label) {
  const node = el(tag);
  node.controls = true;
  node.preload = "metadata";
  node.setAttribute("aria-label", label);
  node.src = await objectUrl(media);
  return node;
}

async function picture(media, label) {
  const img = el("img");
  img.alt = label;
  img.src = await objectUrl(media);
  return img;
}

function download(media) {
  const name = media.filename || t("message.document_unnamed");
  const link = el("a", t("message.download", { filename: name }), "download");
  link.href = "#";
  link.addEventListener("click", async (event) => {
    event.preventDefault();
    const url = await objectUrl(media);
    const save = el("a");
    save.href = url;
    save.download = media.filename || "";
    save.click();
  });
  const box = el("div", null, "document");
  box.append(el("span", media.filename ? t("message.document", { filename: media.filename }) : name), link);
  return box;
}

async function mediaNode(m, media) {
  const kind = kindOf(m, media);
  try {
    if (kind === "voice") return await player("audio", media, t("message.voice"));
    if (kind === "audio") return await player("audio", media, t("message.audio"));
    if (kind === "video") return await player("video", media, t("message.video"));
    if (kind === "image") return await picture(media, t("message.photo"));
    if (kind === "sticker") return await picture(media, t("message.sticker"));
  } catch {
    return el("em", t("message.media_unavailable"));
  }
  return download(media);
}

function location(loc) {
  const box = el("div", null, "location");
  box.append(el("span", t("message.location"), "kind"));
  if (loc.name) box.append(el("strong", loc.name));
  if (loc.address) box.append(el("span", loc.address));
  const at = { latitude: number(loc.latitude, { maximumFractionDigits: 5 }), longitude: number(loc.longitude, { maximumFractionDigits: 5 }) };
  box.append(el("span", t("message.coordinates", at), "coordinates"));
  const map = el("a", t("message.location_map"));
  map.href = `https://www.openstreetmap.org/?mlat=${loc.latitude}&mlon=${loc.longitude}#map=17/${loc.latitude}/${loc.longitude}`;
  map.rel = "noreferrer"; // implies noopener
  map.target = "_blank";
  box.append(map);
  return box;
}

/** The message's content; the older API gives only ``body`` and ``message_type``: shown as well as it allows. */
async function content(m) {
  const type = m.type || m.message_type;
  const media = mediaOf(m);
  const parts = [];
  if (media) parts.push(await mediaNode(m, media));
  if (type === "location" && m.location) parts.push(location(m.location));
  else if (type === "reaction" && m.reaction) {
    parts.push(el("span", m.reaction.emoji ? t("message.reaction", { emoji: m.reaction.emoji }) : t("message.reaction_removed"), "reaction"));
  } else if ((type === "interactive" || type === "button") && (m.interactive || m.button)) {
    parts.push(el("span", t("message.interactive", { title: (m.interactive || m.button).title || (m.button || {}).text || "" }), "interactive"));
  } else if (type === "template" && m.template) {
    parts.push(el("span", t("message.template", { name: m.template.name, language: m.template.language || "" }), "template"));
  } else if (type === "contacts") parts.push(el("span", t("message.contacts"), "contacts"));
  // A location's or a reaction's body is the API's summary of what is shown above: said once.
  const text = parts.length && !media ? null : m.body ?? m.text ?? (media && media.caption);
  if (text) parts.push(el("p", text, "body"));
  if (!parts.length) parts.push(el("em", t("message.unsupported", { type })));
  return parts;
}

/** Who wrote an outgoing message; a CRM may name the person on the client's team who wrote it, or its flow. */
function author(m) {
  const name = typeof m.author_name === "string" ? m.author_name.trim() : "";
  if (name && m.author === "person") return t("author.person_named", { name });
  if (name && m.author === "crm") return t("author.crm_named", { name });
  return t(`author.${m.author}`);
}

export async function messageItem(m) {
  const li = el("li", null, m.direction === "outbound" ? "outbound" : "inbound");
  li.dataset.type = m.type || m.message_type || "";
  if (m.wamid) li.dataset.wamid = m.wamid;
  if (m.direction === "outbound" && AUTHORS.includes(m.author)) li.append(el("span", author(m), "author"));
  li.append(...(await content(m)));
  const meta = el("span", null, "meta");
  const at = el("time", dateTime(m.sent_at));
  at.dateTime = m.sent_at;
  meta.append(at);
  if (m.direction === "outbound" && DELIVERY.includes(m.status)) meta.append(el("span", ` · ${t(`delivery.${m.status}`)}`, `delivery ${m.status}`));
  li.append(meta);
  return li;
}
