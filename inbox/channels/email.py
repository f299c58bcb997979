"""The email adapter: IMAP in (incremental by UIDVALIDITY + last UID per folder, read-only,
nothing marked read, moved or deleted), SMTP out (threaded replies).

It knows IMAP and SMTP and nothing else: it yields ``InboundMessage`` batches with the
cursor to save after each one, and sends ``OutboundMessage`` data."""

from __future__ import annotations

import datetime as dt
import imaplib
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import MISSING, dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from .. import crypto
from ..ingest import InboundAttachment, InboundMessage
from . import ChannelError, OutboundMessage, TransientChannelError, register
from .email_parse import parse, provider_id

SECURITY = ("ssl", "starttls", "none")
FETCH_BATCH = 200
FETCH_BATCH_BYTES = 16 * 1024 * 1024  # keeps the worker's memory flat on huge mail
TIMEOUT = 30
SECRET_FIELDS = ("imap_password", "smtp_password")


@dataclass
class EmailSettings:
    imap_host: str
    imap_port: int
    imap_security: str
    imap_username: str
    imap_password: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_username: str
    smtp_password: str
    from_address: str
    from_name: str = ""
    folders: list[str] = field(default_factory=lambda: ["INBOX"])
    import_since: str | None = None  # YYYY-MM-DD: the first sync imports mail from that day on
    append_to_sent: bool = False
    poll_seconds: int = 60

    @classmethod
    def from_channel(cls, stored: dict) -> EmailSettings:
        values = crypto.decrypt_fields(stored, SECRET_FIELDS)
        known = set(cls.__dataclass_fields__)
        try:
            return cls(**{k: v for k, v in values.items() if k in known})
        except TypeError:
            missing = sorted(
                name
                for name, f in cls.__dataclass_fields__.items()
                if name not in values and f.default is MISSING and f.default_factory is MISSING
            )
            raise ChannelError(f"This mailbox is not fully set up (missing: {', '.join(missing)}).") from None

    def to_stored(self) -> dict:
        return crypto.encrypt_fields(self.__dict__, SECRET_FIELDS)


class EmailConnectionError(ChannelError):
    pass


def describe(exc: BaseException, what: str, host: str, port: int) -> str:
    """One plain sentence saying what failed, for admins (never includes a password)."""
    where = f"{what} {host}:{port}"
    if isinstance(exc, socket.gaierror):
        return f"{where}: the host name could not be resolved (DNS)."
    if isinstance(exc, ConnectionRefusedError):
        return f"{where}: connection refused (is the server running, is the port right?)."
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"{where}: no answer within {TIMEOUT} s (timeout)."
    if isinstance(exc, ssl.SSLError):
        return f"{where}: TLS failed ({exc.reason or exc}). Check the security setting (ssl / starttls / none)."
    if isinstance(exc, LoginError) or "AUTHENTICATIONFAILED" in str(exc).upper():
        return f"{where}: the server refused the username or password."
    if isinstance(exc, OSError):
        return f"{where}: network error ({exc.strerror or exc})."
    return f"{where}: {exc}"


# --- IMAP in -----------------------------------------------------------------------


def connect_imap(s: EmailSettings) -> IMAPClient:
    try:
        context = ssl.create_default_context()
        client = IMAPClient(s.imap_host, port=s.imap_port, ssl=s.imap_security == "ssl", ssl_context=context,
                            timeout=TIMEOUT)  # fmt: skip
        if s.imap_security == "starttls":
            client.starttls(context)
        client.login(s.imap_username, s.imap_password)
    except (OSError, IMAPClientError, imaplib.IMAP4.error) as exc:
        raise EmailConnectionError(describe(exc, "IMAP", s.imap_host, s.imap_port)) from None
    return client


@dataclass
class Progress:
    folder: str
    done: int
    total: int
    started_at: float

    def as_dict(self) -> dict:
        elapsed = max(time.monotonic() - self.started_at, 0.001)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else None
        return {"folder": self.folder, "done": self.done, "total": self.total, "rate": round(rate, 1),
                "seconds_left": round(left) if left is not None else None}  # fmt: skip


@dataclass
class Batch:
    messages: list[InboundMessage]
    cursor: dict  # save after the batch is stored: the sync resumes from here
    progress: Progress


def fetch_batches(channel_id: int, s: EmailSettings, cursor: dict, own_addresses: set[str]) -> Iterator[Batch]:
    """Yield new mail of every watched folder in batches, oldest first."""
    client = connect_imap(s)
    try:
        state = {k: dict(v) for k, v in (cursor.get("folders") or {}).items()}
        for folder in s.folders:
            yield from _fetch_folder(client, channel_id, s, folder, state, own_addresses)
    except (OSError, IMAPClientError, imaplib.IMAP4.error) as exc:
        # Dropped connection, timeout, server error mid-sync: the cursor saved after the
        # last stored batch is where the next poll resumes.
        raise EmailConnectionError(describe(exc, "IMAP", s.imap_host, s.imap_port)) from None
    finally:
        try:
            client.logout()
        except Exception:  # the connection may already be gone; nothing to clean up
            client.shutdown()


