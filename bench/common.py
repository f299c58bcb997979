"""What the benchmark scripts share: where the dataset lives and how the app is pointed at it.

The settings are read when ``inbox.queue`` and ``tasks`` are imported, so ``configure()``
must run before anything from ``inbox`` or ``tasks`` is imported."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = "/tmp/inbox-bench"
PASSWORD = "bench-password-2024"
META_FILE = "bench.json"
DB_FILE = "inbox.db"


def configure(data_dir: str | Path) -> Path:
    """Point INBOX_DATA_DIR / INBOX_DATABASE_URL / INBOX_HUEY_URL at ``data_dir``."""
    if "inbox" in sys.modules or "tasks" in sys.modules:
        raise RuntimeError("configure() must run before inbox or tasks is imported")
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["INBOX_DATA_DIR"] = str(path)
    os.environ["INBOX_DATABASE_URL"] = f"sqlite:///{path / DB_FILE}"
    os.environ["INBOX_HUEY_URL"] = f"sqlite:///{path / 'huey.db'}"
    os.environ.setdefault("INBOX_DEFAULT_REGION", "KR")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return path


def rss_kib() -> dict[str, int]:
    """Resident memory of this process from /proc/self/status (KiB): current and peak."""
    found = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                found[key] = int(value.split()[0])
    return found


def dataset_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """The argument parser of a script that reads the dataset ``generate.py`` made: its
    help from the module docstring ``doc`` (first paragraph, then the rest), and --dir."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=doc.split("\n\n")[0],
        epilog=doc.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dir", default=DEFAULT_DIR, help=f"dataset directory made by generate.py (default {DEFAULT_DIR})"
    )
    return parser


def open_dataset(data_dir: str | Path) -> tuple[Path, dict] | None:
    """The dataset directory and its description (``generate.py``'s meta file), with
    the settings pointed at it (``configure``); None, with the reason printed, when
    there is no dataset there."""
    path = Path(data_dir).resolve()
    meta_path = path / META_FILE
    if not (path / DB_FILE).exists() or not meta_path.exists():
        print(f"no dataset in {path}: run bench/generate.py --dir {path} first", file=sys.stderr)
        return None
    meta = json.loads(meta_path.read_text())
    configure(path)
    return path, meta
