"""A corpus of mail the way it really arrives in a Korean/English sales inbox, built in code.

Every message is built here as raw RFC 822 bytes (CRLF line endings, no NUL bytes: Dovecot
rewrites those) together with what a person reading it expects to see: subject, sender,
some of the text, attachment names, whether it is an auto-reply or a bounce, and whether
the message should be flagged as not fully readable.

``python -m tests.mailcorpus`` writes every message to ``tests/data/email/<name>.eml`` so
they can be opened in a mail client (the 30 MB attachment case is built only in memory).
"""

from __future__ import annotations

import base64
import email.policy
import functools
import quopri
import sys
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data" / "email"
OUR_ADDRESS = "sales@example.com"
# The Message-ID of a reply we sent, which the bounce cases are about. The Dovecot test
# rebuilds them with the id of a reply it really sent.
BOUNCED_ID = "<inbox.42.bounced@example.com>"
LARGE_BYTES = 30 * 1024 * 1024
CP949_ONLY = "똠방각하 샾"  # these characters exist in CP949 but not in EUC-KR (KS X 1001)

_COMPAT = email.policy.compat32.clone(linesep="\r\n")


@dataclass(frozen=True)
class Case:
    name: str
    about: str
    build: Callable[..., bytes]
    subject: str
    from_address: str = ""
    from_name: str = ""
    reply_to: str | None = None  # the contact is this address when it is given
    reply_to_name: str = ""
    message_id: str | None = None
    text: tuple[str, ...] = ()  # substrings of the text a person reads (derived from HTML for HTML-only mail)
    not_text: tuple[str, ...] = ()  # must not show up in that text
    html: bool = False  # an HTML body is kept for display
    attachments: tuple[str, ...] = ()  # file names, in order
    too_large: tuple[str, ...] = ()  # attachments recorded as "not kept" with their size
    inline: tuple[str, ...] = ()  # content ids of inline (cid:) images
    cc: tuple[str, ...] = ()
    auto_reply: bool = False
    bounce: bool = False
    parse_error: bool = False  # flagged "could not be read completely", raw source kept
    quoted: tuple[str, str] | None = None  # split_quoted(): (in what was written now, in the folded part)
    on_disk: bool = True  # written to tests/data/email

    def raw(self, **params) -> bytes:
        return self.build(**params)

    @property
    def contact(self) -> str:
        """The address a reply goes to, i.e. the contact the message is filed under."""
        return self.reply_to or self.from_address or "unknown@invalid"

    @property
    def contact_name(self) -> str:
        """The contact's name: never a mail system's, nor a contact form's when Reply-To names the customer."""
        if self.bounce:
            return ""
        return self.reply_to_name if self.reply_to else self.from_name


# --- helpers ------------------------------------------------------------------------


def _join(*lines: str | bytes) -> bytes:
    """Lines joined with CRLF. str lines are written as UTF-8 (raw 8-bit where that is the point)."""
    out = [line.encode("utf-8") if isinstance(line, str) else line for line in lines]
    return crlf(b"\r\n".join(out) + b"\r\n")


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _ew(text: str, label: str, codec: str | None = None) -> str:
    """One RFC 2047 encoded-word (base64) with the given charset label."""
    data = text.encode(codec or label)
    return f"=?{label}?B?{base64.b64encode(data).decode()}?="


def _b64(data: bytes) -> bytes:
    """Base64 in 76-character lines (fast enough for 30 MB, unlike base64.encodebytes)."""
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def _qp(text: str, codec: str = "utf-8") -> bytes:
    return crlf(quopri.encodestring(crlf(text.encode(codec))))


def _flatten(msg) -> bytes:
    return crlf(msg.as_bytes(policy=_COMPAT))


def _std(msg, frm: str, subject, msgid: str | None, date: str, to: str = OUR_ADDRESS):
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = date
    if msgid:
        msg["Message-ID"] = msgid
    return msg


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


# --- the messages ---------------------------------------------------------------------


def plain_english() -> bytes:
    return _join(
        "From: Jane Doe <jane.doe@acme.example>",
        "To: Sales <sales@example.com>",
        "Cc: Tom Lee <Tom.Lee@acme.example>, procurement@acme.example",
        "Subject: Quote for 200 units of the KX-20",
        "Date: Mon, 16 Nov 2026 09:12:00 -0500",
        "Message-ID: <plain-english-1@acme.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 7bit",
        "",
        "Hello,",
        "",
        "Could you send us a quote for 200 units of the KX-20 router, delivered to Boston?",
        "",
        "Thanks,",
        "Jane",
        "-- ",
        "Jane Doe | Purchasing, Acme Corp.",
        "+1 617 555 0100",
    )


def euckr_mime() -> bytes:
    """A Korean webmail message: EUC-KR body (base64), encoded-word Subject and From
    display name, and an RFC 2231 EUC-KR attachment filename."""
    msg = MIMEMultipart("mixed", boundary="----=_NextPart_euckr_0001")
    _std(msg, formataddr(("김영희", "yhkim@hanbit.example"), charset="euc-kr"),
         Header("견적 요청드립니다 (3분기 납품)", "euc-kr"), "<euckr-mime-1@hanbit.example>",
         "Tue, 17 Nov 2026 10:30:00 +0900")  # fmt: skip
    body = (
        "안녕하세요, 한빛상사 김영희입니다.\n3분기 납품 건으로 견적을 요청드립니다.\n첨부한 사양서를 확인해 주세요.\n"
    )
    msg.attach(MIMEText(body, "plain", "euc-kr"))
    att = MIMEApplication(PDF, "pdf")
    att.add_header("Content-Disposition", "attachment", filename=("euc-kr", "", "견적요청_사양서.pdf"))
    msg.attach(att)
    return _flatten(msg)


