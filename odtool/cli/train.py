"""``odtool train``: the teacher, the EODRec student, OD-Rec and the classic baselines.

Every setting is a config-file key (``--config FILE``, JSON or TOML, sections [model],
[item_table], [train], [distill]), most are also flags, and ``--set SECTION.KEY=VALUE``
reaches any key. Precedence: preset < teacher's backbone (students) < file < flags.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

import typer

from odtool import api
from odtool.cli.common import new_app, stdout
from odtool.cli.evaluate import metrics_table
from odtool.cli.train_options import (
    ALLOW_INCOMPLETE,
    BETA,
    CAUSAL,
    CONFIG,
    CONTRASTIVE,
    DATA,
    DIM,
    DROPOUT,
    FLAG_KEYS,
    GAMMA,
    HEADS,
    HOT,
    K,
    LAYERS,
    M,
    OUT,
    OVERWRITE,
    PRESET,
    PRETRAIN,
    RENAMED,
    RESUME,
    SET,
    SOFT,
    TAU,
    TEACHER,
    Preset,
    with_train_options,
)
from toolchain.sizes.units import parse_size
from toolchain.artifact.quantize import FloatStorage
from toolchain.errors import UsageError
from toolchain.training.build import Deploy
from toolchain.training.spec import SECTIONS

app = new_app(
    "Train the SASRec teacher, the compositional-code student (bidirectional distillation), OD-Rec "
    "(semi-tensor-train student) and the baselines GRU4Rec, NARM, STAMP, SR-GNN.\n\n"
    "Examples:\n\n"
    "  odtool train teacher --data data/digi --out runs/teacher\n\n"
    "  odtool train student --data data/digi --teacher runs/teacher --out runs/student --M 4 --K 32\n\n"
    "  odtool train odrec --data data/digi --teacher runs/teacher --out runs/odrec --match-student runs/student\n\n"
    "  odtool train narm --data data/digi --out runs/narm --epochs 10\n\n"
    "  odtool train teacher --out runs/teacher --resume     # continue an interrupted run"
)


def _parse_sets(sets: list[str] | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in sets or []:
        key, sep, raw = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or section not in SECTIONS:
            raise UsageError(f"--set {item!r}: expected SECTION.KEY=VALUE with SECTION one of {', '.join(SECTIONS)}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(section, {})[name] = value
    return out


def _flags(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, value in params.items():
        if name in FLAG_KEYS and value is not None:
            section, key = FLAG_KEYS[name]
            out.setdefault(section, {})[RENAMED.get(key, key)] = value.value if isinstance(value, Enum) else value
    return out


def run_training(kind: str, p: dict[str, Any], target_ratio: float | None = None,
                 deploy: Deploy = Deploy()) -> dict[str, Any]:
    """A command's parameters (its ``locals()``) -> :func:`odtool.api.train`, then its summary printed."""
    flags = _flags({**p, **(p.get("train") or {})})
    for section, values in _parse_sets(p.get("set_")).items():
        flags.setdefault(section, {}).update(values)
    summary = api.train(kind, p["out"], data=p["data"], flags=flags, preset=p["preset"].value,
                        config=p.get("config"), teacher=p.get("teacher"), target_ratio=target_ratio,
                        resume=p["resume"], overwrite=p["overwrite"], deploy=deploy,
                        allow_incomplete=p.get("allow_incomplete", False))
    print_summary(kind, p["out"], summary)
    return summary


def print_summary(kind: str, out: Path, summary: dict[str, Any]) -> None:
    """The metrics and timing of a finished training, as ``odtool train`` shows them."""
    stdout.print(metrics_table(f"{kind}: best epoch {summary['best_epoch']} of {summary['epochs_run']}, "
                               "metrics in %", {"valid (best)": summary["valid"], "test": summary["test"]}))
    stdout.print(f"run: {out}  mean epoch seconds: "
                 + ", ".join(f"{k} {v:.1f}" for k, v in summary["mean_epoch_seconds"].items()))


@app.command("teacher")
@with_train_options
def teacher(data: Optional[Path] = DATA, out: Path = OUT, config: Optional[Path] = CONFIG, preset: Preset = PRESET,
            resume: bool = RESUME, overwrite: bool = OVERWRITE, set_: Optional[List[str]] = SET,
            dim: Optional[int] = DIM, layers: Optional[int] = LAYERS,
            heads: Optional[int] = HEADS, dropout: Optional[float] = DROPOUT,
            causal: Optional[bool] = CAUSAL, train: Optional[dict] = None) -> None:
    """Train the server-side teacher: SASRec + soft-attention readout over a full item table.

    Example: odtool train teacher --data data/digi --out runs/teacher --epochs 20 --threads 2
    """
    run_training("teacher", locals())


