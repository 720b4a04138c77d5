"""How a float tensor is stored on the device: fp32, fp16, or int8 with a per-row scale; an
encoder's matrices and codebooks may also be int4 with a per-row scale (a codebook's rotation
then stays int8: :func:`rotation_storage`).

int8 is symmetric per row (the last dimension): scale = max|row| / 127, q = round(x / scale).
int4 is the same with 7 for 127, held as q + 8 in nibbles, two columns a byte (uint8
[..., N / 2]; column 2j low, 2j + 1 high). Storing an already stored tensor again gives the
same values (the row maximum maps back to 127 or 7), so freezing, exporting and re-exporting
agree. The numpy writer of artifact parts (:mod:`toolchain.artifact.quantize`) uses the same
rule and the same layout.
"""

from __future__ import annotations

import torch

#: what rotations (and every float tensor) may be stored as
STORAGES = ("fp32", "fp16", "int8")
#: what an encoder's matrices may be stored as (int4 is weight-only)
ENCODER_STORAGES = STORAGES + ("int4",)
#: what codebooks may be stored as: int4 halves the bytes of a nested table's codebooks, which grow
#: with its columns (K * d per column), so a budget holds more columns
CODEBOOK_STORAGES = STORAGES + ("int4",)


def rotation_storage(codebook_storage: str) -> str:
    """How a table's rotation R is stored beside codebooks of ``codebook_storage``: the same,
    except int4 codebooks keep an int8 R (R turns every score; it is N x N, a small share)."""
    return "int8" if codebook_storage == "int4" else codebook_storage


def storage_for_width(storage: str, width: int) -> str:
    """How rows of ``width`` values asked to be stored as ``storage`` are stored: int4 packs pairs
    of columns, so an odd width stays int8 (the one rule the graphs, the byte counts and the
    artifact writer share)."""
    return "int8" if storage == "int4" and width % 2 else storage


def quantize_rows(x: torch.Tensor, storage: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(values, scales [..., 1] or None): ``x`` as ``storage`` holds it."""
    x = x.detach().float()
    if storage == "fp32":
        return x, None
    if storage == "fp16":
        return x.half(), None
    int4 = storage_for_width(storage, x.shape[-1]) == "int4"  # an odd width stays int8, as the artifact stores it
    top = 7.0 if int4 else 127.0
    scale = x.abs().amax(-1, keepdim=True) / top
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.clamp(torch.round(x / scale), -top, top)
    if int4:
        u = (q + 8).to(torch.uint8)
        return u[..., 0::2] | (u[..., 1::2] << 4), scale
    return q.to(torch.int8), scale


def widen(values: torch.Tensor, scales: torch.Tensor | None) -> torch.Tensor:
    """The fp32 tensor that (values, scales) stand for; uint8 values with scales are int4 pairs,
    unpacked with float arithmetic (floor, multiply, subtract), which every export format runs."""
    w = values.to(torch.float32)
    if values.dtype == torch.uint8 and scales is not None:
        hi = torch.floor(w * 0.0625)
        lo = w - hi * 16.0
        w = torch.stack([lo, hi], dim=-1).reshape(*values.shape[:-1], 2 * values.shape[-1]) - 8.0
    return w * scales if scales is not None else w


def fake_storage(x: torch.Tensor, storage: str) -> torch.Tensor:
    """``x`` rounded as it will be stored, with a straight-through gradient."""
    if storage == "fp32":
        return x
    return x + (widen(*quantize_rows(x, storage)) - x).detach()

