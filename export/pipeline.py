"""Export a model to each requested format, check it against eager, write the report.

A file appears under its real name only after its parity check passed; a failed export is
left as ``<file>.failed`` for inspection and the run stops with the mismatch described.
Each export gets ``<file>.report.json``: size, sha256, parity, export time, versions.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from export.contract import contract_of
from export.formats import get_exporter
from export.graphs.base import GraphOptions, Kernels
from export.graphs.build import build_graph
from export.parity import ParityResult, check_parity, require_parity
from toolchain import __version__
from toolchain.atomic import atomic_write_json
from toolchain.checksum import sha256_file
from toolchain.errors import ExportError
from toolchain.formats import Format
from toolchain.models.base import SessionRecommender
from toolchain.progress import info

FORMATS = tuple(f.value for f in Format)  # in export order


@dataclass
class ExportResult:
    """One format's export: file, size, sha256, export time, parity, graph info, versions, warnings."""
    format: str
    path: str
    bytes: int
    sha256: str
    export_seconds: float
    parity: dict
    graph: dict
    versions: dict
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def export_model(model: SessionRecommender, name: str, formats: Sequence[str], out_dir: Path,
                 options: GraphOptions, sessions: Sequence[tuple[torch.Tensor, torch.Tensor]],
                 model_info: dict | None = None, overwrite: bool = False) -> list[ExportResult]:
    """Export ``model`` as ``out_dir/name.<suffix>`` for each format, each checked against eager.

    An existing file of that name is replaced only with ``overwrite``. Callers hold the
    directory's write lock (:func:`toolchain.outputs.writing`)."""
    if not sessions:
        raise ExportError("the parity check needs at least one session", hint="pass --sessions 1 or more")
    out_dir.mkdir(parents=True, exist_ok=True)
    if not overwrite:
        taken = [p for fmt in formats if (p := out_dir / f"{name}{get_exporter(fmt).suffix}").exists()]
        if taken:
            raise ExportError(f"{', '.join(map(str, taken))} already exist" if len(taken) > 1 else
                              f"{taken[0]} already exists", hint="pass --overwrite to replace, or choose "
                              "another --out or --name")
    results = []
    for fmt in formats:
        exporter = get_exporter(fmt)
        opts = options
        if not exporter.supports_odtool_kernels and options.kernels == Kernels.odtool:
            opts = dataclasses.replace(options, kernels=Kernels.portable)
        graph = build_graph(model, opts)
        final = out_dir / f"{name}{exporter.suffix}"
        # Staged under the final file name (TorchScript archives embed it) in a directory private
        # to this writer, checked, then moved.
        staging_dir = Path(tempfile.mkdtemp(prefix=f".staging-{final.name}-", dir=out_dir))
        staging = staging_dir / final.name
        try:
            t0 = time.perf_counter()
            dynamic = exporter.export(graph, staging)
            seconds = time.perf_counter() - t0
            checks = list(sessions) + (trimmed(sessions) if dynamic else [])
            # loaded behind the contract the file declares, as every later reader loads it
            parity: ParityResult = check_parity(fmt, graph, exporter.load(staging, contract_of(staging)), checks)
            if not parity.ok:
                os.replace(staging, final.with_name(final.name + ".failed"))
                require_parity(parity)
            os.replace(staging, final)
        finally:
            shutil.rmtree(staging_dir, ignore_errors=True)
        warns = [w for w in [getattr(exporter, "last_warning", None)] if w]
        result = ExportResult(
            format=fmt, path=str(final), bytes=final.stat().st_size, sha256=sha256_file(final),
            export_seconds=round(seconds, 3), parity=parity.to_dict(),
            graph={"max_len": opts.max_len, "top_k": opts.top_k, "kernels": opts.kernels.value,
                   "encoder_storage": opts.encoder_storage,
                   "class": type(graph).__name__, "dynamic_length": dynamic},
            versions={"odtool": __version__, **exporter.runtime_versions()}, warnings=warns)
        atomic_write_json(final.with_name(final.name + ".report.json"), {**result.to_dict(), "model": model_info or {}})
        info(f"[green]ok[/] {parity.describe()} -> {final} ({final.stat().st_size:,} bytes)")
        results.append(result)
    return results


def export_artifact(artifact: Path, formats: Sequence[str], out: Path | None = None, *, name: str | None = None,
                    max_len: int = 50, top_k: int = 20, kernels: str = "odtool", data: Path | None = None,
                    sessions: int = 64, overwrite: bool = False) -> list[ExportResult]:
    """Export a frozen artifact in each format to ``out`` (default ``artifact/export``), each checked
    against eager on ``sessions`` sessions of ``data`` (else the training dataset, else synthetic)."""
    from export.parity import check_sessions
    from toolchain.artifact.load import load_artifact, trained_on
    from toolchain.errors import UsageError
    from toolchain.outputs import mark, writing

    bundle, spec, model = load_artifact(artifact)
    out = out or artifact / "export"
    storage = bundle.manifest.get("freeze", {}).get("encoder_storage", "fp32")
    options = GraphOptions(max_len, top_k, Kernels(kernels), encoder_storage=storage)
    options.check(model.items.n_items)  # before any session is built at that length
    stem = name or artifact.resolve().name
    if not stem or stem.startswith(".") or any(c in stem for c in "/\\\0") or len(stem) > 200:
        raise UsageError(f"--name {stem!r} is not a plain file name stem",
                         hint="use letters, digits, '-' and '_', e.g. --name student")
    checks = check_sessions(trained_on(bundle), data, model.items.n_items, max_len, sessions)
    # an export directory collects files: an existing one takes new files, same names need overwrite
    with writing(out, "export", overwrite=True, inputs=[artifact]):
        results = export_model(model, stem, formats, out, options, checks,
                               model_info={"artifact": str(artifact), "kind": spec.kind,
                                           "manifest_sha256": sha256_file(artifact / "manifest.json"),
                                           "artifact_bytes": bundle.manifest.get("total_bytes")},
                               overwrite=overwrite)
        mark(out, "export")
    return results


def trimmed(sessions: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The same sessions as [1, len] inputs: what a dynamic-length export must also accept."""
    return [(items[:, : int(lengths[0])].contiguous(), lengths) for items, lengths in sessions]


def read_report(path: Path) -> dict:
    """The ``<path>.report.json`` written beside an export, as a dict."""
    return json.loads(Path(str(path) + ".report.json").read_text())
