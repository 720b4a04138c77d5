"""What readers produce, before preprocessing.

Two shapes exist in the wild:

* :class:`RawSessions` -- click logs grouped into sessions (Diginetica, Yoochoose,
  RetailRocket, Tmall, plain text). Preprocessing filters, splits and augments them.
* :class:`RawPairs` -- files that already hold (sequence, target) pairs (SR-GNN / DHCN
  pickles). They are taken as they are: no second filtering or augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RawSessions:
    """Sessions in click order; item ids are the raw ids as strings.

    ``end_times`` (seconds, any epoch) is the time of each session's last click, or
    ``None`` when the format has no clock (plain text), which rules out the time split.
    """

    sessions: list[list[str]]
    end_times: list[float] | None
    source: dict = field(default_factory=dict)


@dataclass
class RawPairs:
    """(sequence, target) pairs with integer raw ids, as split by the file's author."""

    train_sequences: list[list[int]]
    train_targets: list[int]
    test_sequences: list[list[int]]
    test_targets: list[int]
    source: dict = field(default_factory=dict)