def _fetch_folder(client, channel_id, s, folder, state, own_addresses) -> Iterator[Batch]:
    try:
        info = client.select_folder(folder, readonly=True)  # EXAMINE: nothing is marked read
    except IMAPClientError as exc:
        raise EmailConnectionError(f"IMAP folder “{folder}” could not be opened: {exc}") from None
    uidvalidity = int(info[b"UIDVALIDITY"])
    folder_state = state.get(folder) or {}
    if folder_state.get("uidvalidity") != uidvalidity:
        # A new UIDVALIDITY means the server renumbered the folder: read it again; the
        # content-based provider ids keep what was already stored from coming back twice.
        folder_state = {"uidvalidity": uidvalidity, "last_uid": 0}
    last_uid = int(folder_state.get("last_uid", 0))
    criteria: list = ["UID", f"{last_uid + 1}:*"]
    if s.import_since:
        criteria += ["SINCE", dt.date.fromisoformat(s.import_since)]
    uids = sorted(u for u in client.search(criteria) if u > last_uid)
    progress = Progress(folder, 0, len(uids), time.monotonic())
    for group in _groups(client, uids):
        fetched = client.fetch(group, ["BODY.PEEK[]", "INTERNALDATE"])
        messages = []
        for uid in group:
            item = fetched.get(uid)
            if item is None:
                continue  # expunged meanwhile
            raw = item.get(b"BODY[]") or b""
            inbound = to_inbound(channel_id, raw, item.get(b"INTERNALDATE"), own_addresses)
            if inbound is not None:
                inbound.meta.update(folder=folder, uid=uid)
                messages.append(inbound)
        progress.done += len(group)
        folder_state = {"uidvalidity": uidvalidity, "last_uid": group[-1]}
        state[folder] = folder_state
        yield Batch(messages, {"folders": {k: dict(v) for k, v in state.items()}}, progress)
    state[folder] = folder_state
    if not uids:
        yield Batch([], {"folders": {k: dict(v) for k, v in state.items()}}, progress)


def _groups(client, uids: list[int]) -> Iterator[list[int]]:
    """Split UIDs into fetch batches of at most FETCH_BATCH messages and ~16 MB."""
    for start in range(0, len(uids), FETCH_BATCH):
        chunk = uids[start : start + FETCH_BATCH]
        sizes = client.fetch(chunk, ["RFC822.SIZE"])
        group, total = [], 0
        for uid in chunk:
            size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))
            if group and total + size > FETCH_BATCH_BYTES:
                yield group
                group, total = [], 0
            group.append(uid)
            total += size
        if group:
            yield group


def to_inbound(channel_id: int, raw: bytes, internaldate, own_addresses: set[str]) -> InboundMessage | None:
    """Normalise one raw mail. Mail we sent ourselves returns None; a mail that cannot be
    parsed comes back flagged with its raw source, never dropped."""
    try:
        mail = parse(raw)
    except Exception as exc:  # the parser failed on this mail: keep it raw and flagged
        return InboundMessage(
            channel_id=channel_id, kind="email", provider_id=provider_id(None, raw), address="unknown@invalid",
            subject="(unreadable message)", text="", raw=raw, received_at=_received(None, internaldate),
            parse_error=f"{type(exc).__name__}: {exc}"[:500],
        )  # fmt: skip
    if mail.from_address in own_addresses and not mail.bounce:
        return None
    meta = {
        "message_id": mail.message_id,
        "in_reply_to": mail.in_reply_to,
        "references": mail.references[-30:],
        "to": mail.to[:20],
        "cc": mail.cc[:50],
        "from": mail.from_address,
    }
    if mail.bounce:
        meta["bounce"] = {"original": mail.bounce.original_message_ids, "reason": mail.bounce.reason}
    html = mail.html
    attachments = [
        InboundAttachment(a.filename, a.content_type, a.data, a.size, a.content_id, a.note) for a in mail.attachments
    ]
    return InboundMessage(
        channel_id=channel_id,
        kind="email",
        provider_id=provider_id(mail.message_id, raw),
        address=mail.sender or "unknown@invalid",
        name="" if mail.bounce else mail.sender_name,  # a mail system's name is no customer's name
        subject=mail.subject,
        text=mail.text,
        html=html,
        received_at=_received(mail.date, internaldate),
        raw=raw,
        attachments=attachments,
        auto_reply=mail.auto_reply or mail.bounce is not None,
        meta=meta,
        parse_error="; ".join(mail.problems)[:500]
        if _serious(mail.problems) or any(p.startswith("damaged") for p in mail.problems)
        else None,
    )


def _serious(problems: list[str]) -> bool:
    return any(p in ("no From address", "broken multipart", "multipart nesting too deep") or "Boundary" in p
               for p in problems)  # fmt: skip


