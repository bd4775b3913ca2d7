"""QR codes of the links wamux hands out: a client's signup link, and a number's customer link (wa.me).

PNG through qrcode's pure-Python writer (``pypng``), so the gateway needs no imaging library; SVG as one path,
which scales without blur in a dashboard or on a printed page.
"""

from __future__ import annotations

import io
import re
from urllib.parse import quote

import qrcode
import qrcode.image.pure
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M

# M (15% of the code may be lost) survives a phone camera at an angle or a smudged print; a signup link stays
# small enough at this level to be read from a screen across a desk.
_ERROR_CORRECTION = ERROR_CORRECT_M
_BORDER = 4  # the quiet zone the QR standard asks for, in modules


def _code(data: str, box_size: int) -> qrcode.QRCode:
    if not data:
        raise ValueError("a QR code needs something to encode: the text is empty")
    if box_size < 1:
        raise ValueError(f"box_size must be at least 1 pixel per module, not {box_size}")
    code = qrcode.QRCode(error_correction=_ERROR_CORRECTION, box_size=box_size, border=_BORDER)
    code.add_data(data)
    code.make(fit=True)
    return code


def png(data: str, *, box_size: int = 10) -> bytes:
    """A black-on-white PNG of ``data``, ``box_size`` pixels per module."""
    image = _code(data, box_size).make_image(image_factory=qrcode.image.pure.PyPNGImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def svg(data: str) -> bytes:
    """An SVG document of ``data``: one ``<path>`` of the dark modules, sized in millimetres."""
    image = _code(data, 10).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    return bytes(image.to_string(encoding="utf-8"))


def customer_link(e164: str, text: str = "") -> str:
    """WhatsApp's click-to-chat link to a number: ``https://wa.me/<digits>``, with ``text`` pre-filled."""
    digits = re.sub(r"[\s\-().]", "", e164).removeprefix("+")
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise ValueError(f"{e164!r} is not a phone number in E.164 (+ and up to 15 digits)")
    link = f"https://wa.me/{digits}"
    return f"{link}?text={quote(text, safe='')}" if text else link
