"""A runner's JSON, parsed and validated into a typed :class:`RunResult`.

The C++ runner (``runner/runner.cpp``) and the Python runners (``onnx_runner.py``,
``ptl_runner.py``) print the same fields; this module is their one reader. A missing or
mistyped field raises :class:`DataFormatError` naming the file and the field.
Top-k comparison across devices lives in :mod:`android_harness.topk`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolchain.errors import DataFormatError

_LATENCY_KEYS = ("n", "mean", "p50", "p90", "p99", "min", "max")


@dataclass(frozen=True)
class Latency:
    """Per-session latency over ``repeat * n_sessions`` samples, in microseconds."""

    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    min: float
    max: float


@dataclass(frozen=True)
class SessionTopK:
    """One session's result: its ``length`` and the top-k item ``indices`` with their ``scores``."""
    length: int
    indices: tuple[int, ...]
    scores: tuple[float, ...]  # empty when the model returns indices only


@dataclass(frozen=True)
class RunResult:
    """One run of one artifact on one device (times as the runner measured them)."""

    runtime: str                # executorch | onnxruntime | torchscript-lite
    runtime_version: str
    arch: str                   # the architecture the runner was built for (aarch64 under QEMU)
    model: str
    n_sessions: int
    max_len: int
    warmup: int
    repeat: int
    threads_requested: int
    threads_used: int
    cpu: dict[str, Any]
    load_ms: float
    first_inference_us: float
    latency: Latency
    pass_total_us: tuple[float, ...]
    peak_rss_kb: int
    deterministic: bool
    sessions: tuple[SessionTopK, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)
    device: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def seconds_per_100_sessions(self) -> float:
        """Mean wall time of a timed pass, scaled to 100 sessions (the paper's Table 5 unit)."""
        mean_pass = sum(self.pass_total_us) / len(self.pass_total_us)
        return mean_pass / self.n_sessions * 100 / 1e6

    def to_dict(self) -> dict[str, Any]:
        """The runner's JSON plus the device description and the derived Table 5 number."""
        d = dict(self.raw)
        d["device"] = dict(self.device)
        d["seconds_per_100_sessions"] = self.seconds_per_100_sessions
        return d


def load_result(path: str | Path, *, device: dict[str, Any] | None = None) -> RunResult:
    """Read a runner's JSON output file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataFormatError(path, "runner output file does not exist") from None
    except json.JSONDecodeError as e:
        raise DataFormatError(path, f"runner output is not valid JSON ({e})") from e
    return parse_result(data, source=str(path), device=device)


def parse_result(data: Any, *, source: str = "<runner output>",
                 device: dict[str, Any] | None = None) -> RunResult:
    """Validate a runner's JSON object (already decoded) into a RunResult."""
    if not isinstance(data, dict):
        raise DataFormatError(source, "runner output must be a JSON object")
    g = _Getter(data, source)
    lat = g.obj("latency_us")
    latency = Latency(**{k: (g.int_in(lat, "latency_us", k) if k == "n" else g.num_in(lat, "latency_us", k))
                         for k in _LATENCY_KEYS})
    threads = g.obj("threads")
    sessions = []
    raw_sessions = g.get("sessions", list)
    for i, s in enumerate(raw_sessions):
        where = f"sessions[{i}]"
        if not isinstance(s, dict):
            raise DataFormatError(source, "expected an object", field=where)
        idx, sc = s.get("indices"), s.get("scores", [])
        if not (isinstance(idx, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in idx)):
            raise DataFormatError(source, "expected a list of integers", field=f"{where}.indices")
        if not (isinstance(sc, list) and all(_is_num(x) for x in sc)) or (sc and len(sc) != len(idx)):
            raise DataFormatError(source, "expected a list of numbers as long as indices", field=f"{where}.scores")
        sessions.append(SessionTopK(int(s.get("length", 0)), tuple(idx),
                                    tuple(math.nan if x is None else float(x) for x in sc)))
    n = g.get("n_sessions", int)
    if len(sessions) != n:
        raise DataFormatError(source, f"{len(sessions)} session results for n_sessions={n}", field="sessions")
    passes = g.get("pass_total_us", list)
    if not passes or not all(_is_num(x) and x is not None for x in passes):
        raise DataFormatError(source, "expected a non-empty list of numbers", field="pass_total_us")
    runtime = data.get("runtime", "executorch")
    version = data.get("runtime_version") or data.get("executorch_version") or "unknown"
    return RunResult(
        runtime=str(runtime), runtime_version=str(version), arch=g.get("arch", str), model=g.get("model", str),
        n_sessions=n, max_len=g.get("max_len", int), warmup=g.get("warmup", int), repeat=g.get("repeat", int),
        threads_requested=g.int_in(threads, "threads", "requested"), threads_used=g.int_in(threads, "threads", "used"),
        cpu=dict(data.get("cpu") or {}), load_ms=g.num("load_ms"), first_inference_us=g.num("first_inference_us"),
        latency=latency, pass_total_us=tuple(float(x) for x in passes), peak_rss_kb=g.get("peak_rss_kb", int),
        deterministic=g.get("deterministic", bool), sessions=tuple(sessions), raw=data, device=dict(device or {}))


def _is_num(x: Any) -> bool:
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))


class _Getter:
    """Typed field access that names the file and field on failure."""

    def __init__(self, data: dict, source: str) -> None:
        self.data, self.source = data, source

    def _fail(self, fld: str, want: str, got: Any) -> DataFormatError:
        what = "missing" if got is _MISSING else f"got {type(got).__name__} {got!r}"[:80]
        return DataFormatError(self.source, f"expected {want}, {what}", field=fld)

    def get(self, key: str, typ: type) -> Any:
        v = self.data.get(key, _MISSING)
        ok = isinstance(v, typ) and not (typ is int and isinstance(v, bool))
        if not ok:
            raise self._fail(key, typ.__name__, v)
        return v

    def num(self, key: str) -> float:
        v = self.data.get(key, _MISSING)
        if v is _MISSING or not _is_num(v) or v is None:
            raise self._fail(key, "a number", v)
        return float(v)

    def obj(self, key: str) -> dict:
        return self.get(key, dict)

    def num_in(self, obj: dict, parent: str, key: str) -> float:
        v = obj.get(key, _MISSING)
        if v is _MISSING or not _is_num(v) or v is None:
            raise self._fail(f"{parent}.{key}", "a number", v)
        return float(v)

    def int_in(self, obj: dict, parent: str, key: str) -> int:
        v = obj.get(key, _MISSING)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self._fail(f"{parent}.{key}", "an integer", v)
        return v


_MISSING = object()
