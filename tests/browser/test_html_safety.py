"""Customer HTML is displayed, never executed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .. import factories
from .helpers import log_in

pytestmark = pytest.mark.browser

# Each payload would set window.__pwned and open a dialog if it ran.
HOSTILE_HTML = """
<p>Hello <b>team</b>, please see the attached quote.</p>
<script>window.__pwned = "script"; alert("script")</script>
<img src="x" onerror="window.__pwned = 'onerror'; alert('onerror')">
<img src="/static/app.css" onerror="window.__pwned = 'onerror-local'; alert('onerror-local')">
<svg onload="window.__pwned = 'svg'; alert('svg')"><circle r="1"></circle></svg>
<a id="js-link" href="javascript:window.__pwned='href';alert('href')" onclick="window.__pwned='onclick';alert('onclick')">Open the quote</a>
<a href="JaVaScRiPt:alert('mixed case')">Second link</a>
<div onmouseover="window.__pwned = 'hover'; alert('hover')">Hover over me</div>
<iframe srcdoc="<script>parent.__pwned='iframe'</script>"></iframe>
<form action="javascript:alert('form')"><button formaction="javascript:alert('formaction')">Submit</button></form>
<style>body { display: none }</style>
<object data="javascript:alert('object')"></object>
<p>Regards, <i>Mallory</i></p>
"""


def test_hostile_email_html_is_shown_without_running_anything(page, user, email_channel):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.add_init_script("window.__pwned = null;")
    message = factories.receive(
        email_channel, address="mallory@example.com", name="<img src=x onerror=alert('name')>Mallory",
        subject="<script>alert('subject')</script>Quote", text="", html=HOSTILE_HTML,
    )  # fmt: skip
    log_in(page, user)

    # The inbox row shows the name and the preview as text.
    row = page.locator(f"#conversation-{message.conversation_id}")
    expect(row.locator(".contact-name")).to_have_text("<img src=x onerror=alert('name')>Mallory")

    row.locator("a.row-link").click()
    body = page.locator(f"#message-{message.id} .html-body")
    expect(body).to_contain_text("Hello team, please see the attached quote.")
    expect(body).to_contain_text("Regards, Mallory")
    expect(body.locator("b")).to_have_text("team")
    expect(page.locator(f"#message-{message.id} .subject")).to_have_text("<script>alert('subject')</script>Quote")
    expect(page.locator("#conversation-header h1")).to_contain_text("onerror=alert('name')")
    expect(page.locator("body")).to_be_visible()

    # Give anything that might run (load/error handlers) a chance, then act like a user.
    page.wait_for_load_state("load")
    body.get_by_text("Hover over me").hover()
    link = body.get_by_text("Open the quote")
    expect(link).to_be_visible()
    link.click()
    body.get_by_text("Second link").click()

    timeline = page.locator("#timeline")
    handlers = timeline.locator("*").evaluate_all(
        """els => els.flatMap(el => Array.from(el.attributes)
              .filter(a => a.name.toLowerCase().startsWith('on'))
              .map(a => el.tagName + ' ' + a.name))"""
    )
    assert handlers == []
    bad_urls = timeline.locator("[href], [src], [action], [formaction], [data]").evaluate_all(
        """els => els.flatMap(el => ['href', 'src', 'action', 'formaction', 'data']
              .map(n => el.getAttribute(n)).filter(v => v && /^\\s*javascript:/i.test(v)))"""
    )
    assert bad_urls == []
    for tag in ("script", "iframe", "svg", "object", "style", "form button"):
        assert body.locator(tag).count() == 0, f"<{tag}> survived the sanitiser"
    assert dialogs == []
    assert page.evaluate("window.__pwned") is None
    assert page.url.endswith(f"/c/{message.conversation_id}")
