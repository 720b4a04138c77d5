"""``odtool freeze``: a trained run becomes a compact, checksummed, pickle-free artifact.

Parts (see :mod:`toolchain.artifact.bundle` for the manifest):

* students with fixed quantized codes (:mod:`toolchain.compression.quantized_codes`):
    ``codes`` as below; ``codebooks`` [M, K, d] and (score-aware codes) ``rotation`` [N, N] in
    the storage the table trained with;
* students (compositional codes):
    ``codes``      the integer code matrix [|V|+1, M]: raw, row-major, in the smallest unsigned
                   dtype that holds K (``codes.bin``), or bit-packed to ceil(log2 K) bits
                   (``codes.packed``, ``--packed``);
    ``codebooks``  E [M, K, N] as fp32, fp16, or int8 with a per-row (codeword) scale;
* every other model: ``items``, its item representation's tensors (full table, TT cores);
* ``encoder``: every other weight of the model (backbone, readout, positions): fp32, or
  (``encoder_storage``) its matrices as fp16, or int8 or int4 (two a byte) with a per-row scale
  (weight-only; vectors such as biases and LayerNorm stay fp32);
* ``vocab``: the raw item id of each index (JSON list, index 0 = padding '').

The manifest records the run's spec (to rebuild the model), shapes and dtypes of each part,
and the test metrics of the frozen model, measured by loading the artifact back. Training-
only tensors (the code learner, the teacher's copy X) are left out. The same run freezes to
byte-identical files.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from toolchain.artifact.bundle import BundleWriter
from toolchain.artifact.packing import pack_codes
from toolchain.artifact.quantize import FloatStorage, dequantize_matrices, quantize, quantize_matrices
from toolchain.compression.code_bits import bits_for, smallest_uint
from toolchain.compression.storage import storage_for_width
from toolchain.errors import ArtifactError
from toolchain.models.base import SessionRecommender
from toolchain.models.spec import ModelSpec


@dataclass(frozen=True)
class FreezeOptions:
    """How to freeze: ``packed`` bit-packs the code matrix; ``codebook_storage`` and
    ``encoder_storage`` are the float dtypes of the codebooks (fp32, fp16, int8) and of the
    encoder's matrices (those, or int4)."""
    packed: bool = False
    codebook_storage: FloatStorage = FloatStorage.fp32
    encoder_storage: FloatStorage = FloatStorage.fp32


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().contiguous().numpy()


def encoder_tensors(model: SessionRecommender) -> dict[str, np.ndarray]:
    """Every tensor of the model's state outside its item table."""
    return {k: _np(v) for k, v in model.state_dict().items() if not k.startswith("items.")}


@contextmanager
def encoder_as_stored(model: SessionRecommender, storage: FloatStorage | str) -> Iterator[SessionRecommender]:
    """Within the block the encoder (every tensor outside the item table) holds exactly the
    values the artifact stores for it as ``storage`` (the same rounding freeze applies); the
    trained values come back after it. fp32 changes nothing."""
    storage = FloatStorage(storage)
    # copies: encoder_tensors' arrays share memory with the live tensors
    saved = {k: v.copy() for k, v in encoder_tensors(model).items()} if storage != FloatStorage.fp32 else {}
    live = model.state_dict(keep_vars=True)

    def put(tensors: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            for name, x in tensors.items():
                live[name].data.copy_(torch.from_numpy(np.ascontiguousarray(x)))

    if saved:
        put(dequantize_matrices(quantize_matrices(saved, storage)))
    try:
        yield model
    finally:
        if saved:
            put(saved)


def _add_codes(w: BundleWriter, codes: np.ndarray, k: int, packed: bool) -> None:
    if packed:
        w.add_bytes("codes", "codes.packed", pack_codes(codes, k), encoding="bitpacked",
                    bits=bits_for(k), shape=list(codes.shape), k=k)
    else:
        dtype = smallest_uint(k)
        w.add_bytes("codes", "codes.bin", codes.astype(dtype).tobytes(), encoding="raw",
                    dtype=str(dtype), shape=list(codes.shape), k=k)


def artifact_parts(model: SessionRecommender, options: FreezeOptions = FreezeOptions()) -> BundleWriter:
    """Every part the device needs to run ``model`` (eval mode), in memory: item table + encoder."""
    model = model.eval()
    w = BundleWriter()
    table = model.items.deployed_form()
    if table.code_layout == "quantized":
        _add_codes(w, _np(table.code_matrix()), table.k, options.packed)
        books = _np(table.stored_codebooks())
        storage = FloatStorage(storage_for_width(table.config.codebook_storage, books.shape[-1]))
        w.add_tensors("codebooks", "codebooks.safetensors", quantize(books, storage),
                      storage=storage.value, shape=list(table.codebooks.shape))
        if table.rotation is not None:
            r_storage = FloatStorage(table.rotation_storage)
            w.add_tensors("rotation", "rotation.safetensors", quantize(_np(table.stored_rotation()), r_storage),
                          storage=r_storage.value, shape=list(table.rotation.shape))
    elif table.code_layout == "compositional":  # a FrozenCodesTable
        frozen = table
        codes = _np(frozen.code_matrix())
        m, k = frozen.m, frozen.k
        _add_codes(w, codes, k, options.packed)
        w.add_tensors("codebooks", "codebooks.safetensors", quantize(_np(frozen.codebooks), options.codebook_storage),
                      storage=options.codebook_storage.value, shape=[m, k, frozen.dim])
    else:
        w.add_tensors("items", "items.safetensors", {k: _np(v) for k, v in table.state_dict().items()})
    w.add_tensors("encoder", "encoder.safetensors",
                  quantize_matrices(encoder_tensors(model), options.encoder_storage),
                  storage=options.encoder_storage.value)
    return w


def deployed_bytes(model: SessionRecommender, options: FreezeOptions = FreezeOptions()) -> dict[str, int]:
    """{part: bytes} the device holds for ``model`` frozen with ``options``, and their "total":
    exactly the artifact's part files (the vocabulary, which maps ids back to raw item ids
    outside the model, and the manifest are not counted)."""
    parts = {name: p.bytes for name, p in artifact_parts(model, options).parts.items()}
    return {**parts, "total": sum(parts.values())}


def freeze_model(model: SessionRecommender, spec: ModelSpec, vocab: np.ndarray, out: Path,
                 options: FreezeOptions = FreezeOptions(), metrics: dict | None = None,
                 source: dict | None = None, cut: dict | None = None) -> Path:
    """Write ``model`` (eval mode) as an artifact directory at ``out`` (``spec``: its model spec,
    usually the run's whole RunSpec, recorded in the manifest; ``cut``: the elastic run's cut
    it is, with its validation metrics)."""
    model = model.eval()
    table = model.items
    if len(vocab) != table.n_items + 1:
        raise ArtifactError(f"the vocabulary has {len(vocab) - 1} items, the model {table.n_items}",
                            hint="freeze with the dataset the run was trained on (--data)")
    w = artifact_parts(model, options)
    deployed = sum(p.bytes for p in w.parts.values())
    w.add_json("vocab", "vocab.json", [str(v) for v in vocab])
    manifest = {
        "model": {"kind": spec.kind, "item_table": spec.table_kind, "n_items": table.n_items,
                  "dim": table.dim, "spec": spec.to_dict()},
        "freeze": {"packed": options.packed, "codebook_storage": options.codebook_storage.value,
                   "encoder_storage": options.encoder_storage.value},
        "deployed_bytes": deployed,
        "metrics": metrics or {},
        "source": source or {},
    }
    if cut is not None:
        manifest["cut"] = cut
    return w.write(out, manifest)
