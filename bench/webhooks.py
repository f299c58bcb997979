"""Measure sustained ingest of signed Twilio webhooks through the production server.

What runs is what `inbox serve` runs in production: waitress with its web threads and
the in-process Huey consumer, on a fresh SQLite data directory under /tmp (WAL mode,
the Huey queue in huey.db next to it). A Twilio channel is added with
`inbox channel add-twilio` (fake account SID and auth token), the server is started as
a subprocess with INBOX_BASE_URL=http://127.0.0.1:PORT and INBOX_IMAP_IDLE=off, and
once /healthz answers, --senders concurrent HTTP clients (asyncio + aiohttp, keep-alive
connections) post the webhooks: as fast as the server answers, or with --rate R spread
evenly at R requests/s (open loop: a request's latency counts from when it was due, so
waiting for a free sender while the server lags counts too).

The webhooks: --count distinct inbound messages, shaped like Twilio's own form posts
(SMS, and WhatsApp with ProfileName/WaId), Korean text, from --customers distinct
customer numbers, each signed with X-Twilio-Signature over the public URL and every
parameter. On top of those, --dup-rate of them are delivered a second time, unchanged
(same MessageSid and signature, as Twilio's retries are), a few requests later, often
while the first delivery is still queued. Every signature is computed before the clock
starts, so the senders spend their time on HTTP only.

Measured:
  accept rate   webhook requests answered per second of sending (all answered 200 with
                empty TwiML, or counted as failed)
  latency       per request, client side (send to last byte of the answer): p50/p95/p99.
                Without --rate the senders always keep --senders requests in flight,
                so latency is about senders / accept rate (50 in flight at 250/s is
                200 ms); --rate shows the latency at a given load
  drain         after the last answer, how long until the consumer has stored every
                message and the queue (huey.db: task and schedule tables) is empty;
                the database is polled read-only
  stored/s      distinct messages stored per second, first request to last message stored
  lost          MessageSids sent (and answered 200) but not stored
  duplicated    stored rows beyond one per MessageSid
  RSS           peak resident memory of the server process (VmHWM), and at the end (VmRSS)
  CPU           server process CPU time; with the load average of the machine, which
                matters on a small shared box (client and server share its cores)

Targets (SQLite): >= 200 webhook requests/s, p95 < 100 ms, zero lost, zero duplicated.

--profile N skips the server: it posts N signed webhooks in this process through the
Flask test client, then runs the consumer's task for each queued webhook, each half
under cProfile, and prints where the time goes.

Examples:
    .venv/bin/python bench/webhooks.py                        # as fast as answered
    .venv/bin/python bench/webhooks.py --rate 200             # latency at 200 requests/s
    .venv/bin/python bench/webhooks.py --count 2000 --senders 20 --threads 16
    .venv/bin/python bench/webhooks.py --keep                 # keep the data dir and server.log
    .venv/bin/python bench/webhooks.py --profile 1000         # in-process cProfile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import os
import pstats
import random
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
TARGET_RPS = 200.0
TARGET_P95_MS = 100.0
ACCOUNT_SID = "AC" + "b3" * 16
AUTH_TOKEN = "f" * 8 + "bench-webhook-token" + "0" * 5
SMS_FROM = "+827012345678"
WHATSAPP_FROM = "+827012345679"

KOREAN = [
    "안녕하세요, 주문한 상품이 아직 도착하지 않았어요.",
    "배송 조회가 안 되는데 확인 부탁드립니다.",
    "환불 요청드립니다. 사이즈가 맞지 않아요.",
    "오늘 오후 3시에 방문 가능할까요?",
    "예약 변경하고 싶습니다. 다음 주 화요일로 가능한가요?",
    "감사합니다! 잘 받았습니다 😊",
    "결제가 두 번 된 것 같아요. 카드 내역 확인해 주세요.",
    "쿠폰 코드가 적용이 안 됩니다.",
    "상담원 연결 부탁드려요.",
    "영수증 다시 보내주실 수 있나요?",
    "주소를 잘못 입력했어요. 서울시 강남구 테헤란로 123으로 바꿔주세요.",
    "네 알겠습니다.",
    "혹시 재입고 일정이 있을까요?",
    "교환 신청했는데 회수 기사님이 안 오셨어요.",
    "문의드린 건 답변 언제쯤 받을 수 있을까요?",
]
CITIES = [("SEOUL", "11"), ("BUSAN", "26"), ("INCHEON", "28"), ("DAEGU", "27"), ("GWANGJU", "29")]


@dataclass
class Hook:
    sid: str
    body: bytes  # application/x-www-form-urlencoded, UTF-8
    signature: str


def customer_numbers(count: int, rng: random.Random) -> list[str]:
    """Distinct Korean mobile numbers (+82 10 xxxx xxxx), valid for phonenumbers."""
    seen: set[str] = set()
    while len(seen) < count:
        seen.add(f"+8210{rng.randint(2, 9)}{rng.randint(0, 9_999_999):07d}")
    return sorted(seen)


def make_form(i: int, number: str, whatsapp: bool, rng: random.Random) -> dict[str, str]:
    sid = f"SM{i:08x}{rng.getrandbits(96):024x}"
    text = " ".join(rng.sample(KOREAN, rng.randint(1, 3)))
    if whatsapp:
        return {
            "SmsMessageSid": sid, "NumMedia": "0", "ProfileName": f"고객{number[-4:]}",
            "MessageType": "text", "SmsSid": sid, "WaId": number.lstrip("+"), "SmsStatus": "received",
            "Body": text, "To": f"whatsapp:{WHATSAPP_FROM}", "NumSegments": "1", "ReferralNumMedia": "0",
            "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": f"whatsapp:{number}", "ApiVersion": "2010-04-01",
        }  # fmt: skip
    city, state = rng.choice(CITIES)
    return {
        "ToCountry": "KR", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "", "FromZip": "",
        "SmsSid": sid, "FromState": state, "SmsStatus": "received", "FromCity": city, "Body": text,
        "FromCountry": "KR", "To": SMS_FROM, "ToZip": "", "NumSegments": str(1 + len(text.encode()) // 140),
        "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": number, "ApiVersion": "2010-04-01",
    }  # fmt: skip


def build_hooks(url: str, count: int, customers: int, dup_rate: float, whatsapp_share: float, seed: int):
    """The request sequence (duplicates a few positions after their original) and the
    set of distinct MessageSids."""
    from twilio.request_validator import RequestValidator

    rng = random.Random(seed)
    validator = RequestValidator(AUTH_TOKEN)
    numbers = customer_numbers(customers, rng)
    # A few customers write a lot, most a little (as in a real inbox).
    weights = [1.0 / (rank + 1) ** 0.6 for rank in range(len(numbers))]
    whatsapp_users = set(rng.sample(numbers, int(len(numbers) * whatsapp_share)))
    hooks = []
    for i, number in enumerate(rng.choices(numbers, weights, k=count)):
        form = make_form(i, number, number in whatsapp_users, rng)
        hooks.append(Hook(form["MessageSid"], urlencode(form).encode(), validator.compute_signature(url, form)))
    order = [(float(i), h) for i, h in enumerate(hooks)]
    for i in rng.sample(range(count), round(count * dup_rate)):
        order.append((i + 1 + rng.randint(0, 100) + 0.5, hooks[i]))
    order.sort(key=lambda item: item[0])
    return [h for _, h in order], {h.sid for h in hooks}


# --- the server ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(data_dir: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        INBOX_DATA_DIR=str(data_dir),
        INBOX_DATABASE_URL=f"sqlite:///{data_dir / 'inbox.db'}",
        INBOX_HUEY_URL=f"sqlite:///{data_dir / 'huey.db'}",
        INBOX_BASE_URL=f"http://127.0.0.1:{port}",
        INBOX_IMAP_IDLE="off",
        INBOX_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    return env


def add_channel(env: dict[str, str]) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "inbox.cli", "channel", "add-twilio", "--name", "Bench Twilio",
         "--account-sid", ACCOUNT_SID, "--sms-from", SMS_FROM, "--whatsapp-from", WHATSAPP_FROM],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"\(id (\d+)\)", out)
    if not match:
        raise SystemExit(f"could not read the channel id from: {out!r}")
    return int(match.group(1))


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode} before answering /healthz")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not answer /healthz in time")


def proc_status(pid: int) -> dict[str, int]:
    found = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "Threads"):
                    found[key] = int(value.split()[0])
    except OSError:
        pass
    return found


def proc_cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


# --- sending -------------------------------------------------------------------------


async def send_all(url: str, sequence: list[Hook], senders: int, timeout: float, rate: float = 0.0):
    """Post every webhook from ``senders`` concurrent keep-alive connections. With
    ``rate`` (requests/s) request i is due at start + i/rate and its latency counts from
    then, so time spent waiting for a free sender when the server falls behind counts too;
    without, each sender posts its next webhook as soon as the last one is answered."""
    import aiohttp

    latencies = [math.nan] * len(sequence)
    statuses: list[int | str] = [0] * len(sequence)
    cursor = iter(range(len(sequence)))
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8", "User-Agent": "TwilioProxy/1.1"}
    connector = aiohttp.TCPConnector(limit=senders, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        begin = time.perf_counter()

        async def sender():
            for i in cursor:
                hook = sequence[i]
                if rate:
                    started = begin + i / rate
                    if started > time.perf_counter():
                        await asyncio.sleep(started - time.perf_counter())
                else:
                    started = time.perf_counter()
                try:
                    async with session.post(
                        url, data=hook.body, headers={**headers, "X-Twilio-Signature": hook.signature}
                    ) as response:
                        await response.read()
                        statuses[i] = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    statuses[i] = type(exc).__name__
                latencies[i] = time.perf_counter() - started

        await asyncio.gather(*(sender() for _ in range(senders)))
    return latencies, statuses


# --- checking ------------------------------------------------------------------------


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def stored_counts(data_dir: Path, channel_id: int) -> tuple[int, int]:
    with _ro(data_dir / "inbox.db") as conn:
        return conn.execute(
            "SELECT count(*), count(DISTINCT provider_id) FROM message WHERE channel_id = ? AND direction = 'in'",
            (channel_id,),
        ).fetchone()


def queued_tasks(data_dir: Path) -> int:
    with _ro(data_dir / "huey.db") as conn:
        return sum(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("task", "schedule"))


def stored_sids(data_dir: Path, channel_id: int) -> set[str]:
    with _ro(data_dir / "inbox.db") as conn:
        rows = conn.execute("SELECT provider_id FROM message WHERE channel_id = ? AND direction = 'in'", (channel_id,))
        return {sid for (sid,) in rows}


def wait_drained(data_dir: Path, channel_id: int, expected: int, timeout: float, proc: subprocess.Popen):
    """Poll until every message is stored and the queue is empty; returns the moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            _, distinct = stored_counts(data_dir, channel_id)
            if distinct >= expected and queued_tasks(data_dir) == 0:
                return time.perf_counter()
        except sqlite3.OperationalError:  # locked for a moment by a checkpoint
            pass
        time.sleep(0.02)
    return None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1000


