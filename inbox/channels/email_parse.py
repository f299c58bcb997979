"""Turning raw RFC 822 bytes into plain data, whatever real mailboxes contain: Korean
charsets (EUC-KR, CP949, ISO-2022-KR), mislabelled charsets, 8-bit headers, HTML-only
mail, nested multiparts, inline images, bounces and auto-replies.

Nothing here touches the database or the network."""

from __future__ import annotations

import datetime as dt
import email
import email.errors
import email.header
import email.headerregistry
import email.policy
import email.utils
import functools
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024

# Charsets that mailers announce for Korean text; CP949 is a superset of EUC-KR and
# decodes what Windows mailers labelled EUC-KR.
_KOREAN = {"euc-kr", "euc_kr", "ks_c_5601-1987", "ks_c_5601", "ksc5601", "cp949", "uhc", "x-windows-949", "korean"}
_WESTERN = {"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252"}


class _HeaderRegistry(email.headerregistry.HeaderRegistry):
    """The standard registry, except that the header class for a kind of header is made
    once: the stock one builds a new class every time a header is read."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[type, type] = {}

    def __getitem__(self, name: str) -> type:
        cls = self.registry.get(name.lower(), self.default_class)
        made = self._classes.get(cls)
        if made is None:
            made = self._classes[cls] = type("_" + cls.__name__, (cls, self.base_class), {})
        return made


# Read again and again while parsing (by the stdlib parser too), short and much the same
# from one mail to the next. A parsed header is ~10 KB: a few dozen kept are enough, as a
# part's headers are read again within the same parse and the common values every mail.
_MIME_HEADERS = frozenset({"content-type", "content-disposition", "content-transfer-encoding"})


class _Policy(email.policy.EmailPolicy):
    """email.policy.default, except that recently seen MIME header values are not parsed
    again: header objects are immutable, so the same value always gives an equal object."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        if len(value) <= 1000 and not hasattr(value, "name") and name.lower() in _MIME_HEADERS:
            return _fetch_mime_header(self, name, value)
        return super().header_fetch_parse(name, value)


@functools.lru_cache(maxsize=64)
def _fetch_mime_header(policy: _Policy, name: str, value: str) -> str:
    return email.policy.EmailPolicy.header_fetch_parse(policy, name, value)


_POLICY = _Policy(header_factory=_HeaderRegistry())


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
            if _PAST_07FF.search(text):
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


_PAST_07FF = re.compile("[^\x00-\u07ff]")
_8BIT = re.compile("[\udc80-\udcff]")  # undecodable bytes, surrogate-escaped by the parser


def _has_8bit(text: str) -> bool:
    return _8BIT.search(text) is not None


class _Headers:
    """A mail's top-level header lines by lower-cased name, gathered in one pass."""

    def __init__(self, msg: Message) -> None:
        self.msg = msg
        self.lines: dict[str, list[tuple[str, str]]] = {}
        for key, value in msg.raw_items():
            self.lines.setdefault(key.lower(), []).append((key, value))

    def raw_values(self, name: str) -> list[str]:
        return [value for _, value in self.lines.get(name.lower(), ())]


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


def _header_values(heads: _Headers, name: str) -> list[str]:
    lines = heads.lines.get(name.lower())
    if not lines:
        return []
    raws = [value for _, value in lines]
    if any(_has_8bit(r) or "=?" in r for r in raws):
        return [_repair(r) for r in raws]
    try:  # what msg.get_all() gives, without looking the name up again
        fetch = heads.msg.policy.header_fetch_parse
        return [str(fetch(key, value)) for key, value in lines]
    except Exception:  # a malformed header must not stop the parse: decode it ourselves
        return [_repair(r) for r in raws]


def _header(heads: _Headers, name: str) -> str:
    values = _header_values(heads, name)
    return re.sub(r"\s+", " ", values[0]).strip() if values else ""


def _addresses(heads: _Headers, name: str) -> list[tuple[str, str]]:
    # Split the raw text first and decode display names after: a decoded name may hold a comma.
    pairs = email.utils.getaddresses([_undo_8bit(r) for r in heads.raw_values(name)])
    return [(re.sub(r"\s+", " ", _decode_words(n)).strip(), a.strip().lower()) for n, a in pairs if a and "@" in a]


