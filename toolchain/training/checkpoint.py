"""Weights and training state on disk: safe formats only, atomic writes, errors that name the part.

* Weights: safetensors (a module's ``state_dict``), written atomically. Loading checks every
  name and shape against the module before touching it, so a file from another dataset or
  config fails with the tensor named, and the module is left as it was.
* Training state (optimizer, RNG streams, counters): ``torch.save`` of plain containers of
  tensors, ints, floats and strings, read back with ``torch.load(weights_only=True)``, which
  refuses anything that would build objects. Never ``weights_only=False``, never pickle.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from safetensors import SafetensorError
from torch import nn

from toolchain.atomic import atomic_write_bytes
from toolchain.errors import CheckpointError


def state_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """``module.state_dict()`` as contiguous CPU tensors with their own storage."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


def save_weights(path: str | Path, module: nn.Module, metadata: dict[str, str] | None = None) -> None:
    """Write ``module``'s state_dict to ``path`` as safetensors (with optional metadata), atomically."""
    atomic_write_bytes(path, safetensors.torch.save(state_tensors(module), metadata=metadata))


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file; a missing or unreadable file is a CheckpointError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    try:
        return safetensors.torch.load(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file, it is corrupted or truncated ({e})",
                              hint="resume from an earlier checkpoint or train again") from e


def load_weights(module: nn.Module, path: str | Path, *, prefix: str = "") -> None:
    """Load ``path`` into ``module``: every tensor present with the expected shape and dtype.

    ``prefix`` selects a sub-module's tensors of a larger file (e.g. ``"student."``).
    """
    path = Path(path)
    tensors = read_weights(path)
    if prefix:
        tensors = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    expected = module.state_dict()
    problems = []
    for name, want in expected.items():
        got = tensors.get(name)
        if got is None:
            problems.append(f"tensor '{prefix}{name}' is missing (expected shape {list(want.shape)})")
        elif got.shape != want.shape:
            problems.append(f"tensor '{prefix}{name}' has shape {list(got.shape)}, the model expects "
                            f"{list(want.shape)}")
        elif got.dtype != want.dtype:
            problems.append(f"tensor '{prefix}{name}' has dtype {got.dtype}, the model expects {want.dtype}")
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        problems.append(f"unexpected tensor(s) {', '.join(prefix + u for u in unexpected[:5])}"
                        + (" ..." if len(unexpected) > 5 else ""))
    if problems:
        raise CheckpointError(f"{path} does not fit this model: " + "; ".join(problems[:5]),
                              hint="was it written for another dataset (|V|) or model configuration?")
    module.load_state_dict(tensors, strict=True)


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    """Write a training-state dict to ``path`` with ``torch.save``, atomically."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_state(path: str | Path) -> dict[str, Any]:
    """Read a training-state file with ``weights_only=True``; CheckpointError if missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated / foreign files
        raise CheckpointError(f"{path}: not a readable training-state file ({type(e).__name__}: {e})",
                              hint="resume from an earlier checkpoint or train again") from e
