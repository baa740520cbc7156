"""Actors, roles and jurisdictions: who may act on what."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

import attrs

from ._checks import check_id, check_text
from .exceptions import PayloadError

__all__ = ["ROLES", "Actor", "AreaRegistry"]

#: Roles of an inspection (domain.md §6), with their Chinese names.
ROLES: Mapping[str, str] = {
    "leading_office": "督察工作领导小组办公室（督察办）",
    "inspection_team": "督察组",
    "inspected_party": "被督察对象",
    "liaison": "联络组",
    "rectification_office": "整改办",
    "owner_unit": "责任单位",
    "accepting_unit": "验收单位",
    "discipline": "纪委监委",
    "public": "公众",
    "system": "系统",
}

_GBT2260 = re.compile(r"^\d{6}$")


@attrs.frozen(cache_hash=True)
class Actor:
    """Someone acting on the ledger: a role within an area, optionally named.

    Args:
        role: one of :data:`ROLES` (or a role a rulebook defines).
        area: the actor's jurisdiction, a GB/T 2260 division code (``430900``) or a
            code registered in the ledger's :class:`AreaRegistry` (``430971``, 大通湖区).
        name: the person or unit, recorded in the audit trail.
    """

    role: str
    area: str
    name: str = ""

    def __attrs_post_init__(self) -> None:
        # Checked as text because they are hashed as given and stored as text: an int
        # area would read back as a string and fail its own hash.
        check_id(self.role, "role", event="actor")
        check_id(self.area, "area", event="actor")
        check_text(self.name, "name", event="actor", empty=True)

    def to_dict(self) -> dict[str, str]:
        """Return the actor as plain data."""
        return {"role": self.role, "area": self.area, "name": self.name}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> Actor:
        """Rebuild an actor from :meth:`to_dict`."""
        return cls(data["role"], data["area"], data.get("name", ""))


class AreaRegistry:
    """Administrative areas and their parents, to decide jurisdiction.

    GB/T 2260 codes need no registration: ``430000`` (a province) contains ``4309xx``
    (its cities) which contain their counties.  Areas without a GB/T 2260 code — a
    management zone such as 大通湖区, a high-tech zone — are registered with their
    parent, under the code in common use (the national statistics code ``430971``).

    An alias (:meth:`register_alias`) is another id of a registered area, such as an
    id a ledger used before the area had a code: entities recorded under either are
    one place to jurisdiction, :meth:`Ledger.find` and counts by area.  Events keep the
    id they were recorded with; the mapping is made when asked.
    """

    __slots__ = ("_aliases", "_listed", "_names", "_parents", "generation")

    def __init__(self, areas: Mapping[str, tuple[str, str | None]] | None = None) -> None:
        self._parents: dict[str, str | None] = {}
        self._names: dict[str, str] = {}
        self._aliases: dict[str, str] = {}
        # Cities whose county-level divisions are registered: another county-level code
        # under them is a misspelling, not an area the registry merely has no name for.
        self._listed: set[str] = set()
        #: Bumped on every registration, so cached jurisdiction answers can be dropped.
        self.generation = 0
        if areas is not None and not isinstance(areas, Mapping):
            raise PayloadError("-", "register_area", "areas", "must map codes to (name, parent)")
        for code, entry in (areas or {}).items():
            if not isinstance(entry, tuple) or len(entry) != 2:
                raise PayloadError("-", "register_area", str(code), "must be (name, parent)")
            self.register(code, *entry)

    def register(self, code: str, name: str, parent: str | None = None) -> None:
        """Register ``code`` named ``name`` under ``parent`` (``None``: a top level)."""
        check_id(code, "code", event="register_area")
        check_text(name, "name", event="register_area")
        if parent is not None:
            check_id(parent, "parent", event="register_area")
        if code in self._aliases:
            raise PayloadError(
                "-",
                "register_area",
                "code",
                f"{code} is registered as another id of {self._aliases[code]} "
                f"{self._names[self._aliases[code]]}; register that code instead",
            )
        self._parents[code] = parent if parent is not None else _gbt_parent(code)
        self._names[code] = name
        if _is_county_code(code):
            self._listed.add(code[:4] + "00")
        self.generation += 1

    def register_alias(self, alias: str, code: str) -> None:
        """Register ``alias`` as another id of the registered area ``code``.

        Args:
            alias: the other id, e.g. a placeholder used before the area had a code.
            code: the area's own code, already registered.

        Raises:
            PayloadError: ``code`` is not registered, or is itself an alias; ``alias``
                is a registered area or already an alias of another area.  Nothing
                changes.
        """
        check_id(alias, "alias", event="register_alias")
        check_id(code, "code", event="register_alias")
        if code not in self._names:
            hint = (
                f"it is itself another id of {self._aliases[code]}"
                if code in self._aliases
                else "register the area first"
            )
            raise PayloadError("-", "register_alias", "code", f"{code} is not an area: {hint}")
        if alias in self._names:
            raise PayloadError(
                "-",
                "register_alias",
                "alias",
                f"{alias} is the area {self._names[alias]}; an alias must be an id of no area",
            )
        if self._aliases.get(alias, code) != code:
            raise PayloadError(
                "-",
                "register_alias",
                "alias",
                f"{alias} is already an alias of {self._aliases[alias]}, not of {code}",
            )
        self._aliases[alias] = code
        self.generation += 1

    def canonical(self, code: str) -> str:
        """Return the area's own code: ``code`` itself unless it is an alias."""
        return self._aliases.get(code, code)

    def aliases(self) -> Mapping[str, str]:
        """Return the registered aliases, each mapped to its area's code."""
        return dict(self._aliases)

    def known(self, code: str) -> bool:
        """Whether ``code`` names an area.

        A registered code is known; so is any GB/T 2260 code (six digits), except a
        county-level one under a city whose county-level divisions are registered (a
        rulebook listing 益阳's counties makes ``430930`` a misspelling of ``430903``).
        """
        if code in self._names or code in self._aliases:
            return True
        if not _GBT2260.match(code):
            return False
        return not (_is_county_code(code) and code[:4] + "00" in self._listed)

    def suggest(self, text: str, n: int = 3) -> list[str]:
        """Return up to ``n`` registered areas close to ``text``, as ``"code name"``.

        ``text`` is compared with both codes and names, so a name (``赫山区``) or a
        misspelt code (``430930``) finds ``430903 赫山区``.
        """
        by_name = {name: code for code, name in self._names.items()}
        codes = difflib.get_close_matches(text, list(self._names), n=n, cutoff=0.6)
        for name in difflib.get_close_matches(text, list(by_name), n=n, cutoff=0.5):
            if by_name[name] not in codes:
                codes.insert(0 if name == text else len(codes), by_name[name])
        return [f"{c} {self._names[c]}" for c in codes[:n]]

    def name(self, code: str) -> str:
        """Return the area's name (an alias's area's), or its code where none is registered."""
        return self._names.get(self.canonical(check_id(code, "area")), code)

    def names(self) -> Mapping[str, str]:
        """Return the registered names by code."""
        return dict(self._names)

    def parent(self, code: str) -> str | None:
        """Return the area that contains ``code``, or ``None`` at the top."""
        code = self._aliases.get(code, code)
        if code in self._parents:
            return self._parents[code]
        check_id(code, "area")
        return _gbt_parent(code)

    def ancestors(self, code: str) -> Iterable[str]:
        """Yield ``code`` and every area containing it, innermost first."""
        seen: set[str] = set()
        current: str | None = code
        while current is not None and current not in seen:
            seen.add(current)
            yield current
            current = self.parent(current)

    def covers(self, outer: str, inner: str) -> bool:
        """Whether ``outer``'s jurisdiction includes ``inner``.

        An alias stands for its area, on either side.

        Raises:
            PayloadError: either code is not an area code (text).
        """
        if outer.__class__ is not str or inner.__class__ is not str:
            check_id(outer, "area")
            check_id(inner, "area")
        if self._aliases:
            outer = self._aliases.get(outer, outer)
            inner = self._aliases.get(inner, inner)
        if outer == inner:
            return True
        return any(a == outer for a in self.ancestors(inner))


def _is_county_code(code: str) -> bool:
    return bool(_GBT2260.match(code)) and code[4:] != "00"


def _gbt_parent(code: str) -> str | None:
    if not _GBT2260.match(code):
        return None
    if code[2:] == "0000":
        return None
    if code[4:] == "00":
        return code[:2] + "0000"
    return code[:4] + "00"
