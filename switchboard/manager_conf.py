"""The AMI users of ``asterisk_conf/manager.conf``, read as Asterisk reads them: the emulator's
users in tests, the demo and ``hotline simulate`` are the ones an administrator deploys."""

from __future__ import annotations

import re
from pathlib import Path

MANAGER_CONF = Path(__file__).resolve().parent.parent / "asterisk_conf" / "manager.conf"


def manager_conf_grants(path: Path = MANAGER_CONF) -> dict[str, dict[str, set[str]]]:
    """Each user section's ``read`` and ``write`` classes, read as Asterisk reads them: ``;``
    starts a comment, the last line of a key wins, and a class counts only when it is a whole
    comma-separated token (manager.c ``get_perm`` / ``ast_instring``: ``" call"`` is not
    ``call``)."""
    grants: dict[str, dict[str, set[str]]] = {}
    section: str | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = re.sub(r"(?<!\\);.*", "", raw).strip()
        header = re.fullmatch(r"\[([^\]]+)\].*", line)
        if header:
            section = header.group(1)
            continue
        key, sep, value = line.partition("=")
        key = key.strip().lower()
        if section is None or section == "general" or not sep or key not in ("read", "write"):
            continue
        grants.setdefault(section, {"read": set(), "write": set()})[key] = set(
            value.lstrip(">").strip().split(",")
        )
    return grants
