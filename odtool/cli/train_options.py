"""The options shared by the ``odtool train`` commands, and where each one lands in the config.

Flags default to None ("not given"), so presets and config files show through; FLAG_KEYS maps
each parameter name to its (section, key) in the run's config. The training options are
declared once, from :class:`~toolchain.training.config.TrainConfig`'s fields (their defaults
shown from it): :func:`with_train_options` gives a command all of them.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from enum import Enum
from typing import Any, Callable, Optional

import typer

from toolchain.training.config import DEVICES, MONITORS, TrainConfig
from toolchain.training.build import DEPLOYABLE_DROPOUT, DEPLOYABLE_LR_DECAY


class Preset(str, Enum):
    """The ``--preset`` choices: the paper's tmall and retailrocket settings, or tiny for tests."""
    tmall = "tmall"
    retailrocket = "retailrocket"
    tiny = "tiny"


#: the ``--device`` choices, from the training config's (auto: CUDA when present)
Device = Enum("Device", {d: d for d in DEVICES}, type=str)
#: the ``--monitor`` choices, from the training config's
Monitor = Enum("Monitor", {m: m for m in MONITORS}, type=str)


DATA = typer.Option(None, "--data", "-d", help="Dataset directory (default: a student's teacher's dataset, "
                    "else the synthetic default).")
OUT = typer.Option(..., "--out", "-o", help="Run directory to create, or to continue with --resume.")
CONFIG = typer.Option(None, "--config", "-c",
                      help="JSON or TOML file with sections model, item_table, train, distill.")
PRESET = typer.Option(Preset.tmall, "--preset", help="Paper setting: tmall (N=128, 1 head, dropout 0.5), "
                      "retailrocket (N=256, 2 heads, 0.2, M=3, K=256), tiny (tests).")
RESUME = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint.")
OVERWRITE = typer.Option(False, "--overwrite", help="Replace an existing run in --out.")
SET = typer.Option(None, "--set", help="Any config key: SECTION.KEY=VALUE (repeatable), e.g. model.steps=2.")
DIM = typer.Option(None, "--dim", help="Embedding dimension N.")
LAYERS = typer.Option(None, "--layers", help="Self-attention layers. (default 1)")
HEADS = typer.Option(None, "--heads", help="Attention heads.")
DROPOUT = typer.Option(None, "--dropout", help="Dropout rate. (default: the preset's; a student takes its "
                       f"teacher's, a deployable student at most {DEPLOYABLE_DROPOUT:g})")
CAUSAL = typer.Option(None, "--causal/--bidirectional-attention", help="Attention mask within the session. "
                      "(default bidirectional)")
TEACHER = typer.Option(None, "--teacher", "-t", help="A trained teacher run (required).")
ALLOW_INCOMPLETE = typer.Option(False, "--allow-incomplete",
                                help="Accept a teacher run that never finished training (its best epoch so far).")
BETA = typer.Option(None, "--beta", help="Weight of the contrastive loss (Eq. 22).")
GAMMA = typer.Option(None, "--gamma", help="Weight of the soft-target KL (Eq. 24). (default 0.3)")
TAU = typer.Option(None, "--tau", help="InfoNCE temperature. (default 0.2)")
HOT = typer.Option(None, "--hot-fraction", help="Share of items that are hot (by popularity). (default 0.2)")
PRETRAIN = typer.Option(None, "--pretrain-epochs", help="Epochs of L_rec (+ L_mse) before distilling. (default 2)")
CONTRASTIVE = typer.Option(None, "--contrastive/--no-contrastive", help="Contrastive distillation (w/o-c).")
SOFT = typer.Option(None, "--soft-targets/--no-soft-targets", help="Soft-target distillation (w/o-s).")
M = typer.Option(None, "--M", help="Codebooks M. (default 4)")
K = typer.Option(None, "--K", help="Vectors per codebook K. (default 32)")

#: what each TrainConfig field means on the command line (its default is read from TrainConfig)
TRAIN_HELP = {
    "epochs": "Epochs (students: joint epochs after pretraining).",
    "batch_size": "Mini-batch size.",
    "lr": "Adam learning rate.",
    "lr_decay": "Each epoch trains at the last one's rate times this (1: constant).",
    "l2": "L2 regularisation (Adam weight decay).",
    "init_range": "Initialise parameters from U(-b, b).",
    "patience": "Stop after this many epochs without a better validation --monitor (0: never).",
    "monitor": "The validation metric that picks the best epoch.",
    "seed": "Seed: the same seed reproduces a CPU run bit for bit.",
    "max_len": "Sessions keep their most recent items.",
    "eval_batch_size": "Sessions per evaluation batch.",
    "threads": "torch CPU threads (0: torch's default).",
    "device": "auto uses CUDA when present.",
    "keep_checkpoints": "Epoch checkpoints kept on disk (the latest ones).",
    "max_minutes": "Wall-clock budget: no epoch starts that would end past it (0: none; resumes count).",
}
_CHOICES = {"device": Device, "monitor": Monitor}
#: defaults that differ by run kind
DEFAULT_TEXT = {"lr_decay": f"{DEPLOYABLE_LR_DECAY:g} for deployable students, else 1.0"}


def _train_parameters() -> list[inspect.Parameter]:
    """One keyword parameter (a typer option defaulting to None) per TrainConfig field."""
    defaults = TrainConfig()
    hints = typing.get_type_hints(TrainConfig)
    params = []
    for f in dataclasses.fields(TrainConfig):
        if f.name not in TRAIN_HELP:
            continue
        kind = _CHOICES.get(f.name, hints[f.name])
        option = typer.Option(None, "--" + f.name.replace("_", "-"),
                              help=f"{TRAIN_HELP[f.name]} (default {DEFAULT_TEXT.get(f.name, getattr(defaults, f.name))})")
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=Optional[kind]))
    return params


TRAIN_PARAMETERS = _train_parameters()


def with_train_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` with every training option added to its command line; the values given
    reach it as ``train`` (a dict of parameter name -> value, None when not given)."""
    hints = typing.get_type_hints(command)
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in inspect.signature(command).parameters.values() if p.name != "train"]
    names = {p.name for p in TRAIN_PARAMETERS}

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        train = {n: kwargs.pop(n) for n in names if n in kwargs}
        return command(**kwargs, train=train)

    wrapper.__signature__ = inspect.Signature(own + TRAIN_PARAMETERS)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + TRAIN_PARAMETERS}
    return wrapper


FLAG_KEYS = {  # parameter name -> (section, key)
    **{n: ("train", n) for n in TRAIN_HELP},
    **{n: ("model", n) for n in ("dim", "layers", "heads", "dropout", "causal", "steps")},
    **{n: ("distill", n) for n in ("beta", "gamma", "tau", "hot_fraction", "pretrain_epochs",
                                   "contrastive", "soft_targets", "bidirectional", "distill")},
    **{n: ("item_table", n) for n in ("m", "k", "eta", "mixup", "straight_through", "temperature", "sampled",
                                      "rank", "n", "d")},
}
RENAMED = {"distill": "enabled"}  # --distill/--no-distill sets distill.enabled
