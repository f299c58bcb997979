"""Team management (admins): create users, change roles, deactivate with hand-over."""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from peewee import fn

from .. import users as accounts
from ..i18n import translate
from ..models import ROLES, Conversation, User
from ..web import get_or_404, int_arg, role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _me() -> User:
    return current_user._get_current_object()


@bp.get("/users")
@role_required("admin")
def users():
    return _users_page()


def _users_page(error: str | None = None, values=None, status: int = 200):
    team = list(User.select().order_by(User.active.desc(), User.name))
    open_counts = {
        row.assignee_id: row.n
        for row in Conversation.select(Conversation.assignee, fn.COUNT(Conversation.id).alias("n"))
        .where((Conversation.state != "closed") & Conversation.assignee.is_null(False))
        .group_by(Conversation.assignee)
    }
    return render_template(
        "admin/users.html", team=team, roles=ROLES, error=error, values=values or {}, open_counts=open_counts
    ), status


@bp.post("/users")
@role_required("admin")
def users_POST():
    form = request.form
    password = form.get("password") or secrets.token_urlsafe(9)
    if form.get("locale") not in (None, "", "ko", "en"):  # a user with an unknown locale gets a 500 on every page
        return _users_page(gettext("Language must be ko or en."), form, 400)
    try:
        user = accounts.create(
            email=form.get("email", ""), name=form.get("name", ""), role=form.get("role", "agent"),
            password=password, actor=_me(), locale=form.get("locale") or None,
        )  # fmt: skip
    except accounts.UserError as exc:
        return _users_page(translate(exc), form, 400)
    if form.get("password"):
        flash(gettext("%(name)s can now log in.", name=user.name), "ok")
    else:
        flash(
            gettext(
                "%(name)s can log in with the temporary password %(pw)s (shown once).", name=user.name, pw=password
            ),
            "ok",
        )
    return redirect(url_for("admin.users"), code=303)


@bp.get("/users/<int:user_id>")
@role_required("admin")
def user_GET(user_id: int):
    user = get_or_404(User, user_id)
    colleagues = User.select().where(User.active & (User.id != user.id)).order_by(User.name)
    open_work = Conversation.select().where((Conversation.assignee == user) & (Conversation.state != "closed")).count()
    return render_template("admin/user.html", user=user, roles=ROLES, colleagues=colleagues, open_work=open_work)


@bp.post("/users/<int:user_id>")
@role_required("admin")
def user_POST(user_id: int):
    user = get_or_404(User, user_id)
    try:
        accounts.update(user, _me(), name=request.form.get("name"), role=request.form.get("role"))
        if request.form.get("password"):
            accounts.set_password(user, request.form["password"], _me())
    except accounts.UserError as exc:
        flash(translate(exc), "error")
        return redirect(url_for("admin.user_GET", user_id=user.id), code=303)
    flash(gettext("Saved."), "ok")
    return redirect(url_for("admin.users"), code=303)


@bp.post("/users/<int:user_id>/deactivate")
@role_required("admin")
def deactivate_POST(user_id: int):
    user = get_or_404(User, user_id)
    target_id = int_arg("reassign_to")
    target = None
    if target_id:
        target = User.get_or_none(User.id == target_id)
        if target is None:
            abort(404)
    try:
        moved = accounts.deactivate(user, _me(), target)
    except accounts.UserError as exc:
        flash(translate(exc), "error")
        return redirect(url_for("admin.user_GET", user_id=user.id), code=303)
    flash(
        gettext("%(name)s is deactivated; %(n)s open conversations moved.", name=user.name, n=moved),
        "ok",
    )
    return redirect(url_for("admin.users"), code=303)


@bp.post("/users/<int:user_id>/reactivate")
@role_required("admin")
def reactivate_POST(user_id: int):
    user = get_or_404(User, user_id)
    accounts.reactivate(user, _me())
    return redirect(url_for("admin.users"), code=303)