# --- the run -------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    command = shlex.join([os.path.relpath(sys.executable, Path.cwd()), *sys.argv])
    data_dir = Path(tempfile.mkdtemp(prefix="inbox-webhooks-", dir=args.dir))
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(data_dir, port)
    print(f"data dir {data_dir}, server {base}, {args.threads} web threads, {args.workers or 'default'} workers")
    channel_id = add_channel(env)
    url = f"{base}/webhooks/twilio/{channel_id}/inbound"

    t0 = time.perf_counter()
    sequence, sids = build_hooks(url, args.count, args.customers, args.dup_rate, args.whatsapp_share, args.seed)
    print(f"signed {len(sequence)} webhooks ({len(sids)} distinct MessageSids) in {time.perf_counter() - t0:.1f} s")

    if args.workers:
        env["INBOX_WORKERS"] = str(args.workers)
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115  (open for the server's lifetime)
    proc = subprocess.Popen(
        [sys.executable, "-m", "inbox.cli", "serve", "--port", str(port), "--threads", str(args.threads)],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_healthy(base, proc)
        load_before = os.getloadavg()[0]
        cpu_before = proc_cpu_seconds(proc.pid)
        started = time.perf_counter()
        latencies, statuses = asyncio.run(send_all(url, sequence, args.senders, args.request_timeout, args.rate))
        sent = time.perf_counter()
        backlog = queued_tasks(data_dir)
        stored_at_end_of_sending = stored_counts(data_dir, channel_id)[1]
        accepted = {h.sid for h, status in zip(sequence, statuses, strict=True) if status == 200}
        drained = wait_drained(data_dir, channel_id, len(accepted), args.drain_timeout, proc)
        status = proc_status(proc.pid)
        cpu = proc_cpu_seconds(proc.pid) - cpu_before
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()

    rows, distinct = stored_counts(data_dir, channel_id)
    stored = stored_sids(data_dir, channel_id)
    lost = len(accepted - stored)
    unexpected = len(stored - sids)
    duplicated = rows - distinct
    failed = [s for s in statuses if s != 200]
    ok_latencies = [lat for lat, s in zip(latencies, statuses, strict=True) if s == 200]
    send_seconds = sent - started
    rps = len(sequence) / send_seconds
    p50, p95, p99 = (pct(ok_latencies, q) for q in (0.50, 0.95, 0.99)) if ok_latencies else (math.nan,) * 3
    drain = (drained - sent) if drained else math.nan
    end_to_end = len(accepted) / (drained - started) if drained else math.nan
    passed = {
        "rps": rps >= TARGET_RPS,
        "p95": p95 < TARGET_P95_MS,
        "lost": lost == 0 and drained is not None and not failed,
        "duplicated": duplicated == 0,
    }

    def mark(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    lines = [
        ("webhook requests", f"{len(sequence)} ({len(sids)} distinct, {len(sequence) - len(sids)} redelivered)", ""),
        ("senders / web threads", f"{args.senders} / {args.threads}", ""),
        ("offered load", f"{args.rate:g} requests/s" if args.rate else "as fast as answered", ""),
        (
            "load average (1 min)",
            f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} CPUs",
            "",
        ),
        ("failed requests", f"{len(failed)}" + (f" {sorted(set(map(str, failed)))}" if failed else ""), ""),
        ("accept rate", f"{rps:.0f} requests/s ({send_seconds:.1f} s)", f">= {TARGET_RPS:.0f}  {mark(passed['rps'])}"),
        ("latency p50", f"{p50:.1f} ms", ""),
        ("latency p95", f"{p95:.1f} ms", f"< {TARGET_P95_MS:.0f}  {mark(passed['p95'])}"),
        ("latency p99", f"{p99:.1f} ms", ""),
        ("latency max", f"{max(ok_latencies) * 1000:.1f} ms" if ok_latencies else "-", ""),
        ("stored when sending ended", f"{stored_at_end_of_sending} (queue backlog {backlog} tasks)", ""),
        ("drain time", f"{drain:.1f} s" if drained else f"not drained in {args.drain_timeout:.0f} s", ""),
        ("stored/s end to end", f"{end_to_end:.0f} messages/s", ""),
        ("lost", f"{lost}", f"0  {mark(passed['lost'])}"),
        (
            "duplicated",
            f"{duplicated}" + (f" (+{unexpected} unknown SIDs)" if unexpected else ""),
            f"0  {mark(passed['duplicated'])}",
        ),  # fmt: skip
        ("server RSS peak (VmHWM)", f"{status.get('VmHWM', 0) / 1024:.0f} MB", ""),
        ("server RSS at end (VmRSS)", f"{status.get('VmRSS', 0) / 1024:.0f} MB", ""),
        ("server CPU time", f"{cpu:.1f} s ({cpu / ((drained or sent) - started) * 100:.0f}% of one core)", ""),
    ]
    print()
    print(f"command: {command}")
    width = max(len(name) for name, _, _ in lines)
    for name, value, target in lines:
        print(f"  {name:<{width}}  {value:<44} {target}".rstrip())
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "command": command,
                    "requests": len(sequence),
                    "distinct": len(sids),
                    "failed": len(failed),
                    "requests_per_s": rps,
                    "p50_ms": p50,
                    "p95_ms": p95,
                    "p99_ms": p99,
                    "drain_s": drain,
                    "stored_per_s": end_to_end,
                    "lost": lost,
                    "duplicated": duplicated,
                    "vmhwm_kib": status.get("VmHWM"),
                    "targets_met": passed,
                },
                indent=2,
            )  # fmt: skip
        )
    if args.keep:
        print(f"kept {data_dir} (server.log, inbox.db, huey.db)")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if all(passed.values()) else 1


