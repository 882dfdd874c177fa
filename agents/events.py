"""AMI events as the domain sees them: a name and its fields, nothing of panoramisk."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class AmiEvent:
    name: str
    fields: Mapping[str, str]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    pbx: str = ""  # the PBX whose AMI sent it (its link's name, host:port)

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key.lower(), default)

    def int(self, key: str, default: int = 0) -> int:
        try:
            return int(self.get(key) or default)
        except ValueError:
            return default

    @classmethod
    def of(
        cls, fields: Mapping[str, object], at: datetime | None = None, pbx: str = ""
    ) -> AmiEvent:
        """From header/value pairs (case-insensitive; a repeated header keeps its last value)."""
        flat = {
            k.lower(): (v[-1] if isinstance(v, list) and v else str(v)) for k, v in fields.items()
        }
        return cls(flat.get("event", ""), flat, at or datetime.now(UTC), pbx)
