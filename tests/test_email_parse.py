"""The email parser over the mail corpus (tests/mailcorpus.py): every message reads the way
a person expects (no mojibake, the right sender, text, attachments and flags), and
quoted history is split from what the customer wrote now."""

from __future__ import annotations

import email
import email.header
import email.policy
import functools
import re
from unittest import mock

import pytest

from inbox.channels import email as email_channel
from inbox.channels import email_parse
from inbox.channels.email import to_inbound
from inbox.channels.email_parse import MAX_ATTACHMENT_BYTES, decode_bytes, parse, provider_id, split_quoted
from inbox.sanitize import clean_html, html_to_text

from .mailcorpus import BOUNCED_ID, BY_NAME, CASES, CP949_ONLY, DATA_DIR, Case

OWN = {"sales@example.com"}
_ids = [case.name for case in CASES]


@pytest.fixture(autouse=True)
def clean_db():
    """Nothing here touches the database: no per-test truncation (it would dominate the run time)."""
    yield


@functools.cache
def parsed(name: str):
    return parse(BY_NAME[name].raw())


@functools.cache
def inbound(name: str):
    # to_inbound() reuses the parse above: parsing the 30 MB case twice doubles this file's run time.
    raw = BY_NAME[name].raw()
    with mock.patch.object(email_channel, "parse", lambda data: parsed(name) if data is raw else parse(data)):
        return to_inbound(7, raw, None, OWN)


def readable_text(name: str) -> str:
    """What the timeline shows: the text part, or the text of the sanitised HTML."""
    mail = parsed(name)
    return mail.text or html_to_text(clean_html(mail.html or ""))


def assert_clean(value: str) -> None:
    """No replacement characters, undecoded bytes, encoded-words or Latin-1 mojibake."""
    assert "\ufffd" not in value, value
    assert not re.search(r"[\udc80-\udcff]", value), value
    assert "=?" not in value, value
    assert not re.search(r"[\x80-\x9f]|Ã.|ì[\x80-\xbf]|ê[\x80-\xbf]|í[\x80-\xbf]", value), value


def test_the_corpus_is_well_formed():
    assert len(set(_ids)) == len(_ids)
    for case in CASES:
        raw = case.raw()
        assert b"\x00" not in raw, case.name  # Dovecot rewrites NUL bytes
        assert raw.count(b"\n") == raw.count(b"\r\n"), f"{case.name}: not CRLF throughout"


def test_the_corpus_really_carries_korean_charsets_on_the_wire():
    for ch in "똠샾":  # CP949 extensions: outside the two-byte KS X 1001 table of EUC-KR
        assert ch.encode("cp949")[0] < 0xA1 and len(ch.encode("euc-kr")) != 2
    wire = email.message_from_bytes(BY_NAME["euckr_mime"].raw())  # compat32: nothing decoded
    assert [cs for _, cs in email.header.decode_header(wire["Subject"])] == ["euc-kr"]
    assert [cs for _, cs in email.header.decode_header(wire["From"])] == ["euc-kr", None]
    body, attachment = wire.get_payload()
    assert body.get_content_charset() == "euc-kr"
    assert "견적을 요청드립니다".encode("euc-kr") in body.get_payload(decode=True)
    charset, _, name = attachment.get_param("filename", header="content-disposition")  # RFC 2231
    assert (charset, name.encode("latin-1")) == ("euc-kr", "견적요청_사양서.pdf".encode("euc-kr"))
    assert "똠방각하".encode("cp949") in BY_NAME["cp949_labelled_euckr"].raw()
    assert b"\x1b$)C" in BY_NAME["iso2022kr"].raw()
    assert "박상철".encode("euc-kr") in BY_NAME["euckr_8bit_headers"].raw()
    assert "11월_거래명세서".encode("euc-kr") in BY_NAME["euckr_8bit_filename"].raw()


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_headers(case: Case):
    mail = parsed(case.name)
    assert mail.subject == case.subject
    assert mail.from_address == case.from_address
    assert mail.from_name == case.from_name
    assert mail.sender == (case.contact if case.from_address else "")
    if case.message_id:
        assert mail.message_id == case.message_id
    assert mail.cc == list(case.cc)
    for value in (mail.subject, mail.from_name):
        assert_clean(value)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_text(case: Case):
    text = readable_text(case.name)
    assert_clean(text)
    assert "\r" not in text
    for part in case.text:
        assert part in text, f"{part!r} not in {text!r}"
    for part in case.not_text:
        assert part not in text
    assert (parsed(case.name).html is not None) == case.html


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_attachments(case: Case):
    mail = parsed(case.name)
    assert [a.filename for a in mail.attachments] == list(case.attachments)
    for att in mail.attachments:
        assert_clean(att.filename)
        if att.filename in case.too_large:
            assert att.data is None and att.size > MAX_ATTACHMENT_BYTES
            assert att.note and "not kept" in att.note
        else:
            assert att.data is not None and att.size == len(att.data)
    assert [a.content_id for a in mail.attachments if a.inline] == list(case.inline)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_inbound(case: Case):
    """to_inbound(): the contact, flags, raw source and meta the rest of the app relies on."""
    raw = case.raw()
    msg = inbound(case.name)
    assert msg is not None
    assert msg.address == case.contact
    assert msg.name == case.contact_name
    assert msg.auto_reply == case.auto_reply
    assert (msg.meta.get("bounce") is not None) == case.bounce
    assert bool(msg.parse_error) == case.parse_error, parsed(case.name).problems
    assert msg.raw == raw
    assert msg.provider_id == provider_id(parsed(case.name).message_id, raw)
    assert msg.meta["cc"] == list(case.cc)
    assert [a.filename for a in msg.attachments] == list(case.attachments)
    if case.bounce:
        assert msg.meta["bounce"]["original"] == [BOUNCED_ID]


