"""The options shared by the ``odtool train`` commands, and where each one lands in the config.

Flags default to None ("not given"), so presets and config files show through; FLAG_KEYS maps
each parameter name to its (section, key) in the run's config.
"""

from __future__ import annotations

from enum import Enum

import typer


class Preset(str, Enum):
    """The ``--preset`` choices: the paper's tmall and retailrocket settings, or tiny for tests."""
    tmall = "tmall"
    retailrocket = "retailrocket"
    tiny = "tiny"


class Device(str, Enum):
    """The ``--device`` choices: auto (CUDA when present), cpu or cuda."""
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


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
EPOCHS = typer.Option(None, "--epochs", help="Epochs (students: joint epochs after pretraining). (default 20)")
BATCH = typer.Option(None, "--batch-size", help="Mini-batch size. (default 100)")
LR = typer.Option(None, "--lr", help="Adam learning rate. (default 0.001)")
L2 = typer.Option(None, "--l2", help="L2 regularisation (Adam weight decay). (default 1e-05)")
INIT = typer.Option(None, "--init-range", help="Initialise parameters from U(-b, b). (default 0.1)")
PATIENCE = typer.Option(None, "--patience", help="Stop after this many epochs without a better "
                        "validation NDCG@10 (0: never). (default 3)")
SEED = typer.Option(None, "--seed", help="Seed: the same seed reproduces a CPU run bit for bit. (default 0)")
MAX_LEN = typer.Option(None, "--max-len", help="Sessions keep their most recent items. (default 50)")
THREADS = typer.Option(None, "--threads", help="torch CPU threads (0: torch's default). (default 0)")
DEVICE = typer.Option(None, "--device", help="auto uses CUDA when present. (default auto)")
DIM = typer.Option(None, "--dim", help="Embedding dimension N.")
LAYERS = typer.Option(None, "--layers", help="Self-attention layers. (default 1)")
HEADS = typer.Option(None, "--heads", help="Attention heads.")
DROPOUT = typer.Option(None, "--dropout", help="Dropout rate.")
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

FLAG_KEYS = {  # parameter name -> (section, key)
    **{n: ("train", n) for n in ("epochs", "batch_size", "lr", "l2", "init_range", "patience", "seed",
                                 "max_len", "threads", "device")},
    **{n: ("model", n) for n in ("dim", "layers", "heads", "dropout", "causal", "steps")},
    **{n: ("distill", n) for n in ("beta", "gamma", "tau", "hot_fraction", "pretrain_epochs",
                                   "contrastive", "soft_targets", "bidirectional", "distill")},
    **{n: ("item_table", n) for n in ("m", "k", "eta", "mixup", "straight_through", "temperature", "sampled",
                                      "rank", "n", "d")},
}
RENAMED = {"distill": "enabled"}  # --distill/--no-distill sets distill.enabled
