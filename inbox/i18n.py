"""Translatable messages raised by the domain modules.

The domain code (contacts, users, conversations, ...) does not import Flask. It marks its
messages with ``N_`` so ``pybabel extract`` finds them, and raises a ``UserFacingError``
that carries the English message id and its values. A view turns the error into the
user's language with ``translate(exc)``; ``str(exc)`` stays English (logs, the CLI).

    raise ContactError(N_("Too long (at most %(limit)s characters)."), field=key, limit=limit)
    ...
    except contacts.ContactError as exc:
        flash(translate(exc), "error")
"""

from __future__ import annotations

from typing import Any


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction without translating it (no request needed)."""
    return msgid


class UserFacingError(ValueError):
    """An error whose message is shown to the user: a msgid plus its ``%(name)s`` values."""

    def __init__(self, msgid: str, **params: Any):
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params

    def __str__(self) -> str:
        return self.msgid % self.params if self.params else self.msgid


def translate(exc: BaseException) -> str:
    """The message of ``exc`` in the current user's language (inside a request)."""
    from flask_babel import gettext

    if isinstance(exc, UserFacingError):
        return gettext(exc.msgid, **exc.params)
    return str(exc)