def cp949_ks_c_5601() -> bytes:
    """Outlook on Korean Windows: labelled ks_c_5601-1987, really CP949, with characters
    (똠, 샾) that EUC-KR does not have, in the body, Subject, From and an RFC 2231 filename."""
    body = f"{CP949_ONLY} 님께,\n샾 매장 주문 건 확인 부탁드립니다.\n똠방각하 올림\n"
    filename = urllib.parse.quote("똠방각하_주문서.hwp", safe="", encoding="cp949")
    return _join(
        f"From: {_ew(CP949_ONLY, 'ks_c_5601-1987', 'cp949')} <ddom@cp949.example>",
        "To: sales@example.com",
        f"Subject: {_ew('샾 매장 주문 확인 (똠방각하)', 'ks_c_5601-1987', 'cp949')}",
        "Date: Wed, 18 Nov 2026 11:00:00 +0900",
        "Message-ID: <cp949-ksc-1@cp949.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="----=_NextPart_000_0012_01DB3A2C.5E1F2B40"',
        "",
        "------=_NextPart_000_0012_01DB3A2C.5E1F2B40",
        'Content-Type: text/plain; charset="ks_c_5601-1987"',
        "Content-Transfer-Encoding: base64",
        "",
        _b64(body.encode("cp949")),
        "",
        "------=_NextPart_000_0012_01DB3A2C.5E1F2B40",
        "Content-Type: application/x-hwp",
        "Content-Transfer-Encoding: base64",
        f"Content-Disposition: attachment; filename*=ks_c_5601-1987''{filename}",
        "",
        _b64(b"HWP Document File not really"),
        "",
        "------=_NextPart_000_0012_01DB3A2C.5E1F2B40--",
    )


def cp949_labelled_euckr() -> bytes:
    """Declared euc-kr, but the 8-bit body and the encoded-word subject use CP949-only characters."""
    body = "똠방각하 주문서입니다.\n샾 제품 10개 부탁드립니다.\n"
    return _join(
        "From: Ddom <order@cp949-shop.example>",
        "To: sales@example.com",
        f"Subject: {_ew('똠방각하 주문서 (샾 10개)', 'euc-kr', 'cp949')}",
        "Date: Wed, 18 Nov 2026 11:05:00 +0900",
        "Message-ID: <cp949-euckr-1@cp949-shop.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=euc-kr",
        "Content-Transfer-Encoding: 8bit",
        "",
        body.encode("cp949"),
    )


def iso2022kr() -> bytes:
    """7-bit ISO-2022-KR (RFC 1557) body and encoded-word subject, as old Korean mailers sent."""
    body = "안녕하십니까.\n카탈로그 우편 발송을 요청합니다.\n감사합니다.\n"
    return _join(
        f"From: {_ew('최민수', 'ISO-2022-KR', 'iso2022_kr')} <mschoi@oldmail.example>",
        "To: sales@example.com",
        f"Subject: {_ew('카탈로그 요청', 'ISO-2022-KR', 'iso2022_kr')}",
        "Date: Thu, 19 Nov 2026 08:00:00 +0900",
        "Message-ID: <iso2022kr-1@oldmail.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=ISO-2022-KR",
        "Content-Transfer-Encoding: 7bit",
        "",
        body.encode("iso2022_kr"),
    )


def mislabelled_latin1() -> bytes:
    """Declared iso-8859-1 everywhere, but the bytes are UTF-8 (body and encoded-word subject)."""
    subject = "Café order – 주문 확인"
    qsubject = "=?iso-8859-1?Q?" + "".join(
        chr(b) if chr(b).isalnum() else f"={b:02X}" for b in subject.encode("utf-8")
    ) + "?="  # fmt: skip
    return _join(
        "From: Léa Martin <lea@bistro.example>",
        "To: sales@example.com",
        f"Subject: {qsubject}",
        "Date: Thu, 19 Nov 2026 15:00:00 +0100",
        "Message-ID: <latin1-utf8-1@bistro.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=iso-8859-1",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        _qp("Bonjour, the café needs 12 espresso cups.\n주문 확인 부탁드립니다. Merci — Léa\n"),
    )


def mislabelled_ascii() -> bytes:
    """Declared us-ascii with 8-bit UTF-8 bytes, and raw UTF-8 in the Subject and From name."""
    return _join(
        "From: 이서준 <sjlee@startup.example>",
        "To: sales@example.com",
        "Subject: 데모 일정 문의",
        "Date: Fri, 20 Nov 2026 09:00:00 +0900",
        "Message-ID: <ascii-utf8-1@startup.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "Content-Transfer-Encoding: 8bit",
        "",
        "다음 주 화요일에 데모 가능할까요?",
        "— 이서준",
    )


