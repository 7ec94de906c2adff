"""`/clock` in the console: the bot's time, moved forward to watch the demo campaigns fire."""

from __future__ import annotations

from tests.e2e.conftest import Console


def test_moving_the_clock_fires_the_demo_campaigns_in_the_group(console: Console) -> None:
    run = console.run("/clock", "/in souss-massa", "/clock +4d", "/clock +1x", as_name="alice")
    assert "the bot's clock: " in run
    assert "campaign run(s) fired" in run
    # The weekly spotlight (Mondays and Thursdays) and the poll (two days after the first
    # start) fall within any four days; both are posted in the demo group.
    # alice is in the group: its messages are shown in place.
    shown = run.after("campaign run(s) fired")
    assert "Project spotlight" in shown and "I can help" in shown
    assert "Which theme would you like to see more often?" in shown
    targets = console.query("SELECT DISTINCT target, status FROM deliveries WHERE run_id > 0")
    assert targets == [("console:chat:souss-massa", "sent")]
    assert "usage: /clock" in run
    fired = console.query("SELECT slot, status FROM campaign_runs ORDER BY id")
    assert fired and all(status in ("dispatching", "done") for _slot, status in fired)

    # A new process starts from the real time again: what already ran is not run again.
    again = console.run("/clock +4d", as_name="alice")
    slots = [slot for (slot,) in console.query("SELECT slot FROM campaign_runs")]
    assert len(slots) == len(set(slots))
    assert "Traceback" not in again.stderr
