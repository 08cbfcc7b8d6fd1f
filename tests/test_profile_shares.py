"""bench.profile_shares: how a py-spy raw profile's samples are split into the README's shares."""

from __future__ import annotations

from bench.profile_shares import shares

LOOP = "run_forever (asyncio/base_events.py:607);_run_once (asyncio/base_events.py:1922)"
THREAD = "_bootstrap (threading.py:995);run (threading.py:975)"

RAW = f"""\
{LOOP};select (selectors.py:468) 40
{THREAD};_worker (concurrent/futures/thread.py:81) 7
 3
{THREAD};_worker (concurrent/futures/thread.py:83);_write (adapters/registry/database.py:92);execute (sqlalchemy/engine/base.py:1416) 5
{LOOP};_execute (activities/notifications.py:57);send (adapters/mail/smtp_relay.py:129);build_message (adapters/mail/smtp_relay.py:40);__setitem__ (email/message.py:420) 4
{LOOP};save_reseller (adapters/registry/sql.py:170);model_dump (pydantic/main.py:426) 2
{LOOP};_handle_activation (temporalio/worker/_workflow.py:394);decode_activation (temporalio/bridge/worker.py:318) 6
{LOOP};something_new (elsewhere.py:1) 1
{THREAD};something_else (elsewhere.py:2) 1
"""  # noqa: E501


def test_waiting_samples_are_idle_and_each_busy_sample_counts_once_in_its_first_share() -> None:
    total, idle, counted = shares(RAW.splitlines())
    assert total == 69
    assert idle == 40 + 7 + 3  # the selector, an idle executor thread, a stack without frames
    assert counted == {
        "registry (SQLAlchemy on SQLite or asyncpg)": 5 + 2,  # before payload conversion
        "building the MIME messages": 4,  # before the outbox that called it
        "SDK bridge calls (Rust core)": 6,
        "the rest of the event loop": 1,
        "other": 1,
    }
    assert sum(counted.values()) == total - idle
