"""The ``inbox`` command for operators: serve, worker, db upgrade, create-user, demo,
export, backup."""

from __future__ import annotations

import getpass
import logging
import os
import signal
import sys

import click

from . import settings


def _db():
    from .db import DatabaseMissing, db, init_db

    if db.obj is None:
        try:
            init_db(settings.database_url())
        except DatabaseMissing as exc:
            raise click.ClickException(str(exc)) from None
    return db


def _upgrade_quietly() -> list[str]:
    from . import schema

    database = _db()
    with database.connection_context():
        return schema.upgrade(database.obj)


@click.group()
def main() -> None:
    """Shared inbox: email, WhatsApp and SMS in one timeline per contact."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (safe to run at every start)."""
    applied = _upgrade_quietly()
    click.echo("applied: " + ", ".join(applied) if applied else "database is up to date")


@db_group.command("status")
def db_status() -> None:
    """List migrations and whether each is applied."""
    from . import schema

    database = _db()
    with database.connection_context():
        for m in schema.runner(database.obj).status():
            click.echo(f"[{'x' if m.applied else ' '}] {m.name}")


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["agent", "manager", "admin"]), default="agent", show_default=True)
@click.option("--locale", type=click.Choice(["ko", "en"]), default=None)
def create_user(email: str, name: str, role: str, locale: str | None) -> None:
    """Create a user. The password comes from INBOX_PASSWORD, else it is prompted."""
    from . import users

    _upgrade_quietly()
    password = os.environ.get("INBOX_PASSWORD") or getpass.getpass("Password: ")
    with _db().connection_context():
        try:
            user = users.create(email=email, name=name, role=role, password=password, locale=locale)
        except users.UserError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created {user.role} {user.email}")


@main.command()
@click.option("--admin-password", envvar="INBOX_PASSWORD", default=None, help="Default: generated and printed.")
def demo(admin_password: str | None) -> None:
    """Load demo data: a team, customers on every channel, waiting/snoozed/closed threads."""
    from . import demo as demo_data

    _upgrade_quietly()
    with _db().connection_context():
        login = demo_data.load(admin_password)
    _print_login(login)


def _print_login(login: dict) -> None:
    if login["password"]:
        click.secho(f"\n  Log in as {login['email']} with password: {login['password']}\n", fg="green", bold=True)
    else:
        click.echo(f"Demo data already loaded (admin: {login['email']}; password as printed the first time).")


def _idle_supervisor():
    """IMAP IDLE watchers that trigger a poll as soon as a mailbox announces new mail."""
    if settings.get("imap_idle").lower() in ("off", "0", "no", "false"):
        return None
    import tasks

    from .idle import IdleSupervisor

    supervisor = IdleSupervisor(on_new=lambda channel_id: tasks.poll_email_channel(channel_id))
    supervisor.start()
    return supervisor


def _consumer(workers: int | None = None):
    from huey.consumer import Consumer

    import tasks

    return Consumer(
        tasks.huey,
        workers=workers or int(settings.get("workers")),
        worker_type="thread",
        max_delay=float(settings.get("worker_poll_seconds")),
        flush_locks=True,
    )


def _queue_leftovers() -> None:
    """Have the consumer store first the webhooks a killed process kept but never stored."""
    import tasks

    from .db import utcnow

    tasks.intake_at_start(utcnow().isoformat())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--with-demo", is_flag=True, help="Load demo data first if the database has no users.")
@click.option("--no-worker", is_flag=True, help="Web only (run `inbox worker` elsewhere).")
def serve(host: str, port: int, threads: int, with_demo: bool, no_worker: bool) -> None:
    """Run the web server and the task consumer in one process. Without INBOX_BASE_URL the
    public address is this host and port (links, lead-source address, webhook signatures)."""
    from waitress import create_server

    from . import create_app

    settings.default_base_url(host, port)

    _upgrade_quietly()
    if with_demo:
        from . import demo as demo_data
        from .models import User

        with _db().connection_context():
            if not User.select().exists():
                _print_login(demo_data.load(os.environ.get("INBOX_PASSWORD")))
    app = create_app()
    # Slow or idle clients must not use up the server: connections are cheap (no thread
    # until a request is read in full), but capped and timed out.
    server = create_server(
        app, host=host, port=port, threads=threads, max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
        connection_limit=int(settings.get("connection_limit")), channel_timeout=int(settings.get("channel_timeout")),
        cleanup_interval=5,
    )  # fmt: skip
    consumer = None if no_worker else _consumer()
    idle = None
    if consumer:
        consumer.start()
        _queue_leftovers()
        idle = _idle_supervisor()

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    click.secho(f"Shared inbox running on http://{host}:{server.effective_port}", fg="cyan")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if idle:
            idle.stop()
        if consumer:
            consumer.stop(graceful=True)
    sys.exit(0)


