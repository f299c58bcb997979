"""Turning raw RFC 822 bytes into plain data, whatever real mailboxes contain: Korean
charsets (EUC-KR, CP949, ISO-2022-KR), mislabelled charsets, 8-bit headers, HTML-only
mail, nested multiparts, inline images, bounces and auto-replies.

Nothing here touches the database or the network."""

from __future__ import annotations

import datetime as dt
import email
import email.errors
import email.header
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024

# Charsets that mailers announce for Korean text; CP949 is a superset of EUC-KR and
# decodes what Windows mailers labelled EUC-KR.
_KOREAN = {"euc-kr", "euc_kr", "ks_c_5601-1987", "ks_c_5601", "ksc5601", "cp949", "uhc", "x-windows-949", "korean"}
_WESTERN = {"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252"}


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes | None
    size: int
    content_id: str | None = None
    inline: bool = False
    note: str | None = None


@dataclass
class Bounce:
    """A delivery status notification about a message we sent."""

    original_message_ids: list[str]
    reason: str


@dataclass
class ParsedMail:
    message_id: str | None
    from_name: str
    from_address: str
    reply_to: str | None
    to: list[str]
    cc: list[str]
    subject: str
    date: dt.datetime | None  # naive UTC
    text: str
    html: str | None
    in_reply_to: str | None
    references: list[str]
    attachments: list[ParsedAttachment] = field(default_factory=list)
    auto_reply: bool = False
    bounce: Bounce | None = None
    problems: list[str] = field(default_factory=list)
    reply_to_name: str = ""

    @property
    def sender(self) -> str:
        """The address a reply should go to: Reply-To when it is given."""
        return self.reply_to or self.from_address

    @property
    def sender_name(self) -> str:
        """The name that goes with ``sender``: a contact form's From name is not the customer's."""
        if self.reply_to and self.reply_to != self.from_address:
            return self.reply_to_name
        return self.from_name


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:20]


