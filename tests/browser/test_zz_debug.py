import pytest
from .. import factories
from .helpers import log_in

def test_debug(page, user, email_channel):
    factories.receive(email_channel, address="old@example.com", name="Old Customer", minutes_ago=60, text="Earlier")
    log_in(page, user)
    page.evaluate("""() => { window.__ev = []; document.addEventListener('htmx:afterRequest', e => window.__ev.push([e.detail.elt.id, e.detail.successful, e.detail.xhr.responseText.length, document.body.contains(e.detail.elt)])); }""")
    factories.receive(email_channel, address="new@example.com", name="New Lead", text="Do you ship to Busan?")
    resp = []
    page.on("response", lambda r: resp.append((r.url, r.status, r.text()[:600])) if "updates" in r.url else None)
    page.wait_for_timeout(6000)
    print(resp)
    print(page.evaluate("window.__ev"))
    print(page.locator("#rows").inner_html()[:300])