class Recipe(str, Enum):
    """Student recipe: deployable (k-means codes, frozen table) or paper (EODRec as published)."""
    deployable = "deployable"
    paper = "paper"


class Structure(str, Enum):
    """Deployable codes: product (subspaces), residual, or nested (every prefix a table)."""
    product = "product"
    residual = "residual"
    nested = "nested"


@app.command("student")
@with_train_options
def student(data: Optional[Path] = DATA, out: Path = OUT, teacher: Optional[Path] = TEACHER,
            allow_incomplete: bool = ALLOW_INCOMPLETE,
            recipe: Recipe = typer.Option(
                Recipe.deployable, "--recipe",
                help="deployable: fixed k-means codes from the teacher's table, the teacher's encoder, "
                     "training on exactly the table that is frozen (+ soft targets); paper: EODRec's "
                     "Gumbel-softmax codes, mixup, pretraining and bidirectional distillation."),
            budget: Optional[str] = typer.Option(
                None, "--budget", help="Deployable: the most bytes the frozen student may take (codes, "
                "codebooks, encoder), e.g. 750KiB; M is chosen to fit."),
            ratio: Optional[float] = typer.Option(
                None, "--ratio", help="Deployable: budget = the teacher's deployed bytes / RATIO, e.g. 30."),
            structure: Optional[Structure] = typer.Option(
                None, "--structure", help="Deployable codes: product (subspaces), residual, or nested "
                "(residual product codes whose every prefix is a table). (default product)"),
            elastic: bool = typer.Option(
                False, "--elastic", help="One student for every budget: nested codes, every prefix trained "
                "(each step draws a cut); --budget / --ratio size the largest cut (default 1/10 of the teacher); "
                "the first stage's S / 2 columns each span two subspaces (--set item_table.lead=L to change); "
                "each smaller cut trains its own first-stage codebooks and encoder, folded into its artifact "
                "(item_table.cut_codebooks, item_table.cut_encoders). "
                "Then odtool freeze RUN --budget or --budgets cuts it."),
            encoder_dtype: Optional[FloatStorage] = typer.Option(
                None, "--encoder-dtype", help="How the artifact stores the encoder's matrices (weight-only): fp32, fp16, int8 or int4; "
                "a --budget counts it. "
                "(default: int8 for deployable, fp32 for paper)"),
            codebook_storage: Optional[FloatStorage] = typer.Option(
                None, "--codebook-dtype", help="Deployable: codebook storage, seen exactly in training: fp32, fp16, "
                "int8, or int4 (per-vector scales; half int8's codebook bytes, the rotation stays int8; "
                "a nested table's codebooks grow with its columns, so a budget holds more). "
                "(default fp16, or int8 where that buys more codes)"),
            config: Optional[Path] = CONFIG, preset: Preset = PRESET, resume: bool = RESUME,
            overwrite: bool = OVERWRITE, set_: Optional[List[str]] = SET, dropout: Optional[float] = DROPOUT, m: Optional[int] = M, k: Optional[int] = K,
            eta: Optional[float] = typer.Option(None, "--eta", help="Mixup weight of the teacher's X (Eq. 18)."),
            mixup: Optional[bool] = typer.Option(None, "--mixup/--no-mixup", help="Embedding mixup (w/o-m)."),
            straight_through: Optional[bool] = typer.Option(
                None, "--straight-through/--soft-codes", help="Hard one-hots forward, soft gradients."),
            temperature: Optional[float] = typer.Option(None, "--gumbel-temperature", help="Gumbel eps. (default 0.3)"),
            sampled: Optional[bool] = typer.Option(
                None, "--sampled-codes/--all-codes",
                help="Run the code learner on the batch's items only and rank against the cached hard "
                     "codes (refreshed every item_table.refresh_every steps): a step's cost no longer "
                     "grows with K. Not the paper's; see toolchain/compression/codes.py. (default: all)"),
            beta: Optional[float] = BETA, gamma: Optional[float] = GAMMA, tau: Optional[float] = TAU,
            hot_fraction: Optional[float] = HOT, pretrain_epochs: Optional[int] = PRETRAIN,
            distill: Optional[bool] = typer.Option(None, "--distill/--no-distill",
                                                   help="Any distillation at all (--no-distill: Stu-base)."),
            contrastive: Optional[bool] = CONTRASTIVE, soft_targets: Optional[bool] = SOFT,
            bidirectional: Optional[bool] = typer.Option(
                None, "--bidirectional/--freeze-teacher", help="Update the teacher too (w/o-b: frozen)."),
            train: Optional[dict] = None) -> None:
    """Train a compact student of a teacher: integer codes + small codebooks + the encoder.

    --recipe deployable (default): codes assigned once by k-means on the teacher's table (popularity-weighted), codebooks from the centroids, the teacher's encoder copied; then encoder and codebooks train with L_rec + soft targets on exactly the table that is frozen, and the best epoch is chosen on validation with that table. --budget / --ratio choose the most codes per item that fit; freeze stores the encoder int8 by default.

    --recipe paper: EODRec as published (Gumbel-softmax codes over M x K, mixup, pretraining, bidirectional distillation; the ablation flags below).

    Examples:

      odtool train student --teacher runs/teacher --out runs/student --ratio 30

      odtool train student --teacher runs/teacher --out runs/student --budget 750KiB

      odtool train student --teacher runs/teacher --out runs/elastic --elastic --ratio 10

      odtool train student --teacher runs/teacher --out runs/paper --recipe paper --M 4 --K 32

      odtool train student ... --recipe paper --M 4 --K 256 --sampled-codes    # large K on a CPU
    """
    p = locals()
    if structure is not None:
        p.setdefault("set_", None)
        p["set_"] = list(p["set_"] or []) + [f"item_table.structure={structure.value}"]
    if codebook_storage is not None:
        if recipe != Recipe.deployable:
            raise UsageError("--codebook-dtype at training is for the deployable recipe",
                             hint="for the paper's codes pass it to odtool freeze")
        p["set_"] = list(p["set_"] or []) + [f"item_table.codebook_storage={codebook_storage.value}"]
    if structure is not None and recipe != Recipe.deployable:
        raise UsageError("--structure is for the deployable recipe")
    run_training("student", p, deploy=Deploy(recipe.value, parse_size(budget) if budget else None, ratio,
                                             encoder_dtype, elastic))