def mislabelled_euckr_utf8() -> bytes:
    """Declared euc-kr, but the body (quoted-printable) and the encoded-word subject are UTF-8."""
    return _join(
        "From: Han Jimin <jimin@utf8-actually.example>",
        "To: sales@example.com",
        f"Subject: {_ew('배송 지연 문의', 'euc-kr', 'utf-8')}",
        "Date: Fri, 20 Nov 2026 10:00:00 +0900",
        "Message-ID: <euckr-utf8-1@utf8-actually.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=euc-kr",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        _qp("주문번호 20261120-77 배송이 지연되고 있습니다.\n언제 받을 수 있을까요?\n"),
    )


def euckr_8bit_headers() -> bytes:
    """Raw 8-bit EUC-KR in Subject and From, no encoded-words (old Korean groupware)."""
    return _join(
        b"From: " + "박상철".encode("euc-kr") + b" <scpark@groupware.example>",
        "To: sales@example.com",
        b"Subject: " + "[긴급] 납기 일정 변경 요청".encode("euc-kr"),
        "Date: Sat, 21 Nov 2026 09:00:00 +0900",
        "Message-ID: <euckr-8bit-1@groupware.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=euc-kr",
        "Content-Transfer-Encoding: 8bit",
        "",
        "납기 일정을 12월 첫째 주로 변경 부탁드립니다.\n".encode("euc-kr"),
    )


def euckr_8bit_filename() -> bytes:
    """Korean groupware: the attachment's quoted filename is raw 8-bit EUC-KR."""
    return _join(
        "From: Yang Jiho <jiho@groupware.example>",
        "To: sales@example.com",
        "Subject: =?euc-kr?B?" + base64.b64encode("거래명세서".encode("euc-kr")).decode() + "?=",
        "Date: Sat, 21 Nov 2026 09:30:00 +0900",
        "Message-ID: <euckr-8bit-name-1@groupware.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="gw-1"',
        "",
        "--gw-1",
        "Content-Type: text/plain; charset=euc-kr",
        "Content-Transfer-Encoding: base64",
        "",
        _b64("11월 거래명세서를 보내드립니다.\n".encode("euc-kr")),
        "--gw-1",
        b'Content-Type: application/vnd.ms-excel; name="' + "11월_거래명세서.xls".encode("euc-kr") + b'"',
        "Content-Transfer-Encoding: base64",
        b'Content-Disposition: attachment; filename="' + "11월_거래명세서.xls".encode("euc-kr") + b'"',
        "",
        _b64(b"\xd0\xcf\x11\xe0 not really a spreadsheet"),
        "--gw-1--",
    )


def html_only() -> bytes:
    html = (
        "<html><head><style>p { color: red }</style><script>alert('x')</script></head><body>"
        "<p>안녕하세요,</p><p>제품 <b>카탈로그</b>를 받아볼 수 있을까요?</p>"
        '<img src="https://tracker.example/open.gif?id=1" width="1" height="1">'
        "</body></html>"
    )
    return _join(
        "From: Oh Yuna <yuna.oh@design.example>",
        "To: sales@example.com",
        "Subject: =?UTF-8?B?" + base64.b64encode("카탈로그 요청".encode()).decode() + "?=",
        "Date: Sat, 21 Nov 2026 13:00:00 +0900",
        "Message-ID: <html-only-1@design.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/html; charset=UTF-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        _qp(html),
    )


def alternative() -> bytes:
    return _join(
        "From: Chris Kang <chris@retail.example>",
        "To: sales@example.com",
        "Subject: Pricing for the spring collection",
        "Date: Sun, 22 Nov 2026 08:00:00 +0900",
        "Message-ID: <alternative-1@retail.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="alt-b1"',
        "",
        "--alt-b1",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Plain version: please send the spring price list.",
        "--alt-b1",
        "Content-Type: text/html; charset=utf-8",
        "",
        '<p onclick="steal()">HTML version: please send the <b>spring price list</b>.</p>'
        '<script>document.cookie</script><a href="javascript:alert(1)">x</a>',
        "--alt-b1--",
    )


def nested() -> bytes:
    """mixed > related > alternative, with an inline cid: logo and a PDF attachment."""
    return _join(
        "From: Yoon Hae <hae@agency.example>",
        "To: sales@example.com",
        "Subject: Brochure draft",
        "Date: Sun, 22 Nov 2026 09:00:00 +0900",
        "Message-ID: <nested-1@agency.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="mix-1"',
        "",
        "This is a multi-part message in MIME format.",
        "--mix-1",
        'Content-Type: multipart/related; boundary="rel-1"; type="multipart/alternative"',
        "",
        "--rel-1",
        'Content-Type: multipart/alternative; boundary="alt-1"',
        "",
        "--alt-1",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "The brochure draft is attached. 브로셔 초안입니다.",
        "--alt-1",
        "Content-Type: text/html; charset=utf-8",
        "",
        '<p>The brochure draft is attached. <img src="cid:logo-1@agency.example" alt="logo"></p>',
        "--alt-1--",
        "--rel-1",
        "Content-Type: image/png",
        "Content-Transfer-Encoding: base64",
        "Content-ID: <logo-1@agency.example>",
        'Content-Disposition: inline; filename="logo.png"',
        "",
        _b64(PNG),
        "--rel-1--",
        "--mix-1",
        'Content-Type: application/pdf; name="brochure-draft.pdf"',
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="brochure-draft.pdf"',
        "",
        _b64(PDF),
        "--mix-1--",
    )


