"""directory — the owner of the ``directory`` schema: clients (tenants), their WhatsApp numbers and the record of
every number's change of owner. The only writer of that schema; everyone else reads the ``directory_read`` views
(migration 0016), never these tables.

- phone numbers in E.164: :mod:`shared.phones` (``phonenumbers``), shared with the gateway.
- :mod:`directory.clients` — clients and their API keys (hashed with :func:`shared.api_keys.hash_api_key`).
- :mod:`directory.numbers` — a number under one client at a time; a number another client holds is refused.
- :mod:`directory.moves` — the only way a number changes owner, recorded and announced (``number.moved``).
- :mod:`directory.admin` — the operator's commands: ``python -m directory.admin``.
- ``python -m directory`` (:mod:`directory.__main__`) — the CRM's commands carried out (:mod:`directory.handlers`,
  answered as :mod:`directory.answers` says; :mod:`directory.onboardings` stores the onboardings), unreadable and
  unrouted commands answered ``command.rejected`` (:mod:`directory.unreadable`).
"""
