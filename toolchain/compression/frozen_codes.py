"""The deployed form of a compositional-code table: integer codes + codebooks, nothing else.

What :class:`~toolchain.compression.codes.CodesTable` becomes after training (and what a
frozen artifact loads back into): the codes in the smallest unsigned dtype that holds K,
the codebooks E [M, K, N], no code learner, no teacher embeddings. Scoring uses the M x K
look-up table theta . E_m, so nothing of size |V| x N is built.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from toolchain.compression.code_bits import bits_for, eq13_ratio, smallest_uint
from toolchain.compression.item_table import ItemTable
from toolchain.errors import ArtifactError

_TORCH_UINT = {np.dtype(np.uint8): torch.uint8, np.dtype(np.uint16): torch.int32,
               np.dtype(np.uint32): torch.int32}


def code_dtype(k: int) -> torch.dtype:
    """uint8 for K <= 256; int32 above (torch has no fast uint16 ops; values fit either way)."""
    return _TORCH_UINT[smallest_uint(k)]


class FrozenCodesTable(ItemTable):
    """A deployed compositional-codes table: fixed integer codes, frozen codebooks, LUT scoring."""
    code_layout = "compositional"

    def __init__(self, codes: torch.Tensor, codebooks: torch.Tensor) -> None:
        """``codes`` int [|V|+1, M] in [0, K) (the code matrix); ``codebooks`` float [M, K, N].

        The codes are kept codebook-major, ``codes_t`` [M, |V|+1], the layout odtool's scoring
        kernel reads (one codebook's codes of consecutive items are contiguous)."""
        m, k, dim = codebooks.shape
        if codes.dim() != 2 or codes.shape[1] != m:
            raise ArtifactError(f"codes have shape {tuple(codes.shape)}, expected [|V|+1, {m}]")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= k):
            raise ArtifactError(f"codes outside [0, {k}) (min {int(codes.min())}, max {int(codes.max())})")
        super().__init__(codes.shape[0] - 1, dim)
        self.m, self.k = m, k
        self.codes_t = nn.Buffer(codes.t().to(code_dtype(k)).contiguous())
        self.codebooks = nn.Parameter(codebooks.detach().float().clone(), requires_grad=False)
        self._offsets = nn.Buffer(torch.arange(m) * k, persistent=False)

    @classmethod
    def from_table(cls, table: ItemTable) -> "FrozenCodesTable":
        """The deployed form of a trained CodesTable (its hard codes, its codebooks)."""
        return cls(table.hard_codes(), table.codebooks.detach())

    def code_matrix(self) -> torch.Tensor:
        """The codes as the paper writes them: int64 [|V|+1, M]."""
        return self.codes_t.t().long()

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [...] -> [..., N]; only these items' codes are read (an [M, n] gather)."""
        flat_ids = ids.reshape(-1)
        codes = torch.index_select(self.codes_t, 1, flat_ids).long().t() + self._offsets  # [n, M]
        vec = nn.functional.embedding(codes, self.codebooks.reshape(-1, self.dim)).sum(-2)
        vec = vec * (flat_ids != 0).unsqueeze(-1).to(vec.dtype)
        return vec.reshape(*ids.shape, self.dim)

    def all_embeddings(self) -> torch.Tensor:
        return self.embed(torch.arange(self.n_items + 1, device=self.codes_t.device))

    def score(self, theta: torch.Tensor) -> torch.Tensor:
        """theta [B, N] -> [B, |V|+1] through look-up tables [B, M*K]; column 0 is 0."""
        lut = theta @ self.codebooks.reshape(-1, self.dim).t()
        flat = self.codes_t.long() + self._offsets.view(-1, 1)  # [M, |V|+1]
        scores = lut[:, flat].sum(1)
        return torch.cat([torch.zeros_like(scores[:, :1]), scores[:, 1:]], 1)

    def compression_ratio(self) -> float:
        """EODRec Eq. (13): |V| N / (M K N + M |V|)."""
        return eq13_ratio(self.n_items, self.dim, self.m, self.k)

    def storage_bytes(self) -> int:
        return (self.n_items * self.m * bits_for(self.k) + 7) // 8 + 4 * self.codebooks.numel()