def inline_cid() -> bytes:
    """Outlook style: a related HTML body and an image with a Content-ID and only a name= parameter."""
    return _join(
        "From: Seo Jun <jun@outlook-user.example>",
        "To: sales@example.com",
        "Subject: Screenshot of the error",
        "Date: Sun, 22 Nov 2026 09:30:00 +0900",
        "Message-ID: <inline-cid-1@outlook-user.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/related; boundary="rel-x"',
        "",
        "--rel-x",
        "Content-Type: text/html; charset=utf-8",
        "",
        '<p>The order page shows this error:</p><p><img src="cid:image001.png@01DB1234.ABCD"></p>',
        "--rel-x",
        'Content-Type: image/png; name="image001.png"',
        "Content-Transfer-Encoding: base64",
        "Content-ID: <image001.png@01DB1234.ABCD>",
        "",
        _b64(PNG),
        "--rel-x--",
    )


@functools.cache
def large_attachment(size: int = LARGE_BYTES) -> bytes:
    chunk = bytes(range(256)) * 4
    data = (b"PK\x03\x04" + chunk * (size // len(chunk) + 1))[:size]
    return _join(
        "From: Lim Dohyun <dohyun@bigfiles.example>",
        "To: sales@example.com",
        "Subject: Full catalogue (large)",
        "Date: Sun, 22 Nov 2026 10:00:00 +0900",
        "Message-ID: <large-1@bigfiles.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="big-1"',
        "",
        "--big-1",
        "Content-Type: text/plain; charset=utf-8",
        "",
        f"The full catalogue is attached ({size // 2**20} MB).",
        "--big-1",
        'Content-Type: application/zip; name="catalogue-2026.zip"',
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="catalogue-2026.zip"',
        "",
        _b64(data),
        "--big-1--",
    )


def no_message_id() -> bytes:
    return _join(
        "From: Kwon Mira <mira@no-id.example>",
        "To: sales@example.com",
        "Subject: Invoice copy please",
        "Date: Sun, 22 Nov 2026 10:10:00 +0900",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Could you send a copy of invoice INV-3301? My mailer adds no Message-ID.",
    )


def same_id_first() -> bytes:
    return _join(
        "From: Legacy ERP <erp@legacy.example>",
        "To: sales@example.com",
        "Subject: Purchase order PO-1001",
        "Date: Sun, 22 Nov 2026 10:20:00 +0900",
        "Message-ID: <00000000@legacy.example>",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Purchase order PO-1001: 5 units.",
    )


def same_id_second() -> bytes:
    return _join(
        "From: Legacy ERP <erp@legacy.example>",
        "To: sales@example.com",
        "Subject: Purchase order PO-1002",
        "Date: Sun, 22 Nov 2026 10:21:00 +0900",
        "Message-ID: <00000000@legacy.example>",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Purchase order PO-1002: 9 units.",
    )


def bounce_dsn(original_id: str = BOUNCED_ID) -> bytes:
    """RFC 3464 delivery status notification returning the full original message."""
    return _join(
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.hanbit.example>",
        "To: sales@example.com",
        "Subject: Undelivered Mail Returned to Sender",
        "Date: Mon, 23 Nov 2026 09:00:00 +0900",
        "Message-ID: <dsn-20261123-1@mx.hanbit.example>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-b"',
        "",
        "--dsn-b",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "메일을 전달하지 못했습니다. This is the mail system at host mx.hanbit.example.",
        "Your message could not be delivered to one or more recipients.",
        "--dsn-b",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.hanbit.example",
        "",
        "Final-Recipient: rfc822; nobody@hanbit.example",
        "Action: failed",
        "Status: 5.1.1",
        "Diagnostic-Code: smtp; 550 5.1.1 <nobody@hanbit.example>: Recipient address rejected: User unknown",
        "",
        "--dsn-b",
        "Content-Type: message/rfc822",
        "",
        "From: Sales Team <sales@example.com>",
        "To: nobody@hanbit.example",
        f"Subject: {_ew('Re: 견적 요청드립니다', 'UTF-8')}",
        f"Message-ID: {original_id}",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "견적서를 첨부드립니다.",
        "--dsn-b--",
    )


def bounce_text_only(original_id: str = BOUNCED_ID) -> bytes:
    """A qmail-style bounce: plain text that only quotes the original headers."""
    return _join(
        "From: MAILER-DAEMON@mail.old-isp.example",
        "To: sales@example.com",
        "Subject: failure notice",
        "Date: Mon, 23 Nov 2026 09:05:00 +0900",
        "Message-ID: <qmail-bounce-1@mail.old-isp.example>",
        "",
        "Hi. This is the qmail-send program at mail.old-isp.example.",
        "I'm afraid I wasn't able to deliver your message to the following addresses.",
        "This is a permanent error; I've given up. Sorry it didn't work out.",
        "",
        "<lee@old-isp.example>:",
        "Sorry, no mailbox here by that name. (#5.1.1)",
        "",
        "--- Below this line is a copy of the message.",
        "",
        "Return-Path: <sales@example.com>",
        "From: Sales Team <sales@example.com>",
        "To: lee@old-isp.example",
        "Subject: Re: Delivery schedule",
        f"Message-Id: {original_id}",
        "",
        "Your order ships on Friday.",
    )


def _auto(name: str, subject: str, header: str | None, body: str, sender: str) -> bytes:
    return _join(
        f"From: {sender}",
        "To: sales@example.com",
        f"Subject: {subject}",
        "Date: Mon, 23 Nov 2026 10:00:00 +0900",
        f"Message-ID: <{name}@autoreply.example>",
        *([header] if header else []),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        body,
    )


def auto_submitted() -> bytes:
    return _auto("auto-submitted", "Re: Quote for 200 units of the KX-20", "Auto-Submitted: auto-replied",
                 "I am travelling until 30 November with limited access to email.",
                 "Jane Doe <jane.doe@acme.example>")  # fmt: skip


def precedence_bulk() -> bytes:
    return _auto("precedence-bulk", "Your request #4411 has been received", "Precedence: bulk",
                 "Thank you. Our helpdesk received your request #4411.", "Helpdesk <help@vendor.example>")  # fmt: skip


def x_autoreply() -> bytes:
    return _auto("x-autoreply", "Thanks for your mail", "X-Autoreply: yes",
                 "This mailbox is checked once a week.", "Info <info@smallshop.example>")  # fmt: skip


def korean_auto_reply() -> bytes:
    subject = _ew("자동 회신: 견적 요청드립니다", "UTF-8")
    return _auto("korean-auto", subject, None, "현재 휴가 중입니다. 11월 30일에 복귀합니다.",
                 f"{_ew('김영희', 'UTF-8')} <yhkim@hanbit.example>")  # fmt: skip


def forwarded() -> bytes:
    """A colleague forwards a customer's EUC-KR mail as a message/rfc822 attachment."""
    inner = MIMEText("안녕하세요, 반품 절차를 알려주세요.\n주문번호 5521입니다.\n", "plain", "euc-kr")
    _std(inner, formataddr(("정하늘", "haneul@customer.example"), charset="euc-kr"),
         Header("반품 문의", "euc-kr"), "<inner-fwd-1@customer.example>", "Fri, 20 Nov 2026 16:00:00 +0900")  # fmt: skip
    outer = MIMEMultipart("mixed", boundary="fwd-outer-1")
    _std(outer, "Nam Gyu <gyu@colleague.example>", Header("Fwd: 반품 문의", "utf-8"), "<fwd-1@colleague.example>",
         "Mon, 23 Nov 2026 11:00:00 +0900")  # fmt: skip
    outer.attach(MIMEText("Could sales answer this one? The customer's mail is attached.\n", "plain", "utf-8"))
    outer.attach(MIMEMessage(inner))
    return _flatten(outer)


def missing_close_boundary() -> bytes:
    """Cut off in transit: the attachment's part and the closing boundary never came."""
    return _join(
        "From: Baek Sora <sora@truncated.example>",
        "To: sales@example.com",
        "Subject: Drawings for the custom order",
        "Date: Mon, 23 Nov 2026 12:00:00 +0900",
        "Message-ID: <no-close-1@truncated.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="cut-1"',
        "",
        "--cut-1",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "The drawings for the custom order are attached.",
        "--cut-1",
        'Content-Type: application/pdf; name="drawing.pdf"',
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="drawing.pdf"',
        "",
        base64.b64encode(PDF)[:40],
    )


def bad_base64() -> bytes:
    return _join(
        "From: Moon Taeho <taeho@badb64.example>",
        "To: sales@example.com",
        "Subject: Signed contract",
        "Date: Mon, 23 Nov 2026 12:10:00 +0900",
        "Message-ID: <bad-b64-1@badb64.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b64-1"',
        "",
        "--b64-1",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "The signed contract is attached.",
        "--b64-1",
        'Content-Type: application/pdf; name="contract.pdf"',
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="contract.pdf"',
        "",
        "JVBERi0xLjQK%%%% this is ### not base64 !!!",
        "JVBERi0xLjQK~~~",
        "--b64-1--",
    )


def boundary_never_appears() -> bytes:
    return _join(
        "From: Shin Ara <ara@noboundary.example>",
        "To: sales@example.com",
        "Subject: Meeting notes",
        "Date: Mon, 23 Nov 2026 12:20:00 +0900",
        "Message-ID: <no-boundary-1@noboundary.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="this-boundary-is-never-used"',
        "",
        "Here are the notes from Monday's meeting: delivery moves to week 49.",
    )


def no_from() -> bytes:
    return _join(
        "To: sales@example.com",
        "Subject: Question about warranty",
        "Date: Mon, 23 Nov 2026 12:30:00 +0900",
        "Message-ID: <no-from-1@nowhere.example>",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "How long is the warranty on the KX-20? (this mail has no From header)",
    )


def header_without_colon() -> bytes:
    return _join(
        "From: Jo Eunji <eunji@brokenmailer.example>",
        "To: sales@example.com",
        f"Subject: {_ew('주문 변경', 'UTF-8')}",
        "X-Mailer BrokenMailer 1.0",
        "Date: Mon, 23 Nov 2026 12:40:00 +0900",
        "Message-ID: <no-colon-1@brokenmailer.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "주문 수량을 30개로 변경해 주세요.",
    )


def reply_to_differs() -> bytes:
    return _join(
        "From: Website Contact Form <no-reply@forms.shop.example>",
        f"Reply-To: {_ew('박지수', 'UTF-8')} <jisoo.park@customer.example>",
        "To: sales@example.com",
        "Subject: New contact form message",
        "Date: Mon, 23 Nov 2026 13:00:00 +0900",
        "Message-ID: <form-1@forms.shop.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Name: 박지수",
        "Message: 대량 구매 할인이 가능한가요?",
    )


def gmail_english_reply() -> bytes:
    return _join(
        "From: Jane Doe <jane.doe@acme.example>",
        "To: sales@example.com",
        "Subject: Re: Quote for 200 units of the KX-20",
        "Date: Tue, 24 Nov 2026 09:00:00 -0500",
        "Message-ID: <gmail-en-1@acme.example>",
        "In-Reply-To: <inbox.7.abc@example.com>",
        "References: <plain-english-1@acme.example> <inbox.7.abc@example.com>",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Thanks, the price works for us. Please go ahead.",
        "",
        "On Mon, Nov 23, 2026 at 10:00 PM Sales Team <sales@example.com> wrote:",
        "> Dear Jane,",
        "> the price for 200 units is USD 18,400.",
    )


def gmail_korean_reply() -> bytes:
    return _join(
        f"From: {_ew('김영희', 'UTF-8')} <yhkim@hanbit.example>",
        "To: sales@example.com",
        f"Subject: {_ew('Re: 견적 요청드립니다 (3분기 납품)', 'UTF-8')}",
        "Date: Sun, 22 Nov 2026 11:00:00 +0900",
        "Message-ID: <gmail-ko-1@hanbit.example>",
        "In-Reply-To: <inbox.8.def@example.com>",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: base64",
        "",
        _b64(
            "네, 확인했습니다. 발주서 보내드리겠습니다.\n\n"
            "2026년 11월 22일 (일) 오전 10:00, 김영희 <a@b.kr>님이 작성:\n"
            "> 견적서를 첨부드립니다.\n> 감사합니다.\n".encode()
        ),
    )


def outlook_reply() -> bytes:
    return _join(
        "From: Ryu Minji <minji@corp.example>",
        "To: sales@example.com",
        "Subject: RE: Delivery schedule",
        "Date: Tue, 24 Nov 2026 10:00:00 +0900",
        "Message-ID: <outlook-1@corp.example>",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Friday is fine. Please deliver to gate 3.",
        "",
        "-----Original Message-----",
        "From: Sales Team <sales@example.com>",
        "Sent: Monday, November 23, 2026 5:00 PM",
        "Subject: Delivery schedule",
        "",
        "Can we deliver on Friday?",
    )


def split_encoded_words() -> bytes:
    """A mailer that cut the subject's EUC-KR bytes in the middle of a character when it
    split it into encoded-words (breaks RFC 2047, common in old Korean mailers)."""
    data = "정기 주문 갱신 안내".encode("euc-kr")
    first, second = data[:7], data[7:]  # 7 bytes: the cut lands inside a two-byte character
    words = [f"=?euc-kr?B?{base64.b64encode(p).decode()}?=" for p in (first, second)]
    return _join(
        "From: Order Bot <orders@subscription.example>",
        "To: sales@example.com",
        f"Subject: {words[0]}",
        f" {words[1]}",
        "Date: Tue, 24 Nov 2026 11:00:00 +0900",
        "Message-ID: <split-ew-1@subscription.example>",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Your subscription order renews next week.",
    )


def korean_filename_encoded_word() -> bytes:
    """Outlook/Korean webmail put an encoded-word inside the quoted filename (not RFC 2231)."""
    name = _ew("샾_발주서.xlsx", "ks_c_5601-1987", "cp949")
    return _join(
        "From: Hwang Bora <bora@kor-outlook.example>",
        "To: sales@example.com",
        "Subject: =?UTF-8?B?" + base64.b64encode("발주서 송부".encode()).decode() + "?=",
        "Date: Tue, 24 Nov 2026 12:00:00 +0900",
        "Message-ID: <ew-filename-1@kor-outlook.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="ew-fn"',
        "",
        "--ew-fn",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "발주서를 첨부합니다.",
        "--ew-fn",
        f'Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name="{name}"',
        "Content-Transfer-Encoding: base64",
        f'Content-Disposition: attachment; filename="{name}"',
        "",
        _b64(b"PK\x03\x04 not really a spreadsheet"),
        "--ew-fn--",
    )


def utf8_rfc2231_filename() -> bytes:
    """Naver/Gmail style: UTF-8 everywhere, RFC 2231 percent-encoded filename."""
    quoted = urllib.parse.quote("제품 사양서 (최종).pdf", safe="")
    return _join(
        f"From: {_ew('송하은', 'UTF-8')} <haeun.song@naver.example>",
        "To: sales@example.com",
        f"Subject: {_ew('사양서 전달드립니다', 'UTF-8')}",
        "Date: Tue, 24 Nov 2026 13:00:00 +0900",
        "Message-ID: <rfc2231-utf8-1@naver.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="naver-1"',
        "",
        "--naver-1",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: base64",
        "",
        _b64("최종 사양서를 전달드립니다.\n검토 부탁드립니다.\n".encode()),
        "--naver-1",
        "Content-Type: application/pdf",
        "Content-Transfer-Encoding: base64",
        f"Content-Disposition: attachment; filename*=UTF-8''{quoted}",
        "",
        _b64(PDF),
        "--naver-1--",
    )


CASES: list[Case] = [
    Case("plain_english", "Plain English mail with Cc recipients and a '-- ' signature", plain_english,
         "Quote for 200 units of the KX-20", "jane.doe@acme.example", "Jane Doe",
         message_id="<plain-english-1@acme.example>", text=("quote for 200 units of the KX-20 router",),
         cc=("tom.lee@acme.example", "procurement@acme.example"),
         quoted=("delivered to Boston", "Purchasing, Acme Corp.")),
    Case("euckr_mime", "EUC-KR body, encoded-word Subject/From, RFC 2231 EUC-KR filename", euckr_mime,
         "견적 요청드립니다 (3분기 납품)", "yhkim@hanbit.example", "김영희",
         message_id="<euckr-mime-1@hanbit.example>", text=("3분기 납품 건으로 견적을 요청드립니다",),
         attachments=("견적요청_사양서.pdf",)),
    Case("cp949_ks_c_5601", "Labelled ks_c_5601-1987, CP949-only characters in body, Subject and From",
         cp949_ks_c_5601, "샾 매장 주문 확인 (똠방각하)", "ddom@cp949.example", CP949_ONLY,
         text=("샾 매장 주문 건 확인 부탁드립니다", "똠방각하 올림"), attachments=("똠방각하_주문서.hwp",)),
    Case("euckr_8bit_filename", "Raw 8-bit EUC-KR attachment filename", euckr_8bit_filename, "거래명세서",
         "jiho@groupware.example", "Yang Jiho", text=("11월 거래명세서를 보내드립니다",),
         attachments=("11월_거래명세서.xls",)),
    Case("cp949_labelled_euckr", "Declared euc-kr, bytes use CP949-only characters", cp949_labelled_euckr,
         "똠방각하 주문서 (샾 10개)", "order@cp949-shop.example", "Ddom", text=("샾 제품 10개 부탁드립니다",)),
    Case("iso2022kr", "ISO-2022-KR body and encoded-word headers", iso2022kr, "카탈로그 요청",
         "mschoi@oldmail.example", "최민수", text=("카탈로그 우편 발송을 요청합니다",)),
    Case("mislabelled_latin1", "Declared iso-8859-1, bytes are UTF-8", mislabelled_latin1, "Café order – 주문 확인",
         "lea@bistro.example", "Léa Martin", text=("the café needs 12 espresso cups", "주문 확인 부탁드립니다")),
    Case("mislabelled_ascii", "Declared us-ascii, 8-bit UTF-8 body and raw UTF-8 headers", mislabelled_ascii,
         "데모 일정 문의", "sjlee@startup.example", "이서준", text=("다음 주 화요일에 데모 가능할까요?",)),
    Case("mislabelled_euckr_utf8", "Declared euc-kr, bytes are UTF-8", mislabelled_euckr_utf8, "배송 지연 문의",
         "jimin@utf8-actually.example", "Han Jimin", text=("배송이 지연되고 있습니다",)),
    Case("euckr_8bit_headers", "Raw 8-bit EUC-KR in Subject and From, no encoded-words", euckr_8bit_headers,
         "[긴급] 납기 일정 변경 요청", "scpark@groupware.example", "박상철", text=("12월 첫째 주로 변경",)),
    Case("html_only", "HTML-only mail: text derived for preview/search, script and tracker removed",
         html_only, "카탈로그 요청", "yuna.oh@design.example", "Oh Yuna",
         text=("카탈로그를 받아볼 수 있을까요?",), not_text=("alert", "color: red"), html=True),
    Case("alternative", "multipart/alternative: plain text preferred, HTML kept and sanitised", alternative,
         "Pricing for the spring collection", "chris@retail.example", "Chris Kang",
         text=("Plain version: please send the spring price list.",), not_text=("HTML version",), html=True),
    Case("nested", "mixed > related > alternative with an inline cid: image and a PDF", nested,
         "Brochure draft", "hae@agency.example", "Yoon Hae", text=("브로셔 초안입니다",), html=True,
         attachments=("logo.png", "brochure-draft.pdf"), inline=("logo-1@agency.example",)),
    Case("inline_cid", "HTML with a cid: image named only by Content-Type name=", inline_cid,
         "Screenshot of the error", "jun@outlook-user.example", "Seo Jun",
         text=("The order page shows this error",), html=True, attachments=("image001.png",),
         inline=("image001.png@01DB1234.ABCD",)),
    Case("large_attachment", "A 30 MB attachment, over MAX_ATTACHMENT_BYTES: recorded as not kept",
         large_attachment, "Full catalogue (large)", "dohyun@bigfiles.example", "Lim Dohyun",
         text=("The full catalogue is attached",), attachments=("catalogue-2026.zip",),
         too_large=("catalogue-2026.zip",), on_disk=False),
    Case("no_message_id", "No Message-ID header", no_message_id, "Invoice copy please", "mira@no-id.example",
         "Kwon Mira", text=("invoice INV-3301",)),
    Case("same_id_first", "Two different mails sharing one Message-ID (1)", same_id_first,
         "Purchase order PO-1001", "erp@legacy.example", "Legacy ERP", message_id="<00000000@legacy.example>",
         text=("PO-1001: 5 units",)),
    Case("same_id_second", "Two different mails sharing one Message-ID (2)", same_id_second,
         "Purchase order PO-1002", "erp@legacy.example", "Legacy ERP", message_id="<00000000@legacy.example>",
         text=("PO-1002: 9 units",)),
    Case("bounce_dsn", "multipart/report delivery-status with the original message", bounce_dsn,
         "Undelivered Mail Returned to Sender", "mailer-daemon@mx.hanbit.example", "Mail Delivery Subsystem",
         text=("could not be delivered",), auto_reply=True, bounce=True),
    Case("bounce_text_only", "qmail bounce quoting the original Message-ID only in its text", bounce_text_only,
         "failure notice", "mailer-daemon@mail.old-isp.example", text=("no mailbox here by that name",),
         auto_reply=True, bounce=True),
    Case("auto_submitted", "Auto-Submitted: auto-replied", auto_submitted, "Re: Quote for 200 units of the KX-20",
         "jane.doe@acme.example", "Jane Doe", text=("travelling until 30 November",), auto_reply=True),
    Case("precedence_bulk", "Precedence: bulk", precedence_bulk, "Your request #4411 has been received",
         "help@vendor.example", "Helpdesk", text=("request #4411",), auto_reply=True),
    Case("x_autoreply", "X-Autoreply: yes", x_autoreply, "Thanks for your mail", "info@smallshop.example", "Info",
         text=("checked once a week",), auto_reply=True),
    Case("korean_auto_reply", "Korean Outlook auto-reply subject '자동 회신:'", korean_auto_reply,
         "자동 회신: 견적 요청드립니다", "yhkim@hanbit.example", "김영희", text=("현재 휴가 중입니다",),
         auto_reply=True),
    Case("forwarded", "A forwarded EUC-KR mail as a message/rfc822 attachment", forwarded, "Fwd: 반품 문의",
         "gyu@colleague.example", "Nam Gyu", text=("Could sales answer this one?", "반품 절차를 알려주세요"),
         attachments=("forwarded.eml",)),
    Case("missing_close_boundary", "Truncated multipart: no closing boundary", missing_close_boundary,
         "Drawings for the custom order", "sora@truncated.example", "Baek Sora",
         text=("drawings for the custom order are attached",), attachments=("drawing.pdf",), parse_error=True),
    Case("bad_base64", "An attachment whose base64 is garbage", bad_base64, "Signed contract",
         "taeho@badb64.example", "Moon Taeho", text=("The signed contract is attached.",),
         attachments=("contract.pdf",), parse_error=True),
    Case("boundary_never_appears", "multipart/mixed whose boundary never appears", boundary_never_appears,
         "Meeting notes", "ara@noboundary.example", "Shin Ara", text=("delivery moves to week 49",),
         parse_error=True),
    Case("no_from", "No From header at all", no_from, "Question about warranty",
         text=("How long is the warranty",), parse_error=True),
    Case("header_without_colon", "A header line without a colon in the middle of the header block",
         header_without_colon, "주문 변경", "eunji@brokenmailer.example", "Jo Eunji",
         message_id="<no-colon-1@brokenmailer.example>", text=("주문 수량을 30개로 변경해 주세요",),
         not_text=("Message-ID", "Content-Type", "X-Mailer")),
    Case("reply_to_differs", "Contact form: Reply-To is the customer, From is the form", reply_to_differs,
         "New contact form message", "no-reply@forms.shop.example", "Website Contact Form",
         reply_to="jisoo.park@customer.example", reply_to_name="박지수", text=("대량 구매 할인이 가능한가요?",)),
    Case("gmail_english_reply", "English Gmail reply with 'On ... wrote:' quote", gmail_english_reply,
         "Re: Quote for 200 units of the KX-20", "jane.doe@acme.example", "Jane Doe",
         text=("the price works for us",), quoted=("Please go ahead.", "USD 18,400")),
    Case("gmail_korean_reply", "Korean Gmail reply with '...님이 작성:' quote", gmail_korean_reply,
         "Re: 견적 요청드립니다 (3분기 납품)", "yhkim@hanbit.example", "김영희", text=("발주서 보내드리겠습니다",),
         quoted=("네, 확인했습니다.", "견적서를 첨부드립니다.")),
    Case("outlook_reply", "Outlook reply with '-----Original Message-----'", outlook_reply, "RE: Delivery schedule",
         "minji@corp.example", "Ryu Minji", text=("deliver to gate 3",),
         quoted=("Friday is fine.", "Can we deliver on Friday?")),
    Case("split_encoded_words", "EUC-KR subject cut mid-character across two encoded-words", split_encoded_words,
         "정기 주문 갱신 안내", "orders@subscription.example", "Order Bot", text=("renews next week",)),
    Case("korean_filename_encoded_word", "Encoded-word CP949 filename inside quotes (Outlook, Korean webmail)",
         korean_filename_encoded_word, "발주서 송부", "bora@kor-outlook.example", "Hwang Bora",
         text=("발주서를 첨부합니다",), attachments=("샾_발주서.xlsx",)),
    Case("utf8_rfc2231_filename", "UTF-8 body and RFC 2231 UTF-8 filename", utf8_rfc2231_filename,
         "사양서 전달드립니다", "haeun.song@naver.example", "송하은", text=("최종 사양서를 전달드립니다",),
         attachments=("제품 사양서 (최종).pdf",)),
]  # fmt: skip

BY_NAME = {case.name: case for case in CASES}


def write_files(directory: Path = DATA_DIR) -> list[Path]:
    """Write every case that belongs on disk as <name>.eml; remove stale ones."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for case in CASES:
        path = directory / f"{case.name}.eml"
        if case.on_disk:
            path.write_bytes(case.raw())
            written.append(path)
        elif path.exists():
            path.unlink()
    known = {p.name for p in written}
    for stale in directory.glob("*.eml"):
        if stale.name not in known:
            stale.unlink()
    return written


if __name__ == "__main__":
    for path in write_files(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_DIR):
        print(path)
