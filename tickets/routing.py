"""Which agency a ticket goes to: rules category × subcategory × locality ⇒ agency.

The most specific rule wins. The ticket's locality is tried first, then each ancestor up to the
province (a ward's ticket falls back to its district's rules, then the province's); at each
level a rule naming the subcategory beats one for the whole category. No rule ⇒ the
coordinator agency, which forwards by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tickets.agencies import Province, RoutingRule
from tickets.model import Category


@dataclass(frozen=True)
class RouteDecision:
    agency_code: str
    rule: RoutingRule | None  # None: the coordinator fallback

    @property
    def fallback(self) -> bool:
        return self.rule is None


class Router:
    def __init__(
        self,
        rules: Iterable[RoutingRule],
        parents: Mapping[str, str | None],
        coordinator: str,
    ) -> None:
        self._rules = {(r.category, r.subcategory, r.locality_code): r for r in rules}
        self._parents = dict(parents)
        self._coordinator = coordinator

    @classmethod
    def of(cls, province: Province) -> Router:
        """The province's rules, locality tree and coordinator."""
        parents = {loc.code: loc.parent_code for loc in province.localities}
        return cls(province.rules, parents, province.coordinator)

    def lineage(self, locality: str | None) -> list[str | None]:
        """``locality``, its ancestors, then ``None`` (rules for anywhere)."""
        chain: list[str | None] = []
        seen: set[str] = set()
        current = locality
        while current is not None and current not in seen:
            seen.add(current)
            chain.append(current)
            current = self._parents.get(current)
        chain.append(None)
        return chain

    def route(
        self, category: Category, subcategory: str | None, locality: str | None
    ) -> RouteDecision:
        for level in self.lineage(locality):
            for sub in (subcategory, None) if subcategory is not None else (None,):
                rule = self._rules.get((category, sub, level))
                if rule is not None:
                    return RouteDecision(rule.agency_code, rule)
        return RouteDecision(self._coordinator, None)