def test_korean_names_are_exact():
    assert parsed("cp949_ks_c_5601").from_name == CP949_ONLY
    assert parsed("euckr_mime").from_name == "김영희"
    assert parsed("iso2022kr").from_name == "최민수"
    assert parsed("euckr_8bit_headers").from_name == "박상철"
    assert inbound("reply_to_differs").name == "박지수"  # the customer, not the contact form


def test_utf8_labelled_korean_is_not_read_as_cp949():
    # Two Hangul syllables of UTF-8 happen to be valid CP949 too; the label must not win.
    assert decode_bytes("배송".encode(), "euc-kr") == "배송"
    assert decode_bytes("배송 지연".encode("euc-kr"), "euc-kr") == "배송 지연"
    assert decode_bytes(CP949_ONLY.encode("cp949"), "ks_c_5601-1987") == CP949_ONLY


def test_bounces_name_the_message_they_are_about_and_why():
    dsn = parse(BY_NAME["bounce_dsn"].raw(original_id="<inbox.9.zz@example.com>"))
    assert dsn.bounce.original_message_ids == ["<inbox.9.zz@example.com>"]
    assert dsn.bounce.reason == "550 5.1.1 <nobody@hanbit.example>: Recipient address rejected: User unknown"
    text_only = parse(BY_NAME["bounce_text_only"].raw(original_id="<inbox.10.yy@example.com>"))
    assert text_only.bounce.original_message_ids == ["<inbox.10.yy@example.com>"]
    assert not parsed("plain_english").bounce


def test_html_is_kept_sanitised_and_plain_text_is_preferred():
    html = clean_html(inbound("alternative").html)
    assert "spring price list" in html
    for bad in ("<script", "onclick", "javascript:", "document.cookie"):
        assert bad not in html
    assert "tracker.example" not in clean_html(parsed("html_only").html)
    assert 'src="cid:logo-1@agency.example"' in clean_html(parsed("nested").html)


def test_forwarded_mail_is_kept_whole_and_its_text_shown():
    (att,) = parsed("forwarded").attachments
    assert att.content_type == "message/rfc822"
    inner = parse(att.data)
    assert (inner.subject, inner.from_address) == ("반품 문의", "haneul@customer.example")
    assert "---------- Forwarded message ----------\n반품 문의" in parsed("forwarded").text


def test_broken_mime_is_reported_not_hidden():
    assert "CloseBoundaryNotFoundDefect" in parsed("missing_close_boundary").problems
    assert any(p.startswith("damaged: contract.pdf") for p in parsed("bad_base64").problems)
    assert "damaged" in parsed("bad_base64").attachments[0].note
    assert "broken multipart" in parsed("boundary_never_appears").problems
    assert "no From address" in parsed("no_from").problems
    assert inbound("no_from").address == "unknown@invalid"
    # The stray line is dropped: the headers after it are still read as headers.
    fixed = parsed("header_without_colon")
    assert fixed.problems == ["header line without a colon"] and fixed.date is not None


def test_two_mails_sharing_a_message_id_get_different_provider_ids():
    first, second = inbound("same_id_first"), inbound("same_id_second")
    assert first.meta["message_id"] == second.meta["message_id"] == "<00000000@legacy.example>"
    assert first.provider_id != second.provider_id
    assert inbound("no_message_id").provider_id == to_inbound(7, BY_NAME["no_message_id"].raw(), None, OWN).provider_id


def test_mail_we_sent_is_skipped_but_a_bounce_is_kept_even_from_an_own_address():
    own = {"jane.doe@acme.example"}
    assert to_inbound(7, BY_NAME["plain_english"].raw(), None, own) is None
    assert to_inbound(7, BY_NAME["bounce_dsn"].raw(), None, {"mailer-daemon@mx.hanbit.example"}) is not None


def test_the_eml_files_match_the_corpus():
    """tests/data/email is written by `python -m tests.mailcorpus`; keep it in step."""
    on_disk = {p.stem for p in DATA_DIR.glob("*.eml")}
    assert on_disk == {c.name for c in CASES if c.on_disk}
    for case in CASES:
        if case.on_disk:
            assert (DATA_DIR / f"{case.name}.eml").read_bytes() == case.raw(), case.name


# --- quoted text ------------------------------------------------------------------------


