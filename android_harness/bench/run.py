"""Run a :class:`BenchPlan`: export every model once, run every export on the device.

Each (row, model, format) is one *cell*. A cell that fails -- an export that does not
match eager, a runtime that cannot load the file, a device error -- records why, and the
run goes on with the other cells. On an emulator or a phone every export also runs on the
host, and the device's top-k is compared with the host's (ties allowed).
"""

from __future__ import annotations

import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from android_harness.bench.plan import BenchPlan, Row
from android_harness.bench.sessions import write_bench_sessions
from toolchain.errors import OdtoolError
from toolchain.progress import info


@dataclass
class Cell:
    """One (row, model, format) measurement: size, timings, memory, agreement with the host, or the error."""
    row: str
    model: str
    format: str
    ok: bool = False
    error: str | None = None
    trained: bool = False
    bytes: int | None = None
    seconds_per_100: float | None = None
    p50_us: float | None = None
    p90_us: float | None = None
    load_ms: float | None = None
    peak_rss_kb: int | None = None
    emulated: bool = False
    input: str | None = None  # "trimmed" ([1, len]: dynamic-length export) or "padded" ([1, max_len])
    host_seconds_per_100: float | None = None
    topk_vs_host: str | None = None  # "100/100 equal (2 tie swaps)" or the first mismatch
    topk_ok: bool | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _describe(e: BaseException) -> str:
    return str(e) if isinstance(e, OdtoolError) else f"{type(e).__name__}: {e}"


def _model_for(row: Row, kind: str):
    """(model, info) for a cell: the frozen artifact, or the model built at the preset's scale."""
    if row.trained:
        from toolchain.artifact.load import load_artifact

        path = row.artifacts / kind
        if not (path / "manifest.json").is_file():
            raise OdtoolError(f"no artifact for {kind} in {row.artifacts} (expected {path})",
                              hint=f"odtool freeze runs/{kind} --out {path}")
        bundle, spec, model = load_artifact(path)
        return model, {"artifact": str(path), "kind": spec.kind, "total_bytes": bundle.manifest.get("total_bytes"),
                       "encoder_storage": bundle.manifest.get("freeze", {}).get("encoder_storage", "fp32")}
    import toolchain.models  # noqa: F401 - registers the baselines
    from toolchain.models.scale_presets import build_at_scale, encoder_storage_at_scale, get_scale

    return build_at_scale(kind, get_scale(row.preset)), {"preset": row.preset, "kind": kind, "weights": "initialised",
                                                         "encoder_storage": encoder_storage_at_scale(kind)}


def run_plan(plan: BenchPlan) -> list[Cell]:
    """Export every model of every row and run each export on the plan's device; one Cell per combination."""
    from android_harness.device_profile import load_profile
    from android_harness.devices import DEVICES
    from android_harness.topk import compare_topk
    from export.graphs.base import GraphOptions, Kernels
    from export.parity import random_sessions
    from export.pipeline import export_model

    device_cls = DEVICES.get(plan.device)
    kwargs = {"serial": plan.serial} if plan.device == "adb" else {}
    device = device_cls(load_profile(plan.profile) if plan.device != "host" else None, **kwargs)
    device.prepare()  # fails early, with the fix, when the emulator / phone is missing
    host = DEVICES.get("host")() if plan.device != "host" and plan.check_host else None
    emulated = bool(getattr(device, "emulated", False))
    cells: list[Cell] = []
    plan.out.mkdir(parents=True, exist_ok=True)
    log = plan.out / "errors.log"
    for row in plan.rows:
        row_dir = plan.out / "exports" / row.label
        for i, kind in enumerate(plan.models, 1):
            info(f"[bold]{row.label}[/] {i}/{len(plan.models)} {kind}: exporting {', '.join(plan.formats)}")
            row_cells = {f: Cell(row.label, kind, f, trained=row.trained, emulated=emulated) for f in plan.formats}
            cells.extend(row_cells.values())
            try:
                model, model_info = _model_for(row, kind)
                sessions = write_bench_sessions(row_dir / "sessions.bin", model.items.n_items, plan.sessions,
                                                plan.max_len, plan.data)
                options = GraphOptions(plan.max_len, plan.top_k, Kernels(plan.kernels),
                                       encoder_storage=model_info["encoder_storage"])
                exports = export_model(model, kind, plan.formats, row_dir, options,
                                       random_sessions(model.items.n_items, plan.max_len, 8), model_info,
                                       overwrite=True)
            except Exception as e:  # one model failing must not stop the others
                for c in row_cells.values():
                    c.error = f"export failed: {_describe(e)}"
                _log(log, row.label, kind, "export", e)
                continue
            for ex in exports:
                cell = row_cells[ex.format]
                cell.bytes = ex.bytes
                trim = bool(ex.graph.get("dynamic_length"))
                cell.input = "trimmed" if trim else "padded"
                try:
                    res = device.run(ex.path, sessions, threads=plan.threads, warmup=plan.warmup,
                                     repeat=plan.repeat, topk=plan.top_k, cores=plan.cores, trim=trim)
                    cell.ok = True
                    cell.seconds_per_100, cell.p50_us, cell.p90_us = (res.seconds_per_100_sessions, res.latency.p50,
                                                                      res.latency.p90)
                    cell.load_ms, cell.peak_rss_kb = res.load_ms, res.peak_rss_kb
                    if host is not None:
                        ref = host.run(ex.path, sessions, threads=plan.threads, warmup=1, repeat=1,
                                       topk=plan.top_k, cores=plan.cores, trim=trim)
                        cmp = compare_topk(ref, res)
                        cell.host_seconds_per_100, cell.topk_ok, cell.topk_vs_host = (
                            ref.seconds_per_100_sessions, cmp.ok, cmp.summary())
                    info(f"  {kind} {ex.format}: {cell.seconds_per_100:.4f} s / 100 sessions"
                         + (" (emulated)" if emulated else "")
                         + (f"; top-k vs host: {cell.topk_vs_host}" if cell.topk_vs_host else ""))
                except Exception as e:
                    cell.ok, cell.error = False, f"run failed: {_describe(e)}"
                    _log(log, row.label, kind, ex.format, e)
                    info(f"  [red]{kind} {ex.format} failed:[/] {cell.error}")
    return cells


def _log(path: Path, row: str, kind: str, step: str, e: BaseException) -> None:
    with open(path, "a") as fh:
        fh.write(f"--- {row} / {kind} / {step}\n{''.join(traceback.format_exception(e))}\n")