def _received(date: dt.datetime | None, internaldate) -> dt.datetime:
    """The server's arrival time is trusted over the sender's Date header (clocks lie)."""
    if isinstance(internaldate, dt.datetime):
        # imapclient gives naive local time (or aware time); astimezone() handles both.
        return internaldate.astimezone(dt.UTC).replace(tzinfo=None)
    return date or dt.datetime.now(dt.UTC).replace(tzinfo=None)


def check_connection(s: EmailSettings) -> list[tuple[str, bool, str]]:
    """Log in to IMAP and SMTP and open each folder; say exactly what failed."""
    results = []
    try:
        client = connect_imap(s)
        results.append(("IMAP login", True, f"{s.imap_host}:{s.imap_port}"))
        for folder in s.folders:
            try:
                info = client.select_folder(folder, readonly=True)
                results.append((f"Folder {folder}", True, f"{info.get(b'EXISTS', 0)} messages"))
            except IMAPClientError as exc:
                results.append((f"Folder {folder}", False, f"missing or not readable: {exc}"))
        client.logout()
    except EmailConnectionError as exc:
        results.append(("IMAP login", False, str(exc)))
    try:
        smtp = _smtp(s)
        smtp.quit()
        results.append(("SMTP login", True, f"{s.smtp_host}:{s.smtp_port}"))
    except ChannelError as exc:
        results.append(("SMTP login", False, str(exc)))
    return results


# --- SMTP out ----------------------------------------------------------------------


def _smtp(s: EmailSettings):
    import smtplib

    try:
        context = ssl.create_default_context()
        if s.smtp_security == "ssl":
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=TIMEOUT)
            if s.smtp_security == "starttls":
                smtp.starttls(context=context)
        if s.smtp_username:
            smtp.login(s.smtp_username, s.smtp_password)
    except smtplib.SMTPAuthenticationError:
        raise ChannelError(f"SMTP {s.smtp_host}:{s.smtp_port}: the server refused the username or password.") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise TransientChannelError(describe(exc, "SMTP", s.smtp_host, s.smtp_port)) from None
    return smtp


def reply_subject(subject: str, thread_subject: str) -> str:
    if subject.strip():
        return subject.strip()
    base = thread_subject.strip()
    if not base:
        return ""
    return base if base.lower().startswith(("re:", "답장:", "회신:")) else f"Re: {base}"


def build_mail(s: EmailSettings, out: OutboundMessage) -> EmailMessage:
    mail = EmailMessage()
    display = (
        f"{out.author_name} ({s.from_name})" if out.author_name and s.from_name else (out.author_name or s.from_name)
    )
    mail["From"] = formataddr((display, s.from_address)) if display else s.from_address
    mail["To"] = out.to
    mail["Subject"] = reply_subject(out.subject, out.thread_subject)
    mail["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    domain = s.from_address.rsplit("@", 1)[-1]
    mail["Message-ID"] = make_msgid(idstring=f"inbox.{out.id}", domain=domain)
    if out.in_reply_to:
        mail["In-Reply-To"] = out.in_reply_to
    if out.references:
        mail["References"] = " ".join(out.references)
    mail.set_content(out.text)
    for att in out.attachments:
        maintype, _, subtype = att.content_type.partition("/")
        mail.add_attachment(att.data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                            filename=att.filename)  # fmt: skip
    return mail


class EmailAdapter:
    kind = "email"
    message_kinds = ("email",)

    def send(self, channel, out: OutboundMessage) -> str:
        import smtplib

        s = EmailSettings.from_channel(channel.settings)
        mail = build_mail(s, out)
        smtp = _smtp(s)
        try:
            refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            raise _by_code(code, f"The server refused {out.to}: {code} {reason.decode(errors='replace')}") from None
        except smtplib.SMTPResponseException as exc:
            raise _by_code(
                exc.smtp_code, f"SMTP error {exc.smtp_code}: {exc.smtp_error.decode(errors='replace')}"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientChannelError(describe(exc, "SMTP", s.smtp_host, s.smtp_port)) from None
        finally:
            try:
                smtp.quit()
            except Exception:  # the server may have closed already
                smtp.close()
        if refused:
            raise ChannelError(f"The server refused {', '.join(refused)}.")
        if s.append_to_sent:
            _append_to_sent(s, mail)
        return mail["Message-ID"]


def _by_code(code: int, text: str) -> ChannelError:
    return TransientChannelError(text) if 400 <= code < 500 else ChannelError(text)


def _append_to_sent(s: EmailSettings, mail: EmailMessage) -> None:
    """A copy in the server's Sent folder, for people who also read the mailbox elsewhere.
    Best effort: the mail has left already, so a failure here is not a send failure."""
    try:
        client = connect_imap(s)
        try:
            sent = next((name for flags, _, name in client.list_folders() if b"\\Sent" in flags), "Sent")
            client.append(sent, mail.as_bytes(), flags=[b"\\Seen"])
        finally:
            client.logout()
    except (ChannelError, IMAPClientError, OSError):
        pass


register(EmailAdapter())
