"""Normalising how contacts are reached: lower-cased email addresses and E.164 phones."""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from . import settings
from .i18n import N_, UserFacingError


class InvalidIdentity(UserFacingError):
    """An address or phone number that cannot be used; the message says why."""


def normalise_email(value: str) -> str:
    value = (value or "").strip()
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise InvalidIdentity(N_("Not a valid email address: %(reason)s"), reason=str(exc)) from None
    return result.normalized.lower()


def normalise_phone(value: str, region: str | None = None) -> str:
    """Return the E.164 form of a phone number typed by a person or sent by a provider.

    Accepts ``whatsapp:+8210…``, ``010-1234-5678`` (read in the default region), spaces,
    dots and brackets."""
    raw = (value or "").strip()
    if raw.lower().startswith("whatsapp:"):
        raw = raw.split(":", 1)[1]
    if not raw or len(raw) > 40:
        raise InvalidIdentity(N_("Phone number is empty or too long."))
    try:
        number = phonenumbers.parse(raw, region or settings.get("default_region"))
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity(N_("Not a phone number: %(reason)s"), reason=str(exc)) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentity(N_("This is not a valid phone number (check the digits and the country code)."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def provider_phone(value: str) -> str:
    """Normalise a sender number from a provider; keep short codes and alphanumeric
    sender ids as they are, so no inbound message is refused for its sender."""
    try:
        return normalise_phone(value)
    except InvalidIdentity:
        cleaned = re.sub(r"[^\w+\-]", "", value.split(":", 1)[-1])[:64]
        return cleaned or "unknown"


def format_phone(e164: str, region: str | None = None) -> str:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    home = region or settings.get("default_region")
    if phonenumbers.region_code_for_number(number) == home:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
