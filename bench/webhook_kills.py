"""Accepted webhooks survive kill -9: `inbox serve` is killed again and again while signed
Twilio webhooks pour in, then restarted; every webhook it answered 200 must end up stored,
once.

Each round starts `inbox serve` (SQLite, in a fresh data directory under /tmp, the same
environment as bench/webhooks.py), posts webhooks from --senders threads, and SIGKILLs
the server after a random 0.2-1.5 s. A webhook that got no answer, or not a 200, is sent
again in the next round, as Twilio does. After the last kill the server is started once
more and given --drain seconds to store everything it had accepted.

Prints: kills, webhooks answered 200, lost (answered 200, never stored), duplicated
(stored rows beyond one per MessageSid), the time the restarted server took to store the
leftovers, and the CPU time of the run. Target: 0 lost, 0 duplicated.

    .venv/bin/python bench/webhook_kills.py                 # 20 kills, 3000 webhooks
    .venv/bin/python bench/webhook_kills.py --kills 5 --count 500
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.webhooks import (  # noqa: E402
    ROOT,
    Hook,
    add_channel,
    build_hooks,
    free_port,
    server_env,
    stored_counts,
    stored_sids,
    wait_healthy,
)


@dataclass
class Outcome:
    kills: int = 0
    accepted: set[str] = field(default_factory=set)
    lost: set[str] = field(default_factory=set)
    stored: int = 0
    duplicated: int = 0
    drain_seconds: float | None = None


def _post(url: str, hook: Hook) -> int | None:
    request = urllib.request.Request(
        url, data=hook.body, method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
                 "X-Twilio-Signature": hook.signature},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _send_until_killed(url: str, todo: list[Hook], senders: int, accepted: set[str]) -> list[Hook]:
    """Post ``todo`` from ``senders`` threads until done or the server dies; returns what
    was not answered 200."""
    lock = threading.Lock()
    queue = list(reversed(todo))
    left: list[Hook] = []

    def sender() -> None:
        failures = 0
        while True:
            with lock:
                if not queue:
                    return
                hook = queue.pop()
            status = _post(url, hook)
            with lock:
                if status == 200:
                    accepted.add(hook.sid)
                else:
                    left.append(hook)
                    failures += 1
                if failures > 3:  # the server is gone: what is left waits for the next round
                    left.extend(reversed(queue))
                    queue.clear()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return left


def _serve(env: dict, port: int, log) -> subprocess.Popen:
    command = [sys.executable, "-m", "inbox.cli", "serve", "--port", str(port)]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def kill_run(kills: int = 20, count: int = 3000, senders: int = 8, seed: int = 3, drain: float = 120.0,
             keep: bool = False) -> Outcome:  # fmt: skip
    rng = random.Random(seed)
    data_dir = Path(tempfile.mkdtemp(prefix="inbox-kills-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(data_dir, port)
    channel_id = add_channel(env)
    url = f"{base}/webhooks/twilio/{channel_id}/inbound"
    todo, _ = build_hooks(url, count, max(10, count // 10), 0.0, 0.4, seed)
    out = Outcome()
    with open(data_dir / "server.log", "ab") as log:
        try:
            while out.kills < kills and todo:
                proc = _serve(env, port, log)
                wait_healthy(base, proc)
                timer = threading.Timer(rng.uniform(0.2, 1.5), lambda p=proc: p.send_signal(signal.SIGKILL))
                timer.start()
                todo = _send_until_killed(url, todo, senders, out.accepted)
                timer.join()
                proc.wait()
                out.kills += proc.returncode == -signal.SIGKILL
            proc = _serve(env, port, log)
            wait_healthy(base, proc)
            started = time.monotonic()
            todo = _send_until_killed(url, todo, senders, out.accepted)
            deadline = started + drain
            while time.monotonic() < deadline and not out.accepted <= stored_sids(data_dir, channel_id):
                time.sleep(0.2)
            out.drain_seconds = time.monotonic() - started
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    out.lost = out.accepted - stored_sids(data_dir, channel_id)
    rows, distinct = stored_counts(data_dir, channel_id)
    out.stored, out.duplicated = distinct, rows - distinct
    if keep:
        print(f"data kept in {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/webhook_kills.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of the server (default 20)")
    parser.add_argument("--count", type=int, default=3000, help="distinct webhooks (default 3000)")
    parser.add_argument("--senders", type=int, default=8, help="concurrent senders (default 8)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to store the leftovers (default 120)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and server.log")
    args = parser.parse_args()
    cpu = time.process_time()
    wall = time.perf_counter()
    out = kill_run(args.kills, args.count, args.senders, args.seed, args.drain, args.keep)
    print(f"kills                          {out.kills}")
    print(f"webhooks answered 200          {len(out.accepted)} of {args.count}")
    print(f"stored                         {out.stored}")
    print(f"accepted and lost              {len(out.lost)}   (target 0)")
    print(f"duplicated                     {out.duplicated}   (target 0)")
    print(f"leftovers stored after restart {out.drain_seconds:.1f} s")
    print(f"wall / client CPU (s)          {time.perf_counter() - wall:.1f} / {time.process_time() - cpu:.1f}")
    print(f"load average                   {' / '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0 if not out.lost and not out.duplicated else 1


if __name__ == "__main__":
    sys.exit(main())
