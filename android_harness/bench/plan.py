"""What one ``odtool bench`` run measures: rows (datasets), models (columns), formats, settings.

A row is either a paper preset (every model built at that scale with initialised weights:
timing does not depend on weight values) or a directory of frozen artifacts named by model
(``DIR/student``, ``DIR/teacher``, ...: what ``odtool freeze`` writes), measured as trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from toolchain.errors import UsageError
from toolchain.formats import Format
from toolchain.models.scale_presets import KINDS, SCALES

FORMATS = tuple(f.value for f in Format)
#: the models of the paper's Table 5, the default columns of ``odtool bench``
TABLE5_MODELS = tuple(k for k in KINDS if k != "paper-student")


@dataclass(frozen=True)
class Row:
    """One bench row: a preset to build the models at, or a directory of frozen artifacts."""
    label: str
    preset: str | None = None  # build models at this scale
    artifacts: Path | None = None  # or load frozen artifacts from here

    @property
    def trained(self) -> bool:
        return self.artifacts is not None


def rows_for(presets: list[str] | tuple[str, ...] = (), artifacts: list[Path] | tuple[Path, ...] = ()) -> list[Row]:
    """A row per preset, then one per artifact directory (labelled by its name); tmall when neither."""
    rows = [Row(p, preset=p) for p in presets]
    rows += [Row(a.name or str(a), artifacts=a) for a in artifacts]
    return rows or [Row("tmall", preset="tmall")]


@dataclass
class BenchPlan:
    """The settings of one ``odtool bench`` run (device, rows, models, formats, timing); checked on creation."""
    device: str = "host"
    profile: str = "pixel2"
    rows: list[Row] = field(default_factory=list)
    models: list[str] = field(default_factory=lambda: list(KINDS))
    formats: list[str] = field(default_factory=lambda: ["executorch"])
    sessions: int = 100
    threads: int = 1
    warmup: int = 3
    repeat: int = 1
    max_len: int = 50
    top_k: int = 20
    kernels: str = "odtool"
    cores: tuple[int, ...] | None = None
    serial: str | None = None
    data: Path | None = None  # where session lengths come from
    out: Path = Path("bench-out")
    check_host: bool = True  # on emulator / adb, also run on the host and compare top-k

    def __post_init__(self) -> None:
        problems = []
        bad = [m for m in self.models if m not in KINDS]
        if bad:
            problems.append(f"unknown model(s) {', '.join(bad)}; valid: {', '.join(KINDS)}")
        bad = [f for f in self.formats if f not in FORMATS]
        if bad:
            problems.append(f"unknown format(s) {', '.join(bad)}; valid: {', '.join(FORMATS)}")
        for row in self.rows:
            if row.preset is not None and row.preset not in SCALES:
                problems.append(f"unknown preset '{row.preset}'; valid: {', '.join(SCALES)}")
            if row.artifacts is not None and not row.artifacts.is_dir():
                problems.append(f"artifact directory {row.artifacts} does not exist")
        if not self.rows:
            problems.append("nothing to measure: give --preset and/or --artifacts")
        if self.sessions < 1 or self.repeat < 1 or self.warmup < 0 or self.threads < 0:
            problems.append("need --sessions >= 1, --repeat >= 1, --warmup >= 0, --threads >= 0")
        if problems:
            raise UsageError("; ".join(problems))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rows"] = [{"label": r.label, "preset": r.preset, "artifacts": str(r.artifacts) if r.artifacts else None}
                     for r in self.rows]
        d["out"], d["data"] = str(self.out), str(self.data) if self.data else None
        return d
