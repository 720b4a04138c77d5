"""The student's graph: look-up-table scoring, never the |V| x N table (brief section 2).

theta = encoder(session); t[m, j] = theta . E_m[j] (M x K); score_v = sum_m t[m, C_v^m].
For the paper's compositional codes E_m[j] is an N-vector; for product-quantized codes
(:class:`~toolchain.compression.quantized_codes.QuantizedCodesTable`) it is the m-th
subspace's d-vector and theta_m its slice of theta: the table asks its item table for t,
and everything after t is the same.

Two lowerings of the scoring:

* ``kernels=odtool``: one fused op over uint8 codes (export.kernels): ``odtool::code_topk``
  builds t from the codebooks itself (compositional codes), ``odtool::lut_topk`` takes t
  from the graph (quantized codes, whose codebooks stay in their stored dtype in the file
  and are widened to fp32 in the graph);
* ``kernels=portable`` (and every ONNX / TorchScript export): standard ops. Codebooks are
  grouped so that a group's joint table has at most ``MAX_GROUP_TABLE`` entries (pairs when
  K*K <= 4096: M=4, K=32 gives 2 groups of 1,024): each item then needs one int32 index
  per group, and scoring is one gather per group plus adds and a top-k.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from export.graphs.base import GraphOptions, InferenceGraph, Kernels
from toolchain.compression.frozen_codes import FrozenCodesTable, code_dtype
from toolchain.compression.quantized_codes import QuantizedCodesTable
from toolchain.compression.storage import quantize_rows, widen
from toolchain.models.base import SessionRecommender

MAX_GROUP_TABLE = 4096


def is_code_student(model: SessionRecommender) -> bool:
    """Whether the model's items are integer codes scored through a look-up table."""
    return model.items.code_layout is not None


class StoredTensor(nn.Module):
    """A float tensor [..., d] held as fp32, fp16, or int8 or int4 pairs (uint8) + per-row scales;
    ``()`` widens it to fp32 (with odtool's kernels in one vectorised ``odtool::widen``, int4's
    nibbles first unpacked to int8 by ``odtool::unpack_w4``: ExecuTorch's portable dtype
    conversion takes ~90 us for a 33k-entry fp16 codebook)."""

    def __init__(self, x: torch.Tensor, storage: str, use_kernel: bool = False) -> None:
        super().__init__()
        self.storage = storage
        self.use_kernel = use_kernel and storage != "fp32"
        values, scales = quantize_rows(x, storage)
        self.register_buffer("values", values)
        self.register_buffer("scales", scales)

    def forward(self) -> torch.Tensor:
        if self.use_kernel:
            scales = self.scales if self.scales is not None else self.values.new_empty(0, dtype=torch.float32)
            int4 = self.values.dtype == torch.uint8  # int4 pairs (an odd width stays int8)
            values = torch.ops.odtool.unpack_w4(self.values) if int4 else self.values
            return torch.ops.odtool.widen(values, scales)
        return widen(self.values, self.scales)


