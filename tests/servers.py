"""Real servers for the tests, on 127.0.0.1 only: a throwaway Dovecot IMAP server (with
LMTP for realistic delivery) and an SMTP server (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import getpass
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on port {port}")


@dataclass
class Dovecot:
    directory: Path
    port: int
    lmtp_port: int
    users: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def config(self) -> str:
        root = os.geteuid() == 0
        d = self.directory
        if root:
            # Dovecot refuses to run its login and mail processes as root.
            internal_user, internal_group, login_user = "dovecot", "dovecot", "dovenull"
            uid = gid = 65534
            auth_user = "root"
            chroot = ""
        else:
            internal_user = login_user = auth_user = getpass.getuser()
            internal_group = grp.getgrgid(os.getegid()).gr_name
            uid, gid = os.geteuid(), os.getegid()
            chroot = "chroot ="
        return f"""
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = dovecot-test-{self.port}
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
mail_home = {d}/mail/%u
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
service imap-login {{
  {chroot}
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  {chroot}
}}
service auth {{
  user = {auth_user}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
"""

    def start(self) -> Dovecot:
        d = self.directory
        (d / "mail").mkdir(parents=True, exist_ok=True)
        (d / "users").write_text("".join(f"{u}:{{PLAIN}}{p}:::::\n" for u, p in self.users.items()))
        (d / "dovecot.conf").write_text(self.config())
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for path in (d, d / "mail"):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            os.chmod(d, 0o755)
        self.process = subprocess.Popen(
            ["dovecot", "-F", "-c", str(d / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_port(self.port)
        wait_port(self.lmtp_port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def add_user(self, user: str, password: str) -> None:
        """Dovecot re-reads its passwd-file when it changes, so users can be added live."""
        self.users[user] = password
        (self.directory / "users").write_text("".join(f"{u}:{{PLAIN}}{p}:::::\n" for u, p in self.users.items()))

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.directory / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_dovecot(users: dict[str, str]) -> Dovecot:
    # Not pytest's tmp_path: as root it lives in a 0700 directory the mail processes
    # (running as nobody) cannot enter.
    directory = Path(tempfile.mkdtemp(prefix="dovecot-", dir="/tmp"))
    return Dovecot(directory, free_port(), free_port(), users).start()


class SmtpSink:
    """An SMTP server that accepts mail for anyone and keeps it, with AUTH."""

    def __init__(self, username: str = "smtp-user", password: str = "smtp-pass"):
        self.username, self.password = username, password
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse_code: int | None = None
        self.port = free_port()
        self.controller = Controller(
            self, hostname="127.0.0.1", port=self.port, authenticator=self._auth, auth_require_tls=False
        )

    def _auth(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.username.encode()
            and auth_data.password == self.password.encode()
        )
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_code:
            return f"{self.refuse_code} mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
