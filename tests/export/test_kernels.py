"""odtool::code_topk: the compiled ExecuTorch kernel against the eager reference."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from export.kernels import ops  # noqa: F401 - registers the op
from export.kernels.build import load


class _Scorer(nn.Module):
    def __init__(self, codebooks: torch.Tensor, codes: torch.Tensor, k: int) -> None:
        super().__init__()
        self.codebooks = nn.Buffer(codebooks)
        self.codes = nn.Buffer(codes)
        self.k = k

    def forward(self, theta: torch.Tensor):
        v, i = torch.ops.odtool.code_topk(theta, self.codebooks, self.codes, self.k)
        return v, i


def _run_pte(module: nn.Module, theta: torch.Tensor, tmp_path):
    return _run_pte_inputs(module, (theta,), tmp_path)


def _run_pte_inputs(module: nn.Module, inputs: tuple, tmp_path):
    from executorch.exir import EdgeCompileConfig, to_edge_transform_and_lower
    from executorch.runtime import Runtime

    load()
    prog = to_edge_transform_and_lower(torch.export.export(module, inputs),
                                       compile_config=EdgeCompileConfig(_check_ir_validity=False)).to_executorch()
    path = tmp_path / "m.pte"
    path.write_bytes(prog.buffer)
    return Runtime.get().load_program(str(path)).load_method("forward").execute(list(inputs))


CASES = [(1, 16, torch.uint8), (4, 32, torch.uint8), (3, 256, torch.uint8), (2, 20, torch.uint8),
         (6, 300, torch.int16), (2, 70000, torch.int32)]


@pytest.mark.parametrize("impl", ["0", "1", "2", "3"])  # scalar, AVX2, AVX-512, VBMI filter (capped by the CPU)
@pytest.mark.parametrize("m,k_codes,dtype", CASES)
def test_kernel_matches_reference(tmp_path, monkeypatch, impl, m, k_codes, dtype):
    monkeypatch.setenv("ODTOOL_KERNEL_IMPL", impl)
    g = torch.Generator().manual_seed(m)
    rows, k = 1201, 20  # several 256-item blocks, the last one partial
    codes = torch.randint(0, k_codes, (m, rows), generator=g).to(dtype)
    books = torch.randn(m, k_codes, 8, generator=g)
    theta = torch.randn(8, generator=g)
    mod = _Scorer(books, codes, k)
    scores = ops.code_scores(ops.lookup_table(theta, books), codes)
    # the kernel's order: best score first, ties by lower index (torch.topk leaves ties unordered)
    ref_i = sorted(range(1, rows), key=lambda r: (-scores[r].item(), r))[:k]
    v, i = _run_pte(mod, theta, tmp_path)
    assert i.tolist() == ref_i
    assert torch.allclose(v, scores[ref_i], rtol=1e-5, atol=1e-5)
    assert torch.allclose(v, mod(theta)[0], rtol=1e-5, atol=1e-5)  # eager op: same values
    assert 0 not in i.tolist()  # the padding row is never recommended


def test_ties_prefer_lower_index_and_k_equals_v(tmp_path):
    codes = torch.zeros(2, 6, dtype=torch.uint8)  # every item scores the same
    books = torch.ones(2, 4, 3)
    v, i = _run_pte(_Scorer(books, codes, 5), torch.ones(3), tmp_path)
    assert i.tolist() == [1, 2, 3, 4, 5] and v.tolist() == [6.0] * 5


def test_reference_scores():
    books = torch.tensor([[[0.0], [1.0]], [[10.0], [20.0]]])  # M=2, K=2, N=1
    table = ops.lookup_table(torch.tensor([1.0]), books)
    assert table.tolist() == [[0.0, 1.0], [10.0, 20.0]]
    codes = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=torch.uint8).t()  # [M, V+1]
    assert ops.code_scores(table, codes).tolist() == [float("-inf"), 11.0, 20.0, 21.0]
    v, i = ops.code_topk(torch.tensor([1.0]), books, codes, 2)
    assert i.tolist() == [3, 2] and v.tolist() == [21.0, 20.0]


class _Lut(nn.Module):
    def __init__(self, codes: torch.Tensor, k: int) -> None:
        super().__init__()
        self.codes = nn.Buffer(codes)
        self.k = k

    def forward(self, table: torch.Tensor):
        return torch.ops.odtool.lut_topk(table, self.codes, self.k)


@pytest.mark.parametrize("impl", ["0", "1", "2", "3"])
@pytest.mark.parametrize("m,k_codes", [(11, 256), (3, 20)])
def test_lut_topk_matches_reference(tmp_path, monkeypatch, impl, m, k_codes):
    monkeypatch.setenv("ODTOOL_KERNEL_IMPL", impl)
    g = torch.Generator().manual_seed(m)
    codes = torch.randint(0, k_codes, (m, 777), generator=g).to(torch.uint8)
    table = torch.randn(m, k_codes, generator=g)
    scores = ops.code_scores(table, codes)
    ref_i = sorted(range(1, 777), key=lambda r: (-scores[r].item(), r))[:10]
    v, i = _run_pte(_Lut(codes, 10), table, tmp_path)
    assert i.tolist() == ref_i and torch.allclose(v, scores[ref_i], rtol=1e-5, atol=1e-5)


class _Pq(nn.Module):
    def __init__(self, books: torch.Tensor, scales: torch.Tensor, codes: torch.Tensor, k: int) -> None:
        super().__init__()
        self.books, self.scales, self.codes = nn.Buffer(books), nn.Buffer(scales), nn.Buffer(codes)
        self.k = k

    def forward(self, theta: torch.Tensor):
        return torch.ops.odtool.pq_topk(theta, self.books, self.scales, self.codes, self.k)


@pytest.mark.parametrize("impl", ["0", "1", "3"])
@pytest.mark.parametrize("m,d,k_codes", [(12, 11, 256), (3, 5, 20)])
def test_pq_topk_builds_the_table_from_int8_books(tmp_path, monkeypatch, impl, m, d, k_codes):
    monkeypatch.setenv("ODTOOL_KERNEL_IMPL", impl)
    g = torch.Generator().manual_seed(m)
    books = torch.randint(-127, 128, (m, d, k_codes), generator=g).to(torch.int8)
    scales = torch.rand(m, k_codes, generator=g) / 100
    codes = torch.randint(0, k_codes, (m, 901), generator=g).to(torch.uint8)
    theta = torch.randn(m, d, generator=g)
    # the table by hand: E_m[j] = books[m, :, j] * scales[m, j], t[m, j] = theta_m . E_m[j]
    table = torch.stack([books[i].float().t() @ theta[i] * scales[i] for i in range(m)])
    assert torch.allclose(ops.pq_table(theta, books, scales), table, rtol=1e-5, atol=1e-6)
    scores = ops.code_scores(table, codes)
    ref_i = sorted(range(1, 901), key=lambda r: (-scores[r].item(), r))[:10]
    v, i = _run_pte(_Pq(books, scales, codes, 10), theta, tmp_path)
    assert i.tolist() == ref_i and torch.allclose(v, scores[ref_i], rtol=1e-5, atol=1e-5)


class _PqRotated(nn.Module):
    def __init__(self, rq: torch.Tensor, rs: torch.Tensor, books: torch.Tensor, scales: torch.Tensor,
                 codes: torch.Tensor, k: int) -> None:
        super().__init__()
        self.rq, self.rs = nn.Buffer(rq), nn.Buffer(rs)
        self.books, self.scales, self.codes = nn.Buffer(books), nn.Buffer(scales), nn.Buffer(codes)
        self.k = k

    def forward(self, theta: torch.Tensor):
        return torch.ops.odtool.pq_topk_rotated(theta, self.rq, self.rs, self.books, self.scales, self.codes, self.k)


def _int8_rotation(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An int8 R with row scales, and R widened by hand."""
    rq = torch.randint(-127, 128, (n, n), generator=g).to(torch.int8)
    rs = torch.rand(n, 1, generator=g) / 50 + 1e-3
    return rq, rs, rq.float() * rs