def _msg_ids(value: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def _date(heads: _Headers) -> dt.datetime | None:
    raw = _header(heads, "Date")
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


class _Parts:
    """What one parse reads from each MIME part (content type, file name, text), each
    worked out once however often it is asked for. Parts are known by identity: they all
    live as long as the message being parsed."""

    def __init__(self) -> None:
        self._ctypes: dict[int, str] = {}
        self._names: dict[int, str | None] = {}
        self._texts: dict[int, str] = {}

    def ctype(self, part: Message) -> str:
        ctype = self._ctypes.get(id(part))
        if ctype is None:
            ctype = self._ctypes[id(part)] = part.get_content_type()
        return ctype

    def filename(self, part: Message) -> str | None:
        key = id(part)
        if key not in self._names:
            self._names[key] = _filename(part)
        return self._names[key]

    def text(self, part: Message) -> str:
        text = self._texts.get(id(part))
        if text is None:
            text = self._texts[id(part)] = _part_text(part)
        return text


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


def _is_auto_reply(heads: _Headers, subject: str) -> bool:
    auto = _header(heads, "Auto-Submitted").lower()
    if auto and auto != "no":
        return True
    if _header(heads, "X-Autoreply") or _header(heads, "X-Autorespond") or _header(heads, "X-Auto-Response-Suppress"):
        return True
    if _header(heads, "Precedence").lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    if _header(heads, "List-Id") or _header(heads, "List-Unsubscribe"):
        return True
    lowered = subject.lower()
    return lowered.startswith(("out of office", "automatic reply", "auto:", "autoreply", "자동 회신", "부재중"))


def _bounce(msg: Message, from_address: str, parts: _Parts) -> Bounce | None:
    is_report = parts.ctype(msg) == "multipart/report"
    from_daemon = from_address.split("@")[0].lower() in ("mailer-daemon", "postmaster")
    if not (is_report or from_daemon):
        return None
    ids: list[str] = []
    reason = ""
    for part in msg.walk():
        ctype = parts.ctype(part)
        if ctype == "message/delivery-status":
            text = parts.text(part) if not part.is_multipart() else ""
            if part.is_multipart():  # header blocks; their values are unfolded
                text = "\n".join(f"{k}: {v}" for p in part.get_payload() for k, v in p.items())
            match = re.search(r"Diagnostic-Code:\s*(?:smtp;)?\s*(.+)", text, re.I)
            status = re.search(r"Status:\s*([0-9.]+)", text, re.I)
            reason = (match.group(1).strip() if match else "") or (f"status {status.group(1)}" if status else "")
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            if part.is_multipart():
                ids += _msg_ids(str(part.get_payload()[0].get("Message-ID", "")))
            else:
                found = re.search(r"(?im)^Message-ID:\s*(<[^>]+>)", parts.text(part))
                ids += [found.group(1)] if found else []
    if not ids:
        # Some servers only quote the original headers in the text body.
        for part in msg.walk():
            if parts.ctype(part) == "text/plain":
                found = re.search(r"(?im)^\s*Message-ID:\s*(<[^>]+>)", parts.text(part))
                if found:
                    ids.append(found.group(1))
                    break
    if not ids and not is_report:
        return None
    return Bounce(original_message_ids=ids, reason=(reason or "the recipient's server refused the message")[:500])


def parse(raw: bytes) -> ParsedMail:
    """Parse a mail. Raises nothing for malformed input: problems are listed instead."""
    problems: list[str] = []
    msg: EmailMessage = email.message_from_bytes(raw, policy=_POLICY)
    if any(isinstance(d, email.errors.MissingHeaderBodySeparatorDefect) for d in msg.defects):
        repaired = _drop_stray_header_lines(raw)
        if repaired is not None:
            problems.append("header line without a colon")
            msg = email.message_from_bytes(repaired, policy=_POLICY)
    for defect in getattr(msg, "defects", []):
        problems.append(type(defect).__name__)

    heads = _Headers(msg)
    froms = _addresses(heads, "From")
    from_name, from_address = froms[0] if froms else ("", "")
    if not from_address:
        sender = _addresses(heads, "Sender") or _addresses(heads, "Return-Path")
        if sender:
            from_name, from_address = sender[0]
        else:
            problems.append("no From address")
    reply_to = _addresses(heads, "Reply-To")
    subject = _header(heads, "Subject")[:998]
    message_ids = _msg_ids(_header(heads, "Message-ID"))

    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[ParsedAttachment] = []
    parts = _Parts()
    _walk(msg, parts, texts, htmls, attachments, problems)

    text = "\n\n".join(t.strip() for t in texts if t.strip())
    html = "\n".join(htmls) if htmls else None
    return ParsedMail(
        message_id=message_ids[0] if message_ids else None,
        from_name=from_name,
        from_address=from_address,
        reply_to=reply_to[0][1] if reply_to else None,
        to=[a for _, a in _addresses(heads, "To")],
        cc=[a for _, a in _addresses(heads, "Cc")],
        subject=subject,
        date=_date(heads),
        text=text,
        html=html,
        in_reply_to=(_msg_ids(_header(heads, "In-Reply-To")) or [None])[0],
        references=_msg_ids(_header(heads, "References")),
        attachments=attachments,
        auto_reply=_is_auto_reply(heads, subject),
        bounce=_bounce(msg, from_address, parts),
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


def _walk(
    part: Message, parts: _Parts, texts: list, htmls: list, attachments: list, problems: list, depth: int = 0
) -> None:
    if depth > 30:
        problems.append("multipart nesting too deep")
        return
    ctype = parts.ctype(part)
    if ctype == "message/rfc822":
        _forwarded(part, parts, texts, attachments)
        return
    is_multipart = part.is_multipart()
    if ctype.split("/")[0] == "multipart" and not is_multipart:
        # The boundary never appears: the body is all there is, show it as text.
        problems.append("broken multipart")
        texts.append(parts.text(part))
        return
    if is_multipart:
        children = part.get_payload()
        if not isinstance(children, list):
            problems.append("broken multipart")
            texts.append(parts.text(part))
            return
        if ctype == "multipart/alternative":
            # Prefer the plain text for text and search; keep the HTML for display.
            plain = [c for c in children if parts.ctype(c) == "text/plain" and not parts.filename(c)]
            rich = [c for c in children if parts.ctype(c) == "text/html" and not parts.filename(c)]
            others = [c for c in children if c not in plain and c not in rich]
            if plain:
                texts.append(parts.text(plain[-1]))
            if rich:
                htmls.append(parts.text(rich[-1]))
            for child in others:
                _walk(child, parts, texts, htmls, attachments, problems, depth + 1)
            return
        if ctype == "multipart/report":
            for child in children[:1]:
                _walk(child, parts, texts, htmls, attachments, problems, depth + 1)
            return
        for child in children:
            _walk(child, parts, texts, htmls, attachments, problems, depth + 1)
        return

    disposition = (part.get_content_disposition() or "").lower()
    filename = parts.filename(part)
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        (texts if ctype == "text/plain" else htmls).append(parts.text(part))
        _check_damage(part, filename or ctype, problems)
        return
    data = _part_bytes(part)
    attachments.append(_attachment(filename or _default_name(ctype), ctype, data, part, disposition))
    if _check_damage(part, filename or ctype, problems):
        attachments[-1].note = attachments[-1].note or "damaged: invalid base64, the file may be incomplete"


def _forwarded(part: Message, parts: _Parts, texts: list, attachments: list) -> None:
    """A forwarded mail: keep it whole as an .eml attachment and show its text."""
    inner = part.get_payload()
    if isinstance(inner, list) and inner:
        try:
            data = inner[0].as_bytes()
        except Exception:  # a message that cannot be re-serialised as is
            data = inner[0].as_bytes(policy=email.policy.compat32)
    else:
        data = _part_bytes(part)
    disposition = (part.get_content_disposition() or "").lower()
    attachments.append(_attachment(parts.filename(part) or "forwarded.eml", "message/rfc822", data, part, disposition))
    nested = parse(data)
    texts.append(f"---------- Forwarded message ----------\n{nested.subject}\n{nested.text}")


def _check_damage(part: Message, what: str, problems: list) -> bool:
    """Base64 with characters outside the alphabet (or cut short) loses data; bad padding alone does not."""
    bad = [type(d).__name__ for d in part.defects if "Base64Characters" in type(d).__name__
           or "Base64Length" in type(d).__name__]  # fmt: skip
    if bad:
        problems.append(f"damaged: {what} ({', '.join(bad)})")
    return bool(bad)


def _attachment(filename: str, ctype: str, data: bytes, part: Message, disposition: str) -> ParsedAttachment:
    content_id = part.get("Content-ID")
    content_id = content_id.strip().strip("<>") if content_id else None
    inline = disposition == "inline" or bool(content_id)
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
