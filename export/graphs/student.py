"""The student's graph: look-up-table scoring, never the |V| x N table (brief section 2).

theta = encoder(session); t[m, j] = theta . E_m[j] (M x K); score_v = sum_m t[m, C_v^m].

Two lowerings of the scoring:

* ``kernels=odtool``: one fused op, ``odtool::code_topk`` (export.kernels), over uint8 codes;
* ``kernels=portable`` (and every ONNX / TorchScript export): standard ops. Codebooks are
  grouped so that a group's joint table has at most ``MAX_GROUP_TABLE`` entries (pairs when
  K*K <= 4096: M=4, K=32 gives 2 groups of 1,024): each item then needs one int32 index
  per group, and scoring is one gather per group plus adds and a top-k.
"""

from __future__ import annotations

import torch
from torch import nn

from export.graphs.base import GraphOptions, InferenceGraph, Kernels
from toolchain.compression.codes import CodesTable
from toolchain.compression.frozen_codes import FrozenCodesTable
from toolchain.models.base import SessionRecommender

MAX_GROUP_TABLE = 4096


def is_code_student(model: SessionRecommender) -> bool:
    return isinstance(model.items, (CodesTable, FrozenCodesTable))


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
    def __init__(self, model: SessionRecommender, options: GraphOptions) -> None:
        import copy

        model = copy.deepcopy(model)
        if isinstance(model.items, CodesTable):
            model.items = FrozenCodesTable.from_table(model.items)
        super().__init__(model, options)
        table: FrozenCodesTable = model.items
        self.use_kernel = options.kernels == Kernels.odtool
        if self.use_kernel:
            from export.kernels import ops  # noqa: F401 - registers torch.ops.odtool
        self.groups = codebook_groups(table.m, table.k)
        if self.use_kernel:  # the kernel reads the uint8 codes itself: no index buffers in the file
            return
        codes = table.code_matrix()
        for g, members in enumerate(self.groups):
            idx = torch.zeros(codes.shape[0], dtype=torch.long)
            for mm in members:  # mixed radix: the first codebook of the group is the slowest digit
                idx = idx * table.k + codes[:, mm]
            self.register_buffer(f"group_index_{g}", idx.to(torch.int32), persistent=False)

    def _portable_topk(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        table: FrozenCodesTable = self.model.items
        lut = (table.codebooks.reshape(-1, table.dim) @ theta).view(table.m, table.k)
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
        items, lengths = self.sanitize(items, lengths)
        theta = self.theta(items, lengths)  # [N]
        if self.use_kernel:
            table: FrozenCodesTable = self.model.items
            values, indices = torch.ops.odtool.code_topk(theta, table.codebooks, table.codes_t,
                                                         self.options.top_k)
            return values, indices
        return self._portable_topk(theta)
