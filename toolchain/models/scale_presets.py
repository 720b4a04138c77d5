"""Every benchmarked model at the paper's two scales, with initialised weights.

Timing does not depend on weight values, so ``odtool bench`` and the benchmark scripts can
measure a method at Tmall or RetailRocket scale without training it first:

* ``tmall``:        |V| = 40,728, N = 128, 1 head;  paper student M = 4, K = 32 (CR 29);
                    student (deployable) M = 12, K = 256 product codes, int8 codebooks
                    and encoder
* ``retailrocket``: |V| = 36,968, N = 256, 2 heads; paper student M = 3, K = 256 (CR 31);
                    student (deployable) M = 16, K = 256 product codes, int8 codebooks
                    and encoder

``student`` is what ``odtool train student --ratio 30`` builds at that scale (the M that
``--ratio 30`` gives there: every byte, encoder included, within 1/30 of the teacher's; a
test keeps the two equal),
``paper-student`` EODRec's compositional codes. OD-Rec's semi-tensor-train rank is chosen so
its compression ratio matches the paper student's. Students come in their deployed form
(integer codes + codebooks); codes are drawn uniformly, which is what trained codes look
like in the paper's Fig. 6.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from toolchain.compression.codes import CodesConfig, compression_ratio
from toolchain.compression.frozen_codes import FrozenCodesTable
from toolchain.compression.item_table import FullTable
from toolchain.compression.quantized_codes import QuantizedCodesConfig, QuantizedCodesTable
from toolchain.compression.tensor_train import STTConfig, SemiTensorTrainTable
from toolchain.errors import UsageError
from toolchain.models.base import MODELS, SessionRecommender
from toolchain.models.init import paper_init_
from toolchain.models.sasrec import SASRec, SASRecConfig

KINDS = ("student", "paper-student", "odrec", "teacher", "gru4rec", "narm", "stamp", "srgnn")


@dataclass(frozen=True)
class Scale:
    """One paper scale: its item count and the SASRec, codes and deployable-student configs built at it."""
    name: str
    n_items: int
    sasrec: SASRecConfig
    codes: CodesConfig
    deployable: QuantizedCodesConfig

    @property
    def dim(self) -> int:
        return self.sasrec.dim


SCALES = {
    "tmall": Scale("tmall", 40_728, SASRecConfig.tmall_scale(), CodesConfig.tmall_scale(),
                   QuantizedCodesConfig(m=12, codebook_storage="int8")),
    "retailrocket": Scale("retailrocket", 36_968, SASRecConfig.retailrocket_scale(), CodesConfig.retailrocket_scale(),
                          QuantizedCodesConfig(m=16, codebook_storage="int8")),
}


def encoder_storage_at_scale(kind: str) -> str:
    """How the benchmarked ``kind`` stores its encoder: the deployable student int8, the rest fp32."""
    return "int8" if kind == "student" else "fp32"


def get_scale(name: str) -> Scale:
    """The Scale named ``name``; a UsageError listing the valid names otherwise."""
    if name not in SCALES:
        raise UsageError(f"unknown preset '{name}'; valid: {', '.join(SCALES)}")
    return SCALES[name]


def build_at_scale(kind: str, scale: Scale, seed: int = 0) -> SessionRecommender:
    """``kind`` at ``scale`` with the paper's U(-0.1, 0.1) initialisation, in eval mode."""
    g = torch.manual_seed(seed)
    n, dim = scale.n_items, scale.dim
    if kind == "student":
        table = QuantizedCodesTable(n, dim, scale.deployable)
        with torch.no_grad():
            table.codes.copy_(torch.randint(0, table.k, table.codes.shape, generator=g))
            table.codebooks.uniform_(-0.1, 0.1, generator=g)
            table.rotation.copy_(torch.linalg.qr(torch.randn(dim, dim, generator=g))[0])
        return paper_init_(SASRec(n, scale.sasrec, items=table)).eval()
    if kind == "paper-student":
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
