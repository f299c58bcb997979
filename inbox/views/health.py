"""``GET /healthz``: is the database answering (and, on SQLite, its file still there and
writable), is the queue answering. No login."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..db import db, file_problem

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    result = {"database": "ok", "queue": "ok"}
    status = 200
    try:
        db.execute_sql("SELECT 1").fetchone()
        problem = file_problem()
        if problem:
            result["database"] = f"error: {problem}"
            status = 503
    except Exception as exc:  # any failure means unhealthy; the reason is for the operator
        result["database"] = f"error: {type(exc).__name__}"
        status = 503
    try:
        from ..queue import huey

        huey.storage.queue_size()
    except Exception as exc:
        result["queue"] = f"error: {type(exc).__name__}"
        status = 503
    result["status"] = "ok" if status == 200 else "unavailable"
    return jsonify(result), status
