"""IMAP IDLE: new mail reaches the inbox within seconds on servers that support it.

One thread per watched folder holds an IDLE connection and, when the server announces
new mail, asks for a poll; the poll itself is the normal incremental sync, so IDLE is
only a faster trigger and never a second write path. Servers without IDLE, and any
connection trouble, fall back to the periodic poll."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from imapclient.exceptions import IMAPClientError

from .channels import ChannelError
from .channels.email import EmailSettings, connect_imap
from .db import db
from .models import Channel

log = logging.getLogger(__name__)
IDLE_RENEW_SECONDS = 9 * 60  # servers drop IDLE after 30 min; renew well before
CHECK_SECONDS = 5


class FolderWatcher(threading.Thread):
    def __init__(self, channel_id: int, settings: EmailSettings, folder: str, on_new: Callable[[int], None]):
        super().__init__(name=f"imap-idle-{channel_id}-{folder}", daemon=True)
        self.channel_id, self.settings, self.folder, self.on_new = channel_id, settings, folder, on_new
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self._watch()
                return
            except (ChannelError, IMAPClientError, OSError) as exc:
                failures += 1
                wait = min(5 * 2**failures, 600)
                log.info("IDLE on channel %s %s stopped (%s); retrying in %ss", self.channel_id, self.folder, exc, wait)
                self.stopping.wait(wait)

    def _watch(self) -> None:
        client = connect_imap(self.settings)
        try:
            if b"IDLE" not in client.capabilities():
                log.info("channel %s: server has no IDLE; periodic polling only", self.channel_id)
                self.stopping.wait()  # nothing to do until stopped
                return
            client.select_folder(self.folder, readonly=True)
            self.on_new(self.channel_id)  # catch up on anything that came before IDLE started
            while not self.stopping.is_set():
                client.idle()
                started = time.monotonic()
                news = False
                while not self.stopping.is_set() and time.monotonic() - started < IDLE_RENEW_SECONDS:
                    responses = client.idle_check(timeout=CHECK_SECONDS)
                    if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                        news = True
                        break
                client.idle_done()
                if news:
                    self.on_new(self.channel_id)
        finally:
            try:
                client.logout()
            except Exception:  # the connection may already be gone
                client.shutdown()


class IdleSupervisor(threading.Thread):
    """Keeps one watcher per folder of every enabled email channel, following changes to
    the channel list every ``refresh`` seconds."""

    def __init__(self, on_new: Callable[[int], None], refresh: float = 30.0):
        super().__init__(name="imap-idle-supervisor", daemon=True)
        self.on_new, self.refresh = on_new, refresh
        self.watchers: dict[tuple, FolderWatcher] = {}
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        for watcher in self.watchers.values():
            watcher.stop()

    def wanted(self) -> dict[tuple, tuple[int, EmailSettings, str]]:
        result = {}
        with db.connection_context():
            for channel in Channel.select().where(Channel.enabled & (Channel.kind == "email")):
                try:
                    settings = EmailSettings.from_channel(channel.settings)
                except (ChannelError, ValueError):
                    continue
                for folder in settings.folders:
                    key = (channel.id, folder, repr(sorted(channel.settings.items())))
                    result[key] = (channel.id, settings, folder)
        return result

    def sync_watchers(self) -> None:
        wanted = self.wanted()
        for key in list(self.watchers):
            if key not in wanted or not self.watchers[key].is_alive():
                self.watchers.pop(key).stop()
        for key, (channel_id, settings, folder) in wanted.items():
            if key not in self.watchers:
                watcher = FolderWatcher(channel_id, settings, folder, self.on_new)
                self.watchers[key] = watcher
                watcher.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.sync_watchers()
            except Exception:  # a database hiccup must not end IDLE for good
                log.exception("IDLE supervisor could not read the channels")
            self.stopping.wait(self.refresh)
