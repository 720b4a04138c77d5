"""A tiny session model exported to .pte (XNNPACK), .onnx and .ptl for device tests.

Takes (items int64 [1, L], lengths int64 [1]) and returns (values, indices) of the top K
scores: the runners' graph contract.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

V, D, L, K = 300, 16, 6, 5


class TinySessionModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(V, D, padding_idx=0)
        self.proj = nn.Linear(D, D)
        self.out = nn.Linear(D, V)

    def forward(self, items: torch.Tensor, lengths: torch.Tensor):
        pos = torch.arange(items.shape[1], dtype=torch.int64).unsqueeze(0)
        mask = (pos < lengths.unsqueeze(1)).to(torch.float32).unsqueeze(-1)
        h = (self.emb(items) * mask).sum(1) / lengths.to(torch.float32).clamp(min=1).unsqueeze(1)
        scores = self.out(torch.tanh(self.proj(h)))
        v, i = torch.topk(scores, K, dim=1)
        return v, i  # not the namedtuple: torch.export rejects it as an output


def build_model(seed: int = 0) -> TinySessionModel:
    torch.manual_seed(seed)
    return TinySessionModel().eval()


def example_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randint(1, V, (1, L), dtype=torch.int64), torch.tensor([L], dtype=torch.int64)


def sessions(n: int = 8, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Padded sessions (items [n, L], lengths [n]) of random lengths 1..L."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, L + 1, n).astype(np.int64)
    items = np.zeros((n, L), dtype=np.int64)
    for i in range(n):
        items[i, :lengths[i]] = rng.integers(1, V, lengths[i])
    return items, lengths


def eager_topk(model: nn.Module, items: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    with torch.no_grad():
        return [model(torch.from_numpy(items[i:i + 1]), torch.from_numpy(lengths[i:i + 1]))[1].reshape(-1).tolist()
                for i in range(len(lengths))]


def export_pte(model: nn.Module, path: Path) -> Path:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    ep = torch.export.export(model, example_inputs())
    prog = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()]).to_executorch()
    path.write_bytes(prog.buffer)
    return path


def export_onnx(model: nn.Module, path: Path) -> Path:
    torch.onnx.export(model, example_inputs(), str(path), input_names=["items", "length"],
                      output_names=["scores", "indices"], dynamo=False, opset_version=17)
    return path


def export_ptl(model: nn.Module, path: Path) -> Path:
    traced = torch.jit.trace(model, example_inputs())
    traced._save_for_lite_interpreter(str(path))
    return path


class TinyCodeModel(nn.Module):
    """Scores items through odtool's fused ``code_topk`` kernel (a compositional-code student)."""

    def __init__(self, m: int = 3, k_codes: int = 16, n: int = D) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(2)
        self.emb = nn.Embedding(V, n, padding_idx=0)
        self.codebooks = nn.Buffer(torch.randn(m, k_codes, n, generator=g))
        # codebook-major [M, V], the layout the kernel reads
        self.codes = nn.Buffer(torch.randint(0, k_codes, (m, V), generator=g).to(torch.uint8))

    def forward(self, items: torch.Tensor, lengths: torch.Tensor):
        pos = torch.arange(items.shape[1], dtype=torch.int64).unsqueeze(0)
        mask = (pos < lengths.unsqueeze(1)).to(torch.float32).unsqueeze(-1)
        theta = (self.emb(items) * mask).sum(1)[0] / lengths.to(torch.float32).clamp(min=1)
        v, i = torch.ops.odtool.code_topk(theta, self.codebooks, self.codes, K)
        return v, i


def export_code_pte(path: Path) -> tuple[Path, nn.Module]:
    """A .pte that needs odtool's kernel library in the runner."""
    from executorch.exir import EdgeCompileConfig, to_edge_transform_and_lower

    from export.kernels import ops  # noqa: F401 - registers odtool::code_topk with torch

    torch.manual_seed(3)
    model = TinyCodeModel().eval()
    ep = torch.export.export(model, example_inputs())
    prog = to_edge_transform_and_lower(ep, compile_config=EdgeCompileConfig(_check_ir_validity=False))
    path.write_bytes(prog.to_executorch().buffer)
    return path, model