class ExportQuantizedItems(nn.Module):
    """A quantized-codes table in export form: codes codebook-major [M, |V|+1] in the smallest
    unsigned dtype, codebooks [rows, K, d] (M rows; more when a nested table's lead columns span
    several subspaces) as the artifact stores them (fp32, fp16, or int8 or int4 + per-vector
    scales, widened to fp32 on use): the file holds exactly the stored bytes."""

    def __init__(self, table: QuantizedCodesTable, use_kernel: bool = False) -> None:
        super().__init__()
        if use_kernel:
            from export.kernels import ops  # noqa: F401 - registers torch.ops.odtool
        table = table.deployed_form()  # an elastic table exports as the plain cut it folds to
        self.n_items, self.dim, self.m, self.k = table.n_items, table.dim, table.m, table.k
        self.product, self.nested, self.sub, self.subspaces = table.product, table.nested, table.sub, table.subspaces
        self.pad = table.pad if (table.product or table.nested) else 0
        # codebook rows: one per column, a nested table's lead columns one per subspace they span
        self.rows, self.lead, self.span = table.rows, min(table.lead, table.m), table.span
        self.stages = -(-self.rows // table.subspaces)
        if self.nested:  # which subspace of theta' each codebook row reads
            self.register_buffer("_row_subspace", (torch.arange(self.rows) % table.subspaces), persistent=False)
        self.storage = table.config.codebook_storage
        # int8 product codebooks with odtool's kernels: held dimension-major [M, d, K] with one
        # scale per vector [M, K] (the same bytes), read as int8 by odtool::pq_topk, which builds
        # the look-up table itself; the session's few rows are gathered and widened alone
        self.fast_pq = use_kernel and self.product and self.storage == "int8"
        if self.fast_pq:
            values, scales = quantize_rows(table.stored_codebooks().detach(), "int8")
            self.register_buffer("books_t", values.permute(0, 2, 1).contiguous())
            self.register_buffer("book_scales", scales.reshape(self.m, self.k).contiguous())
            self.books = None
        else:
            self.books = StoredTensor(table.stored_codebooks().detach(), self.storage, use_kernel)
        rotation = table.stored_rotation()
        self.rotation = None if rotation is None else StoredTensor(rotation.detach(), table.rotation_storage,
                                                                    use_kernel)
        # ... and with a rotation (score-aware codes) R stays int8 too: odtool::pq_embed and
        # odtool::pq_topk_rotated apply it from its bytes, so no call widens R or runs a GEMM with it
        self.fused_pq = self.fast_pq and self.rotation is not None
        self.register_buffer("codes_t", table.code_matrix().t().to(code_dtype(table.k)).contiguous())
        self.register_buffer("_offsets", (torch.arange(table.m) * table.k).view(-1, 1), persistent=False)
        self.register_buffer("_row_offsets", (torch.arange(self.rows) * table.k).view(-1, 1), persistent=False)
        self._held: tuple[torch.Tensor, torch.Tensor | None] | None = None

    @contextlib.contextmanager
    def widened_once(self):
        """Within the block, the codebooks and R are widened once and shared by every use (the
        session's embeddings and the look-up table): one ``widen`` each per call, not two."""
        self._held = (None if self.fast_pq else self.books(),
                      None if self.rotation is None or self.fused_pq else self.rotation())
        try:
            yield
        finally:
            self._held = None

    def codebooks(self) -> torch.Tensor:
        """[rows, K, d] float32."""
        if self.fast_pq:  # (eager reference paths only: the kernel graph never widens them all)
            return (self.books_t.to(torch.float32) * self.book_scales.view(self.m, 1, self.k)).permute(0, 2, 1)
        return self.books() if self._held is None else self._held[0]

    def rotation_matrix(self) -> torch.Tensor:
        """R [N, N] float32 (only when the table has one)."""
        return self.rotation() if self._held is None else self._held[1]

    def code_matrix(self) -> torch.Tensor:
        return self.codes_t.t().long()

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [...] -> [..., N] (id 0 -> zeros)."""
        if self.fused_pq:
            return torch.ops.odtool.pq_embed(ids, self.codes_t, self.books_t, self.book_scales, self.rotation.values,
                                             self.rotation.scales, self.dim)
        flat_ids = ids.reshape(-1)
        codes = torch.index_select(self.codes_t, 1, flat_ids).long()  # [M, n]
        if self.rows != self.m:  # a lead column's code picks one vector in each of its rows: [rows, n]
            n = flat_ids.shape[0]
            head = codes[: self.lead].unsqueeze(1).expand(self.lead, self.span, n).reshape(self.lead * self.span, n)
            codes = torch.cat([head, codes[self.lead:]], 0)
        if self.fast_pq:  # gather the session's int8 entries and their scales, widen only those
            n = flat_ids.shape[0]
            q = torch.gather(self.books_t, 2, codes.view(self.m, 1, n).expand(self.m, self.sub, n))  # [M, d, n]
            scale = torch.gather(self.book_scales, 1, codes).view(self.m, 1, n)
            rows = (q.to(torch.float32) * scale).permute(2, 0, 1)  # [n, M, d]
        else:
            rows = nn.functional.embedding((codes + self._row_offsets).t(), self.codebooks().reshape(-1, self.sub))  # [n, rows, d]
        if self.product:
            vec = rows.reshape(flat_ids.shape[0], -1)[:, : self.dim]
        elif self.nested:  # [n, stages, S, d] summed over the stages
            short = self.stages * self.subspaces - self.rows
            if short:
                rows = torch.cat([rows, rows.new_zeros(rows.shape[0], short, self.sub)], 1)
            vec = rows.view(-1, self.stages, self.subspaces, self.sub).sum(1).reshape(flat_ids.shape[0], -1)[:, : self.dim]
        else:
            vec = rows.sum(1)
        if self.rotation is not None:  # a 3-D bmm: XNNPACK takes it with a computed right-hand side
            vec = torch.bmm(vec.view(1, -1, self.dim), self.rotation_matrix().view(1, self.dim, self.dim)).view(-1, self.dim)
        vec = vec * (flat_ids != 0).unsqueeze(-1).to(vec.dtype)
        return vec.reshape(*ids.shape, self.dim)

    def score(self, theta: torch.Tensor) -> torch.Tensor:
        """theta [B, N] -> [B, |V|+1] through the look-up tables (column 0 is 0): eager reference."""
        flat = (self.codes_t.long() + self._offsets).reshape(-1)
        rows = [self.lookup_table(t).reshape(-1)[flat].view(self.m, -1).sum(0) for t in theta]
        scores = torch.stack(rows)
        return torch.cat([torch.zeros_like(scores[:, :1]), scores[:, 1:]], 1)

    def rotated(self, theta: torch.Tensor) -> torch.Tensor:
        """theta' = R theta [N] (theta itself when the table has no R)."""
        if self.rotation is None:
            return theta
        return torch.bmm(self.rotation_matrix().view(1, self.dim, self.dim), theta.view(1, self.dim, 1)).view(self.dim)

    def padded(self, theta: torch.Tensor) -> torch.Tensor:
        """theta' = R theta, zero-padded to whole subspaces (product / nested codes)."""
        t = self.rotated(theta)
        return t if not self.pad else torch.cat([t, t.new_zeros(self.pad)])

    def subspace_theta(self, theta: torch.Tensor) -> torch.Tensor:
        """Product codes: theta' cut into its M subspace slices [M, d]."""
        return self.padded(theta).view(self.m, self.sub)

    def lookup_table(self, theta: torch.Tensor) -> torch.Tensor:
        """t [M, K] for theta [N] (rotated first: theta' = R theta)."""
        books = self.codebooks()
        if not (self.product or self.nested):
            return (books.reshape(-1, self.dim) @ self.rotated(theta)).view(self.m, self.k)
        t = self.padded(theta)
        if self.nested:  # codebook row r reads theta's subspace r mod S
            t = torch.index_select(t.view(self.subspaces, self.sub), 0, self._row_subspace)
        t = torch.bmm(books, t.reshape(self.rows, self.sub, 1)).view(self.rows, self.k)
        if self.rows != self.m:  # a lead column's entry is the sum over the subspaces it spans
            head = t[: self.lead * self.span].reshape(self.lead, self.span, self.k).sum(1)
            t = torch.cat([head, t[self.lead * self.span:]], 0)
        return t


def codebook_groups(m: int, k: int) -> list[list[int]]:
    """Consecutive codebooks grouped while the joint table stays <= MAX_GROUP_TABLE entries."""
    groups, cur, size = [], [], 1
    for i in range(m):
        if cur and size * k > MAX_GROUP_TABLE:
            groups.append(cur)
            cur, size = [], 1
        cur.append(i)
        size *= k
    groups.append(cur)
    return groups


class CodeStudentGraph(InferenceGraph):
    """A code student's inference graph: top-k by look-up-table scoring, never the |V| x N table."""
    def __init__(self, model: SessionRecommender, options: GraphOptions) -> None:
        import copy

        model = copy.deepcopy(model)
        model.items = model.items.deployed_form()  # trained codes: their hard codes; an elastic table: its cut
        quantized = model.items.code_layout == "quantized"
        if quantized:  # the encoder embeds the session's items from the export form too
            model.items = ExportQuantizedItems(model.items, options.kernels == Kernels.odtool)
        super().__init__(model, options)
        self.quantized = quantized
        table = model.items
        self.use_kernel = options.kernels == Kernels.odtool
        if self.use_kernel:
            from export.kernels import ops  # noqa: F401 - registers torch.ops.odtool
        self.groups = codebook_groups(table.m, table.k)
        if self.use_kernel or quantized:  # these read the uint8 codes themselves: no index buffers
            return
        codes = table.code_matrix()
        for g, members in enumerate(self.groups):
            idx = torch.zeros(codes.shape[0], dtype=torch.long)
            for mm in members:  # mixed radix: the first codebook of the group is the slowest digit
                idx = idx * table.k + codes[:, mm]
            self.register_buffer(f"group_index_{g}", idx.to(torch.int32), persistent=False)

    @property
    def fold_constants(self) -> bool:
        return super().fold_constants and not self.quantized

    def lookup_table(self, theta: torch.Tensor) -> torch.Tensor:
        """t [M, K] for theta [N]."""
        if self.quantized:
            return self.model.items.lookup_table(theta)
        table: FrozenCodesTable = self.model.items
        return (table.codebooks.reshape(-1, table.dim) @ theta).view(table.m, table.k)

    def _portable_topk(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lut = self.lookup_table(theta)
        if self.quantized:  # one gather of every item's M entries from the flat table, summed
            items = self.model.items
            scores = torch.index_select(lut.reshape(-1), 0, (items.codes_t.long() + items._offsets).reshape(-1))
            values, indices = torch.topk(scores.view(self.model.items.m, -1).sum(0)[1:], self.options.top_k)
            return values, indices + 1
        scores = None
        for g, members in enumerate(self.groups):
            joint = lut[members[0]]
            for mm in members[1:]:  # outer sum: joint[a * K + b] = lut[m0, a] + lut[m1, b]
                joint = (joint.view(-1, 1) + lut[mm].view(1, -1)).reshape(-1)
            part = torch.index_select(joint, 0, getattr(self, f"group_index_{g}"))
            scores = part if scores is None else scores + part
        values, indices = torch.topk(scores[1:], self.options.top_k)  # row 0 is padding
        return values, indices + 1

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.quantized:
            with self.model.items.widened_once():
                return self._forward(items, lengths)
        return self._forward(items, lengths)

    def _forward(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        items, lengths = self.sanitize(items, lengths)
        theta = self.theta(items, lengths)  # [N]
        if self.use_kernel and self.quantized and self.model.items.fused_pq:
            items = self.model.items
            return torch.ops.odtool.pq_topk_rotated(theta, items.rotation.values, items.rotation.scales, items.books_t,
                                                    items.book_scales, items.codes_t, self.options.top_k)
        if self.use_kernel and self.quantized and self.model.items.fast_pq:
            items = self.model.items
            return torch.ops.odtool.pq_topk(items.subspace_theta(theta), items.books_t, items.book_scales,
                                            items.codes_t, self.options.top_k)
        if self.use_kernel and self.quantized:
            return torch.ops.odtool.lut_topk(self.lookup_table(theta), self.model.items.codes_t,
                                             self.options.top_k)
        if self.use_kernel:
            table: FrozenCodesTable = self.model.items
            values, indices = torch.ops.odtool.code_topk(theta, table.codebooks, table.codes_t,
                                                         self.options.top_k)
            return values, indices
        return self._portable_topk(theta)
