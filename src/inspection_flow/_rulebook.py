"""Rulebooks: each round's values (hotline window, station-in length, deadlines, ladders,
permissions) as TOML data with sources, validated when loaded.

It is long because a rulebook has many tables and each is validated with its own precise
message naming the file and key.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import typing
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import attrs

from ._areas import ROLES
from ._builtin import LIFECYCLES
from ._checks import shown
from ._definitions import DeadlineBinding, Field, FieldType, Lifecycle, State, Transition
from ._guards import DERIVATIONS, GUARDS
from ._rules import (
    Channel,
    DailyWindow,
    DeadlineRule,
    EarlyWarning,
    EscalationStep,
    IntakeRule,
)
from ._wording import Lang
from .exceptions import DefinitionError, InspectionFlowError, RulebookError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "BUILTIN_RULEBOOKS",
    "Ladder",
    "Rulebook",
    "RulebookValue",
    "load_rulebook",
    "regime_in_force",
]

#: The rulebooks shipped with the library.  ``central`` names the current central regime
#: and, when a round is created under it, lets the round's date choose among
#: ``central-2019``, ``central-2022`` and ``central-2025`` (docs/rulebooks.md, "Regimes").
BUILTIN_RULEBOOKS = (
    "central",
    "central-2019",
    "central-2022",
    "central-2025",
    "hunan-provincial-2023",
)

_TOP_KEYS = {
    "rulebook",
    "review",
    "recording",
    "intake",
    "deadlines",
    "ladders",
    "dispatch",
    "acceptance",
    "areas",
    "bindings",
    "permissions",
    "transitions",
    "roles",
    "lifecycles",
}
_RULEBOOK_KEYS = {
    "name",
    "title",
    "level",
    "extends",
    "regime",
    "effective_from",
    "effective_until",
    "regimes",
    "source",
    "confidence",
}
_INTAKE_KEYS = {
    "hotline_opens",
    "hotline_closes",
    "windowed_channels",
    "outside_round",
    "acceptance_number",
    "channel_letters",
    "source",
    "confidence",
}

#: What receiving a complaint about an area outside the round's does (``[intake]
#: outside_round``): refuse it, or record it as passed on to that area's own authorities.
OUTSIDE_ROUND = ("refuse", "pass_on")
#: The letters published acceptance numbers give the channels: D (电) a call, X (信) a
#: written complaint.
CHANNEL_LETTERS = {"phone": "D", "letter": "X", "mailbox": "X", "email": "X", "visit": "X"}
_DISPATCH_KEYS = {
    "cadence",
    "source",
    "confidence",
    "report_day",
    "report_source",
    "report_confidence",
}
_REVIEW_KEYS = {"levels", "acceptance", "source", "confidence"}
#: The review levels a rulebook may name (``[review]``): the owner's own county, the city,
#: the province (a central round's 省级协调联络组) and the inspection team.
REVIEW_LEVELS = ("county", "city", "province", "team")
#: A complaint's result goes from its owner straight to the team unless the rulebook
#: names the levels between; no acceptance review is required unless it names some.
DEFAULT_RELAY = ("county", "team")
_ACCEPTANCE_KEYS = {"by", "source", "confidence"}
#: Who may accept a rectification task (``[acceptance] by``): a unit of a higher level
#: than the task's areas, or the task's lead unit (牵头单位), the leading industry
#: department.
ACCEPTORS = ("higher_level", "industry_department")
_RECORDING_KEYS = {"backdate_limit"}
_AREA_KEYS = {"name", "parent", "aliases"}
_PERMISSION_KEYS = {"lifecycle", "event", "roles"}
_TRANSITION_KEYS = {"lifecycle", "event", "sources", "target", "roles", "label_zh", "label_en"}
_BINDING_KEYS = {
    "lifecycle",
    "name",
    "rule",
    "starts_on",
    "on_enter",
    "met_by",
    "cancelled_by",
    "reopened_by",
    "kind",
    "label_zh",
    "label_en",
}
_LIFECYCLE_KEYS = {
    "name",
    "kind",
    "label_zh",
    "label_en",
    "initial",
    "creators",
    "states",
    "fields",
    "transitions",
    "deadlines",
    "source",
    "confidence",
}
_STATE_KEYS = {"name", "label_zh", "label_en", "terminal", "counts_as", "outlives_round"}
_FIELD_KEYS = {"name", "type", "required", "choices", "label_zh", "labels_zh"}
# The field types a TOML lifecycle may use: those a Field takes.
_FIELD_TYPES: tuple[str, ...] = typing.get_args(FieldType)
_NEW_TRANSITION_KEYS = {
    "event",
    "sources",
    "target",
    "roles",
    "guards",
    "fields",
    "label_zh",
    "label_en",
    "records",
    "records_actor",
    "marks",
    "assigns",
    "sets_batch",
    "clock",
    "extends",
    "derive",
}
#: The one confidence scale (docs/rulebooks.md, "Confidence"): H quoted from a rule or an
#: announcement of the round, M from the same authority's practice, L inferred.
_CONFIDENCES = ("H", "M", "L")


def _read_only(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return a read-only view of a private copy of ``mapping``.

    The copy is what keeps a rulebook immutable: a view of the caller's own dict would
    change whenever the caller changed that dict.
    """
    return MappingProxyType(dict(mapping))


@attrs.frozen
class Ladder:
    """Warnings and escalation steps for a deadline whose date comes from the data.

    ``source`` and ``confidence`` label the ladder as a whole; a step that carries its
    own (an offset no rule publishes, marked ``L``) says so in its own fields.
    """

    warnings: tuple[EarlyWarning, ...] = ()
    escalations: tuple[EscalationStep, ...] = ()
    source: str = ""
    confidence: str = ""


@attrs.frozen
class RulebookValue:
    """One value of a rulebook in words, with where it comes from, for a report.

    Attributes:
        key: the dotted key, as in :attr:`Rulebook.notes` (``deadlines.plan``,
            ``ladders.task_deadline.escalations.summons_talk``, ``rulebook`` for the
            regime and its dates).
        value: the value in words, e.g. ``45个工作日（不含起算日）``.
        source: the public source the rulebook names.
        confidence: ``H``, ``M`` or ``L`` (docs/rulebooks.md, "Confidence").
    """

    key: str
    value: str
    source: str
    confidence: str


