"""The signup stand-in's HTML: the consent page with its one Accept button, the finished page, the error page.

Every value comes from the query string or the form, so every value is escaped (``html.escape`` with
quotes) before it reaches the page; the pages carry no script, but for the JS SDK popup's answer, which runs the
emulator's ``finish.js`` (``sandbox.meta.js_sdk``).
"""

from __future__ import annotations

from html import escape
from string import Template

_PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
$head
<style>
body { font-family: system-ui, sans-serif; background: #f0f2f5; margin: 0; padding: 2rem 1rem; color: #1c1e21; }
main { max-width: 28rem; margin: auto; background: #fff; border-radius: 8px; padding: 1.5rem;
       box-shadow: 0 1px 3px rgba(0, 0, 0, .2); }
dt { color: #65676b; font-size: .85rem; margin-top: .75rem; }
dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
button.cancel { margin-top: .5rem; background: #e4e6eb; color: #1c1e21; }
button { margin-top: 1.5rem; width: 100%; padding: .75rem; font-size: 1rem; border: 0; border-radius: 6px;
         background: #1877f2; color: #fff; cursor: pointer; }
.note { color: #65676b; font-size: .8rem; margin-top: 1rem; }
</style>
</head>
<body>
<main>
<h1>$title</h1>
$content
<p class="note">wamux sandbox: a stand-in for Meta's hosted Embedded Signup. Nothing here reaches Meta.</p>
</main>
</body>
</html>
""")


def _details(rows: list[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in rows)
    return f"<dl>{items}</dl>"


def page(title: str, content_html: str, head_html: str = "") -> str:
    return _PAGE.substitute(title=escape(title), content=content_html, head=head_html)


def consent_page(
    app_name: str, rows: list[tuple[str, str]], hidden: dict[str, str], *, cancellable: bool = False
) -> str:
    fields = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' for name, value in hidden.items()
    )
    content = (
        f"<p><strong>{escape(app_name)}</strong> asks to manage your WhatsApp Business account and to send and "
        "receive messages on this number.</p>"
        + _details(rows)
        + f'<form method="post">{fields}<button type="submit" name="accept" value="1">Accept</button>'
        + ('<button type="submit" class="cancel" name="cancel" value="1">Cancel</button>' if cancellable else "")
        + "</form>"
    )
    return page("Connect your WhatsApp number", content)


def finished_page(rows: list[tuple[str, str]]) -> str:
    content = "<p>Your number is connected. You can close this window.</p>" + _details(rows)
    return page("You're all set", content)


def post_message_page(rows: list[tuple[str, str]], session: str, code: str | None, opener_origin: str) -> str:
    """The popup's last page: ``finish.js`` posts ``session`` (the JSON string of Meta's message event) and the
    code to the window that opened it, then closes it."""
    data = f'data-session="{escape(session)}" data-opener-origin="{escape(opener_origin)}"'
    if code is not None:
        data += f' data-code="{escape(code)}"'
    content = f'<div id="finish" {data}><p>Returning to the page that opened this window…</p>{_details(rows)}</div>'
    head = '<script src="/messaging/whatsapp/onboard/finish.js" defer></script>'
    return page("You're all set" if code is not None else "Signup cancelled", content, head)


def error_page(message: str) -> str:
    return page("Something went wrong", f"<p>{escape(message)}</p>")