@pytest.mark.parametrize("impl", ["0", "1", "3"])
@pytest.mark.parametrize("m,d,n,k_codes", [(12, 11, 128, 256), (3, 5, 13, 20)])  # N < M d: theta' is padded
def test_pq_topk_rotated_rotates_theta_from_the_int8_rotation(tmp_path, monkeypatch, impl, m, d, n, k_codes):
    monkeypatch.setenv("ODTOOL_KERNEL_IMPL", impl)
    g = torch.Generator().manual_seed(n)
    books = torch.randint(-127, 128, (m, d, k_codes), generator=g).to(torch.int8)
    scales = torch.rand(m, k_codes, generator=g) / 100
    codes = torch.randint(0, k_codes, (m, 901), generator=g).to(torch.uint8)
    rq, rs, r = _int8_rotation(n, g)
    theta = torch.randn(n, generator=g)
    rotated = torch.cat([r @ theta, torch.zeros(m * d - n)]).view(m, d)  # theta' = R theta, zero-padded
    scores = ops.code_scores(ops.pq_table(rotated, books, scales), codes)
    ref_i = sorted(range(1, 901), key=lambda x: (-scores[x].item(), x))[:10]
    v, i = _run_pte(_PqRotated(rq, rs, books, scales, codes, 10), theta, tmp_path)
    assert i.tolist() == ref_i and torch.allclose(v, scores[ref_i], rtol=1e-4, atol=1e-4)
    eager_v, eager_i = torch.ops.odtool.pq_topk_rotated(theta, rq, rs, books, scales, codes, 10)
    assert eager_i.tolist() == ref_i and torch.allclose(eager_v, v, rtol=1e-4, atol=1e-4)


