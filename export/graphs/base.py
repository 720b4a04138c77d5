"""The graph interface, the generic graph (encode, score every item, top-k) and the factory.

The inference contract: one session in, the top-k out, the same in every format
-----------------------------------------------------------------------------------------

Inputs of every exported graph (``.pte``, ``.ptl``, ``.onnx``) and of the eager graph:

* ``items`` int64 [1, L]: the session's item ids, oldest first, left-aligned, positions
  past the length padded with 0. ``1 <= L <= max_len`` for a dynamic-length export (its
  cost follows L); ``L == max_len`` for a static one (TorchScript-lite, and ExecuTorch
  models torch.export cannot trace for every length, e.g. GRU4Rec) - odtool's loaders and
  runners right-pad a shorter session to [1, max_len] for it;
* ``lengths`` int64 [1] in ``1..L``.

Outputs: ``(scores float32 [k], indices int64 [k])``, indices in 1..|V|, best first.

* A session longer than max_len keeps its most recent max_len items: the caller trims it
  (``toolchain.session_contract.trim_recent``, used by the session-file writer and
  :func:`export.contract.session_tensors`; ``toolchain.data.batching.pad_batch`` does the
  same for training). Nothing trims silently further down.
* Refused with a clear error before the model runs, by every odtool reader of every
  format: length 0 (an empty session has no recommendation), a negative length, a length
  over L, and L over max_len. The ONNX graph cannot raise, so the refusal lives outside the
  graphs in one shared place, ``toolchain.session_contract``: the python loaders
  (``Exporter.load``, used by the parity check), the parity check's eager side, the Python
  runners and the session-file reader/writer call it; the native runner (runner.cpp)
  implements the same rules.
* Unknown ids (negative or > |V|) are padding: the graph maps them to 0 (``sanitize``),
  identically in every format. ``sanitize``'s clamp of lengths to 1..L is only a defence
  inside the graph; no odtool entry point lets such a length reach it.
* Every export declares its contract in the file: ONNX ``metadata_props``
  (``odtool.max_len``, ``odtool.dynamic_length``), a ``.ptl``'s ``extra/odtool_contract.json``,
  a ``.pte``'s constant methods ``odtool_max_len`` / ``odtool_dynamic_length``.
* An export is checked against the sha256 in its ``<file>.report.json`` before it runs
  (loaders, runners, devices, ``bench``, ``size-check``); a mismatch is refused, a file
  without a report runs with a warning that it is unverified.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch
from torch import nn

from toolchain.compression.storage import ENCODER_STORAGES
from toolchain.errors import UsageError
from toolchain.models.base import SessionRecommender, mask_padding


class Kernels(str, Enum):
    """Which kernels the student's scoring uses in ExecuTorch."""

    odtool = "odtool"  # the fused code_topk kernel (export.kernels)
    portable = "portable"  # only ExecuTorch's own operators


@dataclass(frozen=True)
class GraphOptions:
    """Export graph options: ``max_len`` of a session, ``top_k`` items returned, the scoring
    ``kernels``, whether the length is dynamic and the encoder's storage dtype."""
    max_len: int = 50
    top_k: int = 20
    kernels: Kernels = Kernels.portable
    #: export the session length as dynamic (1..max_len) where the format and the model allow
    #: it, so a 5-click session runs on 5 positions; padded [1, max_len] input still works
    dynamic_length: bool = True
    #: how the encoder's matrices are held in the graph: as the artifact stores them
    #: (fp32, fp16, int8 or int4; see export.graphs.stored_weights)
    encoder_storage: str = "fp32"

    def check(self, n_items: int) -> None:
        problems = []
        if not 1 <= self.max_len <= MAX_GRAPH_LEN:
            problems.append(f"max length must be in 1..{MAX_GRAPH_LEN:,}, got {self.max_len}")
        if not 1 <= self.top_k <= n_items:
            problems.append(f"top-k must be in 1..{n_items} (the number of items), got {self.top_k}")
        if self.encoder_storage not in ENCODER_STORAGES:
            problems.append(f"encoder storage must be one of {', '.join(ENCODER_STORAGES)}, "
                            f"got {self.encoder_storage!r}")
        if problems:
            raise UsageError("; ".join(problems))


#: the longest input an exported graph may take (a session keeps its most recent max_len items).
MAX_GRAPH_LEN = 10_000


class InferenceGraph(nn.Module):
    """Base class: input sanitising shared by every graph (the contract: see the module docstring)."""

    def __init__(self, model: SessionRecommender, options: GraphOptions) -> None:
        super().__init__()
        from export.graphs.sasrec_fast import FastSASRecEncoder, supports_fast_encoder

        self.model = model
        self.options = options
        self.n_items = model.items.n_items
        # SASRec models (teacher, student, OD-Rec) share the XNNPACK-friendly export form.
        self.fast_encoder = FastSASRecEncoder(model) if supports_fast_encoder(model) else None

    @property
    def fold_constants(self) -> bool:
        """Whether an exporter may pre-compute constant sub-expressions into the file: not when
        the graph widens stored (fp16 / int8 / uint8) tensors, which folding would store wide."""
        return self.options.encoder_storage == "fp32"

    def theta(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The session representation [N] of one sanitized session."""
        if self.fast_encoder is not None:
            return self.fast_encoder(items, lengths)
        return self.model.encode(items, lengths)[0]

    def example_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.example_inputs(self.options.max_len)

    def sanitize(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unknown indices become padding; lengths are clamped to 1..L (a defence only: callers
        refuse lengths outside 1..L before the graph runs, see the module docstring)."""
        known = (items > 0) & (items <= self.n_items)
        items = torch.where(known, items, torch.zeros_like(items))
        lengths = lengths.clamp(1, items.shape[1])
        return items, lengths


class ScoreAllGraph(InferenceGraph):
    """The natural graph of a model: encode the session, score every item, top-k.

    Used for the teacher (full table), OD-Rec (the tensor-train table is reconstructed, as
    the method defines it) and the classic baselines.
    """

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        items, lengths = self.sanitize(items, lengths)
        scores = mask_padding(self.model.items.score(self.theta(items, lengths).unsqueeze(0)))
        values, indices = torch.topk(scores[0], self.options.top_k)
        return values, indices
