"""SASRec's encoder (batch 1) spelled so that XNNPACK takes it whole: the export form.

Same parameters and the same math as ``SASRec.encode`` + the soft-attention readout (the
export's parity check holds it to eager within 1e-4 relative; measured ~1e-6):

* LayerNorm as mean / subtract / rsqrt on a [1, L, 1, N] view: XNNPACK's mean takes the two
  innermost dims of a 4-D tensor, while ``native_layer_norm`` would run on a portable kernel;
* the key-padding mask as an additive bias (0 / -1e9) instead of ``torch.where``;
* attention and the readout's masked sums as 3-D ``bmm`` (no 4-D broadcasts, no expands).

On this machine this takes the Tmall-scale encoder from ~165 us in ten XNNPACK partitions
with portable ops between them to ~125 us in one partition.

An encoder stored int8 and exported with odtool's kernels runs its weights through
``odtool::linear_w8``, which would cut XNNPACK's partition at every layer; there each block is
one ``odtool::sasrec_block_w8`` call and the final LayerNorm + readout one
``odtool::sasrec_readout_w8`` (the same math from the same int8 bytes: export/kernels).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from toolchain.models.base import SessionRecommender
from toolchain.models.sasrec import SASRec

_MASKED = -1e9


def supports_fast_encoder(model: SessionRecommender) -> bool:
    """Whether ``model`` can use the XNNPACK-friendly encoder: a non-causal SASRec."""
    return isinstance(model, SASRec) and not model.config.causal


def _w8(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """(int8 weight, scale, bias) of a layer that odtool's ``linear_w8`` runs, else None."""
    from export.graphs.stored_weights import StoredLinear

    if isinstance(layer, StoredLinear) and layer.use_kernel:
        return layer.int8_weight(), layer.scales, layer.bias
    return None


def _layer_norm(x: torch.Tensor, ln: nn.LayerNorm) -> torch.Tensor:
    length, n = x.shape
    x4 = x.view(1, length, 1, n)
    mu = x4.mean(dim=(2, 3), keepdim=True)
    d = x4 - mu
    var = (d * d).mean(dim=(2, 3), keepdim=True)
    return (d * torch.rsqrt(var + ln.eps) * ln.weight + ln.bias).view(length, n)


class FastSASRecEncoder(nn.Module):
    """theta [N] from sanitized items [1, L] and lengths [1] in 1..L (eval mode only)."""

    def __init__(self, model: SASRec) -> None:
        super().__init__()
        if not supports_fast_encoder(model):
            raise ValueError("the fast encoder needs a non-causal SASRec")
        self.model = model
        self.heads, self.dim, self.max_len = model.config.heads, model.config.dim, model.config.max_len

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        m, n, length = self.model, self.dim, items.shape[1]
        pos = torch.arange(length, device=items.device)
        real = (pos < lengths).to(torch.float32)  # [L]
        ids = items[0] * (pos < lengths)
        back = (lengths - 1 - pos).clamp(0, self.max_len - 1)  # positions count back from the last click
        pos_rows = (m.positions.rows(back) if hasattr(m.positions, "rows")  # a stored (fp16 / int8) table
                    else torch.index_select(m.positions.weight, 0, back))
        x = m.items.embed(ids) + pos_rows
        x = x * real.view(length, 1)
        if self._fused_w8():
            return self._encode_w8(x, real)
        key_bias = ((real - 1.0) * -_MASKED).view(1, length)  # 0 for real keys, -1e9 for padding
        h, d = self.heads, n // self.heads
        for block in m.blocks:
            qkv = block.att.qkv(_layer_norm(x, block.ln_att))  # [L, 3N]
            if h == 1:
                q3 = qkv.view(1, length, 3 * n)
                q, k, v = q3[:, :, :n], q3[:, :, n:2 * n], q3[:, :, 2 * n:]
                att = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(d) + key_bias, -1)
                o = torch.bmm(att, v).view(length, n)
            else:
                q, k, v = qkv.view(length, 3, h, d).permute(1, 2, 0, 3)  # [H, L, d] each
                att = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(d) + key_bias, -1)
                o = torch.bmm(att, v).permute(1, 0, 2).reshape(length, n)
            x = x + block.att.out(o)
            ffn = block.ffn  # Linear, ReLU, Dropout, Linear
            x = x + ffn[3](torch.relu(ffn[0](_layer_norm(x, block.ln_ffn))))
        x = _layer_norm(x, m.ln_out)
        r = m.readout
        mean = torch.bmm(real.view(1, 1, length), x.view(1, length, n)).view(1, n) / lengths.to(torch.float32)
        alpha = r.f(torch.sigmoid(r.w1(mean) + r.w2(x))) * real.view(length, 1)  # [L, 1]
        return torch.bmm(alpha.view(1, 1, length), x.view(1, length, n)).view(n)

    def _fused_w8(self) -> bool:
        """Whether every linear layer runs on ``linear_w8`` (int8 storage, odtool's kernels) and
        the LayerNorms share one eps: then the fused block and readout ops apply."""
        m = self.model
        layers = [m.readout.w1, m.readout.w2, m.readout.f]
        norms = [m.ln_out]
        for block in m.blocks:
            layers += [block.att.qkv, block.att.out, block.ffn[0], block.ffn[3]]
            norms += [block.ln_att, block.ln_ffn]
        return all(_w8(x) is not None for x in layers) and len({ln.eps for ln in norms}) == 1

    def _encode_w8(self, x: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """theta [N] through odtool::sasrec_block_w8 per block and odtool::sasrec_readout_w8."""
        m = self.model
        for block in m.blocks:
            x = torch.ops.odtool.sasrec_block_w8(
                x, real, block.ln_att.weight, block.ln_att.bias, *_w8(block.att.qkv), *_w8(block.att.out),
                block.ln_ffn.weight, block.ln_ffn.bias, *_w8(block.ffn[0]), *_w8(block.ffn[3]), self.heads,
                block.ln_att.eps)
        r = m.readout
        return torch.ops.odtool.sasrec_readout_w8(x, real, m.ln_out.weight, m.ln_out.bias, *_w8(r.w1), *_w8(r.w2),
                                                  *_w8(r.f), m.ln_out.eps)
