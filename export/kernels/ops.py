"""``odtool::code_topk`` and ``odtool::lut_topk`` for PyTorch: schemas, eager references, fake
kernels. ``lut_topk(table[M, K], codes[M, V+1], k)`` is ``code_topk`` after the look-up table:
graphs whose table is not ``codebooks . theta`` (product-quantized codes) compute it themselves;
``pq_topk(theta[M, d], books int8 [M, d, K], scales[M, K], codes, k)`` computes a product-quantized
table from the stored int8 codebooks itself (see odtool_kernels.cpp);
``pq_topk_rotated(theta[N], rotation int8 [N, N], rotation_scales[N], books, scales, codes, k)`` first
rotates theta by the stored int8 R itself, and ``pq_embed(ids, codes, books, scales, rotation,
rotation_scales, dim)`` embeds a session's items from the same stored bytes (rows, cut to dim, times R).
``sasrec_block_w8`` and ``sasrec_readout_w8`` run one pre-LN SASRec block and the final LayerNorm +
soft-attention readout of a session whose encoder is stored int8, each linear layer as ``linear_w8``
takes it (int8 weight, scale, bias).
``linear_w8(x, weight int8 [O, I], scale [O, 1], bias [O])`` is a weight-only int8 linear layer
(fp32 activations and sums): an encoder stored as int8 runs from its int8 bytes.

The eager implementation is the reference the compiled kernel is checked against; it
builds the M x K look-up table, gathers every item's entries and calls ``torch.topk`` (ties may be ordered
differently from the kernel, which prefers the lower index).
"""

from __future__ import annotations

import torch

_LIB = torch.library.Library("odtool", "DEF")
_LIB.define("code_topk(Tensor theta, Tensor codebooks, Tensor codes, int k) -> (Tensor, Tensor)")
_LIB.define("code_topk.out(Tensor theta, Tensor codebooks, Tensor codes, int k, *, Tensor(a!) values, "
            "Tensor(b!) indices) -> (Tensor(a!), Tensor(b!))")
_LIB.define("linear_w8(Tensor x, Tensor weight, Tensor scale, Tensor bias) -> Tensor")
_LIB.define("linear_w8.out(Tensor x, Tensor weight, Tensor scale, Tensor bias, *, Tensor(a!) out) -> Tensor(a!)")
_LIB.define("widen(Tensor values, Tensor scales) -> Tensor")
_LIB.define("unpack_w4(Tensor packed) -> Tensor")
_LIB.define("unpack_w4.out(Tensor packed, *, Tensor(a!) out) -> Tensor(a!)")
_LIB.define("widen.out(Tensor values, Tensor scales, *, Tensor(a!) out) -> Tensor(a!)")
_LIB.define("pq_topk(Tensor theta, Tensor books, Tensor scales, Tensor codes, int k) -> (Tensor, Tensor)")
_LIB.define("pq_topk.out(Tensor theta, Tensor books, Tensor scales, Tensor codes, int k, *, Tensor(a!) values, "
            "Tensor(b!) indices) -> (Tensor(a!), Tensor(b!))")
_LIB.define("pq_topk_rotated(Tensor theta, Tensor rotation, Tensor rotation_scales, Tensor books, Tensor scales, "
            "Tensor codes, int k) -> (Tensor, Tensor)")
_LIB.define("pq_topk_rotated.out(Tensor theta, Tensor rotation, Tensor rotation_scales, Tensor books, "
            "Tensor scales, Tensor codes, int k, *, Tensor(a!) values, Tensor(b!) indices) -> (Tensor(a!), Tensor(b!))")
_LIB.define("pq_embed(Tensor ids, Tensor codes, Tensor books, Tensor scales, Tensor rotation, Tensor rotation_scales, "
            "int dim) -> Tensor")
_LIB.define("pq_embed.out(Tensor ids, Tensor codes, Tensor books, Tensor scales, Tensor rotation, "
            "Tensor rotation_scales, int dim, *, Tensor(a!) out) -> Tensor(a!)")
_BLOCK_ARGS = ("Tensor x, Tensor real, Tensor ln1_w, Tensor ln1_b, Tensor qkv_q, Tensor qkv_s, Tensor qkv_b, "
               "Tensor out_q, Tensor out_s, Tensor out_b, Tensor ln2_w, Tensor ln2_b, Tensor f1_q, Tensor f1_s, "
               "Tensor f1_b, Tensor f2_q, Tensor f2_s, Tensor f2_b, int heads, float eps")
_READOUT_ARGS = ("Tensor x, Tensor real, Tensor ln_w, Tensor ln_b, Tensor w1_q, Tensor w1_s, Tensor w1_b, "
                 "Tensor w2_q, Tensor w2_s, Tensor w2_b, Tensor f_q, Tensor f_s, Tensor f_b, float eps")
