"""An encoder's matrices in the export graph as the artifact stores them (fp32, fp16, int8, int4).

``odtool freeze --encoder-dtype int8`` stores every weight matrix outside the item table
weight-only int8 (symmetric per output row); the exported program must hold those bytes, not
a widened fp32 copy, or the device would carry more than the artifact counts. Each
``nn.Linear`` of the encoder becomes a :class:`StoredLinear`, and SASRec's position table a
:class:`StoredRows`:

* int8 in ExecuTorch with odtool's kernels: ``odtool::linear_w8`` (fp32 activations, int8
  weights widened in registers, fp32 sums); int4 the same, its nibbles unpacked to int8 by
  ``odtool::unpack_w4`` on each call (one pass over half the bytes);
* everywhere else (ONNX, TorchScript-lite, ExecuTorch's own kernels), and for int4 in every
  format: the weight is widened in the graph (``q.float() * scale``; int4's nibbles split
  with floor / multiply / subtract first) and a plain linear follows; ONNX Runtime folds the
  widening into a constant when it loads the file, ExecuTorch and the lite interpreter pay it
  on every call.

Re-quantizing the artifact's (already dequantized) weights gives back the stored values
exactly (the row maximum maps to 127 again), so the graph computes what the artifact holds.
"""

from __future__ import annotations

import torch
from torch import nn

from toolchain.compression.storage import quantize_rows, widen


class StoredLinear(nn.Module):
    """``nn.Linear`` whose weight lives in the graph as fp16, int8 or int4 (see module doc)."""

    def __init__(self, linear: nn.Linear, storage: str, use_kernel: bool) -> None:
        super().__init__()
        values, scales = quantize_rows(linear.weight, storage)
        self.register_buffer("values", values)
        self.register_buffer("scales", scales)
        bias = linear.bias.detach().float() if linear.bias is not None else torch.zeros(linear.out_features)
        self.register_buffer("bias", bias)
        self.use_kernel = use_kernel and storage in ("int8", "int4")
        if self.use_kernel:
            from export.kernels import ops  # noqa: F401 - registers torch.ops.odtool

    def weight(self) -> torch.Tensor:
        return widen(self.values, self.scales)

    def int8_weight(self) -> torch.Tensor:
        """The int8 weight the kernels take: the stored one, or int4 pairs unpacked on use."""
        int4 = self.values.dtype == torch.uint8  # int4 pairs (an odd width stays int8)
        return torch.ops.odtool.unpack_w4(self.values) if int4 else self.values

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_kernel:
            return torch.ops.odtool.linear_w8(x, self.int8_weight(), self.scales, self.bias)
        return nn.functional.linear(x, self.weight(), self.bias)


class StoredRows(nn.Module):
    """An embedding table [rows, N] stored as fp16, int8 or int4; ``rows(idx)`` widens only those rows."""

    def __init__(self, weight: torch.Tensor, storage: str) -> None:
        super().__init__()
        values, scales = quantize_rows(weight, storage)
        self.register_buffer("values", values)
        self.register_buffer("scales", scales)

    def rows(self, idx: torch.Tensor) -> torch.Tensor:
        """idx [L] -> [L, N] fp32."""
        return widen(torch.index_select(self.values, 0, idx),
                     torch.index_select(self.scales, 0, idx) if self.scales is not None else None)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Like ``nn.Embedding``: idx [...] -> [..., N] (the eager reference path)."""
        return self.rows(idx.reshape(-1)).reshape(*idx.shape, self.values.shape[1])


def store_encoder(model: nn.Module, storage: str, use_kernel: bool) -> nn.Module:
    """Replace, in place, every ``nn.Linear`` outside ``model.items`` (and SASRec's positions)
    with its stored form; ``fp32`` changes nothing. Returns ``model``."""
    if storage == "fp32":
        return model
    targets = [(name, mod) for name, mod in model.named_modules()
               if isinstance(mod, nn.Linear) and not name.startswith("items")]
    for name, mod in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, StoredLinear(mod, storage, use_kernel))
    positions = getattr(model, "positions", None)
    if isinstance(positions, nn.Embedding):
        model.positions = StoredRows(positions.weight, storage)
    return model
