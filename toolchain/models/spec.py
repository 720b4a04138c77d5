"""What model a run or an artifact holds (:class:`ModelSpec`): its kind, backbone config and
item-table config, enough to build it untrained through the model and item-table registries.

A run's config (``RUN/config.json``) and an artifact's manifest (``model.spec``) both hold a
full run spec; the model spec reads just these three fields of it, so loading an artifact
needs neither the training code nor its settings.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from toolchain.compression.codes import CodesConfig
from toolchain.compression.quantized_codes import QuantizedCodesConfig
from toolchain.compression.tensor_train import STTConfig, TTConfig
from toolchain.config import Config
from toolchain.errors import ConfigError
from toolchain.models.base import MODELS
from toolchain.models.sasrec import SASRecConfig

SASREC_KINDS = ("teacher", "student", "odrec")
BASELINES = ("gru4rec", "narm", "stamp", "srgnn")
KINDS = SASREC_KINDS + BASELINES
TABLE_CONFIGS: dict[str, type[Config] | None] = {"full": None, "codes": CodesConfig, "stt": STTConfig,
                                                 "tt": TTConfig, "quantized": QuantizedCodesConfig}


def model_config_class(kind: str) -> type[Config]:
    """The backbone config class of a model kind (SASRec's for teacher, student and OD-Rec)."""
    return SASRecConfig if kind in SASREC_KINDS else MODELS.get(kind).config_class


@dataclasses.dataclass
class ModelSpec:
    """kind (one of KINDS), the backbone's config, the item table's config (None: a full table)."""

    kind: str
    model: Config
    item_table: Config | None

    @property
    def table_kind(self) -> str:
        return self.item_table.KIND if self.item_table is not None else "full"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model.to_dict(),
                "item_table": self.item_table.to_dict() if self.item_table is not None else {"kind": "full"}}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str) -> ModelSpec:
        """The model fields of a run spec dict (other fields are ignored); errors name ``source``."""
        kind = d.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"kind {kind!r} is not one of {', '.join(KINDS)}", source=source)
        table = dict(d.get("item_table") or {"kind": "full"})
        tcls = TABLE_CONFIGS.get(table.get("kind", "full"), False)
        if tcls is False:
            raise ConfigError(f"item_table kind {table.get('kind')!r} is not one of "
                              f"{', '.join(TABLE_CONFIGS)}", source=source)
        if "model" not in d:
            raise ConfigError("the spec has no 'model' section", source=source)
        return cls(kind=kind, model=model_config_class(kind).from_dict(d["model"], source=source),
                   item_table=tcls.from_dict(table, source=source) if tcls else None)
