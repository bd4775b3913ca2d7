"""The signup stand-in's HTML: the consent page with its one Accept button, the finished page, the error page.

Every value comes from the query string or the form, so every value is escaped (``html.escape`` with
quotes) before it reaches the page; the pages carry no script.
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
<style>
body { font-family: system-ui, sans-serif; background: #f0f2f5; margin: 0; padding: 2rem 1rem; color: #1c1e21; }
main { max-width: 28rem; margin: auto; background: #fff; border-radius: 8px; padding: 1.5rem;
       box-shadow: 0 1px 3px rgba(0, 0, 0, .2); }
dt { color: #65676b; font-size: .85rem; margin-top: .75rem; }
dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
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


def page(title: str, content_html: str) -> str:
    return _PAGE.substitute(title=escape(title), content=content_html)


def consent_page(app_name: str, rows: list[tuple[str, str]], hidden: dict[str, str]) -> str:
    fields = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' for name, value in hidden.items()
    )
    content = (
        f"<p><strong>{escape(app_name)}</strong> asks to manage your WhatsApp Business account and to send and "
        "receive messages on this number.</p>"
        + _details(rows)
        + f'<form method="post">{fields}<button type="submit" name="accept" value="1">Accept</button></form>'
    )
    return page("Connect your WhatsApp number", content)


def finished_page(rows: list[tuple[str, str]]) -> str:
    content = "<p>Your number is connected. You can close this window.</p>" + _details(rows)
    return page("You're all set", content)


def error_page(message: str) -> str:
    return page("Something went wrong", f"<p>{escape(message)}</p>")
