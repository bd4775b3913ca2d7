"""The QR codes the gateway serves decode back to exactly the link they were made of."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import png as pypng
import pytest
import zxingcpp

from gateway import qr

SIGNUP_LINK = "https://wamux.example/onboard/AQ3xq0b5gRkqWk7X0Wm1dJ8AAAAAZ3k2gA1sR2v1f0lJb8mVt2Yq4s"


def decoded(png_bytes: bytes) -> str:
    width, height, rows, info = pypng.Reader(bytes=png_bytes).asDirect()
    assert info["greyscale"] and info["bitdepth"] == 1
    pixels = np.array([[255 if value else 0 for value in row] for row in rows], dtype=np.uint8)
    assert pixels.shape == (height, width)
    results = zxingcpp.read_barcodes(pixels)
    assert [result.format for result in results] == [zxingcpp.BarcodeFormat.QRCode]
    return str(results[0].text)


@pytest.mark.parametrize(
    "data",
    [
        SIGNUP_LINK,
        qr.customer_link("+573001234567", "Hola, quiero pedir una pizza 🍕"),
        "https://wa.me/447911123456",
    ],
)
def test_the_png_decodes_back_to_the_link_it_was_made_of(data: str) -> None:
    assert decoded(qr.png(data)) == data


def test_a_smaller_box_size_makes_a_smaller_png_that_still_decodes() -> None:
    small, large = qr.png(SIGNUP_LINK, box_size=4), qr.png(SIGNUP_LINK, box_size=10)
    small_width = pypng.Reader(bytes=small).read()[0]
    large_width = pypng.Reader(bytes=large).read()[0]
    assert small_width * 10 == large_width * 4
    assert decoded(small) == SIGNUP_LINK


def test_the_svg_is_an_svg_document_drawing_the_code_as_a_path() -> None:
    root = ET.fromstring(qr.svg(SIGNUP_LINK))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    paths = root.findall(".//{http://www.w3.org/2000/svg}path")
    assert len(paths) == 1
    assert paths[0].get("d", "").startswith("M")


def test_the_svg_of_two_links_differ() -> None:
    assert qr.svg(SIGNUP_LINK) != qr.svg(SIGNUP_LINK + "x")


def test_the_customer_link_is_wa_me_with_the_digits_and_the_text_url_encoded() -> None:
    assert qr.customer_link("+57 300 123 4567", "Hola & bienvenido?") == (
        "https://wa.me/573001234567?text=Hola%20%26%20bienvenido%3F"
    )
    assert qr.customer_link("+14155550123") == "https://wa.me/14155550123"


@pytest.mark.parametrize("bad", ["", "+", "hello", "+12", "+1234567890123456"])
def test_a_customer_link_refuses_what_is_not_a_phone_number(bad: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        qr.customer_link(bad)


def test_an_empty_text_or_box_size_zero_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="empty"):
        qr.png("")
    with pytest.raises(ValueError, match="box_size"):
        qr.png(SIGNUP_LINK, box_size=0)
