"""``odtool freeze``: a trained run -> a compact, checksummed artifact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from toolchain.artifact.bundle import Bundle, write_manifest
from toolchain.artifact.budget import human
from toolchain.artifact.quantize import FloatStorage
from toolchain.cli.common import print_json, stdout
from toolchain.errors import UsageError
from toolchain.progress import info


def freeze_command(
    run: Path = typer.Argument(..., help="A trained run directory (odtool train ... --out RUN)."),
    out: Path = typer.Option(..., "--out", "-o", help="Artifact directory to write."),
    data: Optional[Path] = typer.Option(None, "--data", "-d",
                                        help="The training dataset (default: the path in the run's config)."),
    packed: bool = typer.Option(False, "--packed", help="Bit-pack codes to ceil(log2 K) bits."),
    codebook_dtype: FloatStorage = typer.Option(FloatStorage.fp32, "--codebook-dtype",
                                                help="Codebook storage of the paper's codes: fp32, fp16, or int8 "
                                                     "with a per-row scale (a deployable student's codebooks keep "
                                                     "the storage they trained with)."),
    encoder_dtype: Optional[FloatStorage] = typer.Option(
        None, "--encoder-dtype", help="Encoder matrices: fp32, fp16, or int8 per-row (weight-only). "
        "(default: the run's choice: int8 for deployable students, else fp32)"),
    evaluate_split: str = typer.Option("test", "--eval-split",
                                       help="Split to measure the frozen model on (test, valid, or none)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the artifact already in --out."),
    allow_incomplete: bool = typer.Option(False, "--allow-incomplete",
                                          help="Freeze a run that never finished training (its best epoch so far)."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest summary as JSON."),
) -> None:
    """Freeze a run: code matrix + codebooks (students) or the model's own tensors, the encoder,
    the vocabulary and a manifest with the size and sha256 of every part.

    The artifact is loaded back and evaluated before the command finishes, so the metrics in
    its manifest are those of the frozen model itself.

    Examples:

      odtool freeze runs/student --out artifacts/student

      odtool freeze runs/student --out artifacts/student-small --packed --codebook-dtype fp16

      odtool freeze runs/teacher --out artifacts/teacher-int8 --encoder-dtype int8

      odtool freeze runs/teacher --out artifacts/teacher
    """
    from toolchain.artifact.freeze import FreezeOptions, dataset_for_run, freeze_model
    from toolchain.artifact.load import load_artifact
    from toolchain.atomic import atomic_dir
    from toolchain.evaluation.evaluate import evaluate
    from toolchain.outputs import writing
    from toolchain.training.build import load_trained, require_same_dataset
    from toolchain.training.run_dir import RunDir

    if evaluate_split not in ("test", "valid", "none"):
        raise UsageError(f"--eval-split {evaluate_split!r}: choose test, valid or none")
    spec, model = load_trained(run, allow_incomplete=allow_incomplete)
    ds = dataset_for_run(spec, data)
    require_same_dataset(RunDir(run), spec.data, ds)
    encoder = encoder_dtype or FloatStorage(spec.deploy.get("encoder_storage", "fp32"))
    metrics = {}
    with writing(out, "artifact", overwrite=overwrite, inputs=[run, data]), atomic_dir(out) as staged:
        # the artifact is complete (frozen, loaded back, measured) before it appears under --out
        freeze_model(model, spec, ds.vocab, staged, FreezeOptions(packed, codebook_dtype, encoder),
                     source={"run": str(run.resolve()), "dataset_sha256": ds.manifest.get("arrays_sha256")})
        if evaluate_split != "none":
            _, _, frozen = load_artifact(staged)
            info(f"measuring the frozen model on the {evaluate_split} split")
            metrics = {"split": evaluate_split, **evaluate(frozen, ds.split(evaluate_split))}
            manifest = json.loads((staged / "manifest.json").read_text())
            write_manifest(staged, {**manifest, "metrics": metrics})
    bundle = Bundle.load(out)
    if as_json:
        print_json({"artifact": str(out), "total_bytes": bundle.manifest["total_bytes"],
                    "parts": bundle.parts, "metrics": metrics})
        return
    table = Table(title=f"artifact {out} ({spec.kind}): {human(bundle.manifest['total_bytes'])}",
                  title_justify="left")
    for col in ("part", "file", "bytes", "sha256"):
        table.add_column(col, justify="right" if col == "bytes" else "left")
    for name, p in sorted(bundle.parts.items()):
        table.add_row(name, p["file"], f"{p['bytes']:,}", p["sha256"][:16])
    stdout.print(table)
    if metrics:
        stdout.print("frozen model, " + evaluate_split + ": " +
                     ", ".join(f"{k} {100 * metrics[k]:.2f}" for k in ("P@10", "NDCG@10", "MRR@20")))
