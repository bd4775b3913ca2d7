"""The signup pages' words and markup: one catalogue per language, one page layout, no inline script or style
(the gateway's CSP forbids both; the stylesheet is ``/onboard/style.css``). Only the live link's page runs a
script, the file ``/onboard/signup.js`` that opens Meta's popup, configured by the button's ``data-`` attributes.

Over 200 lines on purpose: the pages' words in both languages sit side by side, so a translator sees each pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Literal

Lang = Literal["es", "en"]

CATALOGUE: dict[Lang, dict[str, str]] = {
    "en": {
        "connect.title": "Connect your WhatsApp number",
        "connect.body": "{business} is connecting {number} to its WhatsApp assistant. Meta will ask you to log in "
        "with Facebook and accept.",
        "connect.coexistence": "You keep using the WhatsApp Business app on your phone as before.",
        "connect.expires": "This link works until {expires_at}.",
        "connect.button": "Connect WhatsApp",
        "connect.hosted": "Or open Meta's signup page instead",
        "popup.opening": "Meta's window is open: finish there.",
        "popup.cancelled": "Meta's window closed before the end. Press Connect WhatsApp to try again.",
        "popup.cancelled_at": "Meta's window closed at the step {step}. Press Connect WhatsApp to try again.",
        "popup.meta_error": "Meta said: {error}. Press Connect WhatsApp to try again.",
        "popup.saving": "Meta accepted. Saving…",
        "popup.failed": "We could not save Meta's answer: {error}. Press Connect WhatsApp to try again.",
        "popup.no_sdk": "Meta's window cannot open on this browser. Use the link below.",
        "popup.no_session": "Meta's window did not say which account it connected. Press Connect WhatsApp to try "
        "again.",
        "invalid.title": "This link is not valid",
        "invalid.body": "Check that you opened the whole link, or ask for a new one.",
        "expired.title": "This link has expired",
        "expired.body": "It expired on {expires_at}. Ask for a new link to connect your number.",
        "revoked.title": "This link was replaced by a newer one",
        "revoked.body": "Open the most recent link you received.",
        "used.title": "This link has already been used",
        "used.body": "The connection of {number} is under way.",
        "used.button": "See how it is going",
        "connected.title": "{number} is connected",
        "connected.body": "WhatsApp messages to {business} on this number are now answered.",
        "failed.title": "The connection did not complete",
        "failed.body": "Meta answered: {error}. Ask for a new link to try again.",
        "suspended.title": "{number} is suspended",
        "suspended.body": "Ask {business}'s administrator to resume it.",
        "closed.title": "This number is not waiting for a connection",
        "closed.body": "Ask for a new link if you still want to connect {number}.",
        "meta_error.title": "Meta did not complete the connection",
        "meta_error.body": "Meta said: {error}",
        "meta_error.button": "Try again",
        "incomplete.title": "Meta's answer was incomplete",
        "incomplete.body": "Open your link again and accept on Meta's page.",
        "unavailable.title": "We could not save that just now",
        "unavailable.body": "Reload this page in a moment: nothing is lost.",
        "almost.title": "Almost done — we're finishing the connection",
        "almost.body": "This page updates by itself. You can close it: we finish without you.",
        "status.title": "Connecting {number}",
        "status.pending": "Waiting for Meta's signup to finish.",
        "status.signup_started": "Meta accepted. Getting the connection ready…",
        "status.code_exchanged": "Connected to your WhatsApp Business account. Setting up messages…",
        "status.subscribed": "Messages are set up. Registering the number…",
        "status.registered": "The number is registered. Reading it back from Meta…",
        "status.code_requested": "Waiting for the verification code.",
        "status.code_verified": "The code is verified. Registering the number…",
        "status.refreshing": "This page updates by itself.",
    },
    "es": {
        "connect.title": "Conecta tu número de WhatsApp",
        "connect.body": "{business} está conectando el {number} a su asistente de WhatsApp. Meta te pedirá iniciar "
        "sesión con Facebook y aceptar.",
        "connect.coexistence": "Sigues usando la app WhatsApp Business en tu teléfono como siempre.",
        "connect.expires": "Este enlace funciona hasta el {expires_at}.",
        "connect.button": "Conectar WhatsApp",
        "connect.hosted": "O abre la página de registro de Meta",
        "popup.opening": "La ventana de Meta está abierta: termina allí.",
        "popup.cancelled": "La ventana de Meta se cerró antes del final. Pulsa Conectar WhatsApp para intentarlo "
        "otra vez.",
        "popup.cancelled_at": "La ventana de Meta se cerró en el paso {step}. Pulsa Conectar WhatsApp para intentarlo "
        "otra vez.",
        "popup.meta_error": "Meta dijo: {error}. Pulsa Conectar WhatsApp para intentarlo otra vez.",
        "popup.saving": "Meta aceptó. Guardando…",
        "popup.failed": "No pudimos guardar la respuesta de Meta: {error}. Pulsa Conectar WhatsApp para intentarlo "
        "otra vez.",
        "popup.no_sdk": "La ventana de Meta no puede abrirse en este navegador. Usa el enlace de abajo.",
        "popup.no_session": "La ventana de Meta no dijo qué cuenta conectó. Pulsa Conectar WhatsApp para intentarlo "
        "otra vez.",
        "invalid.title": "Este enlace no es válido",
        "invalid.body": "Revisa que abriste el enlace completo o pide uno nuevo.",
        "expired.title": "Este enlace ha caducado",
        "expired.body": "Caducó el {expires_at}. Pide un enlace nuevo para conectar tu número.",
        "revoked.title": "Este enlace fue reemplazado por uno más reciente",
        "revoked.body": "Abre el último enlace que recibiste.",
        "used.title": "Este enlace ya se usó",
        "used.body": "La conexión del {number} está en curso.",
        "used.button": "Ver cómo va",
        "connected.title": "El {number} está conectado",
        "connected.body": "Los mensajes de WhatsApp a {business} en este número ya reciben respuesta.",
        "failed.title": "La conexión no se completó",
        "failed.body": "Meta respondió: {error}. Pide un enlace nuevo para intentarlo otra vez.",
        "suspended.title": "El {number} está suspendido",
        "suspended.body": "Pide al administrador de {business} que lo reactive.",
        "closed.title": "Este número no está esperando una conexión",
        "closed.body": "Pide un enlace nuevo si todavía quieres conectar el {number}.",
        "meta_error.title": "Meta no completó la conexión",
        "meta_error.body": "Meta dijo: {error}",
        "meta_error.button": "Intentar de nuevo",
        "incomplete.title": "La respuesta de Meta llegó incompleta",
        "incomplete.body": "Abre tu enlace otra vez y acepta en la página de Meta.",
        "unavailable.title": "No pudimos guardarlo en este momento",
        "unavailable.body": "Vuelve a cargar esta página en un momento: no se ha perdido nada.",
        "almost.title": "Casi listo: estamos terminando la conexión",
        "almost.body": "Esta página se actualiza sola. Puedes cerrarla: terminamos sin ti.",
        "status.title": "Conectando el {number}",
        "status.pending": "Esperando a que termine el registro en Meta.",
        "status.signup_started": "Meta aceptó. Preparando la conexión…",
        "status.code_exchanged": "Conectado a tu cuenta de WhatsApp Business. Configurando los mensajes…",
        "status.subscribed": "Los mensajes están configurados. Registrando el número…",
        "status.registered": "El número está registrado. Leyéndolo de vuelta en Meta…",
        "status.code_requested": "Esperando el código de verificación.",
        "status.code_verified": "El código está verificado. Registrando el número…",
        "status.refreshing": "Esta página se actualiza sola.",
    },
}

STYLESHEET = """\
body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; color: #1c1e21; }
h1 { font-size: 1.5rem; }
p { line-height: 1.5; }
a.button, button.button { display: inline-block; padding: .75rem 1.5rem; border: 0; border-radius: .5rem;
           background: #25d366; color: #fff; font: inherit; font-weight: 600; text-decoration: none; cursor: pointer; }
button.button:disabled { opacity: .6; cursor: default; }
#popup-status { min-height: 1.5em; color: #444; }
"""

POPUP_WORDS = ("opening", "cancelled", "cancelled_at", "meta_error", "saving", "failed", "no_sdk", "no_session")


def language(client_language: str | None, accept_language: str = "") -> Lang:
    """The client's language when the link names a client ('es', 'es-CO' → Spanish, any other → English); else
    the browser's first preference of the two (Accept-Language, by q), English when it names neither."""
    if client_language:
        return "es" if client_language.lower().startswith("es") else "en"
    preferences: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.replace(" ", "").lower().split(",")):
        tag, _, quality = part.partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            weight = 0.0
        preferences.append((-weight, position, tag))
    for _, _, tag in sorted(preferences):
        if tag.startswith("es"):
            return "es"
        if tag.startswith("en"):
            return "en"
    return "en"