@attrs.frozen
class Rulebook:
    """The values of one inspection round, with where each comes from.

    Attributes:
        name: the rulebook's name, e.g. ``hunan-provincial-2023``.
        title: a human title.
        level: ``central``, ``provincial`` or ``municipal``.
        source: the file or package resource it was loaded from.
        intake: the hotline window and the channels it governs.
        rules: deadline rules by key (``station_in``, ``case_result``, ``plan``, …).
        ladders: warning/escalation ladders for deadlines whose dates come from the data.
        dispatch: progress dispatch cadence (``monthly`` or ``quarterly``).
        dispatch_report_day: the day of a dispatch's month by which progress reports are
            due (``[dispatch] report_day``): a day from 1 to 28, or ``"last"`` (月底),
            the default.
        areas: area codes with their names and parents.
        lifecycles: the lifecycle definitions, with this rulebook's changes applied.
        notes: the source and confidence of each value, by dotted key.
        outside_round: what a complaint about an area outside the round's areas gets:
            ``"refuse"`` (the default) or ``"pass_on"`` (recorded, and passed on to
            that area at once).
        backdate_limit: how far back a fact may be entered without a reason
            (``[recording] backdate_limit``); ``None``, the default, sets no limit.
        acceptance_number: the form of a complaint's acceptance number (受理编号), with
            the placeholders ``{channel}`` (the channel's letter), ``{day}`` (the intake
            day as YYYYMMDD) and ``{seq}`` (the day's sequence, e.g. ``{seq:04d}``);
            ``""``, the default, gives no numbers.
        channel_letters: the letter of each channel in an acceptance number.
        review_levels: the levels a complaint's result goes up through (``[review]
            levels``), from the owner's to the team's, e.g. ``("county", "city",
            "team")``: each level below the team forwards it or returns it (退回重办).
        acceptance_levels: the levels that review a case's acceptance (``[review]
            acceptance``), in order, e.g. ``("county", "city")`` (区级验收, 市级复核).
        area_aliases: other ids of the areas (``[areas.<code>] aliases``), each mapped
            to its area's code; entities recorded under an alias count as that area's.
        acceptance_by: who may verify and accept a rectification task (``[acceptance]
            by``): ``"higher_level"``, a unit whose area covers the task's areas and is
            none of them; ``"industry_department"``, the unit named as the task's lead
            unit (牵头单位); ``()``, the default, any accepting unit.
        regime: the rule or rules in force the values follow (``[rulebook] regime``),
            e.g. 《中央生态环境保护督察工作规定》; ``""`` if the rulebook names none.
        effective_from: the first day the regime is in force, or ``None``.
        effective_until: the last day it is in force, or ``None`` while it still is.
        regimes: for a generic name such as ``central``, the rulebooks among which a
            round's date chooses when the round is created (:func:`regime_in_force`);
            ``()`` for a rulebook that is itself one regime.

    A rulebook is immutable: its mappings are read-only views of copies made when it is
    built, so neither assigning into them nor changing the dicts it was built from
    changes it (assignment raises ``TypeError``).  Use :func:`attrs.evolve` to derive a
    changed rulebook.

    Examples:
        Load a built-in rulebook (or a TOML file) with :func:`load_rulebook`; each value
        carries its source and confidence:

        >>> from inspection_flow import load_rulebook
        >>> hunan = load_rulebook("hunan-provincial-2023")
        >>> hunan.rule("station_in").describe("en")
        '21 calendar days (start day counted; no roll)'
        >>> hunan.notes["deadlines.station_in"]
        ('益阳市督察工作简报第1期：进驻时间2023年6月26日至7月16日', 'H')
    """

    name: str
    title: str
    level: str
    source: str
    intake: IntakeRule
    rules: Mapping[str, DeadlineRule] = attrs.field(converter=_read_only)
    ladders: Mapping[str, Ladder] = attrs.field(converter=_read_only)
    dispatch: str
    areas: Mapping[str, tuple[str, str | None]] = attrs.field(converter=_read_only)
    lifecycles: Mapping[str, Lifecycle] = attrs.field(converter=_read_only)
    notes: Mapping[str, tuple[str, str]] = attrs.field(converter=_read_only)
    outside_round: str = "refuse"
    backdate_limit: DeadlineRule | None = None
    area_aliases: Mapping[str, str] = attrs.field(converter=_read_only, factory=dict)
    acceptance_number: str = ""
    channel_letters: Mapping[str, str] = attrs.field(
        converter=_read_only, factory=lambda: dict(CHANNEL_LETTERS)
    )
    dispatch_report_day: int | Literal["last"] = "last"
    review_levels: tuple[str, ...] = DEFAULT_RELAY
    acceptance_levels: tuple[str, ...] = ()
    acceptance_by: tuple[str, ...] = ()
    regime: str = ""
    effective_from: dt.date | None = None
    effective_until: dt.date | None = None
    regimes: tuple[str, ...] = ()

    def in_force(self, day: dt.date) -> bool:
        """Whether the rulebook's regime is in force on ``day`` (always, without dates)."""
        if self.effective_from is not None and day < self.effective_from:
            return False
        return self.effective_until is None or day <= self.effective_until

    def values(self, lang: Lang = "zh") -> tuple[RulebookValue, ...]:
        """Return every sourced value in words with its source and confidence, in the
        order of :attr:`notes`; a ladder step without a label of its own shows its
        ladder's.

        Raises:
            UnknownLanguageError: no wording table is registered for ``lang``.
        """
        out: list[RulebookValue] = []
        for key, (source, confidence) in self.notes.items():
            if key.startswith("ladders.") and key.count(".") > 1:
                continue  # a step with a label of its own: listed with its ladder below
            out.append(RulebookValue(key, self._value_words(key, lang), source, confidence))
            if key.startswith("ladders.") and key.count(".") == 1:
                ladder = self.ladders[key.split(".", 1)[1]]
                steps: list[tuple[str, EarlyWarning | EscalationStep]] = [
                    *(("warnings", w) for w in ladder.warnings),
                    *(("escalations", e) for e in ladder.escalations),
                ]
                for kind, step in steps:
                    out.append(
                        RulebookValue(
                            f"{key}.{kind}.{step.name}",
                            _step_words(step, lang),
                            step.source or source,
                            step.confidence or confidence,
                        )
                    )
        return tuple(out)

    def _value_words(self, key: str, lang: Lang) -> str:
        head, _, rest = key.partition(".")
        if head == "deadlines":
            return self.rules[rest].describe(lang)
        if head == "intake":
            channels = ", ".join(sorted(c.value for c in self.intake.windowed_channels))
            return f"{self.intake.window.describe()} ({channels})"
        if head == "ladders":
            ladder = self.ladders[rest]
            steps: tuple[EarlyWarning | EscalationStep, ...] = (
                *ladder.warnings,
                *ladder.escalations,
            )
            return ", ".join(_step_words(step, lang) for step in steps)
        if head == "review":
            accepting = ", ".join(self.acceptance_levels) or "none"
            return f"levels {' → '.join(self.review_levels)}; acceptance {accepting}"
        if key == "dispatch.report_day":
            return str(self.dispatch_report_day)
        if head == "dispatch":
            return self.dispatch
        if head == "acceptance":
            return ", ".join(self.acceptance_by)
        if head == "recording" and self.backdate_limit is not None:
            return self.backdate_limit.describe(lang)
        if head == "rulebook":
            since = self.effective_from.isoformat() if self.effective_from else ""
            until = self.effective_until.isoformat() if self.effective_until else ""
            return f"{self.regime} {since}–{until}".strip()
        return ""

    def rule(self, key: str) -> DeadlineRule:
        """Return the deadline rule ``key``.

        Raises:
            RulebookError: the rulebook has no such rule.
        """
        try:
            return self.rules[key]
        except KeyError:
            raise RulebookError(self.source, f"deadlines.{key}", "is not defined") from None

    def lifecycle(self, name: str) -> Lifecycle:
        """Return the lifecycle ``name`` as this rulebook configures it.

        Raises:
            RulebookError: no such lifecycle.
        """
        try:
            return self.lifecycles[name]
        except KeyError:
            raise RulebookError(
                self.source,
                f"lifecycle {name}",
                f"is not defined (defined: {', '.join(sorted(self.lifecycles))}); give the "
                f"ledger the rulebook that defines {name!r}: rulebook=load_rulebook(path), "
                "or rulebooks=[...] for a round's",
            ) from None

    def with_lifecycles(self, *lifecycles: Lifecycle) -> Rulebook:
        """Return this rulebook with ``lifecycles`` added (or replacing those of their names).

        Raises:
            RulebookError: a lifecycle's deadline needs a rule the rulebook lacks, a creator
                or a transition names a role neither the lifecycle nor the rulebook knows,
                or an argument is not a :class:`Lifecycle`.
        """
        found = dict(self.lifecycles)
        for lc in lifecycles:
            if not isinstance(lc, Lifecycle):
                raise RulebookError(self.source, "lifecycles", f"{shown(lc)} is not a Lifecycle")
            self._check_roles(lc)
            for b in lc.deadlines:
                if lc.needs_rule(b) and not b.rule_optional and b.rule not in self.rules:
                    raise RulebookError(
                        self.source,
                        f"deadlines.{b.rule}",
                        f"is required by the {lc.name} deadline {b.name!r}",
                    )
            found[lc.name] = lc
        return attrs.evolve(self, lifecycles=found)

    def _check_roles(self, lc: Lifecycle) -> None:
        """Refuse a creator or transition role that neither ``lc`` (its ``roles``) nor this
        rulebook knows.

        A lifecycle built in Python without ``roles`` checks none itself, so a misspelt
        role would otherwise surface only as a refusal of every command.
        """
        known = set(ROLES).union(lc.roles, *(other.roles for other in self.lifecycles.values()))
        found = [(f"lifecycles.{lc.name}.creators", sorted(lc.creators - known))]
        found += [
            (f"lifecycles.{lc.name}.transitions[{i}].roles", sorted(t.roles - known))
            for i, t in enumerate(lc.transitions)
        ]
        for key, unknown in found:
            if unknown:
                raise RulebookError(
                    self.source,
                    key,
                    f"unknown role {unknown[0]!r}; known: {', '.join(sorted(known))} "
                    "(a new role goes in the lifecycle's roles=)",
                )

    def rule_for(
        self,
        binding: DeadlineBinding,
        last_day: dt.date | None = None,
        anchor_day: dt.date | None = None,
    ) -> DeadlineRule:
        """Return the rule a deadline binding uses, built from its ladder for a fixed day."""
        if binding.date_field is None:
            return self.rule(binding.rule)
        assert last_day is not None
        assert anchor_day is not None
        ladder = self.ladders.get(binding.rule, Ladder())
        return DeadlineRule.calendar_days(
            (last_day - anchor_day).days,
            roll=False,
            name=binding.name,
            source=ladder.source or "the deadline given in the data",
            confidence=ladder.confidence,
            warnings=ladder.warnings,
            escalations=ladder.escalations,
        )


