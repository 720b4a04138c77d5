"""From a :class:`RunSpec` to models and training tasks; loading trained runs back.

Students need a trained teacher run: its backbone config is the student's default, its
table X feeds the code learner, and (bidirectional) its weights keep training in the
student's run. OD-Rec's semi-tensor-train rank is resolved here, once, from the target
compression ratio (by default the Eq. (13) ratio of the student's M and K), and the
resolved rank is written to the run's config so the run rebuilds exactly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from toolchain.sizes.fit import fit_table, teacher_bytes
from toolchain.artifact.quantize import FloatStorage
from toolchain.compression.codes import CodesConfig, compression_ratio
from toolchain.compression.quantized_codes import QuantizedCodesConfig
from toolchain.compression.tensor_train import STTConfig
from toolchain.data.dataset import SessionDataset
from toolchain.distillation.config import DistillConfig
from toolchain.distillation.losses import hot_items
from toolchain.distillation.pair import DistillationPair
from toolchain.errors import CheckpointError, UsageError
from toolchain.models.base import SessionRecommender
from toolchain.models.build import build_model
from toolchain.models.init import paper_init_
from toolchain.models.sasrec import SASRec, SASRecConfig
from toolchain.models.spec import BASELINES, model_config_class
from toolchain.progress import info
from toolchain.training.checkpoint import load_weights
from toolchain.training.config import TrainConfig
from toolchain.training.rng import seed_everything
from toolchain.training.run_dir import RunDir
from toolchain.training.spec import RunSpec, merge, preset_config
from toolchain.training.tasks import DistillTask, ModelTask, Task

Sections = dict[str, dict[str, Any]]


def dataset_info(ds: SessionDataset, path: str | Path | None) -> dict[str, Any]:
    """Describe a dataset for a run's config: its resolved path, arrays sha256 and item count."""
    return {"path": str(Path(path).resolve()) if path is not None else None,
            "arrays_sha256": ds.manifest.get("arrays_sha256"), "n_items": ds.n_items}


@dataclass(frozen=True)
class Deploy:
    """How a student is sized and stored: the recipe, a byte budget (or a ratio of the
    teacher's deployed bytes) and the encoder's storage dtype in the artifact."""

    recipe: str = "deployable"
    budget: int | None = None
    ratio: float | None = None
    encoder_storage: FloatStorage | None = None  # None: int8 for the deployable recipe, else fp32
    elastic: bool = False  # one run for every budget: nested codes, every prefix trained (freeze cuts)


#: How an elastic run trains its cuts unless the config says otherwise: each step the whole table
#: and one cut drawn with p ~ 1/c (benchmarks/results/elastic_diginetica.md: on Diginetica's valid
#: split this beat uniform draws at every validated cut)
#: Each smaller cut also has its own first stage (cut_codebooks; zero deployed bytes): on Diginetica's
#: valid split, int4 encoder, P@10 as % of a student trained for the budget alone rose at 1/100 from
#: 88.7% to 95.7% and at 1/30 from 97.6% to 98.8%, level at 1/50, 0.3-0.6 points lower at 1/20 and
#: 1/10 (benchmarks/results/elastic_diginetica-int4-cut-codebooks.md against ..._int4-lead2.md)
#: and each smaller cut its own encoder (cut_encoders; zero deployed bytes): valid P@10 as % of the
#: specific students 96.7 / 95.7 / 98.3 / 97.4 / 100.9 at 1/100 / 1/50 / 1/30 / 1/20 / 1/10, against
#: 95.7 / 94.5 / 98.8 / 97.3 / 99.8 without (benchmarks/results/elastic_diginetica-int4-cut-encoders.md;
#: 6 epochs against 5 in about the same minutes)
ELASTIC_TRAINING = {"anchor_full": True, "cut_draw": "small-first", "cut_codebooks": True, "cut_encoders": True}

#: An elastic run's first stage unless the config says otherwise: S / 2 code columns, each spanning
#: two subspaces (``lead``; an odd S keeps S columns of one subspace). On Diginetica's valid split,
#: nothing trained, the 2-column prefix (the 1/100 cut) scores P@10 14.64 against 4.17 for the plain
#: nested table and no longer prefix loses (benchmarks/results/nested_lead_diginetica.md)
def elastic_lead(subspaces: int) -> int:
    return subspaces // 2 if subspaces % 2 == 0 else subspaces


