"""The Prometheus alert rules in ``deploy/prometheus/`` are valid (``promtool check``), each
fires when it must and not before (``promtool test rules``), and every figure they read is one
that ``GET /metrics`` shows. promtool is Debian's ``prometheus`` package (scripts/test.sh)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from runtime.metrics import Metrics

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool(*args: str) -> str:
    done = subprocess.run(
        [PROMTOOL, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_given_the_rules_and_the_scrape_config_when_promtool_checks_them_then_they_are_valid() -> (
    None
):
    assert "SUCCESS: 9 rules found" in promtool("check", "rules", "hotline.rules.yml")
    promtool("check", "config", "prometheus.yml")


def test_given_each_alert_when_its_series_are_played_then_it_fires_when_it_must_and_not_before() -> (
    None
):
    rules = (DEPLOY / "hotline.rules.yml").read_text(encoding="utf-8")
    tests = (DEPLOY / "hotline.rules.test.yml").read_text(encoding="utf-8")
    alerts = set(re.findall(r"- alert: (\w+)", rules))
    tested = set(re.findall(r"alertname: (\w+)", tests))
    assert alerts == tested  # no alert without its test
    assert "SUCCESS" in promtool("test", "rules", "hotline.rules.test.yml")


def test_given_the_rules_when_their_figures_are_read_then_metrics_shows_each_of_them() -> None:
    rules = (DEPLOY / "hotline.rules.yml").read_text(encoding="utf-8")
    read = set(re.findall(r"\b(hotline_\w+)", rules))
    shown = {
        sample_name
        for family in Metrics().registry.collect()
        for sample_name in [family.name, f"{family.name}_total"]
    }
    assert read
    assert read <= shown, read - shown