_LIB.define(f"sasrec_block_w8({_BLOCK_ARGS}) -> Tensor")
_LIB.define(f"sasrec_block_w8.out({_BLOCK_ARGS}, *, Tensor(a!) out) -> Tensor(a!)")
_LIB.define(f"sasrec_readout_w8({_READOUT_ARGS}) -> Tensor")
_LIB.define(f"sasrec_readout_w8.out({_READOUT_ARGS}, *, Tensor(a!) out) -> Tensor(a!)")
_LIB.define("lut_topk(Tensor table, Tensor codes, int k) -> (Tensor, Tensor)")
_LIB.define("lut_topk.out(Tensor table, Tensor codes, int k, *, Tensor(a!) values, "
            "Tensor(b!) indices) -> (Tensor(a!), Tensor(b!))")


def lookup_table(theta: torch.Tensor, codebooks: torch.Tensor) -> torch.Tensor:
    """t[m, j] = theta . E_m[j]: [M, K] from ``theta`` [N] and ``codebooks`` [M, K, N]."""
    m, k, n = codebooks.shape
    return (codebooks.reshape(m * k, n) @ theta.reshape(n)).view(m, k)


def code_scores(table: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Scores [V+1] of every item from ``table`` [M, K] and codebook-major ``codes`` [M, V+1],
    summed in codebook order like the kernel; item 0 (padding) is -inf."""
    m = table.shape[0]
    parts = table[torch.arange(m, device=table.device).view(m, 1), codes.long()]  # [M, V+1]
    scores = parts[0]
    for i in range(1, m):
        scores = scores + parts[i]
    return torch.cat([scores.new_full((1,), float("-inf")), scores[1:]])


def _code_topk(theta, codebooks, codes, k):
    values, indices = torch.topk(code_scores(lookup_table(theta, codebooks), codes), k)
    return values, indices


@torch.library.impl(_LIB, "code_topk", "CompositeExplicitAutograd")
def _impl(theta, codebooks, codes, k):
    return _code_topk(theta, codebooks, codes, k)


@torch.library.impl(_LIB, "code_topk.out", "CompositeExplicitAutograd")
def _impl_out(theta, codebooks, codes, k, *, values, indices):
    v, i = _code_topk(theta, codebooks, codes, k)
    values.copy_(v)
    indices.copy_(i)
    return values, indices


@torch.library.register_fake("odtool::code_topk")
def _fake(theta, codebooks, codes, k):
    return theta.new_empty(k), theta.new_empty(k, dtype=torch.long)


def _lut_topk(table, codes, k):
    return torch.topk(code_scores(table, codes), k)


@torch.library.impl(_LIB, "lut_topk", "CompositeExplicitAutograd")
def _lut_impl(table, codes, k):
    values, indices = _lut_topk(table, codes, k)
    return values, indices


@torch.library.impl(_LIB, "lut_topk.out", "CompositeExplicitAutograd")
def _lut_impl_out(table, codes, k, *, values, indices):
    v, i = _lut_topk(table, codes, k)
    values.copy_(v)
    indices.copy_(i)
    return values, indices


@torch.library.register_fake("odtool::lut_topk")
def _lut_fake(table, codes, k):
    return table.new_empty(k), table.new_empty(k, dtype=torch.long)


def pq_table(theta: torch.Tensor, books: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """t[m, j] = scales[m, j] * sum_c theta[m, c] * books[m, c, j]: [M, K] from ``theta`` [M, d],
    int8 ``books`` [M, d, K] (dimension-major) and ``scales`` [M, K]."""
    m, d, k = books.shape
    return torch.bmm(theta.reshape(m, 1, d), books.to(torch.float32)).view(m, k) * scales.reshape(m, k)


def _pq_topk(theta, books, scales, codes, k):
    return torch.topk(code_scores(pq_table(theta, books, scales), codes), k)


@torch.library.impl(_LIB, "pq_topk", "CompositeExplicitAutograd")
def _pq_impl(theta, books, scales, codes, k):
    values, indices = _pq_topk(theta, books, scales, codes, k)
    return values, indices


@torch.library.impl(_LIB, "pq_topk.out", "CompositeExplicitAutograd")
def _pq_impl_out(theta, books, scales, codes, k, *, values, indices):
    v, i = _pq_topk(theta, books, scales, codes, k)
    values.copy_(v)
    indices.copy_(i)
    return values, indices


@torch.library.register_fake("odtool::pq_topk")
def _pq_fake(theta, books, scales, codes, k):
    return theta.new_empty(k), theta.new_empty(k, dtype=torch.long)


def stored_rotation(rotation: torch.Tensor, rotation_scales: torch.Tensor) -> torch.Tensor:
    """R [N, N] float32 from its int8 bytes and row scales: R[i, :] = rotation[i, :] * rotation_scales[i]."""
    return rotation.to(torch.float32) * rotation_scales.reshape(-1, 1)


def _pq_topk_rotated(theta, rotation, rotation_scales, books, scales, codes, k):
    m, d, _ = books.shape
    rotated = stored_rotation(rotation, rotation_scales) @ theta.reshape(-1)
    padded = torch.cat([rotated, rotated.new_zeros(m * d - rotated.shape[0])])
    return _pq_topk(padded.view(m, d), books, scales, codes, k)


@torch.library.impl(_LIB, "pq_topk_rotated", "CompositeExplicitAutograd")
def _pqr_impl(theta, rotation, rotation_scales, books, scales, codes, k):
    values, indices = _pq_topk_rotated(theta, rotation, rotation_scales, books, scales, codes, k)
    return values, indices


@torch.library.impl(_LIB, "pq_topk_rotated.out", "CompositeExplicitAutograd")
def _pqr_impl_out(theta, rotation, rotation_scales, books, scales, codes, k, *, values, indices):
    v, i = _pq_topk_rotated(theta, rotation, rotation_scales, books, scales, codes, k)
    values.copy_(v)
    indices.copy_(i)
    return values, indices


@torch.library.register_fake("odtool::pq_topk_rotated")
def _pqr_fake(theta, rotation, rotation_scales, books, scales, codes, k):
    return theta.new_empty(k), theta.new_empty(k, dtype=torch.long)


def pq_embed(ids: torch.Tensor, codes: torch.Tensor, books: torch.Tensor, scales: torch.Tensor,
             rotation: torch.Tensor, rotation_scales: torch.Tensor, dim: int) -> torch.Tensor:
    """Item vectors [..., dim] for ``ids`` [...] (id 0: zeros): item v's M int8 codebook rows
    books[m, :, c_v^m] * scales[m, c_v^m] concatenated, cut to ``dim``, times R (when ``rotation``
    is not empty)."""
    m, d, k = books.shape
    flat = ids.reshape(-1)
    n = flat.shape[0]
    c = torch.index_select(codes, 1, flat).long()  # [M, n]
    q = torch.gather(books, 2, c.view(m, 1, n).expand(m, d, n)).to(torch.float32)
    rows = (q * torch.gather(scales.reshape(m, k), 1, c).view(m, 1, n)).permute(2, 0, 1).reshape(n, m * d)[:, :dim]
    if rotation.numel():
        rows = rows @ stored_rotation(rotation, rotation_scales)
    rows = rows * (flat != 0).unsqueeze(-1).to(rows.dtype)
    return rows.reshape(*ids.shape, dim)


@torch.library.impl(_LIB, "pq_embed", "CompositeExplicitAutograd")
def _pqe_impl(ids, codes, books, scales, rotation, rotation_scales, dim):
    return pq_embed(ids, codes, books, scales, rotation, rotation_scales, dim)


@torch.library.impl(_LIB, "pq_embed.out", "CompositeExplicitAutograd")
def _pqe_impl_out(ids, codes, books, scales, rotation, rotation_scales, dim, *, out):
    out.copy_(pq_embed(ids, codes, books, scales, rotation, rotation_scales, dim))
    return out


@torch.library.register_fake("odtool::pq_embed")
def _pqe_fake(ids, codes, books, scales, rotation, rotation_scales, dim):
    return scales.new_empty(*ids.shape, dim, dtype=torch.float32)


def _layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def sasrec_block_w8(x, real, ln1_w, ln1_b, qkv_q, qkv_s, qkv_b, out_q, out_s, out_b, ln2_w, ln2_b, f1_q, f1_s, f1_b,
                    f2_q, f2_s, f2_b, heads, eps):
    """One pre-LN SASRec block (eval) over x [L, N] with keys at real positions only; padding rows
    of the result are zeros (see odtool_kernels.cpp)."""
    length, n = x.shape
    d = n // heads
    keep = real.view(length, 1) != 0
    qkv = _linear_w8(_layer_norm(x, ln1_w, ln1_b, eps), qkv_q, qkv_s, qkv_b)
    q, k, v = qkv.view(length, 3, heads, d).permute(1, 2, 0, 3)  # [H, L, d] each
    scores = torch.bmm(q, k.transpose(1, 2)) / (d ** 0.5)
    scores = scores.masked_fill(~keep.view(1, 1, length), float("-inf"))
    o = torch.bmm(torch.softmax(scores, -1), v).permute(1, 0, 2).reshape(length, n)
    h = x + _linear_w8(o, out_q, out_s, out_b)
    f = _linear_w8(torch.relu(_linear_w8(_layer_norm(h, ln2_w, ln2_b, eps), f1_q, f1_s, f1_b)), f2_q, f2_s, f2_b)
    return (h + f) * keep.to(x.dtype)


def sasrec_readout_w8(x, real, ln_w, ln_b, w1_q, w1_s, w1_b, w2_q, w2_s, w2_b, f_q, f_s, f_b, eps):
    """theta [N]: the final LayerNorm of x [L, N], then the soft-attention readout over the real positions."""
    keep = (real != 0).to(x.dtype).view(-1, 1)
    xn = _layer_norm(x, ln_w, ln_b, eps)
    mean = (xn * keep).sum(0, keepdim=True) / keep.sum().clamp(min=1.0)
    gate = torch.sigmoid(_linear_w8(mean, w1_q, w1_s, w1_b) + _linear_w8(xn, w2_q, w2_s, w2_b))
    alpha = _linear_w8(gate, f_q, f_s, f_b) * keep  # [L, 1]
    return (alpha * xn).sum(0)


@torch.library.impl(_LIB, "sasrec_block_w8", "CompositeExplicitAutograd")
def _block_impl(*args):
    return sasrec_block_w8(*args)


@torch.library.impl(_LIB, "sasrec_block_w8.out", "CompositeExplicitAutograd")
def _block_impl_out(*args, out):
    out.copy_(sasrec_block_w8(*args))
    return out


@torch.library.register_fake("odtool::sasrec_block_w8")
def _block_fake(x, *args):
    return torch.empty_like(x)


@torch.library.impl(_LIB, "sasrec_readout_w8", "CompositeExplicitAutograd")
def _readout_impl(*args):
    return sasrec_readout_w8(*args)


@torch.library.impl(_LIB, "sasrec_readout_w8.out", "CompositeExplicitAutograd")
def _readout_impl_out(*args, out):
    out.copy_(sasrec_readout_w8(*args))
    return out


@torch.library.register_fake("odtool::sasrec_readout_w8")
def _readout_fake(x, *args):
    return x.new_empty(x.shape[1])


def code_topk(theta: torch.Tensor, codebooks: torch.Tensor, codes: torch.Tensor,
              k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The op as graphs call it (``torch.ops.odtool.code_topk``); ``codes`` is [M, V+1]."""
    return torch.ops.odtool.code_topk(theta, codebooks, codes, k)


def _linear_w8(x, weight, scale, bias):
    return torch.nn.functional.linear(x, weight.to(torch.float32) * scale.view(-1, 1), bias)


@torch.library.impl(_LIB, "linear_w8", "CompositeExplicitAutograd")
def _w8_impl(x, weight, scale, bias):
    return _linear_w8(x, weight, scale, bias)


@torch.library.impl(_LIB, "linear_w8.out", "CompositeExplicitAutograd")
def _w8_impl_out(x, weight, scale, bias, *, out):
    out.copy_(_linear_w8(x, weight, scale, bias))
    return out


@torch.library.register_fake("odtool::linear_w8")
def _w8_fake(x, weight, scale, bias):
    return x.new_empty(*x.shape[:-1], weight.shape[0])


def _widen(values, scales):
    if values.dtype == torch.int8:
        return values.to(torch.float32) * scales
    return values.to(torch.float32)


@torch.library.impl(_LIB, "widen", "CompositeExplicitAutograd")
def _widen_impl(values, scales):
    return _widen(values, scales)


@torch.library.impl(_LIB, "widen.out", "CompositeExplicitAutograd")
def _widen_impl_out(values, scales, *, out):
    out.copy_(_widen(values, scales))
    return out


@torch.library.register_fake("odtool::widen")
def _widen_fake(values, scales):
    return values.new_empty(values.shape, dtype=torch.float32)


def _unpack_w4(packed):
    """uint8 [..., C] of int4 pairs (q + 8; column 2j low nibble, 2j + 1 high) -> int8 [..., 2C]."""
    lo = (packed & 15).to(torch.int8) - 8
    hi = (packed >> 4).to(torch.int8) - 8
    return torch.stack([lo, hi], dim=-1).reshape(*packed.shape[:-1], 2 * packed.shape[-1])


@torch.library.impl(_LIB, "unpack_w4", "CompositeExplicitAutograd")
def _unpack_w4_impl(packed):
    return _unpack_w4(packed)


@torch.library.impl(_LIB, "unpack_w4.out", "CompositeExplicitAutograd")
def _unpack_w4_impl_out(packed, *, out):
    out.copy_(_unpack_w4(packed))
    return out


@torch.library.register_fake("odtool::unpack_w4")
def _unpack_w4_fake(packed):
    return packed.new_empty(*packed.shape[:-1], 2 * packed.shape[-1], dtype=torch.int8)