#: An elastic run's largest cut, unless --budget / --ratio say otherwise: 1/10 of the teacher
ELASTIC_RATIO = 10.0


#: The deployable recipe's rate schedule unless the config says otherwise: each epoch at half the
#: last one's rate. At 1/30 on Diginetica it tested at 89.7% / 87.9% of the teacher's P@10 /
#: NDCG@10 against 87.6% / 85.6% at a constant rate, each selected on validation
#: (benchmarks/results/frontier_diginetica-lr-decay.md)
DEPLOYABLE_LR_DECAY = 0.5

#: The deployable student's dropout unless the config or --dropout says otherwise: at most this,
#: never more than its teacher's. The student starts from the teacher's weights with far fewer
#: bits per item; it underfits rather than overfits, and the teacher's regularisation (0.5 in the
#: paper's Tmall setting) costs it accuracy (benchmarks/results/frontier_diginetica-r30-dropout.md)
DEPLOYABLE_DROPOUT = 0.1


PAPER_ONLY_TABLE_KEYS = ("eta", "mixup", "straight_through", "temperature", "sampled", "fit_steps",
                         "fit_lr", "sample_rows", "refresh_every")


def new_spec(kind: str, ds: SessionDataset, data_path: str | Path | None, *, preset: str = "tmall",
             file: Sections | None = None, flags: Sections | None = None,
             teacher_run: str | Path | None = None, target_ratio: float | None = None,
             deploy: Deploy = Deploy()) -> RunSpec:
    """Resolve preset < config file < flags into a validated spec (see :mod:`.spec`)."""
    file, flags = file or {}, flags or {}
    if kind != "student" and (deploy.budget is not None or deploy.ratio is not None or deploy.elastic):
        raise UsageError(f"--budget, --ratio and --elastic size students; a {kind} run has no budget")
    if deploy.elastic:
        if deploy.recipe != "deployable":
            raise UsageError("--elastic trains the deployable recipe's nested codes", hint="drop --recipe paper")
        given = {**(file.get("item_table") or {}), **(flags.get("item_table") or {})}
        defaults = {k: v for k, v in ELASTIC_TRAINING.items() if k not in (file.get("item_table") or {})}
        if given.get("lead") is None:
            subspaces = given.get("subspaces") or QuantizedCodesConfig.subspaces
            defaults["lead"] = elastic_lead(int(subspaces))
        flags = {**flags, "item_table": {**defaults, **flags.get("item_table", {}), "structure": "nested",
                                         "elastic": True}}
        if deploy.budget is None and deploy.ratio is None:
            deploy = dataclasses.replace(deploy, ratio=ELASTIC_RATIO)
            info(f"elastic: the largest cut is sized to 1/{ELASTIC_RATIO:g} of the teacher's bytes "
                 "(--budget / --ratio to change it); odtool freeze --budget cuts it smaller")
    layers = lambda s: (file.get(s), flags.get(s))  # noqa: E731
    teacher = None
    if kind in BASELINES or kind == "teacher":
        if teacher_run is not None:
            raise UsageError(f"--teacher is for student and odrec runs, not {kind}")
        model_base: Any = preset_config(model_config_class(kind), preset)
    else:
        if teacher_run is None:
            raise UsageError(f"a {kind} run needs a trained teacher: pass --teacher RUN",
                             hint="train one first: odtool train teacher --data DIR --out runs/teacher")
        teacher_spec = RunDir(teacher_run).read_config()
        teacher = {"run": str(Path(teacher_run).resolve()), "model": teacher_spec["model"]}
        model_base = {k: v for k, v in teacher_spec["model"].items() if k not in ("kind", "version")}
    deployable = kind == "student" and deploy.recipe == "deployable"
    if deployable and "dropout" in model_base:
        model_base["dropout"] = min(model_base["dropout"], DEPLOYABLE_DROPOUT)
    model = merge(model_config_class(kind), model_base, *layers("model"), source="model settings")
    table = None
    budget = _budget(deploy, teacher_run, ds) if kind == "student" else None
    if deployable:
        table = _deployable_table(ds, model, preset, layers("item_table"), budget, deploy)
    elif kind == "student":
        if deploy.budget is not None or deploy.ratio is not None:
            raise UsageError("--budget and --ratio size the deployable recipe's students",
                             hint="drop --recipe paper, or choose --M and --K yourself")
        table = merge(CodesConfig, preset_config(CodesConfig, preset), *layers("item_table"),
                      source="item_table settings")
    elif kind == "odrec":
        table = _odrec_table(ds.n_items, model.dim, preset, layers("item_table"), target_ratio)
    distill = None
    if kind in ("student", "odrec"):
        base = preset_config(DistillConfig, preset)
        if deployable:
            base = DistillConfig.deployable()
        if kind == "odrec":
            base = base.replace(bidirectional=False)
        distill = merge(DistillConfig, base, *layers("distill"), source="distill settings")
    train_base = preset_config(TrainConfig, preset if preset == "tiny" else "tmall")
    if deployable:
        train_base = train_base.replace(lr_decay=DEPLOYABLE_LR_DECAY)
    train = merge(TrainConfig, train_base, *layers("train"), source="train settings")
    deployment = {}
    if kind == "student":
        storage = deploy.encoder_storage or (FloatStorage.int8 if deployable else FloatStorage.fp32)
        deployment = {"recipe": deploy.recipe, "encoder_storage": storage.value, "budget_bytes": budget}
    return RunSpec(kind, model, table, train, distill, teacher, dataset_info(ds, data_path), deployment)