class _PqEmbed(nn.Module):
    def __init__(self, codes, books, scales, rq, rs, dim: int) -> None:
        super().__init__()
        self.codes, self.books, self.scales = nn.Buffer(codes), nn.Buffer(books), nn.Buffer(scales)
        self.rq, self.rs, self.dim = nn.Buffer(rq), nn.Buffer(rs), dim

    def forward(self, ids: torch.Tensor):
        return torch.ops.odtool.pq_embed(ids, self.codes, self.books, self.scales, self.rq, self.rs, self.dim)


@pytest.mark.parametrize("impl", ["0", "1", "2"])
@pytest.mark.parametrize("rotate", [True, False])
@pytest.mark.parametrize("m,d,n,k_codes,dtype", [(12, 11, 128, 256, torch.uint8), (3, 5, 13, 300, torch.int16)])
def test_pq_embed_is_the_widened_rows_times_r(tmp_path, monkeypatch, impl, rotate, m, d, n, k_codes, dtype):
    monkeypatch.setenv("ODTOOL_KERNEL_IMPL", impl)
    g = torch.Generator().manual_seed(m + n)
    books = torch.randint(-127, 128, (m, d, k_codes), generator=g).to(torch.int8)
    scales = torch.rand(m, k_codes, generator=g) / 100
    codes = torch.randint(0, k_codes, (m, 41), generator=g).to(dtype)
    rq, rs, r = _int8_rotation(n, g) if rotate else (torch.empty(0, dtype=torch.int8), torch.empty(0), None)
    ids = torch.tensor([[7, 0, 40, 1, 7, 0]])  # padding (0) anywhere: zeros
    # by hand: item v's rows E_m[c_v^m] = books[m, :, c] * scales[m, c], concatenated, cut to N, times R
    widened = books.float() * scales.view(m, 1, k_codes)
    want = torch.zeros(1, 6, n)
    for j, v in enumerate(ids[0].tolist()):
        if v:
            e = torch.cat([widened[x, :, int(codes[x, v])] for x in range(m)])[:n]
            want[0, j] = e @ r if rotate else e
    got = _run_pte(_PqEmbed(codes, books, scales, rq, rs, n), ids, tmp_path)[0]
    assert got.shape == (1, 6, n)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-5)
    assert torch.equal(got[0, 1], torch.zeros(n)) and torch.equal(got[0, 5], torch.zeros(n))
    assert torch.allclose(ops.pq_embed(ids, codes, books, scales, rq, rs, n), want, rtol=1e-4, atol=1e-5)


