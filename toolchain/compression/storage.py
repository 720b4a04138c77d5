"""How a float tensor is stored on the device: fp32, fp16, or int8 with a per-row scale.

int8 is symmetric per row (the last dimension): scale = max|row| / 127, q = round(x / scale).
Storing an already stored tensor again gives the same values (the row maximum maps back to
127), so freezing, exporting and re-exporting agree. The numpy writer of artifact parts
(:mod:`toolchain.artifact.quantize`) uses the same rule.
"""

from __future__ import annotations

import torch

STORAGES = ("fp32", "fp16", "int8")


def quantize_rows(x: torch.Tensor, storage: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(values, scales [..., 1] or None): ``x`` as ``storage`` holds it."""
    x = x.detach().float()
    if storage == "fp32":
        return x, None
    if storage == "fp16":
        return x.half(), None
    scale = x.abs().amax(-1, keepdim=True) / 127.0
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.clamp(torch.round(x / scale), -127, 127).to(torch.int8), scale


def widen(values: torch.Tensor, scales: torch.Tensor | None) -> torch.Tensor:
    """The fp32 tensor that (values, scales) stand for."""
    w = values.to(torch.float32)
    return w * scales if scales is not None else w


def fake_storage(x: torch.Tensor, storage: str) -> torch.Tensor:
    """``x`` rounded as it will be stored, with a straight-through gradient."""
    if storage == "fp32":
        return x
    return x + (widen(*quantize_rows(x, storage)) - x).detach()
