"""A stand-in for Meta's JS SDK (``https://connect.facebook.net/en_US/sdk.js``) at ``GET /sdk.js``, enough of it for
Embedded Signup: ``window.FB = {init, login}``, then ``window.fbAsyncInit()`` as Meta's SDK calls it.

``FB.login(callback, {config_id, response_type: 'code', override_default_response_type: true, extras})`` opens the
emulator's signup page (``sandbox.meta.signup_page``) in a popup with ``response_mode=post_message``. There, Accept
posts Meta's session info to the opener (``WA_EMBEDDED_SIGNUP`` FINISH, or FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING
for coexistence, a JSON string sent to any origin as Meta's is) and the code to this SDK only, which calls
``callback({authResponse: {code}, status: 'connected'})``; Cancel posts CANCEL with its ``current_step``. A popup
closed without an answer calls ``callback({authResponse: null, status: 'unknown'})``.

Not Meta's: the real SDK carries the code over its own frames; here the popup posts it to the opener's origin,
named by the SDK in the popup's URL (``opener_origin``). Only the code flow is emulated: a login asking for another
``response_type`` throws, naming the parameters Embedded Signup needs.
"""

from __future__ import annotations

from aiohttp import web

SDK_PATH = "/sdk.js"
FINISH_SCRIPT_PATH = "/messaging/whatsapp/onboard/finish.js"

SDK = """\
"use strict";
(() => {
  const base = new URL(document.currentScript.src).origin;
  let app = null;
  const init = (options) => {
    if (!options || !options.appId) throw new Error("FB.init needs {appId, version}");
    app = { appId: String(options.appId), version: options.version };
  };
  const login = (callback, options = {}) => {
    if (!app) throw new Error("FB.login before FB.init");
    if (options.response_type !== "code" || options.override_default_response_type !== true) {
      throw new Error("the sandbox SDK runs Embedded Signup's code flow only: FB.login(cb, {config_id, " +
        "response_type: 'code', override_default_response_type: true, extras})");
    }
    const query = new URLSearchParams({
      app_id: app.appId,
      config_id: String(options.config_id || ""),
      extras: JSON.stringify(options.extras || {}),
      response_mode: "post_message",
      opener_origin: window.location.origin,
    });
    const popup = window.open(`${base}/messaging/whatsapp/onboard/?${query}`, "wamux-sandbox-signup",
      "popup,width=560,height=720");
    let answered = false;
    let closedSeen = 0;
    const answer = (response) => {
      if (answered) return;
      answered = true;
      window.removeEventListener("message", onMessage);
      clearInterval(watch);
      callback(response);
    };
    const onMessage = (event) => {
      const data = event.data;
      if (event.origin !== base || !data || typeof data !== "object" || data.wamuxSandboxLogin !== true) return;
      answer(data.code ? { authResponse: { code: String(data.code) }, status: "connected" }
                       : { authResponse: null, status: "unknown" });
    };
    window.addEventListener("message", onMessage);
    // A message posted just before the popup closed is still queued: wait a moment before calling it abandoned.
    const watch = setInterval(() => {
      if (!popup || popup.closed) closedSeen += 1;
      if (closedSeen >= 3) answer({ authResponse: null, status: "unknown" });
    }, 200);
  };
  window.FB = { init, login };
  if (typeof window.fbAsyncInit === "function") window.fbAsyncInit();
})();
"""

FINISH_SCRIPT = """\
"use strict";
(() => {
  const node = document.getElementById("finish");
  if (!node || !window.opener) return; // opened by hand: the page shows the answer
  window.opener.postMessage(node.dataset.session, "*");
  window.opener.postMessage({ wamuxSandboxLogin: true, code: node.dataset.code || null }, node.dataset.openerOrigin);
  window.close();
})();
"""


def _script(body: str) -> web.Response:
    # Meta's snippet loads the SDK with crossorigin="anonymous": it is served for any origin.
    headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"}
    return web.Response(text=body, content_type="text/javascript", charset="utf-8", headers=headers)


async def sdk(_: web.Request) -> web.Response:
    return _script(SDK)


async def finish_script(_: web.Request) -> web.Response:
    return _script(FINISH_SCRIPT)


def add_js_sdk_routes(app: web.Application) -> None:
    app.router.add_get(SDK_PATH, sdk)
    app.router.add_get(FINISH_SCRIPT_PATH, finish_script)