def test_pq_embed_refuses_an_id_outside_the_vocabulary(tmp_path):
    g = torch.Generator().manual_seed(0)
    books = torch.randint(-127, 128, (2, 3, 16), generator=g).to(torch.int8)
    codes = torch.randint(0, 16, (2, 10), generator=g).to(torch.uint8)  # items 1..9
    module = _PqEmbed(codes, books, torch.rand(2, 16), torch.empty(0, dtype=torch.int8), torch.empty(0), 6)
    with pytest.raises(RuntimeError, match="execute"):  # the kernel's InvalidArgument check fails the call
        _run_pte(module, torch.tensor([[3, 10]]), tmp_path)


class _W8(nn.Module):
    def __init__(self, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.q, self.s, self.b = nn.Buffer(q), nn.Buffer(scale), nn.Buffer(bias)

    def forward(self, x: torch.Tensor):
        return torch.ops.odtool.linear_w8(x, self.q, self.s, self.b)


@pytest.mark.parametrize("impl", ["0", "1", "2"])
@pytest.mark.parametrize("rows,i_dim,o_dim", [(5, 128, 24), (11, 20, 7), (1, 7, 1), (8, 33, 6)])  # odd sizes hit the tails
def test_linear_w8_matches_a_widened_linear(tmp_path, monkeypatch, impl, rows, i_dim, o_dim):
    monkeypatch.setenv("ODTOOL_KERNEL_IMPL", impl)
    g = torch.Generator().manual_seed(rows)
    q = torch.randint(-127, 128, (o_dim, i_dim), generator=g).to(torch.int8)
    scale, bias = torch.rand(o_dim, 1, generator=g) / 100, torch.randn(o_dim, generator=g)
    x = torch.randn(rows, i_dim, generator=g)
    (y,) = _run_pte(_W8(q, scale, bias), x, tmp_path)
    ref = torch.nn.functional.linear(x, q.float() * scale, bias)
    assert y.shape == ref.shape and torch.allclose(y, ref, rtol=1e-5, atol=1e-5)


class _Widen(nn.Module):
    def __init__(self, values: torch.Tensor, scales: torch.Tensor) -> None:
        super().__init__()
        self.v, self.s = nn.Buffer(values), nn.Buffer(scales)

    def forward(self, x: torch.Tensor):
        return torch.ops.odtool.widen(self.v, self.s) + x


@pytest.mark.parametrize("impl", ["0", "1"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.int8])
def test_widen_is_exact(tmp_path, monkeypatch, impl, dtype):
    monkeypatch.setenv("ODTOOL_KERNEL_IMPL", impl)
    g = torch.Generator().manual_seed(0)
    if dtype == torch.float16:
        values, scales = torch.randn(3, 37, generator=g).half(), torch.empty(0)
        ref = values.float()
    else:
        values, scales = torch.randint(-127, 128, (3, 37), generator=g).to(torch.int8), torch.rand(3, 1, generator=g)
        ref = values.float() * scales
    (y,) = _run_pte(_Widen(values, scales), torch.zeros(3, 37), tmp_path)
    assert torch.equal(y, ref)


class _Unpack(nn.Module):
    def __init__(self, packed: torch.Tensor) -> None:
        super().__init__()
        self.p = nn.Buffer(packed)

    def forward(self, x: torch.Tensor):
        return torch.ops.odtool.unpack_w4(self.p).to(torch.float32) + x


def test_unpack_w4_gives_the_int8_values_the_artifact_packed():
    from toolchain.artifact.quantize import pack_int4

    g = torch.Generator().manual_seed(0)
    q = torch.randint(-7, 8, (5, 38), generator=g).to(torch.int8)
    packed = torch.from_numpy(pack_int4(q.numpy()))
    assert torch.equal(torch.ops.odtool.unpack_w4(packed), q)  # the eager reference


def test_unpack_w4_kernel_matches_the_reference(tmp_path):
    from toolchain.artifact.quantize import pack_int4

    g = torch.Generator().manual_seed(1)
    q = torch.randint(-7, 8, (6, 40), generator=g).to(torch.int8)
    (y,) = _run_pte(_Unpack(torch.from_numpy(pack_int4(q.numpy()))), torch.zeros(6, 40), tmp_path)
    assert torch.equal(y, q.float())


def _hard_tables():
    """(name, table [M, K], codes [M, R], k): the cases a filter-then-rescore scan could get wrong."""
    g = torch.Generator().manual_seed(7)
    few = torch.tensor([0.0, 0.25, 0.5, 1.0])
    yield "many ties", few[torch.randint(0, 4, (11, 256), generator=g)], torch.randint(0, 256, (11, 1000), generator=g), 20
    yield "offset far above the spread", 1e4 + 1e-3 * torch.randn(11, 256, generator=g), \
        torch.randint(0, 256, (11, 1000), generator=g), 20
    yield "one row carries all the spread", torch.cat([100 * torch.randn(1, 256, generator=g),
                                                       1e-4 * torch.randn(10, 256, generator=g)]), \
        torch.randint(0, 256, (11, 1000), generator=g), 20
    yield "constant table", torch.full((3, 256), 2.0), torch.randint(0, 256, (3, 300), generator=g), 7
    yield "an infinite entry", torch.randn(4, 256, generator=g).index_put_((torch.tensor([1]), torch.tensor([3])),
                                                                           torch.tensor(float("-inf"))), \
        torch.randint(0, 256, (4, 500), generator=g), 10
    yield "K = 2, fewer than 64 items", torch.randn(5, 2, generator=g), torch.randint(0, 2, (5, 40), generator=g), 39
    yield "K = 100, k = every item", torch.randn(2, 100, generator=g), torch.randint(0, 100, (2, 130), generator=g), 129
    yield "deep codes (M = 40)", torch.randn(40, 256, generator=g), torch.randint(0, 256, (40, 3000), generator=g), 50
    yield "sorted items: the bar rises on every block", torch.randn(1, 256, generator=g).sort().values, \
        torch.arange(256).repeat(8).view(1, -1), 25
    # more 64-item chunks than k: the bar from the chunks' maxima is set before any re-scoring
    yield "many ties, many chunks", few[torch.randint(0, 4, (12, 256), generator=g)], \
        torch.randint(0, 256, (12, 6000), generator=g), 20
    yield "a short last chunk, small k", torch.randn(12, 256, generator=g), \
        torch.randint(0, 256, (12, 64 * 30 + 17), generator=g), 3
    yield "the largest sums 16 bits hold (M = 257)", torch.randn(257, 256, generator=g), \
        torch.randint(0, 256, (257, 2000), generator=g), 5


@pytest.mark.parametrize("case", list(_hard_tables()), ids=lambda c: c[0])
def test_filtered_scan_equals_the_exact_scan_bit_for_bit(tmp_path, monkeypatch, case):
    """The VBMI filter (impl 3) must return exactly what the scalar scan (impl 0) returns:
    the same indices in the same order and the same float values."""
    _, table, codes, k = case
    module = _Lut(codes.to(torch.uint8), k)
    out = {}
    for impl in ("0", "3"):
        monkeypatch.setenv("ODTOOL_KERNEL_IMPL", impl)
        out[impl] = _run_pte(module, table.float(), tmp_path)
    (v0, i0), (v3, i3) = out["0"], out["3"]
    assert i3.tolist() == i0.tolist()
    assert torch.equal(v3, v0)
    scores = ops.code_scores(table.float(), codes.to(torch.uint8))
    ref_i = sorted(range(1, codes.shape[1]), key=lambda r: (-scores[r].item(), r))[:k]
    finite = torch.isfinite(table).all()
    if finite:  # the eager reference sums in another order: compare the ranking where it is exact
        assert torch.allclose(v3, scores[ref_i], rtol=1e-5, atol=1e-5)


def _int8_linear(o: int, i: int, g: torch.Generator, bias: bool = True):
    """A linear layer's (int8 weight, scale [O, 1], bias [O]) and its widened nn.Linear."""
    from toolchain.compression.storage import quantize_rows

    lin = nn.Linear(i, o, bias=bias)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(o, i, generator=g) / i ** 0.5)
        if bias:
            lin.bias.copy_(torch.randn(o, generator=g) / 10)
    q, s = quantize_rows(lin.weight.detach(), "int8")
    with torch.no_grad():
        lin.weight.copy_(q.float() * s)  # what the int8 bytes hold
    b = lin.bias.detach().clone() if bias else torch.zeros(o)
    return (q, s, b), lin