def provider_id(parsed_message_id: str | None, raw: bytes) -> str:
    """The idempotency key of a mail: its Message-ID plus a hash of the bytes, so that two
    different mails sharing a broken Message-ID are both kept, while the same mail seen
    again (another folder, a re-sync after UIDVALIDITY changed) is stored once."""
    return f"{parsed_message_id or ''}#{content_hash(raw)}"[:255]


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Decode a body, trusting the declared charset only as far as the bytes allow."""
    declared = (declared or "").strip().strip('"').lower()
    candidates: list[str] = []
    if declared in _KOREAN:
        # UTF-8 labelled EUC-KR is common, and short UTF-8 Korean often decodes as (wrong)
        # CP949. EUC-KR text practically never is valid UTF-8 with characters past U+07FF.
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if any(ord(ch) >= 0x800 for ch in text):
                return text
        candidates += ["cp949", "utf-8"]
    elif declared in _WESTERN:
        # Mislabelled mail is common here: try UTF-8 and CP949 first, they are strict.
        candidates += ["utf-8", "cp949", declared]
    elif declared:
        candidates += [declared, "utf-8", "cp949"]
    else:
        candidates += ["utf-8", "cp949"]
    for charset in candidates:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def _has_8bit(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _raw_values(msg: Message, name: str) -> list[str]:
    return [v for k, v in msg.raw_items() if k.lower() == name.lower()]


def _undo_8bit(raw: str) -> str:
    """Raw header text carrying undecodable 8-bit bytes (EUC-KR written without
    encoded-words) decoded by guessing the charset."""
    return decode_bytes(raw.encode("utf-8", errors="surrogateescape"), None) if _has_8bit(raw) else raw


def _decode_words(text: str) -> str:
    """RFC 2047 encoded-words decoded with the same charset guessing as bodies: CP949 for
    Korean labels (ks_c_5601-1987 is CP949 in practice), UTF-8 labelled Latin-1 or EUC-KR.
    Adjacent words of one charset are joined first, so a character cut in two survives."""
    if "=?" not in text:
        return text
    try:
        chunks = [
            (data, None) if isinstance(data, str)
            else (data.decode("raw-unicode-escape"), None) if charset is None
            else (decode_bytes(data, charset), "utf-8")
            for data, charset in email.header.decode_header(text)
        ]  # fmt: skip
        return str(email.header.make_header(chunks))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        return text


def _repair(raw: str) -> str:
    return _decode_words(_undo_8bit(raw))


def _header_values(msg: Message, name: str) -> list[str]:
    raws = _raw_values(msg, name)
    if any(_has_8bit(r) or "=?" in r for r in raws):
        return [_repair(r) for r in raws]
    try:
        return [str(v) for v in msg.get_all(name, [])]
    except Exception:  # a malformed header must not stop the parse: decode it ourselves
        return [_repair(r) for r in raws]


def _header(msg: Message, name: str) -> str:
    values = _header_values(msg, name)
    return re.sub(r"\s+", " ", values[0]).strip() if values else ""


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    # Split the raw text first and decode display names after: a decoded name may hold a comma.
    pairs = email.utils.getaddresses([_undo_8bit(r) for r in _raw_values(msg, name)])
    return [(re.sub(r"\s+", " ", _decode_words(n)).strip(), a.strip().lower()) for n, a in pairs if a and "@" in a]


def _msg_ids(value: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def _date(msg: Message) -> dt.datetime | None:
    raw = _header(msg, "Date")
    if not raw:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return parsed
    return parsed.astimezone(dt.UTC).replace(tzinfo=None)


def _part_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        if isinstance(raw, str):
            return raw.encode("utf-8", errors="surrogateescape")
        return b""
    return payload


def _part_text(part: Message) -> str:
    return decode_bytes(_part_bytes(part), part.get_content_charset()).replace("\r\n", "\n")


def _filename(part: Message) -> str | None:
    # Parameters are read from the raw header text (compat32) and decoded here: RFC 2231
    # and encoded-words with CP949 or mislabelled charsets, and raw 8-bit EUC-KR names.
    raw = Message()
    for key, value in part.raw_items():
        if key.lower() in ("content-disposition", "content-type"):
            raw[key] = _undo_8bit(value)
    try:
        value = raw.get_param("filename", None, "content-disposition") or raw.get_param("name", None, "content-type")
        if isinstance(value, tuple):
            charset, _, text = value
            name = decode_bytes(text.encode("raw-unicode-escape"), charset or "utf-8")
        else:
            name = _repair(value) if value else None
    except Exception:  # an unreadable parameter is no file name, not a failed parse
        name = None
    if name:
        name = re.sub(r"[\r\n\t]+", " ", name)
        return name.strip()[:255] or None
    return None


def _is_auto_reply(msg: Message, subject: str) -> bool:
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return True
    if _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond") or _header(msg, "X-Auto-Response-Suppress"):
        return True
    if _header(msg, "Precedence").lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    if _header(msg, "List-Id") or _header(msg, "List-Unsubscribe"):
        return True
    lowered = subject.lower()
    return lowered.startswith(("out of office", "automatic reply", "auto:", "autoreply", "자동 회신", "부재중"))


def _bounce(msg: Message, from_address: str) -> Bounce | None:
    is_report = msg.get_content_type() == "multipart/report"
    from_daemon = from_address.split("@")[0].lower() in ("mailer-daemon", "postmaster")
    if not (is_report or from_daemon):
        return None
    ids: list[str] = []
    reason = ""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            text = _part_text(part) if not part.is_multipart() else ""
            if part.is_multipart():  # header blocks; their values are unfolded
                text = "\n".join(f"{k}: {v}" for p in part.get_payload() for k, v in p.items())
            match = re.search(r"Diagnostic-Code:\s*(?:smtp;)?\s*(.+)", text, re.I)
            status = re.search(r"Status:\s*([0-9.]+)", text, re.I)
            reason = (match.group(1).strip() if match else "") or (f"status {status.group(1)}" if status else "")
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            if part.is_multipart():
                ids += _msg_ids(str(part.get_payload()[0].get("Message-ID", "")))
            else:
                found = re.search(r"(?im)^Message-ID:\s*(<[^>]+>)", _part_text(part))
                ids += [found.group(1)] if found else []
    if not ids:
        # Some servers only quote the original headers in the text body.
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                found = re.search(r"(?im)^\s*Message-ID:\s*(<[^>]+>)", _part_text(part))
                if found:
                    ids.append(found.group(1))
                    break
    if not ids and not is_report:
        return None
    return Bounce(original_message_ids=ids, reason=(reason or "the recipient's server refused the message")[:500])


def parse(raw: bytes) -> ParsedMail:
    """Parse a mail. Raises nothing for malformed input: problems are listed instead."""
    problems: list[str] = []
    msg: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)
    if any(isinstance(d, email.errors.MissingHeaderBodySeparatorDefect) for d in msg.defects):
        repaired = _drop_stray_header_lines(raw)
        if repaired is not None:
            problems.append("header line without a colon")
            msg = email.message_from_bytes(repaired, policy=email.policy.default)
    for defect in getattr(msg, "defects", []):
        problems.append(type(defect).__name__)

    froms = _addresses(msg, "From")
    from_name, from_address = froms[0] if froms else ("", "")
    if not from_address:
        sender = _addresses(msg, "Sender") or _addresses(msg, "Return-Path")
        if sender:
            from_name, from_address = sender[0]
        else:
            problems.append("no From address")
    reply_to = _addresses(msg, "Reply-To")
    subject = _header(msg, "Subject")[:998]
    message_ids = _msg_ids(_header(msg, "Message-ID"))

    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[ParsedAttachment] = []
    _walk(msg, texts, htmls, attachments, problems)

    text = "\n\n".join(t.strip() for t in texts if t.strip())
    html = "\n".join(htmls) if htmls else None
    return ParsedMail(
        message_id=message_ids[0] if message_ids else None,
        from_name=from_name,
        from_address=from_address,
        reply_to=reply_to[0][1] if reply_to else None,
        to=[a for _, a in _addresses(msg, "To")],
        cc=[a for _, a in _addresses(msg, "Cc")],
        subject=subject,
        date=_date(msg),
        text=text,
        html=html,
        in_reply_to=(_msg_ids(_header(msg, "In-Reply-To")) or [None])[0],
        references=_msg_ids(_header(msg, "References")),
        attachments=attachments,
        auto_reply=_is_auto_reply(msg, subject),
        bounce=_bounce(msg, from_address),
        problems=problems,
        reply_to_name=reply_to[0][0] if reply_to else "",
    )


_HEADER_LINE = re.compile(rb"[!-9;-~]+:")


def _drop_stray_header_lines(raw: bytes) -> bytes | None:
    """A line without a colon inside the header block makes the parser end the headers
    there and read the rest (Content-Type, Message-ID...) as body text. When real header
    lines follow it before the blank line, the stray line is dropped instead."""
    end = re.search(rb"\r?\n\r?\n", raw)
    if end is None:
        return None
    lines = raw[: end.start()].split(b"\n")
    keep = []
    for i, line in enumerate(lines):
        text = line.rstrip(b"\r")
        if _HEADER_LINE.match(text) or text[:1] in (b" ", b"\t") or (i == 0 and text.startswith(b"From ")):
            keep.append(line)
        elif not any(_HEADER_LINE.match(after) for after in lines[i + 1 :]):
            keep += lines[i:]  # nothing header-like follows: the body really starts here
            break
    if len(keep) == len(lines):
        return None
    return b"\n".join(keep) + raw[end.start() :]


def _walk(part: Message, texts: list, htmls: list, attachments: list, problems: list, depth: int = 0) -> None:
    if depth > 30:
        problems.append("multipart nesting too deep")
        return
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        _forwarded(part, texts, attachments)
        return
    if part.get_content_maintype() == "multipart" and not part.is_multipart():
        # The boundary never appears: the body is all there is, show it as text.
        problems.append("broken multipart")
        texts.append(_part_text(part))
        return
    if part.is_multipart():
        children = part.get_payload()
        if not isinstance(children, list):
            problems.append("broken multipart")
            texts.append(_part_text(part))
            return
        if ctype == "multipart/alternative":
            # Prefer the plain text for text and search; keep the HTML for display.
            plain = [c for c in children if c.get_content_type() == "text/plain" and not _filename(c)]
            rich = [c for c in children if c.get_content_type() == "text/html" and not _filename(c)]
            others = [c for c in children if c not in plain and c not in rich]
            if plain:
                texts.append(_part_text(plain[-1]))
            if rich:
                htmls.append(_part_text(rich[-1]))
            for child in others:
                _walk(child, texts, htmls, attachments, problems, depth + 1)
            return
        if ctype == "multipart/report":
            for child in children[:1]:
                _walk(child, texts, htmls, attachments, problems, depth + 1)
            return
        for child in children:
            _walk(child, texts, htmls, attachments, problems, depth + 1)
        return

    disposition = (part.get_content_disposition() or "").lower()
    filename = _filename(part)
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        (texts if ctype == "text/plain" else htmls).append(_part_text(part))
        _check_damage(part, filename or ctype, problems)
        return
    data = _part_bytes(part)
    attachments.append(_attachment(filename or _default_name(ctype), ctype, data, part))
    if _check_damage(part, filename or ctype, problems):
        attachments[-1].note = attachments[-1].note or "damaged: invalid base64, the file may be incomplete"


def _forwarded(part: Message, texts: list, attachments: list) -> None:
    """A forwarded mail: keep it whole as an .eml attachment and show its text."""
    inner = part.get_payload()
    if isinstance(inner, list) and inner:
        try:
            data = inner[0].as_bytes()
        except Exception:  # a message that cannot be re-serialised as is
            data = inner[0].as_bytes(policy=email.policy.compat32)
    else:
        data = _part_bytes(part)
    attachments.append(_attachment(_filename(part) or "forwarded.eml", "message/rfc822", data, part))
    nested = parse(data)
    texts.append(f"---------- Forwarded message ----------\n{nested.subject}\n{nested.text}")


def _check_damage(part: Message, what: str, problems: list) -> bool:
    """Base64 with characters outside the alphabet (or cut short) loses data; bad padding alone does not."""
    bad = [type(d).__name__ for d in part.defects if "Base64Characters" in type(d).__name__
           or "Base64Length" in type(d).__name__]  # fmt: skip
    if bad:
        problems.append(f"damaged: {what} ({', '.join(bad)})")
    return bool(bad)


def _attachment(filename: str, ctype: str, data: bytes, part: Message) -> ParsedAttachment:
    content_id = part.get("Content-ID")
    content_id = content_id.strip().strip("<>") if content_id else None
    inline = (part.get_content_disposition() or "") == "inline" or bool(content_id)
    if len(data) > MAX_ATTACHMENT_BYTES:
        return ParsedAttachment(
            filename, ctype, None, len(data), content_id, inline,
            note=f"not kept: larger than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB",
        )  # fmt: skip
    return ParsedAttachment(filename, ctype, data, len(data), content_id, inline)


def _default_name(ctype: str) -> str:
    ext = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "application/pdf": "pdf"}.get(ctype, "bin")
    return f"attachment.{ext}"


_QUOTE_START = re.compile(
    r"""^(
        On\ .{5,200}\ wrote:\s*$                    # Gmail / Apple Mail (English)
      | .{0,80}\d{4}년\ ?\d{1,2}월\ ?\d{1,2}일.{0,120}(작성|wrote).{0,10}:?\s*$   # Korean Gmail
      | -{2,}\s*(Original\ Message|원본\ 메시지|Forwarded\ message)\s*-{2,}     # Outlook, forwards
      | From:\ .+\ Sent:\ .+                           # Outlook one-line header
      | 보낸\ 사람:\ .+\ 보낸\ 날짜:\ .+                  # Korean Outlook
      | >.*                                            # classic quoting
    )""",
    re.VERBOSE | re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^(-- |--)\s*$")


def split_quoted(text: str) -> tuple[str, str]:
    """Split a reply into what the customer wrote now and the quoted history/signature
    below it, so the timeline can fold the second part away (it is kept, not dropped)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if i == 0:
            continue
        # Gmail wraps a long attribution ("On ... <address>" / "wrote:") and Outlook puts
        # From: and Sent: on lines of their own: each line is also tried joined with the next.
        joined = f"{line.strip()} {lines[i + 1].strip()}" if line.strip() and i + 1 < len(lines) else ""
        if _QUOTE_START.match(line.strip()) or (joined and _QUOTE_START.match(joined)) or _SIGNATURE.match(line):
            head = "\n".join(lines[:i]).rstrip()
            if head:
                return head, "\n".join(lines[i:])
    return text, ""
