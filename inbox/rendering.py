"""How a stored message body is shown: quoted history and signatures folded away (kept,
one click to open), and inline cid: images pointed at their served attachments."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape

from .channels.email_parse import split_quoted
from .sanitize import clean_html

_CID = re.compile(r'src="cid:([^"]+)"')


@dataclass
class Body:
    main: Markup
    quoted: Markup | None
    is_html: bool


def _safe(html: str) -> Markup:
    # Only ever called on output of sanitize.clean_html (stored bodies are cleaned at ingest).
    return Markup(html)  # noqa: S704


def body(message, attachments, attachment_url) -> Body:
    """``attachment_url(attachment)`` builds the download URL of an attachment."""
    if message.html:
        html = message.html
        by_cid = {a.content_id: a for a in attachments if a.content_id}
        if by_cid:
            html = _CID.sub(
                lambda m: f'src="{attachment_url(by_cid[m.group(1)])}"' if m.group(1) in by_cid else "", html
            )
        cut = html.lower().find("<blockquote")
        if cut > 0:
            # Re-cleaning each half closes any tag the cut left open.
            return Body(_safe(clean_html(html[:cut])), _safe(clean_html(html[cut:])), True)
        return Body(_safe(html), None, True)
    main, quoted = split_quoted(message.text or "")
    return Body(escape(main), escape(quoted) if quoted else None, False)