class _Encoder(nn.Module):
    def __init__(self, block_args, readout_args, heads: int) -> None:
        super().__init__()
        for j, t in enumerate(block_args + readout_args):
            self.register_buffer(f"a{j}", t)
        self.nb, self.heads = len(block_args), heads

    def forward(self, x: torch.Tensor, real: torch.Tensor):
        a = [getattr(self, f"a{j}") for j in range(len(self._buffers))]
        h = torch.ops.odtool.sasrec_block_w8(x, real, *a[: self.nb], self.heads, 1e-5)
        return h, torch.ops.odtool.sasrec_readout_w8(h, real, *a[self.nb:], 1e-5)


@pytest.mark.parametrize("impl", ["0", "1", "2"])
@pytest.mark.parametrize("n,heads", [(128, 1), (16, 2)])
def test_int8_encoder_ops_are_a_sasrec_block_and_readout(tmp_path, monkeypatch, impl, n, heads):
    """The fused ops against toolchain's own Block and SoftAttentionReadout (eval) over the same int8 weights."""
    from toolchain.models.readout import SoftAttentionReadout
    from toolchain.models.sasrec import Block

    monkeypatch.setenv("ODTOOL_KERNEL_IMPL", impl)
    g = torch.Generator().manual_seed(n)
    block, readout, ln_out = Block(n, heads, 0.0).eval(), SoftAttentionReadout(n).eval(), nn.LayerNorm(n)
    qkv, block.att.qkv = _int8_linear(3 * n, n, g)
    out, block.att.out = _int8_linear(n, n, g)
    f1, block.ffn[0] = _int8_linear(n, n, g)
    f2, block.ffn[3] = _int8_linear(n, n, g)
    w1, readout.w1 = _int8_linear(n, n, g, bias=False)
    w2, readout.w2 = _int8_linear(n, n, g)
    fa, readout.f = _int8_linear(1, n, g, bias=False)
    with torch.no_grad():
        for ln in (block.ln_att, block.ln_ffn, ln_out):
            ln.weight.copy_(1 + torch.randn(n, generator=g) / 10)
            ln.bias.copy_(torch.randn(n, generator=g) / 10)
    length, real_len = 7, 5  # two padding positions at the end
    real = (torch.arange(length) < real_len).float()
    x = torch.randn(length, n, generator=g) * real.view(-1, 1)
    # toolchain's modules: keys masked to the real positions, readout pooled over them
    allowed = (real != 0).view(1, 1, 1, length)
    want_h = block(x.unsqueeze(0), allowed)[0]
    want_theta = readout(ln_out(want_h).unsqueeze(0), (real != 0).unsqueeze(0))[0]
    block_args = [block.ln_att.weight.detach(), block.ln_att.bias.detach(), *qkv, *out,
                  block.ln_ffn.weight.detach(), block.ln_ffn.bias.detach(), *f1, *f2]
    readout_args = [ln_out.weight.detach(), ln_out.bias.detach(), *w1, *w2, *fa]
    h, theta = _run_pte_inputs(_Encoder(block_args, readout_args, heads), (x, real), tmp_path)
    assert torch.allclose(h[:real_len], want_h[:real_len], rtol=1e-4, atol=1e-4)
    assert torch.equal(h[real_len:], torch.zeros(length - real_len, n))  # padding rows: zeros
    assert torch.allclose(theta, want_theta, rtol=1e-4, atol=1e-4)
    eager_h, eager_theta = _Encoder(block_args, readout_args, heads)(x, real)
    assert torch.allclose(eager_h, h, rtol=1e-4, atol=1e-4) and torch.allclose(eager_theta, theta, rtol=1e-4, atol=1e-4)