def _step_words(step: EarlyWarning | EscalationStep, lang: Lang) -> str:
    """A ladder step in words: its label, and how far before or after the due time."""
    label = step.label_zh if lang == "zh" and step.label_zh else step.name
    if isinstance(step, EscalationStep):
        return f"{label} +{step.unit.label(step.after, lang)}"
    if step.before is not None and step.unit is not None:
        return f"{label} -{step.unit.label(step.before, lang)}"
    return f"{label} {step.fraction:.0%}"


def regime_in_force(
    rulebook: Rulebook, day: dt.date, lookup: Callable[[str], Rulebook] | None = None
) -> Rulebook:
    """Return the regime of ``rulebook`` in force on ``day``.

    A rulebook without :attr:`Rulebook.regimes` is returned as it is: an explicit regime
    always wins.  For a generic one (``central``) each named regime is looked up and the
    latest one in force on ``day`` is returned.

    Args:
        rulebook: the rulebook a round is created under.
        day: the round's date.
        lookup: finds a rulebook by name; :func:`load_rulebook` by default (a ledger
            passes its own, which knows the rulebooks handed to it).

    Raises:
        RulebookError: no regime is in force on ``day``, or one cannot be found.
    """
    if not rulebook.regimes:
        return rulebook
    find = lookup if lookup is not None else load_rulebook
    found = [find(name) for name in rulebook.regimes]
    in_force = [rb for rb in found if rb.in_force(day)]
    if not in_force:
        spans = "; ".join(
            f"{rb.name} {rb.effective_from or '…'}–{rb.effective_until or ''}" for rb in found
        )
        raise RulebookError(
            rulebook.source,
            "rulebook.regimes",
            f"no regime of {rulebook.name!r} is in force on {day.isoformat()} ({spans}); "
            "name the round's rulebook (rulebook=...) to use one anyway",
        )
    return max(in_force, key=lambda rb: rb.effective_from or dt.date.min)


