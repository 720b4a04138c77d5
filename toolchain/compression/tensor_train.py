"""Tensor-train item tables: plain TT (TT-Rec, EODRec Eqs. 4-5) and OD-Rec's semi-tensor train.

Layout and sizes are in :mod:`toolchain.compression.tt_shapes`. Cores, for k = 1..d:

    G_k: [R_{k-1}/n_k, I_k, J_k/n_k, R_k]   (R_0 = R_d = 1, n_1 = 1, n_k = n after)

Item i has digits (i_1..i_d), i = sum_k i_k prod_{l>k} I_l. Its vector is the chain of
products of the slices G_k[:, i_k] (Eq. 5). With n > 1 each product is the left
semi-tensor product of Eqs. (6)-(9): the running [J_1..J_{k-1}, R] block is split into
R/n groups of n columns, and A |x B = A (B (x) I_n), i.e.

    C[p, j', m, r] = sum_i A[p, i*n + m] B[i, j', r]     (j = j' * n + m indexes J_k)

so a core only needs R/n rows and J_k/n columns per slice: the n-fold saving of Eq. (10).
With n = 1 this is exactly the plain tensor-train product.

``embed(ids)`` rebuilds only the requested rows; ``all_embeddings()`` rebuilds the whole
table from the full cores, which is what OD-Rec does to score every item, and why it is
slow at inference; it is kept faithful, not optimised away.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from toolchain.compression.item_table import ITEM_TABLES, ItemTable, uniform_
from toolchain.compression.tt_shapes import TTShape, checked_shape, default_factors, shape_for_ratio
from toolchain.config import Config, check_positive
from toolchain.errors import InternalError

TARGET_STD = 0.1 / math.sqrt(3.0)  # the std of U(-0.1, 0.1), the paper's init


@dataclasses.dataclass
class TTConfig(Config):
    """rank: TT-rank R (0 = pick the R whose compression ratio is nearest target_ratio);
    d: number of cores; item_factors / dim_factors: explicit I_k / J_k (None = balanced)."""

    KIND = "tt"

    rank: int = 0
    d: int = 3
    target_ratio: float = 29.0
    item_factors: list[int] | None = None
    dim_factors: list[int] | None = None

    @property
    def semi(self) -> int:
        return 1

    @classmethod
    def tiny(cls) -> TTConfig:
        """For tests (|V| ~ 50, dim 16): an explicit small rank."""
        return cls(rank=3)

    @classmethod
    def at_ratio(cls, target_ratio: float) -> TTConfig:
        """The rank whose compression ratio is nearest ``target_ratio`` (e.g. the student's)."""
        return cls(rank=0, target_ratio=target_ratio)

    def problems(self) -> list[str]:
        problems: list[str] = []
        check_positive(problems, target_ratio=self.target_ratio)
        if self.rank < 0:
            problems.append(f"rank must be >= 0 (0 = choose from target_ratio), got {self.rank}")
        if self.d < 2:
            problems.append(f"d must be >= 2 (cores in the train), got {self.d}")
        for name in ("item_factors", "dim_factors"):
            f = getattr(self, name)
            if f is not None and (len(f) != self.d or any(int(x) < 1 for x in f)):
                problems.append(f"{name} must be {self.d} positive integers (one per core), "
                                f"got {f}")
        return problems

    def shape(self, n_items: int, dim: int) -> TTShape:
        """The concrete layout for a table of ``n_items`` items of dimension ``dim``."""
        if self.rank == 0:
            return shape_for_ratio(n_items, dim, self.target_ratio, d=self.d, n=self.semi,
                                   item_factors=self.item_factors, dim_factors=self.dim_factors)
        items_f, dims_f = default_factors(n_items, dim, self.d, self.item_factors, self.dim_factors)
        return checked_shape(TTShape(items_f, dims_f, self.rank, self.semi), n_items, dim,
                             f"{self.KIND} config")


@dataclasses.dataclass
class STTConfig(TTConfig):
    """Adds n, the semi-tensor factor (OD-Rec's released code uses n = 2)."""

    KIND = "stt"

    n: int = 2

    @property
    def semi(self) -> int:
        return self.n

    @classmethod
    def tiny(cls) -> STTConfig:
        return cls(rank=4, n=2)

    def problems(self) -> list[str]:
        problems = super().problems()
        check_positive(problems, n=self.n)
        if self.n > 0 and self.rank % self.n:
            problems.append(f"rank {self.rank} must be a multiple of n = {self.n}")
        return problems


@ITEM_TABLES.register("tt")
class TensorTrainTable(ItemTable):
    """Item vectors as a (semi-)tensor train; shapes in the module docstring."""

    config_class: type[TTConfig] = TTConfig

    def __init__(self, n_items: int, dim: int, config: TTConfig | None = None) -> None:
        super().__init__(n_items, dim)
        if config is not None and type(config) is not self.config_class:
            raise InternalError(f"{type(self).__name__} takes a {self.config_class.__name__}, "
                                f"got a {type(config).__name__}")
        self.config = config if config is not None else self.config_class()
        self.shape = self.config.shape(n_items, dim)
        self.cores = nn.ParameterList(
            nn.Parameter(torch.empty(s)) for s in self.shape.core_shapes())
        # Each vector entry sums (R/n)^(d-1) products of d core entries: pick the core scale
        # so that the entries have the std of U(-0.1, 0.1).
        d = len(self.cores)
        paths = (self.shape.rank // self.shape.n) ** (d - 1)
        core_std = (TARGET_STD ** 2 / paths) ** (1.0 / (2 * d))
        for core in self.cores:
            uniform_(core, math.sqrt(3.0) * core_std)
        strides = [math.prod(self.shape.item_factors[k + 1:]) for k in range(d)]
        self.register_buffer("_strides", torch.tensor(strides, dtype=torch.long), persistent=False)
        self.register_buffer("_radices", torch.tensor(self.shape.item_factors, dtype=torch.long),
                             persistent=False)

    def digits(self, ids: torch.Tensor) -> torch.Tensor:
        """Row index -> mixed-radix digits (i_1..i_d): int64 [M] -> [M, d]."""
        return torch.div(ids.unsqueeze(-1), self._strides, rounding_mode="floor") % self._radices

    # Both products below are one (b)mm between reshapes and 4-d permutes. An einsum
    # version (5-d / 6-d outputs) exported too, but ExecuTorch's XNNPACK backend refused to
    # initialise it (xnn_status_unsupported_parameter); this form runs there.

    def _semi_product(self, acc: torch.Tensor, piece: torch.Tensor, n: int) -> torch.Tensor:
        """acc [M, P, R] |x slices [M, R/n, J/n, R'] -> [M, P*J, R'] (Eqs. 6-8, per item)."""
        m, p, r = acc.shape
        _, r_n, j_n, r_next = piece.shape
        a = acc.reshape(m, p, r_n, n).permute(0, 1, 3, 2).reshape(m, p * n, r_n)
        c = torch.bmm(a, piece.reshape(m, r_n, j_n * r_next))  # [M, P*n, J/n*R']
        c = c.reshape(m * p, n, j_n, r_next).permute(0, 2, 1, 3)  # j = j' * n + m
        return c.reshape(m, p * j_n * n, r_next)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Vectors of ``ids`` [...] -> [..., N]; only these rows are rebuilt; id 0 -> zeros."""
        flat = ids.reshape(-1)
        digits = self.digits(flat)  # [M, d]
        acc = torch.ones(flat.shape[0], 1, 1, dtype=self.cores[0].dtype, device=flat.device)
        for k, core in enumerate(self.cores):
            piece = core.index_select(1, digits[:, k]).permute(1, 0, 2, 3)  # [M, R/n, J/n, R']
            acc = self._semi_product(acc, piece, 1 if k == 0 else self.shape.n)
        vec = acc.reshape(flat.shape[0], self.dim) * (flat != 0).unsqueeze(-1)
        return vec.reshape(*ids.shape, self.dim)

    def full_tensor(self) -> torch.Tensor:
        """The whole padded table from the full cores: [prod I_k, N], row-major digits.

        Core-level products, as OD-Rec's own code rebuilds its table: prefixes shared by
        many items are multiplied once, but all (prod I_k) x N entries are produced.
        """
        acc = torch.ones(1, 1, 1, dtype=self.cores[0].dtype, device=self.cores[0].device)
        for k, core in enumerate(self.cores):
            n = 1 if k == 0 else self.shape.n
            a, p, r = acc.shape
            r_n, i_k, j_n, r_next = core.shape
            x = acc.reshape(a, p, r_n, n).permute(0, 1, 3, 2).reshape(a * p * n, r_n)
            c = x @ core.reshape(r_n, i_k * j_n * r_next)  # rows (a, p, m), cols (i_k, j', r)
            c = c.reshape(a, p * n, i_k, j_n * r_next).permute(0, 2, 1, 3)  # (a, i_k, p, m, ..)
            c = c.reshape(a * i_k * p, n, j_n, r_next).permute(0, 2, 1, 3)  # j = j' * n + m
            acc = c.reshape(a * i_k, p * j_n * n, r_next)
        return acc.reshape(acc.shape[0], self.dim)

    def all_embeddings(self) -> torch.Tensor:
        """[|V|+1, N], row 0 zeros; rebuilt from the cores on every call."""
        full = self.full_tensor()
        pad = torch.zeros(1, self.dim, dtype=full.dtype, device=full.device)
        return torch.cat([pad, full[1:self.n_items + 1]], 0)

    def storage_bytes(self) -> int:
        """fp32 bytes of the cores (the digit arithmetic needs no stored index)."""
        return 4 * sum(c.numel() for c in self.cores)

    def compression_ratio(self) -> float:
        """|V| N / core entries (a :class:`FullTable`'s storage over this one's)."""
        return self.shape.compression_ratio(self.n_items, self.dim)


@ITEM_TABLES.register("stt")
class SemiTensorTrainTable(TensorTrainTable):
    """OD-Rec's semi-tensor-train table: TT-rank R, semi-tensor factor n (Eqs. 6-10)."""

    config_class = STTConfig
