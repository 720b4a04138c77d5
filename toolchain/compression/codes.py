"""Compositional-code item table (EODRec section 4): M codebooks of K vectors, integer codes.

Item v has a code C_v in [0, K)^M and the vector (Eq. 12)

    e_v = sum_m E_m[C_v^m]                      E: codebooks [M, K, N]

**Learning the codes** (Eqs. 15-17). A code learner reads the teacher's embedding X_v
(standardised per dimension over the items, a fixed affine map: X's entries are ~0.1, and
raw they hardly move the U(-0.1, 0.1) first layer, so every item would get the same code):

    h_v     = tanh(x_v W + b)                   [MK/2]
    a_v     = softplus(h_v W' + b')             [M, K]
    log alpha_v^m = log_softmax(a_v^m)          (alpha = softmax(softplus(...)), Eq. 17)
    O_v^m   = softmax((log alpha_v^m + G) / eps)  G ~ Gumbel(0, 1), eps = 0.3 (Eq. 16)
    e_v     = sum_m O_v^m E_m                   (Eq. 15)

Before the student trains, :meth:`fit_codes` fits learner and codebooks to X alone (L_mse,
Adam at ``fit_lr`` for ``fit_steps`` full-table steps): from the paper's initialisation,
joint training at lr 1e-3 collapses the codes (see its docstring).

Training uses the **soft** Gumbel-softmax one-hots of Eq. (16) by default, as the paper
writes them: every codebook vector gets a gradient from every item, so no vector is starved
while the codes still move, and once the codes are fitted the learner is confident enough
that soft samples are close to the deployed hard ones (after fitting a 984-item table, soft
and hard L_mse agreed within 2%). ``straight_through=True`` uses hard one-hots forward and soft gradients
backward (as the authors' released code does), so training sees exactly the kind of vector
that is deployed; on synthetic data both deploy equally well (P@10 39.3 vs 38.4, 984 items).

**Mixup** (Eq. 18): in training, ``embed`` and ``score`` use e'_v = eta X_v + (1 - eta) e_v;
``mixup=False`` (the Stu-w/o-m ablation) uses e_v. eta = 0.8 weighs the *teacher* as the
paper's Eq. (18) and section 6.6 do (the authors' released code weighs the composite by eta,
i.e. eta = 0.2 here). **L_mse** (Eq. 14) = mean_v ||e_v - X_v||^2 over items 1..|V| is
returned by :meth:`auxiliary_losses`; a training step draws one Gumbel sample of the table and
L_mse uses it. X is a copy of the teacher's table, set with :meth:`set_teacher_embeddings`
and never trained through this table.

**Sampled training** (``sampled=True``, ours, not the paper's). The full path above runs the
code learner over every item at every step, O(|V| M K) (at |V| = 43k, M = 4, K = 256 about
30 GFLOP forward per step): the cost of a step grows with K, not with the batch. The sampled
path runs the learner only where a gradient for it is cheap: ``embed`` (the session's items)
uses Gumbel-softmax rows as above; ``score`` ranks against every item's *hard* codes (the
integer argmax, cached in ``codes``, refreshed from the learner every ``refresh_every``
training steps and whenever the table enters eval mode), mixed with X as in Eq. (18), so the
codebooks get a gradient from every item; L_mse is estimated on ``sample_rows`` items drawn
uniformly per step (an unbiased estimate of Eq. 14's mean); code fitting draws its rows the
same way. Only the refresh (one no-grad learner pass over X every ``refresh_every`` steps)
still scales with |V| M K: at M = 4, K = 256 the table's part of a step falls 18x
(``benchmarks/code_step.py``). At K = 32 on Diginetica the sampled student deploys 0.6-1.1
points of P@10 below the full path (benchmarks/results/paper_tables_diginetica.md).

**Deployment.** Entering eval mode (``.eval()``) stores the argmax codes (no noise) in the
integer buffer ``codes`` [|V|+1, M]; in eval mode only these hard codes and the codebooks
are used, and scoring goes through the M x K look-up table theta . E_m (never building the
|V| x N table), so validation measures the model that is deployed. X and the code learner
are training-time only: a loaded student needs neither.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from toolchain.compression.code_bits import bits_for, eq13_ratio
from toolchain.compression.item_table import ITEM_TABLES, ItemTable, uniform_
from toolchain.config import Config, check_positive, check_range
from toolchain.errors import InternalError


def compression_ratio(n_items: int, dim: int, m: int, k: int) -> float:
    """EODRec Eq. (13): |V| N / (M K N + M |V|) (stored numbers, the paper's units)."""
    return eq13_ratio(n_items, dim, m, k)


@dataclasses.dataclass
class CodesConfig(Config):
    """m: codebooks M; k: vectors per codebook K; temperature: Gumbel-softmax eps;
    eta: mixup weight of the teacher's embedding; mixup / straight_through / sampled (with
    sample_rows and refresh_every): see module doc."""

    KIND = "codes"

    m: int = 4
    k: int = 32
    temperature: float = 0.3
    eta: float = 0.8
    mixup: bool = True
    straight_through: bool = False
    fit_steps: int = 1000
    fit_lr: float = 1e-2
    sampled: bool = False
    sample_rows: int = 1024
    refresh_every: int = 50

    def problems(self) -> list[str]:
        problems: list[str] = []
        check_positive(problems, m=self.m, temperature=self.temperature)
        if self.k < 2:
            problems.append(f"k must be >= 2 (vectors per codebook), got {self.k}")
        check_range(problems, "eta", self.eta, 0.0, 0.999)
        if self.fit_steps < 0:
            problems.append(f"fit_steps must be >= 0, got {self.fit_steps}")
        check_positive(problems, fit_lr=self.fit_lr)
        if self.sample_rows < 1 or self.refresh_every < 1:
            problems.append(f"sample_rows and refresh_every must be >= 1, got {self.sample_rows} "
                            f"and {self.refresh_every}")
        return problems

    @classmethod
    def tmall_scale(cls) -> CodesConfig:
        """The paper's best Tmall setting: M = 4, K = 32 (CR 29), eta = 0.8."""
        return cls(m=4, k=32, eta=0.8)

    @classmethod
    def retailrocket_scale(cls) -> CodesConfig:
        """The paper's best RetailRocket setting: M = 3, K = 256 (CR 31), eta = 0.7."""
        return cls(m=3, k=256, eta=0.7)

    @classmethod
    def tiny(cls) -> CodesConfig:
        return cls(m=2, k=8, fit_steps=50)


@ITEM_TABLES.register("codes")
class CodesTable(ItemTable):
    """Compositional codes + codebooks; shapes and training behaviour in the module doc."""

    config_class = CodesConfig
    code_layout = "compositional"

    def __init__(self, n_items: int, dim: int, config: CodesConfig | None = None,
                 teacher_embeddings: torch.Tensor | None = None) -> None:
        super().__init__(n_items, dim)
        self.config = c = config or CodesConfig()
        self.codebooks = nn.Parameter(torch.empty(c.m, c.k, dim))  # E [M, K, N]
        hidden = max(1, c.m * c.k // 2)
        self.learner = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, c.m * c.k),
                                     nn.Softplus())
        for p in self.parameters():  # the paper's U(-0.1, 0.1)
            uniform_(p)
        self.register_buffer("codes", torch.zeros(n_items + 1, c.m, dtype=torch.long))
        self.register_buffer("_offsets", torch.arange(c.m) * c.k, persistent=False)  # [M]
        self.register_buffer("_teacher", None, persistent=False)  # X [|V|+1, N]
        self._kept_mse: tuple | None = None
        self._scores_since_refresh = 0  # sampled path: training score() calls since the codes' refresh
        not_padding = torch.ones(n_items + 1)
        not_padding[0] = 0.0
        self.register_buffer("_not_padding", not_padding, persistent=False)  # [|V|+1]
        if teacher_embeddings is not None:
            self.set_teacher_embeddings(teacher_embeddings)

    # ------------------------------------------------------------------ teacher and codes
    @torch.no_grad()
    def set_teacher_embeddings(self, x: torch.Tensor, refresh_codes: bool = True) -> None:
        """Use ``x`` [|V|+1, N] (the teacher's table, row 0 padding) as X.

        ``refresh_codes`` recomputes the hard codes from it now (they are recomputed anyway
        whenever the table enters eval mode)."""
        if tuple(x.shape) != (self.n_items + 1, self.dim):
            raise InternalError(f"teacher embeddings have shape {tuple(x.shape)}, "
                                f"expected {(self.n_items + 1, self.dim)}")
        self._teacher = x.detach().to(self.codebooks.device, self.codebooks.dtype).clone()
        self._x_mean = self._teacher[1:].mean(0)
        self._x_std = self._teacher[1:].std(0).clamp(min=1e-6)
        if refresh_codes:
            self.refresh_codes()

    @property
    def has_teacher(self) -> bool:
        return self._teacher is not None

    @torch.no_grad()
    def refresh_codes(self) -> None:
        """codes <- argmax of the learner's logits over X (Eq. 16 as eps -> 0, no noise)."""
        if self._teacher is not None:
            self.codes.copy_(self._logits(self._teacher).argmax(-1))

    def train(self, mode: bool = True) -> CodesTable:
        if not mode:  # entering eval: freeze what is deployed
            self.refresh_codes()
            self._scores_since_refresh = 0
        return super().train(mode)

    def fit_codes(self) -> float:
        """Code pre-fitting: ``fit_steps`` Adam steps (lr ``fit_lr``) of L_mse on X (all items per
        step; ``sample_rows`` uniformly drawn items on the sampled path).

        Returns the final L_mse of the hard codes. Why: at the paper's U(-0.1, 0.1) init the
        learner's logits hardly differ between items, the Gumbel noise decides every sample,
        and training with L_rec at lr 1e-3 collapses the codes (on synthetic data: 14-120
        distinct codes for 984 items, deployed P@10 near 0). Fitting the codes to X first, as
        compositional-code learning does on its own (Shu & Nakayama), starts from codes that
        reconstruct X; the student then trains them further with Eq. (29).
        """
        if self._teacher is None:
            raise InternalError("fit_codes() needs the teacher's embeddings")
        params = [self.codebooks, *self.learner.parameters()]
        opt = torch.optim.Adam(params, lr=self.config.fit_lr)
        mode = self.training
        super().train(True)
        with torch.enable_grad():
            for _ in range(self.config.fit_steps):
                loss = self.auxiliary_losses()["mse"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        for p in params:
            p.grad = None
        self.train(mode)
        self.refresh_codes()
        return self.hard_mse()

    @torch.no_grad()
    def hard_mse(self) -> float:
        """L_mse of the deployed (hard) codes against X."""
        x = self._teacher[1:]
        return float(((self._hard_rows(torch.arange(1, self.n_items + 1, device=x.device)) - x) ** 2).sum(-1).mean())

    def hard_codes(self) -> torch.Tensor:
        """The deployed integer codes, int64 [|V|+1, M] in [0, K) (row 0 is padding)."""
        return self.codes.detach().clone()

    def deployed_form(self) -> ItemTable:
        """The hard codes and codebooks alone (a FrozenCodesTable): what an artifact stores."""
        from toolchain.compression.frozen_codes import FrozenCodesTable

        return FrozenCodesTable.from_table(self)

    # ------------------------------------------------------------------ training-time vectors
    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """softplus logits [R, M, K] for teacher rows x [R, N] (Eq. 17), on standardised x."""
        x = (x - self._x_mean) / self._x_std
        return self.learner(x).view(x.shape[0], self.config.m, self.config.k)

    def _soft_composite(self, x: torch.Tensor) -> torch.Tensor:
        """e for teacher rows x [R, N] through Gumbel-softmax one-hots -> [R, N] (Eqs. 15-16)."""
        log_alpha = torch.log_softmax(self._logits(x), -1)
        u = torch.rand_like(log_alpha).clamp(1e-10, 1.0 - 1e-7)
        one_hot = torch.softmax((log_alpha - torch.log(-torch.log(u))) / self.config.temperature, -1)
        if self.config.straight_through:
            hard = nn.functional.one_hot(one_hot.argmax(-1), self.config.k).to(one_hot.dtype)
            one_hot = hard + one_hot - one_hot.detach()
        return one_hot.reshape(x.shape[0], -1) @ self.codebooks.reshape(-1, self.dim)

    def _training_teacher(self) -> torch.Tensor:
        """X, which every training-time vector needs."""
        if self._teacher is None:
            raise InternalError("a codes table needs the teacher's embeddings to train: "
                                "call set_teacher_embeddings() first")
        return self._teacher

    def _train_rows(self, ids: torch.Tensor, keep_mse: bool = False) -> torch.Tensor:
        """Training-time vectors (mixup applied) of flat ids [R] -> [R, N].

        ``keep_mse`` (all rows): also keep L_mse of this very sample for
        :meth:`auxiliary_losses`, so a step draws one Gumbel sample of the table, not two.
        """
        x = self._training_teacher()[ids]
        e = self._soft_composite(x)
        if keep_mse:
            self._kept_mse = (self._step_token(), ((e[1:] - x[1:]) ** 2).sum(-1).mean())
        if self.config.mixup:
            e = self.config.eta * x + (1.0 - self.config.eta) * e
        return e * (ids != 0).unsqueeze(-1).to(e.dtype)

    # ------------------------------------------------------------------ ItemTable interface
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [...] -> [..., N]; eval: sum_m E_m[codes[id, m]] (id 0 -> zeros)."""
        if self.training:
            return self._train_rows(ids.reshape(-1)).reshape(*ids.shape, self.dim)
        return self._hard_rows(ids)

    def _hard_rows(self, ids: torch.Tensor) -> torch.Tensor:
        """Deployed vectors: ids [...] -> [..., N] from the integer codes."""
        flat = self.codes[ids] + self._offsets  # [..., M] rows of the stacked codebooks
        vec = nn.functional.embedding(flat, self.codebooks.reshape(-1, self.dim)).sum(-2)
        return vec * (ids != 0).unsqueeze(-1).to(vec.dtype)

    def all_embeddings(self) -> torch.Tensor:
        """[|V|+1, N], row 0 zeros: training vectors in train mode, hard composites in eval.

        Sampled path in training: the hard codes' vectors (the codebooks keep their gradient),
        mixed with X when mixup is on."""
        ids = torch.arange(self.n_items + 1, device=self.codes.device)
        if not self.training:
            return self.embed(ids)
        if not self.config.sampled:
            return self._train_rows(ids, keep_mse=True)
        x = self._training_teacher()
        e = self._hard_rows(ids)
        if self.config.mixup:
            e = (self.config.eta * x + (1.0 - self.config.eta) * e) * self._not_padding.unsqueeze(-1)
        return e

    def _step_token(self) -> tuple:
        """Changes whenever X or a trained tensor changes (an optimizer step bumps versions)."""
        tensors = (self._teacher, self.codebooks, *self.learner.parameters())
        return (torch.is_grad_enabled(), *((t.data_ptr(), t._version) for t in tensors))

    def score(self, theta: torch.Tensor) -> torch.Tensor:
        """theta [B, N] -> [B, |V|+1]. Eval: look-up tables theta . E_m [B, M, K], then M gathers."""
        if self.training:
            if self.config.sampled:
                if self._scores_since_refresh >= self.config.refresh_every:
                    self.refresh_codes()
                    self._scores_since_refresh = 0
                self._scores_since_refresh += 1
            return theta @ self.all_embeddings().t()
        lut = theta @ self.codebooks.reshape(-1, self.dim).t()  # [B, M*K]
        flat = self.codes + self._offsets  # [|V|+1, M]
        scores = lut.index_select(1, flat[:, 0])
        for m in range(1, self.config.m):  # M is a config constant: unrolled at export
            scores = scores + lut.index_select(1, flat[:, m])
        return scores * self._not_padding  # column 0 is 0, as for every table

    def auxiliary_losses(self) -> dict[str, torch.Tensor]:
        """{"mse": L_mse} (Eq. 14) of the composite (no mixup) against X; {} without X."""
        if self._teacher is None:
            return {}
        kept, self._kept_mse = self._kept_mse, None
        if self.training and kept is not None and kept[0] == self._step_token():
            return {"mse": kept[1]}  # the sample all_embeddings() drew in this step
        x = self._teacher[1:]
        if self.training and self.config.sampled and self.config.sample_rows < self.n_items:
            x = x[torch.randint(0, self.n_items, (self.config.sample_rows,), device=x.device)]
        if self.training:
            e = self._soft_composite(x)
        else:
            e = self._hard_rows(torch.arange(1, self.n_items + 1, device=x.device))
        return {"mse": ((e - x) ** 2).sum(-1).mean()}

    # ------------------------------------------------------------------ size
    def storage_bytes(self) -> int:
        """Deployed bytes: |V| M codes at ceil(log2 K) bits (bit-packed) + fp32 codebooks."""
        c = self.config
        return (self.n_items * c.m * bits_for(c.k) + 7) // 8 + 4 * c.m * c.k * self.dim

    def compression_ratio(self) -> float:
        """Eq. (13) for this table."""
        return compression_ratio(self.n_items, self.dim, self.config.m, self.config.k)
