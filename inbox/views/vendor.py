"""Front-end packages installed from npm at a pinned version (package.json), served as is."""

from __future__ import annotations

from flask import Blueprint, abort, send_from_directory

from .. import ROOT

bp = Blueprint("vendor", __name__)

FILES = {"htmx.min.js": ROOT / "node_modules" / "htmx.org" / "dist"}


@bp.get("/vendor/<name>")
def vendor(name: str):
    folder = FILES.get(name)
    if folder is None or not (folder / name).exists():
        abort(404)
    return send_from_directory(folder, name, max_age=86400)
