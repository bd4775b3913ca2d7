"""The cards of a ``contacts`` message: people the customer shared, as Meta's messages reference lists them.

Not to be confused with ``value.contacts`` (the sender, :class:`router.webhook.messages.Contact`).
"""

from __future__ import annotations

from pydantic import Field

from router.webhook.model import Lenient, MetaModel, Readable


class ContactName(MetaModel):
    formatted_name: Lenient[str] = None
    first_name: Lenient[str] = None
    last_name: Lenient[str] = None
    middle_name: Lenient[str] = None
    suffix: Lenient[str] = None
    prefix: Lenient[str] = None


class ContactPhone(MetaModel):
    phone: Lenient[str] = None
    wa_id: Lenient[str] = None
    type: Lenient[str] = None


class ContactEmail(MetaModel):
    email: Lenient[str] = None
    type: Lenient[str] = None


class ContactAddress(MetaModel):
    street: Lenient[str] = None
    city: Lenient[str] = None
    state: Lenient[str] = None
    zip: Lenient[str] = None
    country: Lenient[str] = None
    country_code: Lenient[str] = None
    type: Lenient[str] = None


class ContactOrg(MetaModel):
    company: Lenient[str] = None
    department: Lenient[str] = None
    title: Lenient[str] = None


class ContactUrl(MetaModel):
    url: Lenient[str] = None
    type: Lenient[str] = None


class ContactCard(MetaModel):
    """One shared contact of a ``contacts`` message (not the sender: that is ``value.contacts``)."""

    name: Lenient[ContactName] = None
    phones: Readable[ContactPhone] = Field(default_factory=list)
    emails: Readable[ContactEmail] = Field(default_factory=list)
    addresses: Readable[ContactAddress] = Field(default_factory=list)
    org: Lenient[ContactOrg] = None
    urls: Readable[ContactUrl] = Field(default_factory=list)
    birthday: Lenient[str] = None
    vcard: Lenient[str] = None
