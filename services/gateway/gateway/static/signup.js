// The signup page's Embedded Signup popup, through Meta's JS SDK. Its parameters are the button's data- attributes,
// its words the status line's (gateway/signup_popup.py writes both). Once FB.login's callback has given the code
// and Meta's window has posted the session info (WA_EMBEDDED_SIGNUP FINISH...), both go to
// POST /onboard/{token}/complete, then the browser follows the onboarding on its status page.
"use strict";

(() => {
  const button = document.getElementById("popup");
  const line = document.getElementById("popup-status");
  if (!button || !line) return;
  const params = button.dataset;
  const FINISHED = ["FINISH", "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"];
  // idle: the button can start a signup; open: Meta's window is up; sending: the answer is on its way to wamux.
  let state = "idle";
  let code = null;
  let session = null;

  const say = (key, values = {}) => {
    const words = line.dataset[key] || "";
    line.textContent = words.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");
  };

  const again = (key, values) => {
    state = "idle";
    code = null;
    session = null;
    say(key, values);
    button.disabled = false;
  };

  // Meta's window posts from a facebook.com host (Meta's sample checks the same); the emulator from its own origin.
  const fromMeta = (origin) =>
    params.messageOrigins.split(" ").some((allowed) => {
      if (!allowed.startsWith("https://*.")) return origin === allowed;
      try {
        const url = new URL(origin);
        return url.protocol === "https:" && url.hostname.endsWith(allowed.slice("https://*".length));
      } catch {
        return false;
      }
    });

  const digits = (value) => (value === undefined || value === null || value === "" ? undefined : String(value));

  const send = async () => {
    if (state !== "open" || !code || !session) return;
    state = "sending";
    say("saving");
    try {
      const answer = await fetch(`/onboard/${encodeURIComponent(params.token)}/complete`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code, ...session }),
        credentials: "same-origin",
        cache: "no-store",
      });
      const body = await answer.json().catch(() => ({}));
      // 409: this link was used already (a second tab, a retry): the onboarding goes on, its status says how.
      if (body.status_url && (answer.ok || answer.status === 409)) {
        window.location.assign(body.status_url);
        return;
      }
      again("failed", { error: body.error || `${answer.status} ${answer.statusText}` });
    } catch (error) {
      again("failed", { error: String((error && error.message) || error) });
    }
  };

  window.addEventListener("message", (event) => {
    // Other windows, and Meta's SDK itself, post other messages, some not JSON: only Meta's session info counts.
    if (!fromMeta(event.origin) || typeof event.data !== "string") return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (!message || message.type !== "WA_EMBEDDED_SIGNUP" || state === "sending") return;
    const data = message.data || {};
    if (FINISHED.includes(message.event) && state === "open") {
      // Coexistence's finish names only the WABA: the directory finds the number under it.
      session = { waba_id: digits(data.waba_id) };
      if (digits(data.phone_number_id)) session.phone_number_id = digits(data.phone_number_id);
      if (digits(data.business_id)) session.business_id = digits(data.business_id);
      send();
    } else if (message.event === "CANCEL" || message.event === "ERROR") {
      // A user-reported error arrives as CANCEL with error_message; an abandoned flow names its current_step.
      if (data.error_message) again("metaError", { error: String(data.error_message) });
      else if (data.current_step) again("cancelledAt", { step: String(data.current_step).replaceAll("_", " ") });
      else again("cancelled");
    }
  });

  const sdk = new Promise((resolve, reject) => {
    window.fbAsyncInit = resolve; // Meta's SDK calls it once window.FB exists
    const script = document.createElement("script");
    script.src = params.sdkUrl;
    script.async = true;
    script.crossOrigin = "anonymous";
    script.onload = () => (window.FB ? resolve() : undefined);
    script.onerror = reject;
    document.head.append(script);
  });

  sdk.then(
    () => {
      window.FB.init({ appId: params.appId, autoLogAppEvents: true, xfbml: false, version: params.version });
      button.disabled = false;
    },
    () => say("noSdk"),
  );

  // FB.login runs inside the click itself: a popup opened later (after an await) is blocked by browsers.
  button.addEventListener("click", () => {
    if (state !== "idle" || !window.FB) return;
    state = "open";
    code = null;
    session = null;
    button.disabled = true;
    say("opening");
    window.FB.login(
      (response) => {
        const given = response && response.authResponse && response.authResponse.code;
        if (given && state === "open") {
          code = given; // it lives 30 seconds: sent as soon as the session info is here too
          send();
          setTimeout(() => (state === "open" && !session ? again("noSession") : undefined), 10_000);
        } else if (!given && state === "open") {
          again("cancelled");
        }
      },
      {
        config_id: params.configId,
        response_type: "code",
        override_default_response_type: true,
        extras: JSON.parse(params.extras),
      },
    );
  });
})();
