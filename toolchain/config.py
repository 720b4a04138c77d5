"""Typed configs: dataclasses validated once, versioned on disk, read back through an allow-list.

Every config subclass lists its problems in ``problems()``; ``__post_init__`` collects
them all and raises one :class:`ConfigError`. ``to_dict`` adds ``kind`` and ``version``;
``from_dict`` refuses unknown kinds, newer versions and unknown keys, naming each.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from numpy import bool_ as np_bool

from toolchain.errors import ConfigError

C = TypeVar("C", bound="Config")


@dataclasses.dataclass
class Config:
    """Base of the typed configs: checked on creation, with versioned to_dict / from_dict / load_json."""
    KIND: ClassVar[str] = "config"
    VERSION: ClassVar[int] = 1

    def __post_init__(self) -> None:
        # wrong types first: the value checks in problems() assume the declared types
        problems = self.type_problems() or self.problems()
        if problems:
            raise ConfigError(problems, source=f"{self.KIND} config")

    def type_problems(self) -> list[str]:
        """Fields whose value is not of the declared scalar type (int, float, bool, str, or None
        where the field is Optional); other annotations are left to :meth:`problems`."""
        hints = _scalar_hints(type(self))
        out = []
        for f in dataclasses.fields(self):
            allowed = hints.get(f.name)
            value = getattr(self, f.name)
            if allowed is None or _is_a(value, allowed):
                if f.name == "seed" and isinstance(value, int) and value < 0:  # numpy refuses negative seeds
                    out.append(f"seed must be >= 0, got {value}")
                continue
            names = " or ".join("None" if t is type(None) else ("a finite float" if t is float else t.__name__)
                                for t in allowed)
            out.append(f"{f.name} must be {names} (64-bit), got {value!r} ({type(value).__name__})")
        return out

    def problems(self) -> list[str]:
        """Every invalid value, each as 'field: what is wrong (and what is allowed)'."""
        return []

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["kind"] = self.KIND
        d["version"] = self.VERSION
        return d

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any], *, source: str | None = None) -> C:
        data = dict(data)
        kind = data.pop("kind", cls.KIND)
        version = data.pop("version", cls.VERSION)
        problems = []
        if kind != cls.KIND:
            problems.append(f"kind is {kind!r}, expected {cls.KIND!r}")
        if not isinstance(version, int) or version > cls.VERSION:
            problems.append(f"version {version!r} is newer than this odtool understands "
                            f"({cls.VERSION}); upgrade odtool")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            problems.append(f"unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
        if problems:
            raise ConfigError(problems, source=source or f"{cls.KIND} config")
        return cls(**data)

    def replace(self: C, **changes: Any) -> C:
        return dataclasses.replace(self, **changes)

    @classmethod
    def load_json(cls: type[C], path: str | Path) -> C:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path} does not exist") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: invalid JSON ({e})") from e
        return cls.from_dict(data, source=str(path))


_SCALARS = (bool, int, float, str)


@functools.lru_cache(maxsize=None)
def _scalar_hints(cls: type) -> dict[str, tuple[type, ...]]:
    """field -> accepted types, for fields annotated with scalars (or Optional scalars)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation that cannot be resolved: no type checks for this class
        return {}
    out = {}
    for name, hint in hints.items():
        args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        if args and all(a in _SCALARS or a is type(None) for a in args):
            out[name] = tuple(args)
    return out


def _is_a(value: Any, allowed: tuple[type, ...]) -> bool:
    if isinstance(value, (bool, np_bool)):
        return bool in allowed
    if isinstance(value, numbers.Integral):
        return (int in allowed or float in allowed) and -2**63 < int(value) < 2**63
    if isinstance(value, numbers.Real):
        return float in allowed and math.isfinite(value)
    return any(isinstance(value, t) for t in allowed if t not in (bool, int, float))


def check_positive(problems: list[str], **values: float) -> None:
    """Append to ``problems`` a message for each keyword value that is not > 0."""
    for name, v in values.items():
        if not v > 0:
            problems.append(f"{name} must be > 0, got {v}")


def check_range(problems: list[str], name: str, value: float, lo: float, hi: float) -> None:
    """Append to ``problems`` a message when ``value`` lies outside [lo, hi]."""
    if not lo <= value <= hi:
        problems.append(f"{name} must be in [{lo}, {hi}], got {value}")