@pytest.mark.parametrize("case", [c for c in CASES if c.quoted], ids=lambda c: c.name)
def test_split_quoted_on_corpus_replies(case: Case):
    now, folded = split_quoted(parsed(case.name).text)
    assert case.quoted[0] in now and case.quoted[1] not in now
    assert case.quoted[1] in folded


GMAIL_EN = "Sounds good.\n\nOn Sun, Nov 22, 2026 at 10:00 AM Kim <a@b.kr> wrote:\n> Can you ship today?\n"
GMAIL_EN_WRAPPED = (
    "Sounds good.\n\nOn Sun, Nov 22, 2026 at 10:00 AM Sales Team of Example Company <sales@example.com>\n"
    "wrote:\n\n> Can you ship today?\n"
)
GMAIL_KO = "네 알겠습니다.\n\n2026년 11월 22일 (일) 오전 10:00, 김영희 <a@b.kr>님이 작성:\n> 오늘 발송 가능한가요?\n"
GMAIL_KO_WRAPPED = (
    "네 알겠습니다.\n\n2026년 11월 22일 (일) 오전 10:00, 김영희 영업팀 <yhkim.sales-team@hanbit.example>\n"
    "님이 작성:\n\n> 오늘 발송 가능한가요?\n"
)
OUTLOOK = (
    "Friday works.\n\n-----Original Message-----\nFrom: Sales <sales@example.com>\n"
    "Sent: Monday, November 23, 2026 5:00 PM\nSubject: Delivery\n\nCan we deliver Friday?"
)
OUTLOOK_KO = (
    "금요일 좋습니다.\n\n-----원본 메시지-----\n보낸 사람: Sales <sales@example.com>\n\n금요일 배송 가능할까요?"
)
OUTLOOK_KO_NO_RULE = (
    "네, 금요일 좋습니다.\n\n보낸 사람: Sales <sales@example.com>\n보낸 날짜: 2026년 11월 23일 월요일 오후 5:00\n"
    "제목: 배송\n\n금요일 배송 가능할까요?"
)
OUTLOOK_NO_RULE = (
    "Friday works.\n\nFrom: Sales <sales@example.com>\nSent: Monday, November 23, 2026 5:00 PM\n"
    "To: Minji <minji@corp.example>\nSubject: Delivery\n\nCan we deliver Friday?"
)
SIGNATURE = "Please call me tomorrow.\n\n-- \nJane Doe\nAcme Corp."


@pytest.mark.parametrize(
    ("text", "now", "folded_starts"),
    [
        (GMAIL_EN, "Sounds good.", "On Sun, Nov 22, 2026"),
        (GMAIL_EN_WRAPPED, "Sounds good.", "On Sun, Nov 22, 2026"),
        (GMAIL_KO, "네 알겠습니다.", "2026년 11월 22일 (일) 오전 10:00, 김영희 <a@b.kr>님이 작성:"),
        (GMAIL_KO_WRAPPED, "네 알겠습니다.", "2026년 11월 22일 (일)"),
        (OUTLOOK, "Friday works.", "-----Original Message-----"),
        (OUTLOOK_KO, "금요일 좋습니다.", "-----원본 메시지-----"),
        (OUTLOOK_NO_RULE, "Friday works.", "From: Sales <sales@example.com>"),
        (OUTLOOK_KO_NO_RULE, "네, 금요일 좋습니다.", "보낸 사람: Sales"),
        (SIGNATURE, "Please call me tomorrow.", "-- \nJane Doe"),
    ],
    ids=[
        "gmail-en",
        "gmail-en-wrapped",
        "gmail-ko",
        "gmail-ko-wrapped",
        "outlook",
        "outlook-ko",
        "outlook-no-rule",
        "outlook-ko-no-rule",
        "signature",
    ],
)
def test_split_quoted(text, now, folded_starts):
    head, folded = split_quoted(text)
    assert head == now
    assert folded.startswith(folded_starts)
    assert head + folded  # nothing is dropped
    assert set(text.split()) == set(head.split()) | set(folded.split())


def test_split_quoted_leaves_a_plain_message_alone():
    text = "Hello,\nOn Monday we wrote the spec together.\n2026년 11월 22일에 만나요."
    assert split_quoted(text) == (text, "")
    assert split_quoted("> only a quote") == ("> only a quote", "")


@pytest.mark.parametrize("case", [c for c in CASES if c.name != "large_attachment"], ids=lambda c: c.name)
def test_mime_headers_read_as_with_the_stock_policy(case: Case):
    """The parser reads each distinct MIME header value once and keeps it: every part's type,
    parameters and disposition are still what email.policy.default gives, and parsing the
    same mail again (with those headers already read) gives the same result."""
    raw = case.raw()
    ours = email.message_from_bytes(raw, policy=email_parse._POLICY)
    stock = email.message_from_bytes(raw, policy=email.policy.default)

    def seen(msg):
        return [
            (p.get_content_type(), p.get_params(), p.get_content_disposition(), p.get_content_charset(),
             p.get_filename(), str(p.get("Content-Transfer-Encoding")), p.is_multipart())
            for p in msg.walk()
        ]  # fmt: skip

    assert seen(ours) == seen(stock)
    assert parse(raw) == parse(raw) == parsed(case.name)
