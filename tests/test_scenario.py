"""``hotline scenario load``: a fast filler for benchmarks and screenshots — the seed province's
seven months written in their final states with COPY, bypassing the IVR, the queues, the
lifecycle, the outbox and the survey. What it writes is its own mix (the seed's totals by
construction); no test of the report's figures reads it: those run over a replayed week
(``tests.support.replay``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_cli import base_env
from tickets.agencies import load_province
from tickets.model import Line
from tickets.scenario import generate


def test_given_a_seed_when_the_scenario_is_generated_twice_then_it_is_identical_and_another_seed_differs_but_keeps_the_mix() -> (
    None
):
    province = load_province()

    first, again, other = generate(province, 7), generate(province, 7), generate(province, 8)

    assert first == again
    assert [t.created_at for t in first.tickets] != [t.created_at for t in other.tickets]
    for scenario in (first, other):
        assert len(scenario.tickets) == 3057 + 3173
        assert len({t.agency_code for t in scenario.tickets if t.forwarded_at}) == 47
        medical = [t for t in scenario.tickets if t.line is Line.MEDICAL]
        asked = {d.ticket_key for d in scenario.dispatches}
        sent = [t for t in medical if t.dispatched_at is not None]
        assert len(medical) == 3173
        assert len(sent) == 2785
        assert {t.key for t in sent} == asked & {t.key for t in medical}
        assert sum(t.outcome in ("handled", "transported") for t in medical) == 1482
        assert not any(t.on_scene_at or t.facility_code for t in medical if not t.dispatched_at)
        assert all(t.status.value == "closed" for t in medical)


def test_given_an_empty_database_when_the_scenario_is_loaded_then_it_writes_its_tickets_once_and_says_it_is_a_filler(
    database_url: str, tmp_path: Path
) -> None:
    def hotline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hotline", "scenario", *args],
            env=base_env(tmp_path, database_url),
            capture_output=True,
            text=True,
            timeout=110,
        )

    assert "filler" in hotline("--help").stdout
    loaded = hotline("load", "--seed", "1022")
    assert loaded.returncode == 0, loaded.stderr
    assert "6230 tickets" in loaded.stdout  # 3,057 on 1022 + 3,173 on 115
    again = hotline("load", "--seed", "1022")
    assert again.returncode == 1
    assert "already loaded" in again.stderr
