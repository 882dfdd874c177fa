"""The summary of ``hotline simulate`` as the text it prints: per line and in total, with the
operators Erlang C asks for over the run."""

from __future__ import annotations

from collections.abc import Sequence

from hotline.emulated.figures import Summary
from tickets.erlang import StaffingTarget, interval_staffing
from tickets.model import Line


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def render(summary: Summary, targets: dict[Line, StaffingTarget]) -> str:
    o = summary.options
    citizen, medical, total = (
        summary.lines[Line.CITIZEN],
        summary.lines[Line.MEDICAL],
        summary.total,
    )
    columns = (citizen, medical, total)

    def row(label: str, values: Sequence[str]) -> str:
        return f"{label:<34}" + "".join(f"{v:>10}" for v in values)

    lines = [
        f"hotline simulate: seed {o.seed}, scenario {o.scenario}, "
        f"{summary.simulated_seconds / 3600:.2f} simulated hours from "
        f"{o.start_hour:02d}:00 at ×{o.scale:g} ({summary.real_seconds:.0f} s real)",
        f"plan: {summary.planned} calls, fingerprint {summary.fingerprint}; placed "
        f"{summary.placed}; operators 1022: {o.operators_1022} (AHT {o.aht_1022:g} s), "
        f"115: {o.operators_115} (AHT {o.aht_115:g} s)",
        *(
            [f"instances: {o.instances} services on {o.instances} PBXs, one database"]
            if o.instances > 1
            else []
        ),
        "",
        row("", ["1022", "115", "total"]),
        row("calls", [str(c.calls + c.lost) for c in columns]),  # simulated: stored + lost
        row("tickets created", [str(c.tickets) for c in columns]),
        row("tickets lost", [str(c.lost) for c in columns]),
        row("reached a queue", [str(c.reached_queue) for c in columns]),
        row("answered", [str(c.answered) for c in columns]),
        row("answered within 15 s", [str(c.within_15) for c in columns]),
        row("answered within 20 s", [str(c.within_20) for c in columns]),
        row("service level 15 s", [_percent(c.level(c.within_15)) for c in columns]),
        row("service level 20 s", [_percent(c.level(c.within_20)) for c in columns]),
        row("ASA (s)", [_cell(c.asa) for c in columns]),
        row("abandoned in queue", [str(c.abandoned_in_queue) for c in columns]),
        row("hung up in the menu", [str(c.abandoned_in_menu) for c in columns]),
        row("AHT (s, statistics)", [_cell(c.aht) for c in columns]),
    ]
    hours = summary.simulated_seconds / 3600
    needed: list[str] = []
    for line, figures in ((Line.CITIZEN, citizen), (Line.MEDICAL, medical)):
        answer = None
        if hours > 0:
            answer = interval_staffing(
                figures.reached_queue, figures.aht, targets[line], summary.simulated_seconds
            )
        needed.append("–" if answer is None else str(answer.agents))
    lines.append(row("Erlang C operators needed", [*needed, ""]))
    lines.append(
        "  (calls that reached a queue and AHT over the run; "
        + ", ".join(
            f"{line.value}: {100 * t.level:g} % within {t.seconds} s" for line, t in targets.items()
        )
        + ")"
    )
    if summary.mismatches:
        lines.append("cross-check with the emulator: MISMATCH")
        lines += [f"  {m}" for m in summary.mismatches]
    else:
        lines.append("cross-check with the emulator: ok")
    return "\n".join(lines)