@main.command()
@click.option("--workers", default=None, type=int, help="Threads (default INBOX_WORKERS).")
def worker(workers: int | None) -> None:
    """Run the task consumer alone (scale-out: one or more per machine)."""
    _upgrade_quietly()
    consumer = _consumer(workers)
    _idle_supervisor()
    _queue_leftovers()  # runs once the consumer below is up
    consumer.run()


@main.group("channel")
def channel_group() -> None:
    """Connected mailboxes and messaging accounts."""


def _secret(env: str, prompt: str) -> str:
    """A secret from the environment (scripted setups), else asked for without echo."""
    return os.environ.get(env) or getpass.getpass(prompt)


def _add_channel(add, name: str, options: dict):
    """Run a channel_config.add_* function, its validation errors as CLI errors."""
    from . import channel_config

    _upgrade_quietly()
    with _db().connection_context():
        try:
            return add(name, options)
        except channel_config.ChannelConfigError as exc:
            raise click.ClickException(f"{exc.field}: {exc}" if exc.field else str(exc)) from None


@channel_group.command("add-email")
@click.option("--name", required=True)
@click.option("--imap-host", required=True)
@click.option("--imap-port", type=int, default=993, show_default=True)
@click.option("--imap-security", type=click.Choice(["ssl", "starttls", "none"]), default="ssl", show_default=True)
@click.option("--imap-username", required=True)
@click.option("--smtp-host", required=True)
@click.option("--smtp-port", type=int, default=465, show_default=True)
@click.option("--smtp-security", type=click.Choice(["ssl", "starttls", "none"]), default="ssl", show_default=True)
@click.option("--smtp-username", default="")
@click.option("--from-address", required=True)
@click.option("--from-name", default="")
@click.option("--folders", default="INBOX", show_default=True, help="Comma-separated.")
@click.option("--import-since", default=None, help="YYYY-MM-DD: first sync imports mail from that day on.")
@click.option("--append-to-sent", is_flag=True, help="Also keep a copy of replies in the Sent folder.")
def channel_add_email(name: str, **options) -> None:
    """Connect a mailbox. Passwords: INBOX_IMAP_PASSWORD / INBOX_SMTP_PASSWORD, else prompted."""
    from . import channel_config

    options["imap_password"] = _secret("INBOX_IMAP_PASSWORD", "IMAP password: ")
    if options["smtp_username"]:
        options["smtp_password"] = _secret("INBOX_SMTP_PASSWORD", "SMTP password: ")
    channel = _add_channel(channel_config.add_email_channel, name, options)
    click.echo(f"added email channel {channel.name} (id {channel.id}); run `inbox channel test {channel.name}`")


@channel_group.command("add-twilio")
@click.option("--name", required=True)
@click.option("--account-sid", required=True)
@click.option("--sms-from", default="", help="SMS number, E.164.")
@click.option("--whatsapp-from", default="", help="WhatsApp sender number, E.164.")
@click.option("--messaging-service-sid", default="")
@click.option(
    "--api-key-sid", default="", help="Optional API key for REST calls (secret: INBOX_TWILIO_API_KEY_SECRET)."
)
@click.option("--api-base-url", default="", help="Another Twilio-compatible API (default: Twilio's).")
def channel_add_twilio(name: str, **options) -> None:
    """Connect a Twilio account. The auth token comes from INBOX_TWILIO_AUTH_TOKEN, else it is prompted."""
    from . import channel_config

    options["auth_token"] = _secret("INBOX_TWILIO_AUTH_TOKEN", "Twilio auth token: ")
    if options["api_key_sid"]:
        options["api_key_secret"] = _secret("INBOX_TWILIO_API_KEY_SECRET", "API key secret: ")
    channel = _add_channel(channel_config.add_twilio_channel, name, options)
    with _db().connection_context():
        urls = channel_config.webhook_urls(channel)
    click.echo(f"added Twilio channel {channel.name} (id {channel.id})")
    click.echo(f"  incoming message webhook: {urls['inbound']}")
    click.echo(f"  status callback URL:      {urls['status']}")


@channel_group.command("list")
def channel_list() -> None:
    """Every channel with its health."""
    from .models import Channel

    with _db().connection_context():
        for ch in Channel.select().order_by(Channel.id):
            health = "ok" if not ch.error_count else f"failing x{ch.error_count}: {ch.last_error}"
            last = ch.last_poll_at.isoformat(timespec="seconds") + "Z" if ch.last_poll_at else "never"
            state = "" if ch.enabled else " (disabled)"
            click.echo(f"{ch.id}\t{ch.kind}\t{ch.name}{state}\tlast poll {last}\t{health}")


def _channel_named(name: str):
    from .models import Channel

    channel = Channel.get_or_none(Channel.name == name)
    if channel is None:
        raise click.ClickException(f"no channel named {name!r} (see `inbox channel list`)")
    return channel