def _budget(deploy: Deploy, teacher_run: str | Path | None, ds: SessionDataset) -> int | None:
    """Bytes from --budget, or the teacher's deployed bytes / --ratio."""
    if deploy.budget is not None and deploy.ratio is not None:
        raise UsageError("give either --budget or --ratio, not both")
    if deploy.ratio is not None:
        if not deploy.ratio > 0:
            raise UsageError(f"--ratio must be > 0, got {deploy.ratio}")
        tspec = RunSpec.from_dict(RunDir(teacher_run).read_config(), source=str(teacher_run))
        return int(teacher_bytes(SASRec(ds.n_items, tspec.model)) / deploy.ratio)
    return deploy.budget


def _deployable_table(ds: SessionDataset, model: SASRecConfig, preset: str, layers, budget: int | None,
                      deploy: Deploy) -> QuantizedCodesConfig:
    """The deployable student's table: flags over the preset, M sized to the budget if one is given."""
    given = {k for layer in layers for k in (layer or {}) if (layer or {}).get(k) is not None}
    paper_only = sorted(given & set(PAPER_ONLY_TABLE_KEYS))
    if paper_only:
        raise UsageError(f"{', '.join(paper_only)}: settings of the paper's recipe (Gumbel-softmax codes "
                         "with mixup); the deployable recipe's codes are fixed by k-means",
                         hint="add --recipe paper to use them")
    base = merge(QuantizedCodesConfig, preset_config(QuantizedCodesConfig, preset), *layers,
                 source="item_table settings")
    if budget is None:
        return base
    storage = deploy.encoder_storage or FloatStorage.int8
    fit = fit_table(ds.n_items, model, base, budget, storage, m_given="m" in given,
                    storage_given="codebook_storage" in given)
    info(f"budget {budget:,} bytes: M = {fit.table.m} x K = {fit.table.k} {fit.table.structure} codes, "
         f"{fit.bytes['total']:,} bytes (codes {fit.bytes['codes']:,}, codebooks {fit.bytes['codebooks']:,} "
         f"as {fit.table.codebook_storage}, "
         f"encoder {fit.bytes['encoder']:,} as {storage.value}); vocabulary not counted")
    return fit.table


def _odrec_table(n_items: int, dim: int, preset: str, layers, target_ratio: float | None) -> STTConfig:
    """STT config at ``target_ratio`` (default: Eq. 13 of the preset's M, K), rank resolved."""
    if target_ratio is None:
        codes = preset_config(CodesConfig, preset)
        target_ratio = compression_ratio(n_items, dim, codes.m, codes.k)
    cfg = merge(STTConfig, STTConfig(n=2), {"target_ratio": target_ratio}, *layers,
                source="item_table settings")
    return cfg.replace(rank=cfg.shape(n_items, dim).rank)


def load_teacher(spec: RunSpec, n_items: int) -> SASRec:
    """The student's teacher, from the teacher run's best weights."""
    run = RunDir(spec.teacher["run"])
    tspec = RunSpec.from_dict(run.read_config(), source=str(run.config))
    if tspec.kind != "teacher":
        raise UsageError(f"{run.root} is a {tspec.kind} run, not a teacher run")
    if tspec.data.get("n_items") not in (None, n_items):
        raise CheckpointError(f"teacher {run.root} was trained on {tspec.data['n_items']} items, this "
                              f"dataset has {n_items}", hint="train the teacher on the same dataset")
    teacher = SASRec(n_items, tspec.model)
    load_weights(teacher, run.model)
    return teacher


