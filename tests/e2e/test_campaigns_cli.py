"""`cds-bot campaigns list|show|pause|resume|run` on the demo community's database."""

from __future__ import annotations

import subprocess
import sys

from tests.e2e.conftest import TIMEOUT, Console


def cli(console: Console, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "campaigns", *args, "--db", console.url],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=console.directory,
        env=console.env(),
        timeout=TIMEOUT,
        check=False,
    )


def test_campaigns_from_the_command_line(console: Console) -> None:
    console.run()  # seeds the demo community and its campaigns
    listed = cli(console, "list")
    assert listed.returncode == 0, listed.stderr
    assert "DEMOSPOT" in listed.stdout and "spotlight" in listed.stdout
    assert "DEMOPOLL" in listed.stdout

    paused = cli(console, "pause", "1")
    assert paused.stdout.strip() == "campaign 1: active -> paused"
    assert cli(console, "pause", "1").stdout.strip() == "campaign 1 is already paused"
    assert cli(console, "resume", "1").stdout.strip() == "campaign 1: paused -> active"
    audit = console.query("SELECT action FROM audit_log WHERE subject = 'campaign:1'")
    assert audit == [("campaign.pause",), ("campaign.resume",)]

    ran = cli(console, "run", "1")
    assert ran.returncode == 0, ran.stderr
    assert "Project spotlight" in ran.stdout  # the console delivery, shown here
    assert "of campaign 1: done" in ran.stdout
    assert "console: 1 sent" in ran.stdout

    shown = cli(console, "show", "1")
    assert "campaign 1 (DEMOSPOT)" in shown.stdout
    assert "next runs (local):" in shown.stdout
    assert "deliveries 1: 1 sent" in shown.stdout
    assert "slot manual:" in shown.stdout

    missing = cli(console, "show", "42")
    assert missing.returncode == 1
    assert "no campaign 42" in missing.stderr
    assert "Traceback" not in missing.stderr
