"""The paper's initialisation, U(-b, b) with b = 0.1 (EODRec section 6.1.3), applied once.

Every learnable parameter gets U(-b, b), except

* LayerNorm gains and biases: they keep 1 and 0 (a gain drawn from U(-0.1, 0.1) would shrink
  every normalised activation tenfold and flip signs at random; the paper's SASRec
  backbone inherits its LayerNorms from SASRec, where they start at 1 / 0);
* tensor-train cores: a tensor-train table scales its cores so that their *products* have
  the spread of U(-0.1, 0.1) (see :mod:`toolchain.compression.tensor_train`);
* a cut's correction of the encoder (``item_table.cut_encoders``): zero, so every cut of an
  elastic student starts as the shared encoder (:mod:`toolchain.models.cut_encoders`).
"""

from __future__ import annotations

import torch
from torch import nn

from toolchain.compression.item_table import uniform_
from toolchain.compression.tensor_train import TensorTrainTable
from toolchain.models.cut_encoders import CutDelta


@torch.no_grad()
def paper_init_(module: nn.Module, bound: float = 0.1) -> nn.Module:
    """Re-draw the parameters of ``module`` (recursively) as described above; returns it."""
    keep = set()
    for sub in module.modules():
        if isinstance(sub, (nn.LayerNorm, TensorTrainTable, CutDelta)):  # (a cut's correction starts at zero)
            keep.update(id(p) for p in sub.parameters())
    for p in module.parameters():
        if id(p) not in keep:
            uniform_(p, bound)
    return module
