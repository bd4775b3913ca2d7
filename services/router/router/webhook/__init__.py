"""Meta's webhook payload as the router reads it: tolerant models (unknown fields kept, unknown types never
fail), one module per part of the payload; :mod:`router.webhook.notification` walks a whole POST."""
