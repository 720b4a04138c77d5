"""What a run trains (:class:`RunSpec`), and how presets, config files and flags make one.

Precedence, lowest first: the preset (``tmall``, ``retailrocket``, ``tiny``) or, for students,
the teacher's own backbone config -> the config file (JSON or TOML) -> command-line flags.
A config file has one table per section, with the dataclass field names as keys::

    [model]          # SASRecConfig (teacher / student / odrec) or the baseline's config
    dim = 64
    [item_table]     # CodesConfig (student) or STTConfig (odrec)
    m = 4
    k = 32
    [train]          # TrainConfig
    epochs = 10
    [distill]        # DistillConfig (student / odrec)
    beta = 0.01

Unknown sections or keys are errors that list the valid ones.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from toolchain import __version__
from toolchain.config import Config
from toolchain.distillation.config import DistillConfig
from toolchain.errors import ConfigError
from toolchain.models.spec import ModelSpec
from toolchain.training.config import TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESETS = ("tmall", "retailrocket", "tiny")
SECTIONS = ("model", "item_table", "train", "distill")
RECIPES = ("deployable", "paper")


@dataclasses.dataclass
class RunSpec(ModelSpec):
    """Everything needed to rebuild a run's models: written to RUN/config.json. The model it
    trains (kind, model, item_table) plus how it trains."""

    train: TrainConfig
    distill: DistillConfig | None = None
    teacher: dict[str, Any] | None = None  # {"run": path, "model": SASRecConfig dict}
    data: dict[str, Any] = dataclasses.field(default_factory=dict)  # path, arrays_sha256, n_items
    #: students: {"recipe": deployable | paper, "encoder_storage": fp32 | fp16 | int8 | int4 (how freeze
    #: stores the encoder by default), "budget_bytes": the budget the table was sized for or None}
    deploy: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def model_spec(self) -> ModelSpec:
        """The model this run trains (what :func:`toolchain.models.build.build_model` builds)."""
        return ModelSpec(self.kind, self.model, self.item_table)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.model_spec.to_dict(),
            "train": self.train.to_dict(),
            "distill": self.distill.to_dict() if self.distill is not None else None,
            "teacher": self.teacher,
            "data": self.data,
            "deploy": self.deploy,
            "created_by": f"odtool {__version__}",
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str) -> RunSpec:
        m = ModelSpec.from_dict(d, source)
        return cls(
            kind=m.kind,
            model=m.model,
            item_table=m.item_table,
            train=TrainConfig.from_dict(d["train"], source=source),
            distill=DistillConfig.from_dict(d["distill"], source=source) if d.get("distill") else None,
            teacher=d.get("teacher"),
            data=d.get("data") or {},
            deploy=d.get("deploy") or {},
        )


def read_config_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """A JSON or TOML file of sections (see module doc) -> {section: {key: value}}."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'} ({e})") from e
    bad = sorted(k for k, v in data.items() if k not in SECTIONS or not isinstance(v, dict))
    if bad:
        raise ConfigError(f"unknown or malformed section(s) {', '.join(bad)}; valid sections: "
                          f"{', '.join(SECTIONS)} (each a table of keys)", source=str(path))
    return data


def preset_config(cls: type[Config], preset: str) -> Config:
    """Build ``cls`` at a named preset's scale (its ``tmall_scale`` etc. builder, else defaults)."""
    if preset not in PRESETS:
        raise ConfigError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    builder = {"tmall": "tmall_scale", "retailrocket": "retailrocket_scale", "tiny": "tiny"}[preset]
    return getattr(cls, builder)() if hasattr(cls, builder) else cls()


def merge(cls: type[Config], base: Config | dict[str, Any], *layers: dict[str, Any] | None,
          source: str) -> Config:
    """``base`` with each layer's keys laid over it, validated once as ``cls``."""
    values = base.to_dict() if isinstance(base, Config) else dict(base)
    for layer in layers:
        values.update({k: v for k, v in (layer or {}).items() if v is not None})
    values["kind"] = cls.KIND
    return cls.from_dict(values, source=source)
