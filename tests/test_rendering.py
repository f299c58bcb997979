"""Message bodies: quoted history folded (kept), inline images served, no markup injected."""

from types import SimpleNamespace

from inbox import rendering
from inbox.sanitize import clean_html


def msg(text="", html=None):
    return SimpleNamespace(text=text, html=clean_html(html) if html else None)


def url(att):
    return f"/attachments/{att.id}"


def test_plain_text_reply_folds_the_quoted_history():
    b = rendering.body(msg("Yes, 200 units.\n\nOn Mon, 2 Nov 2026 at 10:00, Sales <s@x.com> wrote:\n> price?"), [], url)
    assert str(b.main) == "Yes, 200 units."
    assert "price?" in str(b.quoted)


def test_text_is_escaped():
    b = rendering.body(msg("<script>alert(1)</script>"), [], url)
    assert "<script>" not in str(b.main)


def test_inline_cid_images_point_at_their_attachment_and_unknown_cids_are_dropped():
    html = '<p>Logo: <img src="cid:logo@x"> and <img src="cid:missing@x"></p>'
    att = SimpleNamespace(id=7, content_id="logo@x")
    b = rendering.body(msg(html=html), [att], url)
    assert 'src="/attachments/7"' in str(b.main)
    assert "missing@x" not in str(b.main)


def test_html_blockquote_history_is_folded_and_both_halves_are_well_formed():
    html = "<div><p>Thanks!</p><blockquote><p>Earlier message</p></blockquote></div>"
    b = rendering.body(msg(html=html), [], url)
    assert "Thanks!" in str(b.main) and "Earlier" not in str(b.main)
    assert "Earlier message" in str(b.quoted)
    assert str(b.main).count("<div>") == str(b.main).count("</div>")
