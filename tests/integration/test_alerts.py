"""Webhook notifications from real runs: a failing run posts one message, repeats are held
back, recovery posts one more; with Redis down or flushed too, and a broken webhook never
fails a run. The receiver is a real HTTP server on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.coord.alerts import Incident, Notifier
from bucketpipe.coord.signals import Signals
from bucketpipe.jobs.cli import main
from bucketpipe.lake.layout import state_key
from bucketpipe.lake.ledger import read_ledger
from bucketpipe.lake.storage import LocalStore
from tests.conftest import free_port
from tests.support.finnhub_server import FREE_KEY, FakeFinnhub
from tests.support.webhook import WebhookReceiver, webhook

__all__ = ["webhook"]

FAILING = "/stock/earnings"


@pytest.fixture
def env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    finnhub_server: FakeFinnhub,
    webhook: WebhookReceiver,
) -> Path:
    lake = tmp_path / "lake"
    for name, value in {
        "BUCKETPIPE_LAKE": str(lake),
        "BUCKETPIPE_TEMP_DIR": str(tmp_path / "tmp"),
        "BUCKETPIPE_LOG_FORMAT": "json",
        "FINNHUB_API_KEY": FREE_KEY,
        "BUCKETPIPE_FINNHUB_URL": finnhub_server.url,
        "BUCKETPIPE_FINNHUB_BACKOFF_SECONDS": "0.01",
        "BUCKETPIPE_FINNHUB_MAX_RETRIES": "1",
        "BUCKETPIPE_ALERT_WEBHOOK_URL": webhook.url,
    }.items():
        monkeypatch.setenv(name, value)
    return lake


def ingest(run_id: str) -> int:
    return main(
        [
            "ingest",
            "finnhub",
            "--datasets",
            "quotes,earnings",
            "--symbols",
            "AAPL",
            "--ignore-cadence",
            "--run-id",
            run_id,
        ]
    )


def fail_earnings(server: FakeFinnhub) -> None:
    server.inject("status", status=500, times=1000, path=FAILING)


def heal(server: FakeFinnhub) -> None:
    with server.lock:
        server.faults.clear()


def test_a_failure_posts_once_repeats_are_held_back_and_recovery_posts_once(
    env: Path,
    finnhub_server: FakeFinnhub,
    webhook: WebhookReceiver,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    fail_earnings(finnhub_server)
    assert ingest("run-1") == 1
    assert len(webhook.messages) == 1
    (text,) = webhook.messages
    assert "ingest-finnhub failed" in text and "run-1" in text
    assert "Reason: /stock/earnings" in text and "HTTP 500" in text
    assert "Rerun: `bucketpipe ingest finnhub`" in text
    assert ingest("run-2") == 1
    assert len(webhook.messages) == 1, "the same incident is announced once per repeat window"
    heal(finnhub_server)
    assert ingest("run-3") == 0
    assert len(webhook.messages) == 2
    assert "ingest-finnhub recovered: run run-3 succeeded" in webhook.messages[1]
    assert ingest("run-4") == 0
    assert len(webhook.messages) == 2, "recovery is announced once"
    ledger = read_ledger(LocalStore(env), "ingest-finnhub")
    assert ledger is not None and ledger.runs == {"failed": 2, "succeeded": 2}


def test_with_redis_down_the_lake_keeps_the_incident(
    env: Path,
    finnhub_server: FakeFinnhub,
    webhook: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
    monkeypatch.setenv("BUCKETPIPE_REDIS_TIMEOUT_SECONDS", "0.2")
    fail_earnings(finnhub_server)
    assert ingest("run-1") == 1
    assert ingest("run-2") == 1
    assert len(webhook.messages) == 1
    assert (env / "_state" / "alerts" / "run-ingest-finnhub.json").is_file()
    heal(finnhub_server)
    assert ingest("run-3") == 0
    assert len(webhook.messages) == 2 and "recovered" in webhook.messages[1]
    assert not (env / "_state" / "alerts" / "run-ingest-finnhub.json").exists()


def test_a_flushed_redis_does_not_swallow_the_recovery(
    env: Path,
    finnhub_server: FakeFinnhub,
    webhook: WebhookReceiver,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    redis_server: object,
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    fail_earnings(finnhub_server)
    assert ingest("run-1") == 1
    redis_server.flush()  # type: ignore[attr-defined]
    heal(finnhub_server)
    assert ingest("run-2") == 0
    assert [m.split(":")[1].strip()[:22] for m in webhook.messages] == [
        "ingest-finnhub failed ",
        "ingest-finnhub recover",
    ]


def test_a_failing_webhook_never_fails_the_run_and_is_tried_again(
    env: Path,
    finnhub_server: FakeFinnhub,
    webhook: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    webhook.fail_with = 503
    assert ingest("run-1") == 0  # a healthy run: nothing to say
    fail_earnings(finnhub_server)
    assert ingest("run-2") == 1  # the run's own exit code, not the webhook's
    assert webhook.attempts == 2, "one retry at most"
    assert any("webhook post failed" in r.getMessage() for r in caplog.records)
    webhook.fail_with = None
    assert ingest("run-3") == 1
    assert len(webhook.messages) == 1, "an incident never announced is announced next time"
    assert all(webhook.url not in r.getMessage() for r in caplog.records)


def test_a_webhook_that_never_finishes_its_answer_does_not_hold_the_run(
    env: Path, finnhub_server: FakeFinnhub, webhook: WebhookReceiver
) -> None:
    """The post needs the answer's status, not its body: a webhook (or a proxy before it)
    answering 200 and then dripping a body a byte at a time, inside the read timeout, held
    the job at its end for as long as it liked."""
    import time

    webhook.drip_seconds = 120.0
    fail_earnings(finnhub_server)
    started = time.monotonic()
    assert ingest("run-1") == 1
    assert time.monotonic() - started < 60
    assert len(webhook.messages) == 1


def test_an_unreachable_lake_is_announced_without_redis(
    tmp_path: Path, webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for name, value in {
        "BUCKETPIPE_LAKE": "s3://nowhere/lake",
        "AWS_ENDPOINT_URL": dead,
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret-0123456789",
        "BUCKETPIPE_TEMP_DIR": str(tmp_path / "tmp"),
        "BUCKETPIPE_DEMO_DAYS": "1",
        "BUCKETPIPE_ALERT_WEBHOOK_URL": webhook.url,
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["ingest", "demo", "--symbols", "AAPL", "--run-id", "demo-1"]) == 75
    (text,) = webhook.messages
    assert "ingest-demo failed (run demo-1, exit code 75)" in text
    assert "cannot reach the object store" in text


def test_quality_below_threshold_and_the_object_limit_are_announced_once(
    env: Path, webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUCKETPIPE_QUALITY_THRESHOLDS", "100,100,100,100")
    monkeypatch.setenv("BUCKETPIPE_LAKE_OBJECT_LIMIT", "40")
    monkeypatch.setenv("BUCKETPIPE_DEMO_DAYS", "2")
    assert main(["ingest", "demo", "--symbols", "AAPL,MSFT", "--run-id", "demo-1"]) == 0
    assert main(["clean", "--run-id", "clean-1"]) == 0
    quality = [m for m in webhook.messages if "quality of" in m]
    objects = [m for m in webhook.messages if "objects" in m]
    assert quality and all("below its threshold" in m for m in quality)
    assert len({m.split("quality of ")[1].split()[0] for m in quality}) == len(quality)
    assert len(objects) == 1 and "of the bucket's limit of 40" in objects[0]
    sent = len(webhook.messages)
    assert main(["ingest", "demo", "--symbols", "AAPL,MSFT", "--run-id", "demo-2"]) == 0
    assert main(["clean", "--run-id", "clean-2"]) == 0
    assert len(webhook.messages) == sent, "open incidents are not announced again"


def test_an_open_incident_is_announced_again_after_the_repeat_window(
    tmp_path: Path, webhook: WebhookReceiver
) -> None:
    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    settings = Settings(alert_webhook_url=webhook.url, alert_repeat_minutes=60)

    def notifier() -> Notifier:  # a new process each time: state only from the lake
        made = Notifier.from_settings(
            settings, Signals(None), LocalStore(tmp_path), lambda n: state_key("alerts", n)
        )
        made.clock = lambda: now[0]
        return made

    incident = Incident("run-clean", "clean failed", ("Reason: test",))
    assert notifier().raise_incident(incident) == "sent"
    now[0] += timedelta(minutes=59)
    assert notifier().raise_incident(incident) == "suppressed"
    now[0] += timedelta(minutes=2)
    assert notifier().raise_incident(incident) == "sent"
    assert "still: open since 2030-01-01 00:00 UTC, seen 3x" in webhook.messages[-1]
    assert notifier().resolve("run-clean", "clean recovered") == "sent"
    assert notifier().resolve("run-clean", "clean recovered") == "none"
    assert len(webhook.messages) == 3


def test_a_message_quoting_a_strangers_text_mentions_no_one_and_loads_nothing(
    tmp_path: Path, webhook: WebhookReceiver
) -> None:
    """An error can quote a file's name or an API's answer. Posted as it was, `<!channel>` and
    `@here` notified everyone in Slack and Mattermost, `<https://...|text>` made a link and
    `![x](https://...)` an image each reader's chat client fetched."""
    settings = Settings(alert_webhook_url=webhook.url)
    notifier = Notifier.from_settings(
        settings, Signals(None), LocalStore(tmp_path), lambda n: state_key("alerts", n)
    )
    reason = (
        "Reason: orders/![x](https://evil.example/p.png) <!channel> @here "
        "<https://evil.example|log in> a&b mail@here.example"
    )
    assert notifier.raise_incident(Incident("run-clean", "clean failed", (reason,))) == "sent"
    (text,) = webhook.messages
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text and "&lt;https://evil.example|log in&gt;" in text
    assert "![" not in text and "!\u200b[x](https://evil.example/p.png)" in text
    assert "@\u200bhere " in text and "mail@here.example" in text  # an address stays as it is
    assert "a&amp;b" in text
    # What Slack shows once it reads its entities, with the zero-width spaces unseen:
    shown = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert reason in shown.replace("\u200b", "")
