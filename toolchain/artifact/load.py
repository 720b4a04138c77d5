"""Loading a frozen artifact back into an eager model (every checksum verified first)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from toolchain.artifact.bundle import Bundle
from toolchain.artifact.packing import unpack_codes
from toolchain.artifact.quantize import dequantize, dequantize_matrices
from toolchain.compression.frozen_codes import FrozenCodesTable
from toolchain.errors import ArtifactError
from toolchain.models.base import SessionRecommender
from toolchain.models.build import build_model
from toolchain.models.spec import ModelSpec


def _load_state(module: torch.nn.Module, tensors: dict[str, np.ndarray], part: str, where: Path) -> None:
    expected = module.state_dict()
    problems = []
    for name, want in expected.items():
        got = tensors.get(name)
        if got is None:
            problems.append(f"'{name}' is missing")
        elif tuple(got.shape) != tuple(want.shape):
            problems.append(f"'{name}' has shape {list(got.shape)}, expected {list(want.shape)}")
    extra = sorted(set(tensors) - set(expected))
    if extra:
        problems.append(f"unexpected tensor(s) {', '.join(extra[:5])}")
    if problems:
        raise ArtifactError(f"{where}: part '{part}' does not fit the model in its manifest: "
                            + "; ".join(problems[:5]))
    module.load_state_dict({k: torch.from_numpy(np.array(v)).to(expected[k].dtype) for k, v in tensors.items()})


def _codes(bundle: Bundle) -> torch.Tensor:
    part = bundle.parts["codes"]
    shape = tuple(part["shape"])
    data = bundle.bytes_of("codes")
    try:
        if part["encoding"] == "bitpacked":
            arr = unpack_codes(data, int(part["k"]), shape)
        else:
            arr = np.frombuffer(data, dtype=np.dtype(part["dtype"])).reshape(shape)
    except (ValueError, KeyError, TypeError) as e:
        raise ArtifactError(f"{bundle.path}: part 'codes' cannot be decoded ({e})") from e
    return torch.from_numpy(arr.astype(np.int64))


def load_artifact(path: str | Path) -> tuple[Bundle, ModelSpec, SessionRecommender]:
    """(bundle, the model's spec, model in eval mode) of the artifact at ``path``."""
    bundle = Bundle.load(path)
    try:
        return bundle, *_build(bundle)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        # only an unsealed (older) manifest edited by hand gets here: a sealed one is checked whole
        raise ArtifactError(f"{bundle.path}/manifest.json does not describe a model odtool can build "
                            f"({type(e).__name__}: {e})", hint="freeze the run again") from None


def _build(bundle: Bundle) -> tuple[ModelSpec, SessionRecommender]:
    info = bundle.manifest.get("model", {})
    try:
        spec = ModelSpec.from_dict(info["spec"], source=f"{bundle.path}/manifest.json")
        n_items = int(info["n_items"])
    except KeyError as e:
        raise ArtifactError(f"{bundle.path}: manifest lacks model field {e}") from None
    model = build_model(spec, n_items)
    layout = model.items.code_layout
    if layout == "quantized":
        state = {"codes": _codes(bundle).numpy(), "codebooks": dequantize(bundle.tensors("codebooks"))}
        if "rotation" in bundle.parts:
            state["rotation"] = dequantize(bundle.tensors("rotation"))
        _load_state(model.items, state, "codes", bundle.path)
    elif layout == "compositional":
        books = dequantize(bundle.tensors("codebooks"))
        model.items = FrozenCodesTable(_codes(bundle), torch.from_numpy(books))
    else:
        _load_state(model.items, bundle.tensors("items"), "items", bundle.path)
    encoder = dequantize_matrices(bundle.tensors("encoder"))
    table_keys = {f"items.{k}" for k in model.items.state_dict()}
    full = {**encoder, **{k: model.state_dict()[k].numpy() for k in table_keys}}
    _load_state(model, full, "encoder", bundle.path)
    return spec, model.eval()


def vocabulary(bundle: Bundle) -> list[str]:
    """The raw item ids, index = the model's item id (0: padding)."""
    return bundle.json("vocab")


def trained_on(bundle: Bundle) -> dict:
    """The dataset the artifact's run was trained on, as its spec records it (path, n_items,
    arrays_sha256), or {} when it records none."""
    spec = bundle.manifest.get("model", {}).get("spec") or {}
    return spec.get("data") or {}
