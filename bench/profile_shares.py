"""Where a worker's busy time goes, from a py-spy raw profile (bench/README.md).

    py-spy record --pid <worker> -d 25 --nonblocking --format raw -o profile.txt
    .venv/bin/python -m bench.profile_shares profile.txt

Each sample is a stack (`frame;frame;... count`). A sample whose innermost frame waits (the
selector, a lock or condition, an idle executor thread) is idle. Every other sample is counted
once, in the first of `SHARES` whose pattern its stack matches, so the order decides: the product's
own side effects come first, then the SDK, then the event loop.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

WAITING = re.compile(
    r"selectors\.py|\bselect \(|epoll|Condition\.wait|Event\.wait|_wait_for_tstate_lock"
    r"|SimpleQueue|queue\.py:\d+\)$"
)
"""An innermost frame that waits: the sample is idle."""
IDLE_THREAD = re.compile(r"_worker \(concurrent/futures/thread\.py:\d+\)$")
"""An executor thread with nothing to run."""

SHARES: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern))
    for name, pattern in (
        (
            "registry (SQLAlchemy on SQLite or asyncpg)",
            r"adapters/registry|sqlalchemy|sqlite|asyncpg",
        ),
        ("building the MIME messages", r"adapters/mail/mime|build_message|email/\w+\.py"),
        ("SMTP session", r"aiosmtplib"),
        (
            "local Partner Center and partner-program files",
            r"adapters/partner_center|adapters/partner_programs|adapters/json_",
        ),
        (
            "outbox and template rendering",
            r"activities/notifications|activities/email_templates|jinja2",
        ),
        (
            "payload conversion (converter, visitors, codec, pydantic)",
            r"temporalio/converter|_visitor|payload_codec|runtime/payload_converter|pydantic"
            r"|email_validator",
        ),
        ("workflow sandbox creating instances", r"_Instance\._create_instance|_Instance\.__init__"),
        ("SDK bridge calls (Rust core)", r"temporalio/bridge"),
        (
            "SDK worker and activity plumbing, interceptors",
            r"temporalio/worker|interceptor|runtime/",
        ),
        (
            "thread hand-offs",
            r"call_soon_threadsafe|_write_to_self|_read_from_self|run_in_executor"
            r"|ThreadPoolExecutor\.submit",
        ),
        ("logging", r"structlog|logging/"),
        ("workflow and domain code", r"\(workflows/|\(domain/|\(activities/"),
        ("the rest of the event loop", r"asyncio/"),
    )
]


def shares(lines: Iterable[str]) -> tuple[int, int, Counter[str]]:
    """(all samples, idle samples, busy samples by share name)."""
    total = idle = 0
    counted: Counter[str] = Counter()
    for line in lines:
        line = line.rstrip()
        if not line or " " not in line:
            continue
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        samples = int(number)
        total += samples
        innermost = stack.rsplit(";", 1)[-1]
        if WAITING.search(innermost) or IDLE_THREAD.search(innermost) or not stack:
            idle += samples
            continue
        name = next((name for name, pattern in SHARES if pattern.search(stack)), "other")
        counted[name] += samples
    return total, idle, counted


def main(path: Path) -> None:
    total, idle, counted = shares(path.read_text().splitlines())
    busy = total - idle
    print(f"{total} samples, {busy} not waiting")
    print("| where | share of the busy samples |")
    print("|---|---|")
    for name, samples in counted.most_common():
        print(f"| {name} | {100 * samples / busy:.1f}% |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="py-spy record --format raw output")
    main(parser.parse_args().profile)
