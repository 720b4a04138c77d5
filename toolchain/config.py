"""Typed configs: dataclasses validated once, versioned on disk, read back through an allow-list.

Every config subclass lists its problems in ``problems()``; ``__post_init__`` collects
them all and raises one :class:`ConfigError`. ``to_dict`` adds ``kind`` and ``version``;
``from_dict`` refuses unknown kinds, newer versions and unknown keys, naming each.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from toolchain.errors import ConfigError

C = TypeVar("C", bound="Config")


@dataclasses.dataclass
class Config:
    KIND: ClassVar[str] = "config"
    VERSION: ClassVar[int] = 1

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ConfigError(problems, source=f"{self.KIND} config")

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


def check_positive(problems: list[str], **values: float) -> None:
    for name, v in values.items():
        if not v > 0:
            problems.append(f"{name} must be > 0, got {v}")


def check_range(problems: list[str], name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        problems.append(f"{name} must be in [{lo}, {hi}], got {value}")