@channel_group.command("test")
@click.argument("name")
def channel_test(name: str) -> None:
    """Log in to the channel's servers and say exactly what failed."""
    from . import channel_config

    with _db().connection_context():
        results = channel_config.test_channel(_channel_named(name))
    for step, ok, detail in results:
        click.echo(f"{'ok  ' if ok else 'FAIL'} {step}: {detail}")
    if not all(ok for _, ok, _ in results):
        sys.exit(1)


@main.group("lead-source")
def lead_source_group() -> None:
    """Web forms and ad platforms allowed to post leads to /api/leads."""


@lead_source_group.command("add")
@click.argument("name")
def lead_source_add(name: str) -> None:
    """Add a lead source and print its token (shown once; only its hash is kept)."""
    from . import leads

    _upgrade_quietly()
    with _db().connection_context():
        try:
            source, token = leads.add_source(name)
        except leads.LeadError as exc:
            raise click.ClickException(str(exc)) from None
        endpoint = settings.get("base_url").rstrip("/") + "/api/leads"
    click.echo(f"added lead source {source.name} (id {source.id})")
    click.echo(f"  post leads to: {endpoint}")
    click.echo(f"  with the header: Authorization: Bearer {token}")
    click.echo("  The token is shown only now; keep it secret.")


@lead_source_group.command("list")
def lead_source_list() -> None:
    """Every lead source, active or not, with when it last posted a lead."""
    from . import leads

    _upgrade_quietly()
    with _db().connection_context():
        for source in leads.sources():
            state = "active" if source.active else "deactivated"
            last = source.last_used_at.isoformat(timespec="seconds") + "Z" if source.last_used_at else "never"
            click.echo(f"{source.id}\t{source.name}\t{state}\tlast lead {last}")


@lead_source_group.command("deactivate")
@click.argument("name")
def lead_source_deactivate(name: str) -> None:
    """Stop accepting a lead source's token."""
    from . import leads
    from .models import LeadSource

    with _db().connection_context():
        source = LeadSource.get_or_none(LeadSource.name == name)
        if source is None:
            raise click.ClickException(f"no lead source named {name!r} (see `inbox lead-source list`)")
        changed = leads.deactivate_source(source)
    click.echo(f"deactivated lead source {name}" if changed else f"{name} was already deactivated")


@main.command()
@click.option("--channel", "channel_name", default=None, help="Only this channel (default: every enabled channel).")
@click.option("--once", is_flag=True, required=True, help="Sync until caught up, then exit.")
def poll(channel_name: str | None, once: bool) -> None:
    """Fetch new messages now (mail with a progress bar); non-zero exit with the reason on failure."""
    from . import messaging, polling
    from .models import Channel

    _upgrade_quietly()
    failed = False
    with _db().connection_context():
        targets = (
            [_channel_named(channel_name)]
            if channel_name
            else list(Channel.select().where(Channel.enabled & (Channel.kind == "email")))
        )
        for channel in targets:
            bar = {"shown": None}

            def progress(p, bar=bar, channel=channel):
                if bar["shown"] is None:
                    bar["shown"] = click.progressbar(length=max(p["total"], 1), label=f"{channel.name} {p['folder']}")
                    bar["shown"].__enter__()
                    bar["done"] = 0
                bar["shown"].update(p["done"] - bar["done"])
                bar["done"] = p["done"]

            if channel.kind == "twilio":
                result = messaging.poll(channel.id)
            else:
                result = polling.poll_email(channel.id, on_progress=progress)
            if bar["shown"] is not None:
                bar["shown"].__exit__(None, None, None)
            if result.error:
                click.echo(f"{channel.name}: FAILED: {result.error}", err=True)
                failed = True
            else:
                click.echo(f"{channel.name}: {result.stored} new messages stored ({result.fetched} fetched)")
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default="-", show_default=True)
def export(output: str) -> None:
    """Every contact, conversation and message as JSON Lines."""
    from . import maintenance

    with _db().connection_context(), click.open_file(output, "w", encoding="utf-8") as fh:
        for line in maintenance.export_lines():
            fh.write(line)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
def backup(file: str) -> None:
    """Write a consistent copy of the live SQLite database to FILE."""
    from . import maintenance

    with _db().connection_context():
        try:
            path = maintenance.backup(file)
        except (RuntimeError, FileExistsError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"backup written to {path}")


if __name__ == "__main__":
    main()


@main.group("stats")
def stats_group() -> None:
    """Manager statistics."""


@stats_group.command("recompute")
def stats_recompute() -> None:
    """Recompute every past reply's business-hours response time and SLA outcome with the
    current business hours, holidays and targets (after changing them), and every
    conversation's statistics facts (after writing messages outside the app)."""
    from .stats import facts, replies

    _upgrade_quietly()
    with _db().connection_context():
        count = replies.recompute()
        conversations = facts.refresh_all()
    click.echo(f"recomputed {count} replies and the facts of {conversations} conversations")
