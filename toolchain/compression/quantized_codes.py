"""Fixed integer codes + trainable codebooks: the deployable student's item table (ours).

Item v has a code C_v in [0, K)^M, assigned once from the teacher's table X by k-means and
then kept; only the codebooks (and the encoder around them) train. Two structures:

* ``product`` (product quantization): the N dimensions are cut into M consecutive
  subspaces of d = ceil(N / M) dimensions (the last one zero-padded when M does not divide
  N); codebook m holds K vectors of d dimensions and e_v = [E_1[C_v^1], ..., E_M[C_v^M]].
  Codebook storage is K * M * d, about K * N, whatever M is: the bits per item grow with M
  at almost no codebook cost.
* ``residual``: each codebook holds K full N-dimensional vectors, e_v = sum_m E_m[C_v^m]
  (the compositional form of EODRec Eq. 12), codes assigned by k-means on successive
  residuals. Codebook storage grows with M (M * K * N).
* ``nested`` (residual product quantization, ours): the N dimensions are cut into S =
  ``subspaces`` subspaces of d = ceil(N / S); code column m quantizes subspace m mod S, stage
  by stage (columns 0..S-1 are a product quantizer, columns S..2S-1 one of its residuals, and
  so on), so e_v's subspace s is the sum of the columns that cover it. Codebook storage is
  K * d per column. Every prefix of the columns is itself a nested table: the first c columns
  are the best c-column codes k-means found, coarse to fine. On Diginetica (valid split,
  teacher's encoder over untrained codes, S = 4) the prefixes score P@10 21.7 / 30.8 / 33.7 /
  35.4 / 38.4 at c = 4 / 8 / 12 / 16 / 40 columns, at or above a product quantizer of as many
  codes (its 12 codes: 33.0); a prefix shorter than S leaves subspaces empty (c = 2: 4.1).
  ``lead`` = L < S makes the first stage coarser: its L columns each span S / L consecutive
  subspaces (k-means over their joined residual; the column's codebook is stored as one row of
  d per subspace it spans, so the codebooks are [rows, K, d] and row r reads subspace r mod S),
  and the later stages are as before. Then the first L columns already code every dimension:
  a small cut is a product quantizer of L codes rather than part of one of S (an elastic table
  whose small cuts must work, e.g. L = 2 for a 2-column cut at 1/100 of the teacher's bytes).

**Elastic tables** (``elastic=True``, nested only; issue "One student for every memory
budget", after PEEL): one run trains every prefix. Each training step draws a cut c in 1..M
(uniformly, from torch's seeded generator, so a resumed run draws the same cuts) and the
step sees only the first c columns, each scaled by the cut's own factor ``cut_scales[c-1, m]``
(M x M floats, the cut's small private parameters); with ``cut_rotations`` each cut also has its
own correction of R (R_c = R + delta_c, N x N per cut in the run, one R in each artifact as
before: the cut's scoring space adapts to how coarse its codes are); with ``cut_codebooks`` each
cut below the whole table has its own correction of the first stage's codebooks (E_c = E + D_c on
the S rows of the first L columns, in the run only; each artifact stores its cut's E_c where it
stored E: a coarse cut's codewords need not also be the base the finer columns refine); with
``cut_encoders`` each cut below the whole table also has its own correction of every encoder
parameter (:mod:`toolchain.models.cut_encoders`; folded into its artifact). ``train_codebooks=False``
keeps the k-means codebooks and R as assigned, so only the encoder and the cut parameters train.
``cut_draw="small-first"`` draws cut c with probability proportional to 1/c instead (coarse
cuts have the most to learn: their first epochs move them the most); ``cut_draw="covering"``
draws only the cuts that code every dimension, c >= L (a cut below the first stage leaves
dimensions empty: freeze warns on it), cut c with probability proportional to 1 / (c - L + 1),
so the smallest deployable cut gets the share that ``small-first`` gives cut 1; ``anchor_full=True`` also
takes each step's loss at the whole table and averages the two (the "sandwich" of slimmable
networks: the full table's later columns keep up with the earlier ones the small cuts move,
and the whole table is trained every step rather than once in M). :meth:`cut_table` folds a cut's scales
into its codebooks and returns a plain nested table of c columns: the artifact of a cut is an
ordinary student, byte for byte what the training step at that cut saw.

On a device, scoring is the look-up-table trick (brief section 2; the export graphs and
:meth:`~QuantizedCodesTable.lookup_scores`): the table t[m, j] = theta_m . E_m[j] (product:
theta's m-th subspace; residual: all of theta) is [M, K], and item v's score is
sum_m t[m, C_v^m]; nothing of size |V| x N is built. On the host (training, validation,
``odtool eval``) the table's vectors are built once per batch and scored with one matrix
product: cheaper to differentiate, and on a CPU an order of magnitude faster than M gathers
of |V| entries per session.

**Score-aware codes** (``metric="sessions"``, the default; ours). What a ranking needs is the
score theta . e_v, not e_v itself: the error that matters is E_theta[(theta . (x_v - e_v))^2] =
(x_v - e_v)^T S (x_v - e_v), S = E[theta theta^T] over the teacher's session vectors, and S is
far from isotropic (on Diginetica its eigenvalues span 7 orders of magnitude: many directions
of the item table are never looked at). So codes are assigned in the whitened space
x' = x U diag(lambda)^(1/2) (eigenvalues floored at 1e-3 of the largest; eigen-directions dealt
round-robin to the subspaces so each gets a share of the variance, as OPQ balances them), and
the table keeps the way back, ``rotation`` R [N, N]: e_v = e'_v R. Scoring rotates theta once
(theta' = theta R^T, N^2 multiply-adds) and then uses the look-up table as before. On
Diginetica at M = 12, K = 256 this alone takes the teacher's encoder over quantized codes from
P@10 28.3 to 32.9 (valid; teacher 40.1). R trains with the codebooks and is stored like them.

**What trains is what ships.** Codes never change after assignment, and the codebooks are
seen in every forward pass exactly as the artifact will store them (``codebook_storage``:
fp32, fp16, or int8 or int4 with a per-vector scale, rounded with a straight-through gradient;
int4 codebooks keep an int8 R, and codewords of an odd width stay int8), so
the table validated during training is bit for bit the frozen one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import torch
from torch import nn

from toolchain.compression.code_bits import smallest_uint
from toolchain.compression.item_table import ITEM_TABLES, ItemTable, uniform_
from toolchain.compression.kmeans import kmeans
from toolchain.compression.storage import CODEBOOK_STORAGES, fake_storage, rotation_storage, storage_for_width
from toolchain.config import Config, check_positive
from toolchain.errors import InternalError

STRUCTURES = ("product", "residual", "nested")
METRICS = ("sessions", "euclidean")
CUT_DRAWS = ("uniform", "small-first", "covering")
EIGEN_FLOOR = 1e-3  # of the largest eigenvalue of S (keeps R well conditioned for fp16 / int8)


def storage_bytes_of(numel: int, rows: int, storage: str) -> int:
    """Bytes of ``numel`` floats in ``rows`` rows stored as ``storage`` (int8 and int4 add a fp32
    scale per row; int4 packs two values a byte, and rows of an odd width stay int8)."""
    storage = storage_for_width(storage, numel // max(rows, 1))
    return {"fp32": 4 * numel, "fp16": 2 * numel, "int8": numel + 4 * rows, "int4": numel // 2 + 4 * rows}[storage]


@dataclasses.dataclass
class QuantizedCodesConfig(Config):
    """m: codes per item; k: vectors per codebook (codes take ceil(log2 k) bits);
    structure: product | residual | nested; subspaces: S of a nested table; lead: code columns of a
    nested table's first stage, each spanning S / lead subspaces (0: S columns of one subspace
    each; see the module doc); elastic: train
    every prefix of a nested table (see module doc); cut_rotations, cut_codebooks, cut_encoders (each cut's own
    encoder: :mod:`toolchain.models.cut_encoders`), train_codebooks, cut_draw,
    anchor_full: how an elastic table trains (see module doc); codebook_storage: fp32 | fp16 | int8 | int4 (how
    the artifact stores the codebooks, and so what training sees; int4 keeps R int8); kmeans_iters: Lloyd
    iterations of the code assignment; weighted: weight items by training popularity when
    assigning codes."""

    KIND = "quantized"

    m: int = 8
    k: int = 256
    structure: str = "product"
    codebook_storage: str = "fp16"
    kmeans_iters: int = 25
    weighted: bool = True
    metric: str = "sessions"
    subspaces: int = 4
    lead: int = 0
    elastic: bool = False
    cut_rotations: bool = False
    cut_codebooks: bool = False
    cut_encoders: bool = False
    train_codebooks: bool = True
    cut_draw: str = "uniform"
    anchor_full: bool = False

    def problems(self) -> list[str]:
        problems: list[str] = []
        check_positive(problems, m=self.m)
        if not 2 <= self.k <= 65536:
            problems.append(f"k must be in 2..65536 (vectors per codebook), got {self.k}")
        if self.structure not in STRUCTURES:
            problems.append(f"structure must be one of {', '.join(STRUCTURES)}, got {self.structure!r}")
        if self.codebook_storage not in CODEBOOK_STORAGES:
            problems.append(f"codebook_storage must be one of {', '.join(CODEBOOK_STORAGES)}, "
                            f"got {self.codebook_storage!r}")
        if self.metric not in METRICS:
            problems.append(f"metric must be one of {', '.join(METRICS)}, got {self.metric!r}")
        if self.subspaces < 1:
            problems.append(f"subspaces must be >= 1, got {self.subspaces}")
        elif self.lead and (self.lead < 0 or self.subspaces % self.lead):
            problems.append(f"lead must divide subspaces ({self.subspaces}): each of its columns spans "
                            f"subspaces / lead subspaces, got {self.lead}")
        if self.lead and self.structure != "nested":
            problems.append(f"lead shapes a nested table's first stage, got structure {self.structure!r}: "
                            f"set structure=nested or drop lead")
        if self.cut_rotations and not (self.elastic and self.metric == "sessions"):
            problems.append("cut_rotations gives each cut of an elastic, score-aware table its own R: "
                            "set elastic=true and metric=sessions")
        if self.cut_codebooks and not self.elastic:
            problems.append("cut_codebooks gives each cut of an elastic table its own first stage: set elastic=true")
        if self.cut_encoders and not self.elastic:
            problems.append("cut_encoders gives each cut of an elastic table its own encoder: set elastic=true")
        if self.cut_draw not in CUT_DRAWS:
            problems.append(f"cut_draw must be one of {', '.join(CUT_DRAWS)}, got {self.cut_draw!r}")
        if (self.cut_draw != "uniform" or self.anchor_full) and not self.elastic:
            problems.append("cut_draw and anchor_full shape how an elastic table trains its cuts: set elastic=true")
        if self.elastic and self.structure != "nested":
            problems.append(f"elastic tables are nested (prefixes of the code columns), got structure "
                            f"{self.structure!r}: set structure=nested")
        if self.kmeans_iters < 0:
            problems.append(f"kmeans_iters must be >= 0, got {self.kmeans_iters}")
        return problems

    @classmethod
    def tiny(cls) -> QuantizedCodesConfig:
        return cls(m=4, k=16, kmeans_iters=10)


@ITEM_TABLES.register("quantized")
class QuantizedCodesTable(ItemTable):
    """Fixed codes [|V|+1, M] + codebooks; see the module doc for shapes and scoring."""

    config_class = QuantizedCodesConfig
    code_layout = "quantized"

    def __init__(self, n_items: int, dim: int, config: QuantizedCodesConfig | None = None) -> None:
        super().__init__(n_items, dim)
        self.config = c = config or QuantizedCodesConfig()
        self.m, self.k = c.m, c.k
        self.product = c.structure == "product"
        self.nested = c.structure == "nested"
        self.elastic = c.elastic
        if self.product and c.m > dim:
            raise InternalError(f"product codes need m <= dim ({c.m} > {dim})")
        if self.nested and c.subspaces > dim:
            raise InternalError(f"nested codes need subspaces <= dim ({c.subspaces} > {dim})")
        # S: subspaces the columns cycle over (product: one per column; residual: the whole space)
        self.subspaces = c.m if self.product else (c.subspaces if self.nested else 1)
        self.sub = math.ceil(dim / self.subspaces)  # d: dimensions per codebook
        self.pad = self.subspaces * self.sub - dim
        # L: columns of the first stage, each spanning S / L subspaces (one codebook row per subspace
        # it spans, so the codebooks stay [rows, K, d] and row r still reads subspace r mod S)
        self.lead = (c.lead or self.subspaces) if self.nested else self.subspaces
        self.span = self.subspaces // self.lead if self.nested else 1
        self.rows = self.rows_of(c.m)
        self.codebooks = nn.Parameter(uniform_(torch.empty(self.rows, c.k, self.sub)))  # [rows, K, d]
        self.register_buffer("codes", torch.zeros(n_items + 1, c.m, dtype=torch.long))  # [|V|+1, M]
        self.rotation = nn.Parameter(torch.eye(dim)) if c.metric == "sessions" else None  # R [N, N]
        self.cut_scales = nn.Parameter(torch.ones(c.m, c.m)) if c.elastic else None  # row c-1: cut c's
        # cut c's own correction of R (cut_rotations): R_c = R + cut_rotation_deltas[c-1]
        self.cut_rotation_deltas = nn.Parameter(torch.zeros(c.m, dim, dim)) if c.cut_rotations else None
        # cut c < M's own correction of the first stage's codebooks (cut_codebooks): rows 0..L*S/L-1
        self.cut_codebook_deltas = nn.Parameter(torch.zeros(c.m - 1, self.rows_of(min(self.lead, c.m)), c.k, self.sub)) \
            if c.cut_codebooks else None
        if not c.train_codebooks:  # the k-means codebooks and R stay as assigned (cut parameters still train)
            self.codebooks.requires_grad_(False)
            if self.rotation is not None:
                self.rotation.requires_grad_(False)
        self.cut = c.m  # columns in use (elastic tables: drawn per training step, M in eval mode)
        self.register_buffer("_offsets", torch.arange(c.m) * c.k, persistent=False)  # of the code columns
        self.register_buffer("_row_offsets", torch.arange(self.rows) * c.k, persistent=False)  # of codebook rows
        self.register_buffer("_row_subspace", torch.arange(self.rows) % self.subspaces, persistent=False)
        self.register_buffer("_column_of_row", torch.repeat_interleave(
            torch.arange(c.m), torch.tensor([self.span if j < self.lead else 1 for j in range(c.m)])), persistent=False)
        # the training steps' cut distribution (cut c at index c-1)
        draw = torch.ones(c.m)
        if c.cut_draw == "small-first":
            draw = 1.0 / torch.arange(1, c.m + 1)
        elif c.cut_draw == "covering":  # only cuts that code every dimension (c >= L), smallest first
            first = min(self.lead, c.m)  # (fewer columns than L: only the whole table)
            draw = torch.cat([torch.zeros(first - 1), 1.0 / torch.arange(1, c.m - first + 2)])
        self.register_buffer("_cut_weights", draw / draw.sum(), persistent=False)
        not_padding = torch.ones(n_items + 1)
        not_padding[0] = 0.0
        self.register_buffer("_not_padding", not_padding, persistent=False)

    # ------------------------------------------------------------------ assignment
    @torch.no_grad()
    def assign_from(self, x: torch.Tensor, weights: torch.Tensor | None = None, seed: int = 0,
                    sessions: torch.Tensor | None = None) -> float:
        """Codes and initial codebooks from the teacher's table ``x`` [|V|+1, N] (row 0 padding)
        by k-means (``weights`` [|V|+1] per item, used when the config says ``weighted``;
        ``sessions`` [S, N], the teacher's session vectors, which score-aware codes need).
        Returns the relative score error E_theta[(theta . (e_v - x_v))^2] / E_theta[(theta . x_v)^2]
        over the items (with euclidean codes and no sessions: ||e_v - x_v||^2 / ||x_v||^2)."""
        if tuple(x.shape) != (self.n_items + 1, self.dim):
            raise InternalError(f"teacher table has shape {tuple(x.shape)}, expected {(self.n_items + 1, self.dim)}")
        rows = x[1:].detach().float().cpu()
        metric = torch.eye(self.dim)
        if self.rotation is not None:
            if sessions is None:
                raise InternalError("score-aware codes need the teacher's session vectors (sessions=...)")
            metric = sessions.detach().float().cpu().t() @ sessions.detach().float().cpu() / len(sessions)
            forward = self._whitening(metric)  # x' = x F
            self.rotation.copy_(torch.linalg.inv(forward).to(self.rotation.device))
            rows_q = rows @ forward
        else:
            rows_q = rows
        w = weights[1:].float().cpu() if (weights is not None and self.config.weighted) else None
        k = min(self.k, rows.shape[0])
        books = torch.zeros(self.rows, self.k, self.sub)
        codes = torch.zeros(self.n_items + 1, self.m, dtype=torch.long)
        if self.product:
            padded = nn.functional.pad(rows_q, (0, self.m * self.sub - self.dim))
            parts = padded.view(-1, self.m, self.sub)
            for m in range(self.m):
                c, a = kmeans(parts[:, m], k, self.config.kmeans_iters, w, seed + m)
                books[m, :k], codes[1:, m] = c, a
        elif self.nested:  # stage by stage: each column quantizes what is left of the subspaces it spans
            resid = nn.functional.pad(rows_q, (0, self.pad)).view(-1, self.subspaces, self.sub).clone()
            for m in range(self.m):
                r = self.rows_of(m)  # its first codebook row; row r reads subspace r mod S
                span = self.span if m < self.lead else 1
                subs = [(r + j) % self.subspaces for j in range(span)]
                part = resid[:, subs].reshape(-1, span * self.sub)
                c, a = kmeans(part, k, self.config.kmeans_iters, w, seed + m)
                books[r:r + span, :k], codes[1:, m] = c.view(-1, span, self.sub).transpose(0, 1), a
                resid[:, subs] -= c[a].view(-1, span, self.sub)
        else:
            resid = rows_q.clone()
            for m in range(self.m):
                c, a = kmeans(resid, k, self.config.kmeans_iters, w, seed + m)
                books[m, :k], codes[1:, m] = c, a
                resid -= c[a]
        self.codebooks.copy_(books.to(self.codebooks.device))
        self.codes.copy_(codes.to(self.codes.device))
        if self.cut_scales is not None:
            self.cut_scales.fill_(1.0)
        if self.cut_rotation_deltas is not None:
            self.cut_rotation_deltas.zero_()
        if self.cut_codebook_deltas is not None:
            self.cut_codebook_deltas.zero_()
        err = self.embed(torch.arange(1, self.n_items + 1, device=self.codes.device)).cpu() - rows
        return float(((err @ metric) * err).sum() / ((rows @ metric) * rows).sum().clamp_min(1e-12))

    def rows_of(self, columns: int) -> int:
        """Codebook rows of the first ``columns`` code columns (a lead column has S / L of them)."""
        lead = min(columns, self.lead)
        return lead * self.span + columns - lead

    def _merge_rows(self, t: torch.Tensor) -> torch.Tensor:
        """Per-row look-up tables [B, rows, K] -> per-column [B, cut, K] (a lead column's rows summed)."""
        if self.span == 1:
            return t
        lead = min(self.cut, self.lead)
        head = t[:, : lead * self.span].reshape(t.shape[0], lead, self.span, -1).sum(2)
        return torch.cat([head, t[:, lead * self.span:]], 1)

    def _whitening(self, metric: torch.Tensor) -> torch.Tensor:
        """F [N, N] with F F^T = S (eigenvalues floored), columns dealt round-robin to the subspaces."""
        lam, u = torch.linalg.eigh(metric.double())
        lam = lam.clamp_min(EIGEN_FLOOR * float(lam.max().clamp_min(1e-30)))
        order = torch.argsort(lam, descending=True)
        if self.subspaces > 1:
            order = torch.cat([order[j::self.subspaces] for j in range(self.subspaces)])
        return (u * lam.sqrt())[:, order].float()

    def hard_codes(self) -> torch.Tensor:
        """The integer codes in use, int64 [|V|+1, cut] in [0, K) (row 0 is padding)."""
        return self.code_matrix().detach().clone()

    def code_matrix(self) -> torch.Tensor:
        """The codes in use [|V|+1, cut] (every column unless an elastic table is cut)."""
        return self.codes if self.cut == self.m else self.codes[:, : self.cut]

    def stored_codebooks(self) -> torch.Tensor:
        """The codebooks in use as the artifact stores them [rows of the cut, K, d] (gradient straight
        through); an elastic table's are scaled by the cut's own factors first."""
        return fake_storage(self._codebooks_in_use(), self.config.codebook_storage)

    def _codebooks_in_use(self) -> torch.Tensor:
        """The cut's codebooks [rows of the cut, K, d] before storage rounding (its own first stage,
        with ``cut_codebooks``, then scaled by its own factors)."""
        if self.cut_scales is None:
            return self.codebooks
        rows = self.rows_of(self.cut)
        books = self.codebooks[:rows]
        if self.cut_codebook_deltas is not None and self.cut < self.m:
            head = min(rows, self.cut_codebook_deltas.shape[1])
            books = torch.cat([books[:head] + self.cut_codebook_deltas[self.cut - 1, :head], books[head:]])
        scales = self.cut_scales[self.cut - 1, self._column_of_row[:rows]]
        return books * scales.view(-1, 1, 1)

    # ------------------------------------------------------------------ elastic cuts
    def set_cut(self, cut: int) -> None:
        """Use the first ``cut`` code columns from now on (elastic tables only)."""
        if not self.elastic and cut != self.m:
            raise InternalError(f"only elastic tables can be cut ({cut} of {self.m} columns asked)")
        if not 1 <= cut <= self.m:
            raise InternalError(f"a cut keeps 1..{self.m} columns, got {cut}")
        self.cut = cut

    @contextlib.contextmanager
    def at_cut(self, cut: int):
        """Within the block, the table uses its first ``cut`` columns."""
        before = self.cut
        self.set_cut(cut)
        try:
            yield self
        finally:
            self.cut = before

    def before_step(self) -> None:
        """An elastic table draws the training step's cut in 1..M (``cut_draw``)."""
        if self.elastic and self.training:
            if self.config.cut_draw == "uniform":
                self.cut = int(torch.randint(1, self.m + 1, ()))
            else:
                self.cut = int(torch.multinomial(self._cut_weights, 1)) + 1

    def step_cuts(self) -> list[int]:
        """The drawn cut and, with ``anchor_full``, the whole table: the step averages their losses."""
        if self.elastic and self.training and self.config.anchor_full and self.cut != self.m:
            return [self.cut, self.m]
        return []

    def train(self, mode: bool = True) -> QuantizedCodesTable:
        if self.training and not mode:
            self.cut = self.m  # leaving training: the whole table, until a cut is asked for
        super().train(mode)
        return self

    def deployed_form(self) -> QuantizedCodesTable:
        return self.cut_table() if self.elastic else self

    def validation_cuts(self) -> list[int]:
        """Cuts validated beside the whole table each epoch (elastic: L, 4L, 16L, ... below M, L
        the first stage's columns, S unless ``lead`` says otherwise: validation costs grow with
        the columns scored, so the grid is sparse)."""
        if not self.elastic:
            return []
        cuts, c = [], self.lead
        while c < self.m:
            cuts.append(c)
            c *= 4
        return cuts

    def cut_config(self, cut: int) -> QuantizedCodesConfig:
        """The plain (not elastic) config of a ``cut``-column prefix."""
        return self.config.replace(m=cut, elastic=False, cut_rotations=False, cut_codebooks=False, cut_encoders=False,
                                   train_codebooks=True,
                                   cut_draw="uniform", anchor_full=False)

    @torch.no_grad()
    def cut_table(self, cut: int | None = None) -> QuantizedCodesTable:
        """The first ``cut`` columns (default: the cut in use) as a plain nested table, the cut's
        scales folded into its codebooks: scores exactly as this table does at that cut."""
        cut = self.cut if cut is None else cut
        table = QuantizedCodesTable(self.n_items, self.dim, self.cut_config(cut)).to(self.codes.device)
        with self.at_cut(cut):
            table.codebooks.copy_(self._codebooks_in_use())
            table.codes.copy_(self.code_matrix())
            if self.rotation is not None:
                table.rotation.copy_(self._rotation_in_use())
        return table.train(self.training)

    def stored_rotation(self) -> torch.Tensor | None:
        """R [N, N] as the artifact stores it (None for euclidean codes)."""
        return None if self.rotation is None else fake_storage(self._rotation_in_use(), self.rotation_storage)

    @property
    def rotation_storage(self) -> str:
        """How R is stored: as the codebooks are, except beside int4 ones (int8)."""
        return rotation_storage(self.config.codebook_storage)

    def _rotation_in_use(self) -> torch.Tensor:
        """R, plus the cut's own correction when each cut has one."""
        if self.cut_rotation_deltas is None:
            return self.rotation
        return self.rotation + self.cut_rotation_deltas[self.cut - 1]

    # ------------------------------------------------------------------ ItemTable interface
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [...] -> [..., N] (id 0 -> zeros)."""
        books = self.stored_codebooks().reshape(-1, self.sub)
        rows = self.rows_of(self.cut)
        codes = self.code_matrix()[ids]
        if rows != self.cut:  # a lead column's code picks one vector in each of its rows
            codes = codes[..., self._column_of_row[:rows]]
        flat = codes + self._row_offsets[:rows]  # [..., rows] rows of the flat codebooks
        if self.product:
            vec = nn.functional.embedding(flat, books).flatten(-2)[..., : self.dim]
        else:  # each subspace's rows summed in one embedding_bag (no [..., rows, d] intermediate)
            bags = flat.reshape(-1, rows)
            step = self.subspaces if self.nested else 1
            parts = [nn.functional.embedding_bag(bags[:, s::step], books, mode="sum") if s < rows
                     else books.new_zeros(bags.shape[0], self.sub) for s in range(step)]
            vec = torch.cat(parts, -1)[:, : self.dim].reshape(*ids.shape, self.dim)
        rotation = self.stored_rotation()
        if rotation is not None:
            vec = vec @ rotation
        return vec * (ids != 0).unsqueeze(-1).to(vec.dtype)

    def all_embeddings(self) -> torch.Tensor:
        return self.embed(torch.arange(self.n_items + 1, device=self.codes.device))

    def lookup_table(self, theta: torch.Tensor) -> torch.Tensor:
        """t [B, M, K] with t[b, m, j] = theta'_b(m) . E_m[j] for theta [B, N] (theta' = theta R^T)."""
        books = self.stored_codebooks()
        rotation = self.stored_rotation()
        if rotation is not None:
            theta = theta @ rotation.t()
        if self.product:
            t = nn.functional.pad(theta, (0, self.m * self.sub - self.dim)).view(-1, self.m, self.sub)
            return torch.einsum("bmd,mkd->bmk", t, books)
        if self.nested:  # codebook row r meets theta's subspace r mod S; a lead column sums its rows
            t = nn.functional.pad(theta, (0, self.pad)).view(-1, self.subspaces, self.sub)
            rows = self.rows_of(self.cut)
            return self._merge_rows(torch.einsum("brd,rkd->brk", t[:, self._row_subspace[:rows]], books))
        return (theta @ books.reshape(-1, self.dim).t()).view(-1, self.m, self.k)

    def score(self, theta: torch.Tensor) -> torch.Tensor:
        """theta [B, N] -> [B, |V|+1] (column 0 is 0): one matrix product with the table's
        vectors, in training and in evaluation alike. On a host CPU this is far faster than
        the device's look-up path (:meth:`lookup_scores`; the same numbers up to float
        rounding): at |V| = 43k, M = 46, 500 sessions, one thread, 0.44 s against 11.5 s, which
        made validating and testing a large-M student cost more than training it."""
        return nn.functional.linear(theta, self.all_embeddings())  # row 0 of the vectors is zeros

    def lookup_scores(self, theta: torch.Tensor) -> torch.Tensor:
        """theta [B, N] -> [B, |V|+1] as a device scores: the look-up table t [B, cut, K] and one
        gather of every item's ``cut`` entries, summed (nothing of size |V| x N is built)."""
        lut = self.lookup_table(theta).reshape(theta.shape[0], -1)  # [B, cut*K]
        flat = self.code_matrix() + self._offsets[: self.cut]
        scores = lut.index_select(1, flat[:, 0])
        for m in range(1, self.cut):
            scores = scores + lut.index_select(1, flat[:, m])
        return scores * self._not_padding

    # ------------------------------------------------------------------ size
    def codes_bytes(self) -> int:
        """The code matrix in use as the device holds it: [|V|+1, cut] in the smallest unsigned dtype."""
        return (self.n_items + 1) * self.cut * smallest_uint(self.k).itemsize

    def storage_bytes(self) -> int:
        """Deployed bytes (of the cut in use): the code matrix + codebooks in their storage dtype."""
        rot = 0 if self.rotation is None else storage_bytes_of(self.dim * self.dim, self.dim, self.rotation_storage)
        rows = self.rows_of(self.cut)
        return self.codes_bytes() + rot + storage_bytes_of(rows * self.k * self.sub, rows * self.k,
                                                           self.config.codebook_storage)

    def compression_ratio(self) -> float:
        """Stored numbers as Eq. (13) counts them: |V| N / (codebook entries + |V| M)."""
        return self.n_items * self.dim / (self.rows_of(self.cut) * self.k * self.sub + self.n_items * self.cut)