@app.command("odrec")
@with_train_options
def odrec(data: Optional[Path] = DATA, out: Path = OUT, teacher: Optional[Path] = TEACHER,
          allow_incomplete: bool = ALLOW_INCOMPLETE,
          config: Optional[Path] = CONFIG, preset: Preset = PRESET, resume: bool = RESUME,
          overwrite: bool = OVERWRITE, set_: Optional[List[str]] = SET, dropout: Optional[float] = DROPOUT,
          ratio: Optional[float] = typer.Option(None, "--ratio", help="Target compression ratio."),
          match_student: Optional[Path] = typer.Option(None, "--match-student",
                                                       help="Use this student run's Eq. (13) ratio."),
          rank: Optional[int] = typer.Option(None, "--rank", help="TT-rank R (overrides the ratio)."),
          n: Optional[int] = typer.Option(None, "--n", help="Semi-tensor factor n. (default 2)"),
          beta: Optional[float] = BETA, gamma: Optional[float] = GAMMA, tau: Optional[float] = TAU,
          hot_fraction: Optional[float] = HOT, pretrain_epochs: Optional[int] = PRETRAIN,
          contrastive: Optional[bool] = CONTRASTIVE, soft_targets: Optional[bool] = SOFT,
          train: Optional[dict] = None) -> None:
    """Train OD-Rec: SASRec over a semi-tensor-train table, one-way distillation from a frozen teacher.

    Its compression ratio matches a student's: --match-student RUN, else --ratio, else the Eq. (13)
    ratio of the preset's M and K (4, 32) at this dataset's |V| and N.

    Example: odtool train odrec --data data/digi --teacher runs/teacher --out runs/odrec --match-student runs/student
    """
    if match_student is not None and ratio is not None:
        raise UsageError("give either --ratio or --match-student, not both")
    if match_student is not None:
        ratio = api.student_ratio(match_student)
    run_training("odrec", locals(), target_ratio=ratio)


def _baseline(kind: str, title: str, extra_help: str = "") -> None:
    def command(data: Optional[Path] = DATA, out: Path = OUT, config: Optional[Path] = CONFIG,
                preset: Preset = PRESET, resume: bool = RESUME, overwrite: bool = OVERWRITE,
                set_: Optional[List[str]] = SET, dim: Optional[int] = DIM, train: Optional[dict] = None) -> None:
        run_training(kind, locals())

    command.__doc__ = (f"Train {title}.{extra_help}\n\nOther model keys: --set model.KEY=VALUE or the config "
                       f"file's [model] section.\n\nExample: odtool train {kind} --data data/digi --out runs/{kind}")
    app.command(kind)(with_train_options(command))


_baseline("gru4rec", "GRU4Rec (a GRU over the session; full softmax cross-entropy)")
_baseline("narm", "NARM (GRU encoder with attentive local encoder)")
_baseline("stamp", "STAMP (short-term attention/memory priority)")
_baseline("srgnn", "SR-GNN (gated GNN over the fixed-shape session graph)", " E.g. --set model.steps=2.")
