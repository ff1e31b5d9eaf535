"""What a subscription e-mail says: its subject and text (the JSON attachment is the events).

The text is for a reader: how many events of each kind, which planned observations were
executed, and the files grouped by the observation they belong to, each file once with every
kind that happened to it (a new file is also First, and may be Public on arrival).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from skyarchive.notify.subscriptions import FREQUENCY_LABELS, KINDS

LISTED = 20  # file names quoted in the text; the attachment has them all


@dataclass(frozen=True)
class Event:
    """One pending event as the text needs it."""

    kind: str
    filename: str
    obs_id: str  # the observation the file belongs to (its file set when the file is gone)
    planned_obs_id: str | None = None


@dataclass
class Links:
    """The links the text carries; all None when no base URL is known."""

    program: str | None = None
    subscriptions: str | None = None
    unsubscribe: str | None = None
    missing_reason: str | None = None
    notes: list[str] = field(default_factory=list)


def counted(number: int, word: str) -> str:
    """``1 event``, ``2 events``, ``0 files``."""
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def subject(collection: str, program: str, events: list[Event]) -> str:
    kinds = [kind for kind in KINDS if any(e.kind == kind for e in events)]
    files = len({e.filename for e in events})
    return (
        f"skyarchive: {collection} program {program}: {counted(files, 'file')}, "
        f"{counted(len(events), 'event')} ({', '.join(kinds)})"
    )


def message_text(
    collection: str, program: str, frequency: str, events: list[Event], links: Links
) -> str:
    how_often = FREQUENCY_LABELS.get(frequency, frequency)
    lines = [
        f"News of {collection} program {program}, which you follow on skyarchive ({how_often}):",
        "",
    ]
    per_kind = Counter(e.kind for e in events)
    lines += [
        f"  {kind:<12} {counted(per_kind[kind], 'event')}" for kind in KINDS if per_kind[kind]
    ]
    executed = sorted({e.planned_obs_id for e in events if e.planned_obs_id})
    if executed:
        lines.append("")
        lines += [f"Planned observation {obs_id} was executed: its data are arriving."
                  for obs_id in executed]  # fmt: skip
    lines += ["", *_files_by_observation(events)]
    lines += [
        "",
        "The attached JSON file lists every event (event_id, mission, fileset, filename, program,",
        "event_type, archived_date, public_release_date; times in UTC). Development versions of",
        "astroquery's MastMissions.download_products take it; or fetch each file by name.",
        "",
    ]
    if links.program:
        lines += [
            f"Program data:  {links.program}",
            f"Subscriptions: {links.subscriptions}",
            "",
            "Stop these e-mails about this program (one click, no log-in needed):",
            f"  {links.unsubscribe}",
        ]
    else:
        lines.append(f"(No links: {links.missing_reason})")
    return "\n".join(lines) + "\n"


def _files_by_observation(events: list[Event]) -> list[str]:
    """Each file once, with its kinds, under the observation it belongs to (first seen first)."""
    kinds: dict[str, list[str]] = {}
    observation: dict[str, str] = {}
    for event in events:
        kinds.setdefault(event.filename, [])
        if event.kind not in kinds[event.filename]:
            kinds[event.filename].append(event.kind)
        observation.setdefault(event.filename, event.obs_id)
    by_observation: dict[str, list[str]] = {}
    for filename, obs_id in observation.items():
        by_observation.setdefault(obs_id, []).append(filename)
    files, observations = len(kinds), len(by_observation)
    lines = [f"{counted(files, 'file')} in {counted(observations, 'observation')}:"]
    shown = 0
    for obs_id, names in by_observation.items():
        if shown >= LISTED:
            break
        lines.append(f"  {obs_id} ({counted(len(names), 'file')})")
        for filename in names[: LISTED - shown]:
            order = sorted(kinds[filename], key=KINDS.index)
            lines.append(f"    {filename}  ({', '.join(order)})")
            shown += 1
    if files > shown:
        lines.append(f"  ... and {counted(files - shown, 'more file')} (see the attachment)")
    return lines