def build_task(spec: RunSpec, ds: SessionDataset) -> Task:
    """Seeded, initialised models for ``spec`` wrapped in their training task."""
    seed_everything(spec.train.seed)
    n, bound = ds.n_items, spec.train.init_range
    if spec.distill is None:
        return ModelTask(paper_init_(build_model(spec.model_spec, n), bound), spec.train.epochs)
    teacher = load_teacher(spec, n)
    student = paper_init_(build_model(spec.model_spec, n, teacher.items.all_embeddings().detach()), bound)
    pair = DistillationPair(teacher, student, hot_items(ds.item_counts, spec.distill.hot_fraction), spec.distill)
    paper_init_(pair.proj_t, bound)
    paper_init_(pair.proj_s, bound)
    counts = torch.from_numpy(ds.item_counts.astype("float32"))
    return DistillTask(pair, spec.distill.pretrain_epochs, spec.train.epochs, counts, ds.train)


def load_trained(run_path: str | Path, n_items: int | None = None, *, dataset: SessionDataset | None = None,
                 allow_incomplete: bool = False) -> tuple[RunSpec, SessionRecommender]:
    """(spec, model in eval mode) of a trained run, from its best weights (model.safetensors).

    Refuses a run that never finished (unless ``allow_incomplete``) and, given ``dataset``, a
    dataset other than the one the run was trained on."""
    run = RunDir(run_path)
    spec = RunSpec.from_dict(run.read_config(), source=str(run.config))
    if dataset is not None:
        require_same_dataset(run, spec.data, dataset)
        n_items = dataset.n_items
    trained_on = spec.data.get("n_items")
    if n_items is not None and trained_on not in (None, n_items):
        raise CheckpointError(f"{run.root} was trained on {trained_on} items, this dataset has {n_items}",
                              hint="evaluate on the dataset the run was trained on")
    run.require_finished(allow_incomplete)
    if not run.model.is_file():
        raise CheckpointError(f"{run.root} has no model.safetensors yet (training has not finished an "
                              "epoch)", hint=f"continue it: odtool train {spec.kind} --out {run.root} --resume")
    model = build_model(spec.model_spec, n_items if n_items is not None else int(trained_on))
    load_weights(model, run.model)
    return spec, model.eval()


def require_same_dataset(run: RunDir, data: dict, ds: SessionDataset) -> None:
    """Refuse ``ds`` unless it is the dataset (by sha256 of its arrays) that ``run`` trained on."""
    recorded, given = data.get("arrays_sha256"), ds.manifest.get("arrays_sha256")
    if recorded is not None and given is not None and recorded != given:
        raise CheckpointError(
            f"{run.root} was trained on another dataset than the one given (dataset sha256 "
            f"{given[:12]}..., the run recorded {recorded[:12]}... from {data.get('path')})",
            hint=f"pass the dataset it was trained on: --data {data.get('path')}")


def dataset_for_run(spec: RunSpec, data: str | Path | None) -> SessionDataset:
    """The dataset a run was trained on (``data``, else the path its spec records); its vocabulary
    names the items of the run's artifact."""
    from toolchain.data.pipeline import load_dataset

    path = data if data is not None else spec.data.get("path")
    ds = load_dataset(path)
    if ds.n_items != spec.data.get("n_items", ds.n_items):
        raise CheckpointError(f"dataset {path} has {ds.n_items} items, the run was trained on "
                              f"{spec.data['n_items']}", hint="pass the training dataset with --data")
    return ds


def check_teacher(teacher_run: str | Path, ds: SessionDataset, allow_incomplete: bool = False) -> None:
    """A student's teacher run: finished (or explicitly allowed not to be) and trained on ``ds``."""
    run = RunDir(teacher_run)
    data = run.read_config().get("data", {})
    run.require_finished(allow_incomplete, role="teacher")
    require_same_dataset(run, data, ds)


def reference_teacher(spec: RunSpec, n_items: int) -> SessionRecommender:
    """The teacher a run is compared with: its own teacher, else a SASRec teacher of its N."""
    if spec.teacher is not None:
        cfg = SASRecConfig.from_dict(spec.teacher["model"], source="teacher config")
    else:
        cfg = spec.model if spec.kind == "teacher" else SASRecConfig(dim=spec.model.dim)
    return SASRec(n_items, cfg)