def profile(args: argparse.Namespace) -> int:
    """The webhook half and the consumer half in this process, each under cProfile."""
    data_dir = Path(tempfile.mkdtemp(prefix="inbox-webhooks-profile-", dir=args.dir))
    base = "http://127.0.0.1:8000"
    os.environ.update({k: v for k, v in server_env(data_dir, 8000).items() if k.startswith("INBOX_")})
    sys.path.insert(0, str(ROOT))
    channel_id = add_channel(dict(os.environ, PYTHONPATH=str(ROOT)))
    import tasks
    from inbox import create_app
    from inbox.queue import huey

    app = create_app()
    client = app.test_client()
    url = f"{base}/webhooks/twilio/{channel_id}/inbound"
    sequence, _ = build_hooks(url, args.profile, args.customers, args.dup_rate, args.whatsapp_share, args.seed)
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
    path = url.removeprefix(base)

    def post_all():
        for hook in sequence:
            response = client.post(path, data=hook.body, headers={**headers, "X-Twilio-Signature": hook.signature})
            assert response.status_code == 200, response.status_code

    def consume_all():
        while (message := huey.storage.dequeue()) is not None:
            task = huey.deserialize_task(message)
            tasks.twilio_inbound.call_local(*task.args, **task.kwargs)

    for name, fn in (("webhook requests (Flask test client)", post_all), ("consumer tasks", consume_all)):
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.runcall(fn)
        took = time.perf_counter() - started
        print(f"\n== {name}: {len(sequence)} in {took:.2f} s, {took / len(sequence) * 1000:.2f} ms each ==")
        stats = pstats.Stats(profiler).strip_dirs().sort_stats(args.sort)
        stats.print_stats(args.profile_top)
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/webhooks.py",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--count", type=int, default=10_000, help="distinct messages posted (default 10000)")
    parser.add_argument("--dup-rate", type=float, default=0.05, help="share delivered twice (default 0.05)")
    parser.add_argument("--customers", type=int, default=1000, help="distinct customer numbers (default 1000)")
    parser.add_argument("--whatsapp-share", type=float, default=0.4, help="customers on WhatsApp (default 0.4)")
    parser.add_argument("--senders", type=int, default=50, help="concurrent senders (default 50)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="offered requests/s, spread evenly (default 0: as fast as answered)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=8, help="`inbox serve --threads` (default 8, its default)")
    parser.add_argument("--workers", type=int, default=None, help="INBOX_WORKERS for the consumer (default: unset)")
    parser.add_argument("--port", type=int, default=None, help="server port (default: a free one)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--request-timeout", type=float, default=60.0, help="seconds per request (default 60)")
    parser.add_argument(
        "--drain-timeout", type=float, default=900.0, help="seconds to wait for the queue (default 900)"
    )
    parser.add_argument("--dir", default=None, help="parent of the fresh data dir (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (databases and server.log)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile N webhooks in-process instead")
    parser.add_argument("--profile-top", type=int, default=25, help="functions shown per profile (default 25)")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key for --profile (default cumulative)")
    args = parser.parse_args()
    if args.count < 1 or args.senders < 1 or args.rate < 0 or not 0 <= args.dup_rate <= 1:
        parser.error("--count and --senders must be positive, --rate not negative, --dup-rate within 0..1")
    return profile(args) if args.profile else run(args)


if __name__ == "__main__":
    sys.exit(main())
