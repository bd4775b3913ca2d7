"""The signup pages' language, their markup, the hosted signup URL a link leads to, and the popup's parameters and
CSP with Meta's own SDK (the integration tests use the emulator's)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.settings import GatewaySettings
from gateway.signup_html import CATALOGUE, Popup, language, page
from gateway.signup_link import Opened, hosted_signup_url
from gateway.signup_popup import BadSdkUrl, meta_origins, policy, popup


@pytest.mark.parametrize(
    ("client_language", "accept_language", "expected"),
    [
        ("es", "en-US", "es"),
        ("es-CO", "", "es"),
        ("en", "es-ES,es;q=0.9", "en"),
        ("pt-BR", "es", "en"),  # the client's language wins; ours has no Portuguese yet
        (None, "es-CO,es;q=0.9,en;q=0.8", "es"),
        (None, "fr-FR,fr;q=0.9,es;q=0.8,en;q=0.7", "es"),
        (None, "en;q=0.4, es;q=0.6", "es"),
        (None, "es;q=0.1, en", "en"),
        (None, "de, fr", "en"),
        (None, "es;q=nonsense, en;q=0.5", "en"),
        (None, "", "en"),
    ],
)
def test_the_page_speaks_the_client_s_language_else_the_browser_s_best_of_ours(
    client_language: str | None, accept_language: str, expected: str
) -> None:
    assert language(client_language, accept_language) == expected


def test_both_catalogues_say_everything() -> None:
    assert CATALOGUE["es"].keys() == CATALOGUE["en"].keys()


def test_a_page_escapes_what_it_shows_and_carries_no_script_or_inline_style() -> None:
    html = page("en", "<b>Acme & Co</b>", ['"quoted" <script>alert(1)</script>'], action=("/x?a=1&b=2", "Go"))
    assert "<b>Acme" not in html and "&lt;b&gt;Acme &amp; Co&lt;/b&gt;" in html
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    assert 'href="/x?a=1&amp;b=2"' in html and '<html lang="en">' in html


def opened(**row: Any) -> Opened:
    defaults = {
        "id": uuid.uuid4(),
        "phone_number": "+541123456789",
        "display_name": None,
        "coexistence": False,
        "business_name": "Café Ñandú",
        "expires_at": datetime(2030, 1, 1, tzinfo=UTC),
    }
    return Opened("TOKEN-abc_123", cast(Any, defaults | row), "es", expired=False)


SETTINGS = GatewaySettings(
    app_id="1000000000000001",
    signup_config_id="2000000000000002",
    public_base_url="https://wamux.example/",
    signup_base_url="https://business.facebook.com",
)


def hosted(link: Opened) -> tuple[str, dict[str, str]]:
    url = urlsplit(hosted_signup_url(SETTINGS, link))
    return f"{url.scheme}://{url.netloc}{url.path}", {k: v[0] for k, v in parse_qs(url.query).items()}


def test_the_hosted_signup_url_names_the_app_its_configuration_our_callback_and_the_link_as_state() -> None:
    base, query = hosted(opened(display_name="Café Ñandú Palermo"))
    assert base == "https://business.facebook.com/messaging/whatsapp/onboard/"
    assert query["app_id"] == "1000000000000001" and query["config_id"] == "2000000000000002"
    assert query["redirect_uri"] == "https://wamux.example/onboard/callback"
    assert query["state"] == "TOKEN-abc_123"
    # The country code and the national number as phonenumbers splits them (cc 54), never a slice of the string.
    assert json.loads(query["extras"]) == {
        "setup": {
            "business": {"name": "Café Ñandú", "phone": {"code": "54", "number": "1123456789"}},
            "phone": {"displayName": "Café Ñandú Palermo"},
        }
    }


def test_a_coexistence_link_asks_for_the_business_app_onboarding() -> None:
    _, query = hosted(opened(coexistence=True, phone_number="+12025550123"))
    extras = json.loads(query["extras"])
    assert extras["featureType"] == "whatsapp_business_app_onboarding"
    assert extras["setup"]["business"]["phone"] == {"code": "1", "number": "2025550123"}
    assert "phone" not in extras["setup"]  # no display name given: Meta asks for one


def test_with_meta_s_sdk_the_page_allows_its_script_and_facebook_s_frames_and_messages_only() -> None:
    assert meta_origins(SETTINGS) == "https://*.facebook.com"
    directives = dict(part.strip().split(" ", 1) for part in policy(SETTINGS).split(";"))
    assert directives["script-src"] == "'self' https://connect.facebook.net"
    assert directives["frame-src"] == "https://*.facebook.com" and directives["connect-src"] == "'self'"
    launcher = popup(SETTINGS, opened(coexistence=True))
    assert launcher.parameters["sdk_url"] == "https://connect.facebook.net/en_US/sdk.js"
    assert (
        launcher.parameters["version"] == SETTINGS.graph_api_version and launcher.parameters["token"] == "TOKEN-abc_123"
    )
    assert json.loads(launcher.parameters["extras"])["featureType"] == "whatsapp_business_app_onboarding"
    assert launcher.label == "Conectar WhatsApp" and "{step}" in launcher.words["cancelled_at"]


def test_the_popup_button_escapes_its_parameters_and_loads_one_script_file() -> None:
    button = Popup("Go", {"extras": '{"name":"<Acme & \\"Co\\">"}', "app_id": "1"}, {"meta_error": "Meta: {error}"})
    html = page("en", "T", [], action=("/hosted?a=1", "Meta's page"), popup=button)
    assert '<script src="/onboard/signup.js" defer></script>' in html and html.count("<script") == 1
    assert 'data-extras="{&quot;name&quot;:&quot;&lt;Acme &amp; \\&quot;Co\\&quot;&gt;&quot;}"' in html
    assert 'data-meta-error="Meta: {error}"' in html and 'id="popup" type="button" disabled' in html
    assert '<a id="action" href="/hosted?a=1">' in html  # the hosted page: a plain link under the button


@pytest.mark.parametrize("sdk_url", ["connect.facebook.net/en_US/sdk.js", "javascript:alert(1)", ""])
def test_an_sdk_url_that_is_not_a_web_url_is_refused_naming_the_setting(sdk_url: str) -> None:
    with pytest.raises(BadSdkUrl, match="WAMUX_SIGNUP_SDK_URL must be an http"):
        policy(SETTINGS.model_copy(update={"signup_sdk_url": sdk_url}))