def load_rulebook(name_or_path: str | Path) -> Rulebook:
    """Load and validate a rulebook: a built-in name or the path of a TOML file.

    Raises:
        RulebookError: the file is missing, is not TOML, or a value fails validation;
            the message names the file and the key.
    """
    text: str
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_RULEBOOKS:
        source = f"<builtin {name_or_path}>"
        text = (
            resources.files("inspection_flow")
            .joinpath("rulebooks")
            .joinpath(f"{name_or_path}.toml")
            .read_text(encoding="utf-8")
        )
    elif not isinstance(name_or_path, (str, os.PathLike)):
        raise RulebookError(
            shown(name_or_path),
            "-",
            f"give a built-in rulebook name ({', '.join(BUILTIN_RULEBOOKS)}) or the path of "
            f"a TOML file, not {type(name_or_path).__name__}",
        )
    else:
        source = str(name_or_path)
        if len(source) > 1000:
            source = shown(source)
        text = _read(name_or_path, source)
    return parse_rulebook(_toml(text, source), source)


def _toml(text: str, source: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        raise RulebookError(source, "-", f"not valid TOML: {exc}") from exc
    except RecursionError:
        raise RulebookError(
            source, "-", "not a rulebook: its tables are nested too deeply"
        ) from None


#: How many rulebooks one may extend in a chain (a loop is refused long before).
_MAX_EXTENDS = 8


def _extended(data: Mapping[str, Any], source: str, depth: int = 0) -> Mapping[str, Any]:
    """Return ``data`` on top of the rulebook it ``extends``, if any.

    Tables are merged key by key (the extending rulebook's values win); arrays of tables
    (``[[lifecycles]]``, ``[[transitions]]``, ``[[bindings]]``, ``[[permissions]]``) are
    the base's followed by the extending rulebook's.  A path is read relative to the
    extending file.
    """
    head = data.get("rulebook")
    if not isinstance(head, Mapping) or "extends" not in head:
        return data
    base_name = head["extends"]
    if not isinstance(base_name, str) or not base_name:
        raise RulebookError(source, "rulebook.extends", "must name a built-in rulebook or a file")
    if depth >= _MAX_EXTENDS:
        raise RulebookError(
            source, "rulebook.extends", f"more than {_MAX_EXTENDS} rulebooks extend each other"
        )
    if base_name in BUILTIN_RULEBOOKS:
        base_source = f"<builtin {base_name}>"
        text = (
            resources.files("inspection_flow")
            .joinpath("rulebooks")
            .joinpath(f"{base_name}.toml")
            .read_text(encoding="utf-8")
        )
    else:
        path = Path(base_name)
        if not path.is_absolute() and not source.startswith("<"):
            path = Path(source).parent / path
        base_source = str(path)
        text = _read(path, base_source)
    base = _extended(_toml(text, base_source), base_source, depth + 1)
    merged: dict[str, Any] = dict(base)
    for key, value in data.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = {**old, **value}
        elif isinstance(old, list) and isinstance(value, list):
            merged[key] = [*old, *value]
        else:
            merged[key] = value
    # A rulebook written on another is a rulebook of its own: it never inherits the
    # generic choice among regimes (``regimes``) of a base such as ``central``.
    merged["rulebook"] = {
        k: v
        for k, v in merged["rulebook"].items()
        if k != "extends" and (k != "regimes" or "regimes" in head)
    }
    return merged


def _read(name_or_path: str | os.PathLike[str], source: str) -> str:
    """Return the text of a rulebook file, or raise :class:`RulebookError` saying why not."""
    known = ", ".join(BUILTIN_RULEBOOKS)
    try:
        path = Path(name_or_path)
        if not path.is_file():
            raise RulebookError(source, "-", f"no such file and no built-in rulebook ({known})")
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RulebookError(
            source, "-", f"not UTF-8 text (byte {exc.start}); save the rulebook as UTF-8 TOML"
        ) from None
    except RulebookError:
        raise  # already says what is wrong (a RulebookError is a ValueError too)
    except (OSError, ValueError) as exc:
        raise RulebookError(source, "-", f"cannot be read: {exc}") from None


def parse_rulebook(data: Mapping[str, Any], source: str = "<data>") -> Rulebook:
    """Validate rulebook data (as loaded from TOML) and build the :class:`Rulebook`.

    Raises:
        RulebookError: a value fails validation; the message names the source and key.
    """
    if not isinstance(source, str):
        source = shown(source)
    if not isinstance(data, Mapping):
        raise RulebookError(source, "-", f"must be a table (a mapping), not {type(data).__name__}")
    p = _Parser(source)
    try:
        return p.parse(_extended(data, source))
    except RecursionError:
        raise RulebookError(source, "-", "its tables are nested too deeply") from None


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.notes: dict[str, tuple[str, str]] = {}

    def fail(self, key: str, problem: str) -> RulebookError:
        return RulebookError(self.source, key, problem)

    def table(self, data: Mapping[str, Any], key: str, *, required: bool = False) -> dict[str, Any]:
        value = data.get(key.rsplit(".", 1)[-1])
        if value is None:
            if required:
                raise self.fail(key, "is required")
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be a table")
        return dict(value)

    def text(self, data: Mapping[str, Any], key: str, default: str | None = None) -> str:
        leaf = key.rsplit(".", 1)[-1]
        value = data.get(leaf, default)
        if value is None:
            raise self.fail(key, "is required")
        if not isinstance(value, str):
            raise self.fail(key, f"must be text, not {type(value).__name__}")
        return value

    def parent(self, data: Mapping[str, Any], key: str) -> str | None:
        value = data.get("parent")
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be the code of the containing area, not {shown(value)}")
        return value

    def area_aliases(self, data: Mapping[str, Any], key: str) -> list[str]:
        value = data.get("aliases", [])
        if not isinstance(value, list) or not all(
            isinstance(a, str) and a and a.strip() == a for a in value
        ):
            raise self.fail(key, f"must be a list of area ids, not {shown(value)}")
        return list(value)

    def note(self, key: str, data: Mapping[str, Any], *, required: bool = True) -> None:
        """Record the source and confidence of the value at ``key``.

        A value needs both: a public source a user can look up, and a confidence on the
        one scale (H, M, L).  With ``required=False`` (a lifecycle of the user's own,
        which is a definition rather than a value) both may be left out together.
        """
        src = data.get("source", "")
        conf = data.get("confidence", "")
        if not isinstance(src, str) or not isinstance(conf, str):
            raise self.fail(key, "'source' and 'confidence' must be text")
        if not required and not src and not conf:
            return
        if conf not in _CONFIDENCES:
            raise self.fail(
                f"{key}.confidence",
                f"use H, M or L (H: quoted from a rule or an announcement of the round; "
                f"M: from the same authority's practice; L: inferred), not {conf!r}",
            )
        if not src.strip():
            raise self.fail(
                f"{key}.source",
                "is required: name a public source a user can look up (rule, announcement, "
                "report), or say that none was found and mark the value L",
            )
        self.notes[key] = (src, conf)

    def known_keys(self, data: Mapping[str, Any], key: str, known: set[str]) -> None:
        extra = sorted(set(data) - known)
        if extra:
            raise self.fail(f"{key}.{extra[0]}", f"unknown key; known: {', '.join(sorted(known))}")

    def parse(self, data: Mapping[str, Any]) -> Rulebook:
        # Long by design: it reads the rulebook's tables in the order they depend on one another
        # (roles, rules, ladders, areas, lifecycles); each step is a few lines.
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise self.fail(unknown[0], f"unknown table; known: {', '.join(sorted(_TOP_KEYS))}")
        head = self.table(data, "rulebook", required=True)
        self.known_keys(head, "rulebook", _RULEBOOK_KEYS)
        name = self.text(head, "rulebook.name")
        title = self.text(head, "rulebook.title", "")
        level = self.text(head, "rulebook.level", "provincial")
        if level not in ("central", "provincial", "municipal", "county"):
            raise self.fail("rulebook.level", "must be central, provincial, municipal or county")
        regime, effective_from, effective_until, regimes = self.regime(head)
        roles = set(ROLES)
        extra_roles = data.get("roles", {})
        if not isinstance(extra_roles, Mapping):
            raise self.fail("roles", "must be a table of role = label")
        roles.update(extra_roles)
        intake_table = self.table(data, "intake", required=True)
        intake = self.intake(intake_table)
        outside_round = intake_table.get("outside_round", "refuse")
        if outside_round not in OUTSIDE_ROUND:
            raise self.fail(
                "intake.outside_round",
                f"must be {' or '.join(OUTSIDE_ROUND)}, not {outside_round!r}",
            )
        acceptance_number, channel_letters = self.numbering(intake_table)
        rules: dict[str, DeadlineRule] = {}
        for key, value in self.table(data, "deadlines", required=True).items():
            if not isinstance(value, Mapping):
                raise self.fail(f"deadlines.{key}", "must be a table")
            try:
                rules[key] = DeadlineRule.from_dict({"name": key, **value})
            except InspectionFlowError as exc:
                field = getattr(exc, "field", "")
                raise self.fail(f"deadlines.{key}{'.' + field if field else ''}", str(exc)) from exc
            self.note(f"deadlines.{key}", value)
        ladders: dict[str, Ladder] = {}
        for key, value in self.table(data, "ladders").items():
            if not isinstance(value, Mapping):
                raise self.fail(f"ladders.{key}", "must be a table")
            try:
                probe = DeadlineRule.from_dict(
                    {
                        "amount": 1,
                        "unit": "calendar_days",
                        **{k: v for k, v in value.items() if k in ("warnings", "escalations")},
                    }
                )
            except InspectionFlowError as exc:
                raise self.fail(f"ladders.{key}", str(exc)) from exc
            extra = sorted(set(value) - {"warnings", "escalations", "source", "confidence"})
            if extra:
                raise self.fail(f"ladders.{key}.{extra[0]}", "unknown key")
            ladders[key] = Ladder(
                probe.warnings,
                probe.escalations,
                str(value.get("source", "")),
                str(value.get("confidence", "")),
            )
            self.note(f"ladders.{key}", value)
            steps: list[tuple[str, EarlyWarning | EscalationStep]] = [
                *(("warnings", w) for w in probe.warnings),
                *(("escalations", e) for e in probe.escalations),
            ]
            for kind, step in steps:
                if step.source or step.confidence:
                    self.note(
                        f"ladders.{key}.{kind}.{step.name}",
                        {"source": step.source, "confidence": step.confidence},
                    )
        dispatch_t = self.table(data, "dispatch")
        self.known_keys(dispatch_t, "dispatch", _DISPATCH_KEYS)
        dispatch = self.text(dispatch_t, "dispatch.cadence", "monthly")
        if dispatch not in ("monthly", "quarterly"):
            raise self.fail("dispatch.cadence", "must be monthly or quarterly")
        if dispatch_t:
            self.note("dispatch", dispatch_t)
        report_day = dispatch_t.get("report_day", "last")
        if report_day != "last" and (
            not isinstance(report_day, int)
            or isinstance(report_day, bool)
            or not 1 <= report_day <= 28
        ):
            raise self.fail(
                "dispatch.report_day", 'must be a day from 1 to 28, or "last" for the month\'s end'
            )
        if "report_day" in dispatch_t:
            self.note(
                "dispatch.report_day",
                {
                    "source": dispatch_t.get("report_source", ""),
                    "confidence": dispatch_t.get("report_confidence", ""),
                },
            )
        acceptance_by = self.acceptance(self.table(data, "acceptance"))
        areas: dict[str, tuple[str, str | None]] = {}
        area_aliases: dict[str, str] = {}
        for code, value in self.table(data, "areas").items():
            if not isinstance(value, Mapping):
                raise self.fail(f"areas.{code}", "must be a table with name and parent")
            self.known_keys(value, f"areas.{code}", _AREA_KEYS)
            areas[code] = (
                self.text(value, f"areas.{code}.name"),
                self.parent(value, f"areas.{code}.parent"),
            )
            for alias in self.area_aliases(value, f"areas.{code}.aliases"):
                if alias in area_aliases and area_aliases[alias] != code:
                    raise self.fail(
                        f"areas.{code}.aliases",
                        f"{alias!r} is already an alias of {area_aliases[alias]}",
                    )
                area_aliases[alias] = code
        for alias, code in area_aliases.items():
            if alias in areas:
                raise self.fail(
                    f"areas.{code}.aliases", f"{alias!r} is an area of its own, not an alias"
                )
        recording = self.table(data, "recording")
        self.known_keys(recording, "recording", _RECORDING_KEYS)
        backdate_limit: DeadlineRule | None = None
        if "backdate_limit" in recording:
            value = recording["backdate_limit"]
            if not isinstance(value, Mapping):
                raise self.fail("recording.backdate_limit", "must be a table like the deadlines'")
            try:
                backdate_limit = DeadlineRule.from_dict({"name": "backdate_limit", **value})
            except InspectionFlowError as exc:
                raise self.fail("recording.backdate_limit", str(exc)) from exc
            self.note("recording.backdate_limit", value)
        review_levels, acceptance_levels = self.review(self.table(data, "review"))
        lifecycles = self.lifecycles(data, roles)
        for lc in lifecycles.values():
            for b in lc.deadlines:
                if lc.needs_rule(b) and not b.rule_optional and b.rule not in rules:
                    raise self.fail(
                        f"deadlines.{b.rule}",
                        f"is required by the {lc.name} deadline {b.name!r}",
                    )
        return Rulebook(
            name,
            title,
            level,
            self.source,
            intake,
            rules,
            ladders,
            dispatch,
            areas,
            lifecycles,
            self.notes,
            outside_round,
            backdate_limit,
            area_aliases,
            acceptance_number,
            channel_letters,
            regime=regime,
            effective_from=effective_from,
            effective_until=effective_until,
            regimes=regimes,
            dispatch_report_day=report_day,
            review_levels=review_levels,
            acceptance_levels=acceptance_levels,
            acceptance_by=acceptance_by,
        )

    def review(self, t: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Read ``[review] levels`` (the relay of a result, ending with the team) and
        ``acceptance`` (the levels reviewing an acceptance, in order)."""
        self.known_keys(t, "review", _REVIEW_KEYS)
        if t:
            self.note("review", t)
        levels = self.levels(t, "levels", DEFAULT_RELAY)
        if len(levels) < 2 or levels[-1] != "team":
            raise self.fail(
                "review.levels",
                'must go from the owner\'s level up to the team, e.g. ["county", "city", "team"]',
            )
        return levels, self.levels(t, "acceptance", ())

    def levels(self, t: Mapping[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        given = t.get(key, list(default))
        if not isinstance(given, list) or not all(isinstance(v, str) for v in given):
            raise self.fail(f"review.{key}", 'must be a list of levels, e.g. ["county", "city"]')
        for level in given:
            if level not in REVIEW_LEVELS:
                raise self.fail(
                    f"review.{key}",
                    f"unknown level {level!r}; known: {', '.join(REVIEW_LEVELS)}",
                )
        if len(set(given)) != len(given):
            raise self.fail(f"review.{key}", "names a level twice")
        ranks = [REVIEW_LEVELS.index(level) for level in given]
        if ranks != sorted(ranks):
            raise self.fail(
                f"review.{key}", f"list the levels from the lowest up: {', '.join(REVIEW_LEVELS)}"
            )
        return tuple(given)

    def acceptance(self, t: Mapping[str, Any]) -> tuple[str, ...]:
        """Who may accept a rectification task: ``[acceptance] by``, from :data:`ACCEPTORS`."""
        self.known_keys(t, "acceptance", _ACCEPTANCE_KEYS)
        by = t.get("by", [])
        if not isinstance(by, list) or not all(isinstance(b, str) for b in by):
            raise self.fail("acceptance.by", f"must be a list of {', '.join(ACCEPTORS)}")
        for b in by:
            if b not in ACCEPTORS:
                raise self.fail(
                    "acceptance.by", f"unknown acceptor {b!r}; use {' or '.join(ACCEPTORS)}"
                )
        if t:
            self.note("acceptance", t)
        return tuple(dict.fromkeys(by))

    def regime(
        self, head: Mapping[str, Any]
    ) -> tuple[str, dt.date | None, dt.date | None, tuple[str, ...]]:
        """Read ``[rulebook] regime``, ``effective_from``, ``effective_until`` and
        ``regimes``; the regime and its dates are a value, with source and confidence."""
        regime = self.text(head, "rulebook.regime", "")
        since = self.day(head, "rulebook.effective_from")
        until = self.day(head, "rulebook.effective_until")
        if since is not None and until is not None and until < since:
            raise self.fail(
                "rulebook.effective_until",
                f"{until.isoformat()} is before effective_from {since.isoformat()}",
            )
        if (regime or since or until) and since is None:
            raise self.fail(
                "rulebook.effective_from",
                "a regime needs the first day it is in force (YYYY-MM-DD)",
            )
        regimes = head.get("regimes", [])
        if not isinstance(regimes, list) or not all(
            isinstance(r, str) and r.strip() for r in regimes
        ):
            raise self.fail(
                "rulebook.regimes", f"must be a list of rulebook names, not {regimes!r}"
            )
        if since is not None or "source" in head or "confidence" in head:
            self.note("rulebook", head)
        return regime, since, until, tuple(regimes)

    def day(self, data: Mapping[str, Any], key: str) -> dt.date | None:
        value = data.get(key.rsplit(".", 1)[-1])
        if value is None:
            return None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise self.fail(key, f"write a date YYYY-MM-DD, not {value!r}")

    def numbering(self, t: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
        """Read and try ``[intake] acceptance_number`` and ``channel_letters``."""
        form = t.get("acceptance_number", "")
        if not isinstance(form, str):
            raise self.fail("intake.acceptance_number", "must be a string")
        letters = dict(CHANNEL_LETTERS)
        given = t.get("channel_letters", {})
        if not isinstance(given, Mapping):
            raise self.fail("intake.channel_letters", "must be a table of channel = letter")
        for channel, letter in given.items():
            if channel not in CHANNEL_LETTERS or not isinstance(letter, str) or not letter:
                raise self.fail(
                    f"intake.channel_letters.{channel}",
                    f"write one of {', '.join(CHANNEL_LETTERS)} = a non-empty letter",
                )
            letters[channel] = letter
        if form:
            if "{seq" not in form or "{day" not in form:
                raise self.fail(
                    "intake.acceptance_number",
                    "must hold {day} and {seq} so that each number is the day's own, "
                    'e.g. "{channel}3SX{day}{seq:04d}"',
                )
            try:
                form.format(channel="D", day="20250528", seq=1)
            except (KeyError, IndexError, ValueError) as exc:
                raise self.fail(
                    "intake.acceptance_number",
                    f"{form!r} is not a form of {{channel}}, {{day}} and {{seq}}: {exc}",
                ) from None
        return form, letters

    def intake(self, t: Mapping[str, Any]) -> IntakeRule:
        self.known_keys(t, "intake", _INTAKE_KEYS)
        opens = self.time_of_day(t, "intake.hotline_opens")
        closes = self.time_of_day(t, "intake.hotline_closes")
        channels = t.get("windowed_channels", ["phone"])
        if not isinstance(channels, list):
            raise self.fail("intake.windowed_channels", "must be a list")
        known = [c.value for c in Channel]
        for c in channels:
            if c not in known:
                raise self.fail(
                    "intake.windowed_channels", f"unknown channel {c!r}; known: {', '.join(known)}"
                )
        try:
            rule = IntakeRule(DailyWindow(opens, closes), channels)
        except (InspectionFlowError, ValueError) as exc:
            field = getattr(exc, "field", "")
            raise self.fail(f"intake.{field}" if field else "intake", str(exc)) from exc
        self.note("intake", t)
        return rule

    def time_of_day(self, t: Mapping[str, Any], key: str) -> dt.time:
        text = self.text(t, key)
        try:
            return dt.time.fromisoformat(text)
        except ValueError:
            raise self.fail(key, f"write HH:MM, not {text!r}") from None

    def lifecycles(self, data: Mapping[str, Any], roles: set[str]) -> dict[str, Lifecycle]:
        out = dict(LIFECYCLES)
        for i, item in enumerate(self.items(data, "lifecycles")):
            lc = self.new_lifecycle(item, f"lifecycles[{i}]", roles)
            if lc.name in out:
                raise self.fail(
                    f"lifecycles[{i}].name",
                    f"{lc.name!r} is defined already; change a built-in lifecycle with "
                    "[[permissions]], [[transitions]] and [[bindings]]",
                )
            out[lc.name] = lc
        for i, item in enumerate(self.items(data, "permissions")):
            key = f"permissions[{i}]"
            self.known_keys(item, key, _PERMISSION_KEYS)
            lc = self.known_lifecycle(out, item, key)
            event = self.text(item, f"{key}.event")
            if event not in lc.events:
                raise self.fail(f"{key}.event", f"unknown event {event!r} of {lc.name}")
            new_roles = self.roles(item, f"{key}.roles", roles)
            ts = tuple(
                attrs.evolve(t, roles=new_roles) if t.event == event else t for t in lc.transitions
            )
            out[lc.name] = self.rebuild(lc, key, transitions=ts, roles=frozenset(roles))
        for i, item in enumerate(self.items(data, "transitions")):
            key = f"transitions[{i}]"
            self.known_keys(item, key, _TRANSITION_KEYS)
            lc = self.known_lifecycle(out, item, key)
            sources = item.get("sources")
            if not isinstance(sources, list) or not sources:
                raise self.fail(f"{key}.sources", "must be a non-empty list of states")
            target = item.get("target")
            t = Transition(
                self.text(item, f"{key}.event"),
                tuple(sources),
                target if isinstance(target, str) else None,
                self.roles(item, f"{key}.roles", roles),
                label_zh=str(item.get("label_zh", "")),
                label_en=str(item.get("label_en", "")),
            )
            out[lc.name] = self.rebuild(
                lc, key, transitions=(*lc.transitions, t), roles=frozenset(roles)
            )
        for i, item in enumerate(self.items(data, "bindings")):
            key = f"bindings[{i}]"
            self.known_keys(item, key, _BINDING_KEYS)
            lc = self.known_lifecycle(out, item, key)
            b = self.binding({k: v for k, v in item.items() if k != "lifecycle"}, key)
            out[lc.name] = self.rebuild(lc, key, deadlines=(*lc.deadlines, b))
        return out

    def new_lifecycle(self, item: Mapping[str, Any], key: str, roles: set[str]) -> Lifecycle:
        """A lifecycle the rulebook defines whole: states, fields, transitions, deadlines."""
        self.known_keys(item, key, _LIFECYCLE_KEYS)
        name = self.text(item, f"{key}.name")
        states = []
        for j, st in enumerate(self.items(item, "states")):
            skey = f"{key}.states[{j}]"
            self.known_keys(st, skey, _STATE_KEYS)
            counts_as = self.text(st, f"{skey}.counts_as", "open")
            if counts_as not in ("open", "closed", "excluded"):
                raise self.fail(f"{skey}.counts_as", "must be open, closed or excluded")
            terminal = st.get("terminal", False)
            if not isinstance(terminal, bool):
                raise self.fail(f"{skey}.terminal", "must be true or false")
            outlives_round = st.get("outlives_round", False)
            if not isinstance(outlives_round, bool):
                raise self.fail(f"{skey}.outlives_round", "must be true or false")
            sname = self.text(st, f"{skey}.name")
            states.append(
                State(
                    sname,
                    self.text(st, f"{skey}.label_zh", sname),
                    self.text(st, f"{skey}.label_en", sname),
                    terminal,
                    counts_as,  # type: ignore[arg-type]
                    outlives_round,
                )
            )
        if not states:
            raise self.fail(f"{key}.states", "a lifecycle needs at least one state ([[...states]])")
        transitions = tuple(
            self.new_transition(t, f"{key}.transitions[{j}]", roles)
            for j, t in enumerate(self.items(item, "transitions"))
        )
        known = [st.name for st in states]
        for j, t in enumerate(transitions):
            for where, names in (
                ("sources", t.sources),
                ("target", (t.target,) if t.target else ()),
            ):
                for state in names:
                    if state not in known:
                        raise self.fail(
                            f"{key}.transitions[{j}].{where}",
                            f"unknown state {state!r}; the lifecycle's states: {', '.join(known)}",
                        )
        deadlines = tuple(
            self.binding(b, f"{key}.deadlines[{j}]")
            for j, b in enumerate(self.items(item, "deadlines"))
        )
        creators = item.get("creators", [])
        if not isinstance(creators, list) or not all(isinstance(r, str) for r in creators):
            raise self.fail(f"{key}.creators", "must be a list of roles")
        for r in creators:
            if r not in roles:
                raise self.fail(
                    f"{key}.creators", f"unknown role {r!r}; known: {', '.join(sorted(roles))}"
                )
        self.note(key, item, required=False)
        try:
            return Lifecycle(
                name=name,
                kind=self.text(item, f"{key}.kind", name),
                label_zh=self.text(item, f"{key}.label_zh", name),
                label_en=self.text(item, f"{key}.label_en", name),
                initial=self.text(item, f"{key}.initial", states[0].name),
                states=tuple(states),
                transitions=transitions,
                deadlines=deadlines,
                roles=frozenset(roles),
                creators=frozenset(creators),
                fields=self.fields(item, f"{key}.fields"),
            )
        except DefinitionError as exc:
            raise self.fail(key, str(exc)) from exc

    def fields(self, item: Mapping[str, Any], key: str) -> tuple[Field, ...]:
        out = []
        for j, f in enumerate(self.items(item, key.rsplit(".", 1)[-1])):
            fkey = f"{key}[{j}]"
            self.known_keys(f, fkey, _FIELD_KEYS)
            ftype = self.text(f, f"{fkey}.type", "str")
            if ftype not in _FIELD_TYPES:
                raise self.fail(f"{fkey}.type", f"use one of {', '.join(_FIELD_TYPES)}")
            required = f.get("required", True)
            if not isinstance(required, bool):
                raise self.fail(f"{fkey}.required", "must be true or false")
            choices = f.get("choices", [])
            if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
                raise self.fail(f"{fkey}.choices", "must be a list of text")
            if ftype == "choice" and not choices:
                raise self.fail(f"{fkey}.choices", "a choice field needs its choices")
            labels = f.get("labels_zh", {})
            if not isinstance(labels, Mapping) or not all(
                k in choices and isinstance(v, str) and v.strip() for k, v in labels.items()
            ):
                raise self.fail(
                    f"{fkey}.labels_zh",
                    "must be a table of choice = Chinese label, for its choices",
                )
            out.append(
                Field(
                    self.text(f, f"{fkey}.name"),
                    ftype,  # type: ignore[arg-type]
                    required,
                    tuple(choices),
                    self.text(f, f"{fkey}.label_zh", ""),
                    labels,
                )
            )
        return tuple(out)

    def new_transition(self, item: Mapping[str, Any], key: str, roles: set[str]) -> Transition:
        self.known_keys(item, key, _NEW_TRANSITION_KEYS)
        sources = item.get("sources")
        if (
            not isinstance(sources, list)
            or not sources
            or not all(isinstance(x, str) for x in sources)
        ):
            raise self.fail(f"{key}.sources", "must be a non-empty list of states")
        target = item.get("target")
        if target is not None and not isinstance(target, str):
            raise self.fail(f"{key}.target", "must be a state, or left out for no change")
        guards = item.get("guards", [])
        if not isinstance(guards, list) or not all(isinstance(g, str) for g in guards):
            raise self.fail(f"{key}.guards", "must be a list of guard names")
        for g in guards:
            if g not in GUARDS:
                raise self.fail(
                    f"{key}.guards",
                    f"unknown guard {g!r}; register it with register_guard() before loading "
                    f"the rulebook (registered: {', '.join(sorted(GUARDS))})",
                )
        records = item.get("records")
        if records is not None:
            if not isinstance(records, Mapping) or not all(
                isinstance(v, str) for v in records.values()
            ):
                raise self.fail(f"{key}.records", "must be a table of field = data key")
            records = tuple(records.items())
        marks = item.get("marks", {})
        if not isinstance(marks, Mapping):
            raise self.fail(f"{key}.marks", "must be a table of data key = value")
        clock = item.get("clock")
        if clock is not None and clock not in ("pause", "resume", "extend"):
            raise self.fail(f"{key}.clock", "must be pause, resume or extend")
        optional: dict[str, Any] = {}
        for name in ("records_actor", "assigns", "sets_batch", "extends", "derive"):
            value = item.get(name)
            if (
                name in ("assigns", "extends")
                and isinstance(value, list)
                and value
                and all(isinstance(v, str) and v for v in value)
            ):
                # Several fields whose areas together are the owners; several deadlines
                # of which the first the entity has is extended.
                value = tuple(value)
            elif value is not None and (not isinstance(value, str) or not value):
                raise self.fail(
                    f"{key}.{name}",
                    "must be a name, or a list of names"
                    if name in ("assigns", "extends")
                    else "must be a name",
                )
            optional[name] = value
        if optional["derive"] is not None and optional["derive"] not in DERIVATIONS:
            raise self.fail(f"{key}.derive", f"unknown derivation {optional['derive']!r}")
        return Transition(
            self.text(item, f"{key}.event"),
            tuple(sources),
            target,
            self.roles(item, f"{key}.roles", roles),
            tuple(guards),
            self.fields(item, f"{key}.fields"),
            self.text(item, f"{key}.label_zh", ""),
            self.text(item, f"{key}.label_en", ""),
            records=records,
            marks=marks,
            clock=clock,
            **optional,
        )

    def binding(self, item: Mapping[str, Any], key: str) -> DeadlineBinding:
        self.known_keys(item, key, _BINDING_KEYS - {"lifecycle"})
        kind = self.text(item, f"{key}.kind", "due")
        if kind not in ("due", "period"):
            raise self.fail(f"{key}.kind", "must be due or period")
        return DeadlineBinding(
            self.text(item, f"{key}.name"),
            self.text(item, f"{key}.rule"),
            self.text(item, f"{key}.starts_on", ""),
            self.events(item, f"{key}.met_by"),
            self.events(item, f"{key}.cancelled_by"),
            label_zh=self.text(item, f"{key}.label_zh", ""),
            label_en=self.text(item, f"{key}.label_en", ""),
            on_enter=self.text(item, f"{key}.on_enter") if "on_enter" in item else None,
            kind=kind,  # type: ignore[arg-type]
            reopened_by=self.events(item, f"{key}.reopened_by"),
        )

    def events(self, item: Mapping[str, Any], key: str) -> frozenset[str]:
        value = item.get(key.rsplit(".", 1)[-1], [])
        if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
            raise self.fail(key, "must be a list of events")
        return frozenset(value)

    def items(self, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(key, "must be an array of tables ([[...]])")
        return value

    def known_lifecycle(
        self, out: Mapping[str, Lifecycle], item: Mapping[str, Any], key: str
    ) -> Lifecycle:
        name = self.text(item, f"{key}.lifecycle")
        if name not in out:
            raise self.fail(f"{key}.lifecycle", f"unknown lifecycle; known: {', '.join(out)}")
        return out[name]

    def roles(self, item: Mapping[str, Any], key: str, roles: set[str]) -> frozenset[str]:
        value = item.get("roles")
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty list of roles")
        for r in value:
            if r not in roles:
                raise self.fail(key, f"unknown role {r!r}; known: {', '.join(sorted(roles))}")
        return frozenset(value)

    def rebuild(self, lc: Lifecycle, key: str, **changes: Any) -> Lifecycle:
        try:
            # Built again, so the changed definition is validated as a whole.
            return attrs.evolve(lc, **changes)
        except DefinitionError as exc:
            raise self.fail(key, str(exc)) from exc
