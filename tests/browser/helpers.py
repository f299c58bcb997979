"""Steps and checks shared by the browser tests."""

from __future__ import annotations

import base64
import re

from .. import factories

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# Network-level 4xx/5xx lines (the 401 of a wrong password) are expected; htmx reports a
# failed request with its own console error, which is kept.
_IGNORED_CONSOLE = re.compile(r"^Failed to load resource")


def watch_errors(page) -> list[str]:
    """Collect uncaught script errors and console errors (CSP refusals, htmx errors)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console: {msg.text}")
            if msg.type == "error" and not _IGNORED_CONSOLE.match(msg.text)
            else None
        ),
    )
    return errors


def log_in(page, user, password: str = factories.PASSWORD) -> None:
    page.goto("/login")
    page.locator("input[name=email]").fill(user.email)
    page.locator("input[name=password]").fill(password)
    page.locator("form.login button[type=submit]").click()
    page.wait_for_url(re.compile(r"/inbox"))


def png_colours(page, png: bytes) -> dict:
    """Width, height and number of distinct colours (counted up to 256) of a PNG, decoded
    by the browser itself: a blank or single-colour screenshot has one colour."""
    return page.evaluate(
        """async (b64) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const bitmap = await createImageBitmap(new Blob([bytes], {type: "image/png"}));
            const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
            const ctx = canvas.getContext("2d");
            ctx.drawImage(bitmap, 0, 0);
            const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
            const seen = new Set();
            for (let i = 0; i < data.length && seen.size < 256; i += 4) {
                seen.add(((data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]) >>> 0);
            }
            return {width: bitmap.width, height: bitmap.height, colours: seen.size};
        }""",
        base64.b64encode(png).decode(),
    )


def mark_page(page) -> None:
    """Flag the current document; ``assert_same_page`` fails if it was reloaded since."""
    page.evaluate("window.__samePage = true")


def assert_same_page(page) -> None:
    assert page.evaluate("window.__samePage === true"), "the page was reloaded"
