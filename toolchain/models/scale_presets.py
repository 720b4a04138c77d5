"""Every benchmarked model at the paper's two scales, with initialised weights.

Timing does not depend on weight values, so ``odtool bench`` and the benchmark scripts can
measure a method at Tmall or RetailRocket scale without training it first:

* ``tmall``:        |V| = 40,728, N = 128, 1 head,  student M = 4, K = 32   (CR 29)
* ``retailrocket``: |V| = 36,968, N = 256, 2 heads, student M = 3, K = 256  (CR 31)

OD-Rec's semi-tensor-train rank is chosen so its compression ratio matches the student's.
The student comes in its deployed form (integer codes + codebooks); its codes are drawn
uniformly, which is what trained codes look like in the paper's Fig. 6.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from toolchain.compression.codes import CodesConfig, compression_ratio
from toolchain.compression.frozen_codes import FrozenCodesTable
from toolchain.compression.item_table import FullTable
from toolchain.compression.tensor_train import STTConfig, SemiTensorTrainTable
from toolchain.errors import UsageError
from toolchain.models.base import MODELS, SessionRecommender
from toolchain.models.init import paper_init_
from toolchain.models.sasrec import SASRec, SASRecConfig

KINDS = ("student", "odrec", "teacher", "gru4rec", "narm", "stamp", "srgnn")


@dataclass(frozen=True)
class Scale:
    name: str
    n_items: int
    sasrec: SASRecConfig
    codes: CodesConfig

    @property
    def dim(self) -> int:
        return self.sasrec.dim


SCALES = {
    "tmall": Scale("tmall", 40_728, SASRecConfig.tmall_scale(), CodesConfig.tmall_scale()),
    "retailrocket": Scale("retailrocket", 36_968, SASRecConfig.retailrocket_scale(), CodesConfig.retailrocket_scale()),
}


def get_scale(name: str) -> Scale:
    if name not in SCALES:
        raise UsageError(f"unknown preset '{name}'; valid: {', '.join(SCALES)}")
    return SCALES[name]


def build_at_scale(kind: str, scale: Scale, seed: int = 0) -> SessionRecommender:
    """``kind`` at ``scale`` with the paper's U(-0.1, 0.1) initialisation, in eval mode."""
    g = torch.manual_seed(seed)
    n, dim = scale.n_items, scale.dim
    if kind == "student":
        codes = torch.randint(0, scale.codes.k, (n + 1, scale.codes.m), generator=g)
        books = torch.empty(scale.codes.m, scale.codes.k, dim).uniform_(-0.1, 0.1, generator=g)
        return paper_init_(SASRec(n, scale.sasrec, items=FrozenCodesTable(codes, books))).eval()
    if kind == "odrec":
        ratio = compression_ratio(n, dim, scale.codes.m, scale.codes.k)
        cfg = STTConfig(n=2, target_ratio=ratio)
        cfg = cfg.replace(rank=cfg.shape(n, dim).rank)
        return paper_init_(SASRec(n, scale.sasrec, items=SemiTensorTrainTable(n, dim, cfg))).eval()
    if kind == "teacher":
        return paper_init_(SASRec(n, scale.sasrec, items=FullTable(n, dim))).eval()
    if kind in MODELS:
        cls = MODELS.get(kind)
        cfg = getattr(cls.config_class, f"{scale.name}_scale")()
        return paper_init_(cls(n, cfg)).eval()
    raise UsageError(f"unknown model '{kind}'; valid: {', '.join(KINDS)}")