def text(lang: Lang, key: str, **values: str) -> str:
    return CATALOGUE[lang][key].format(**values)


@dataclass(frozen=True)
class Popup:
    """The button that opens Meta's popup: its label, its parameters for ``signup.js`` (``data-`` attributes of
    the button), and the words of the status line under it (``{step}`` and ``{error}`` filled in by the script)."""

    label: str
    parameters: dict[str, str]
    words: dict[str, str]


def popup_words(lang: Lang) -> dict[str, str]:
    return {key: CATALOGUE[lang][f"popup.{key}"] for key in POPUP_WORDS}


def _data(values: dict[str, str]) -> str:
    return "".join(f' data-{name.replace("_", "-")}="{escape(value)}"' for name, value in values.items())


def page(
    lang: Lang,
    title: str,
    paragraphs: list[str],
    *,
    action: tuple[str, str] | None = None,
    refresh: tuple[int, str] | None = None,
    popup: Popup | None = None,
) -> str:
    """A whole page; every value is escaped here. ``action`` is one (href, label) button; ``refresh`` (seconds,
    url) reloads the page by ``<meta http-equiv=refresh>``, which needs no script. With ``popup``, its button comes
    first (disabled until ``signup.js`` has loaded Meta's SDK) and ``action`` becomes the plain link under it."""
    head = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="robots" content="noindex">',
        f"<title>{escape(title)}</title>",
        '<link rel="stylesheet" href="/onboard/style.css">',
    ]
    if refresh is not None:
        head.append(f'<meta http-equiv="refresh" content="{refresh[0]}; url={escape(refresh[1])}">')
    body = [f"<h1>{escape(title)}</h1>", *(f"<p>{escape(p)}</p>" for p in paragraphs)]
    if popup is not None:
        head.append('<script src="/onboard/signup.js" defer></script>')
        button = f'<button class="button" id="popup" type="button" disabled{_data(popup.parameters)}>'
        body.append(f"<p>{button}{escape(popup.label)}</button></p>")
        body.append(f'<p id="popup-status" role="status" aria-live="polite"{_data(popup.words)}></p>')
    if action is not None:
        kind = "" if popup is not None else ' class="button"'
        body.append(f'<p><a{kind} id="action" href="{escape(action[0])}">{escape(action[1])}</a></p>')
    return (
        f'<!doctype html>\n<html lang="{lang}">\n<head>\n{"".join(head)}\n</head>\n'
        f"<body>\n{''.join(body)}\n</body>\n</html>\n"
    )
