"""Device profiles: a phone described as data (``android_harness/profiles/<name>.json``).

A profile gives the emulator what it shows the guest: the CPU (``proc/cpuinfo`` and
``sys/devices/system/cpu``: implementer, per-cluster part / variant / revision / clock,
core counts, feature flags, the ``Hardware`` line), the memory limit, the default thread
count and the QEMU CPU model. Adding a phone is adding a file; nothing in the code names
a phone. ``model_budget`` (optional, e.g. ``"2MiB"``) is the memory the app gives the model
on that phone: ``odtool freeze / export / size-check --profile NAME`` size against it. Profiles are looked up by name in the package's ``profiles/`` directory and in
``$ODTOOL_HOME/profiles/``, or loaded from an explicit path.

Every problem in a file is reported at once, each naming the file and the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolchain.errors import ConfigError, UsageError
from toolchain.paths import odtool_home

FORMAT_VERSION = 1
BUILTIN_DIR = Path(__file__).with_name("profiles")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_TOP_KEYS = {"format_version", "name", "description", "soc", "memory_mb", "default_threads", "qemu_cpu", "cpu",
             "model_budget"}
_CPU_KEYS = {"hardware", "implementer", "architecture", "bogomips", "features", "clusters"}
_CLUSTER_KEYS = {"name", "cores", "part", "variant", "revision", "max_freq_khz", "min_freq_khz"}


@dataclass(frozen=True)
class Cluster:
    """One group of identical cores, in CPU-number order (Android numbers little cores first)."""

    name: str
    cores: int
    part: int
    variant: int
    revision: int
    max_freq_khz: int
    min_freq_khz: int


@dataclass(frozen=True)
class Profile:
    """A validated device profile; build it with :func:`load_profile`."""

    name: str
    description: str
    soc: str
    memory_mb: int
    default_threads: int
    qemu_cpu: str
    hardware: str
    implementer: int
    architecture: int
    bogomips: str
    features: tuple[str, ...]
    clusters: tuple[Cluster, ...]
    source: str
    model_budget_bytes: int | None = None  # the bytes the model may take on this device (None: not set)

    def require_model_budget(self) -> int:
        """The profile's model budget in bytes; a clear error when the profile sets none."""
        if self.model_budget_bytes is None:
            raise UsageError(f"device profile '{self.name}' ({self.source}) sets no model_budget",
                             hint='add e.g. "model_budget": "2MiB" to it, or pass --budget')
        return self.model_budget_bytes

    @property
    def n_cpus(self) -> int:
        return sum(c.cores for c in self.clusters)

    def summary(self) -> str:
        parts = " + ".join(f"{c.cores}x {c.name} {c.max_freq_khz / 1e6:.2f} GHz" for c in self.clusters)
        return f"{self.name}: {self.soc}, {parts}, {self.memory_mb} MB, {self.default_threads} thread(s)"


def available_profiles() -> dict[str, Path]:
    """Name -> file of every profile found (user profiles shadow built-in ones)."""
    found: dict[str, Path] = {}
    for d in (BUILTIN_DIR, odtool_home() / "profiles"):
        if d.is_dir():
            for p in sorted(d.glob("*.json")):
                found[p.stem] = p
    return found


def load_profile(name_or_path: str | Path = "pixel2") -> Profile:
    """Load a profile by name (see :func:`available_profiles`) or from a ``.json`` path."""
    s = str(name_or_path)
    if s.endswith(".json") or "/" in s:
        path = Path(s).expanduser()
        if not path.is_file():
            raise UsageError(f"profile file {path} does not exist")
    else:
        profiles = available_profiles()
        if s not in profiles:
            valid = ", ".join(sorted(profiles)) or "(none)"
            raise UsageError(f"unknown device profile '{s}'; valid: {valid}",
                             hint=f"add {odtool_home() / 'profiles' / (s + '.json')} (copy "
                                  f"{BUILTIN_DIR / 'pixel2.json'} and edit it) or pass a .json path")
        path = profiles[s]
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"not valid JSON: {e}", source=str(path)) from e
    return parse_profile(data, source=str(path))


def parse_profile(data: Any, *, source: str = "<profile>") -> Profile:
    """Validate a profile's JSON object; all problems are raised together in one ConfigError."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError("the profile must be a JSON object", source=source)
    _unknown(problems, "", data, _TOP_KEYS)
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        problems.append(f"format_version: expected {FORMAT_VERSION}, got {version!r}"
                        + (" (newer than this odtool: upgrade odtool)" if isinstance(version, int)
                           and version > FORMAT_VERSION else ""))
    name = _str(problems, data, "name")
    if name is not None and not _NAME.match(name):
        problems.append(f"name: {name!r} must be lowercase letters, digits, '-' or '_' (max 40)")
    if name is not None and not source.startswith("<") and Path(source).stem != name:
        problems.append(f"name: {name!r} must equal the file name ({Path(source).stem!r})")
    description = _str(problems, data, "description")
    soc = _str(problems, data, "soc")
    qemu_cpu = _str(problems, data, "qemu_cpu")
    memory_mb = _int(problems, data, "memory_mb", lo=64, hi=1 << 20)
    threads = _int(problems, data, "default_threads", lo=1, hi=256)
    model_budget = _size(problems, data, "model_budget")
    cpu = data.get("cpu")
    clusters: list[Cluster] = []
    hardware = bogomips = None
    implementer = architecture = None
    features: list[str] = []
    if not isinstance(cpu, dict):
        problems.append(f"cpu: expected an object, got {_kind(cpu)}")
    else:
        _unknown(problems, "cpu.", cpu, _CPU_KEYS)
        hardware = _str(problems, cpu, "hardware", "cpu.")
        bogomips = _str(problems, cpu, "bogomips", "cpu.")
        implementer = _hex(problems, cpu, "implementer", "cpu.", 0xFF)
        architecture = _int(problems, cpu, "architecture", lo=8, hi=9, prefix="cpu.")
        feats = cpu.get("features")
        if not (isinstance(feats, list) and feats and all(isinstance(f, str) and f.isidentifier() for f in feats)):
            problems.append("cpu.features: expected a non-empty list of flag names like \"asimd\"")
        else:
            features = feats
        raw = cpu.get("clusters")
        if not (isinstance(raw, list) and raw):
            problems.append("cpu.clusters: expected a non-empty list of cluster objects")
        else:
            for i, c in enumerate(raw):
                cl = _cluster(problems, c, f"cpu.clusters[{i}].")
                if cl is not None:
                    clusters.append(cl)
    if threads is not None and clusters and threads > sum(c.cores for c in clusters):
        problems.append(f"default_threads: {threads} is more than the profile's "
                        f"{sum(c.cores for c in clusters)} cores")
    if problems:
        raise ConfigError(problems, source=source)
    return Profile(name=name, description=description, soc=soc, memory_mb=memory_mb, default_threads=threads,
                   qemu_cpu=qemu_cpu, hardware=hardware, implementer=implementer, architecture=architecture,
                   bogomips=bogomips, features=tuple(features), clusters=tuple(clusters), source=source,
                   model_budget_bytes=model_budget)


def _size(problems: list[str], obj: dict, key: str) -> int | None:
    """An optional byte size: an integer, or a string such as "2MiB" / "512KiB"."""
    from toolchain.sizes.units import parse_size

    if key not in obj:
        return None
    v = obj[key]
    try:
        n = parse_size(v) if isinstance(v, (int, str)) and not isinstance(v, bool) else None
    except UsageError:
        n = None
    if n is None or n < 1:
        problems.append(f'{key}: expected a size such as "2MiB", "512KiB" or a byte count, got {v!r}')
        return None
    return n


def _cluster(problems: list[str], c: Any, p: str) -> Cluster | None:
    if not isinstance(c, dict):
        problems.append(f"{p[:-1]}: expected an object, got {_kind(c)}")
        return None
    before = len(problems)
    _unknown(problems, p, c, _CLUSTER_KEYS)
    name = _str(problems, c, "name", p)
    cores = _int(problems, c, "cores", lo=1, hi=64, prefix=p)
    part = _hex(problems, c, "part", p, 0xFFF)
    variant = _hex(problems, c, "variant", p, 0xF)
    revision = _int(problems, c, "revision", lo=0, hi=15, prefix=p)
    fmax = _int(problems, c, "max_freq_khz", lo=1000, hi=10_000_000, prefix=p)
    fmin = _int(problems, c, "min_freq_khz", lo=1000, hi=10_000_000, prefix=p)
    if fmax is not None and fmin is not None and fmin > fmax:
        problems.append(f"{p}min_freq_khz: {fmin} is above max_freq_khz {fmax}")
    if len(problems) > before:
        return None
    return Cluster(name, cores, part, variant, revision, fmax, fmin)


def _unknown(problems: list[str], prefix: str, obj: dict, allowed: set[str]) -> None:
    for k in sorted(set(obj) - allowed):
        problems.append(f"{prefix}{k}: unknown field; valid: {', '.join(sorted(allowed))}")


def _kind(v: Any) -> str:
    return "nothing" if v is None else type(v).__name__


def _str(problems: list[str], obj: dict, key: str, prefix: str = "") -> str | None:
    v = obj.get(key)
    if not isinstance(v, str) or not v.strip():
        problems.append(f"{prefix}{key}: expected a non-empty string, got {_kind(v)}")
        return None
    return v


def _int(problems: list[str], obj: dict, key: str, *, lo: int, hi: int, prefix: str = "") -> int | None:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        problems.append(f"{prefix}{key}: expected an integer in [{lo}, {hi}], got {_kind(v)} {v!r}")
        return None
    if not lo <= v <= hi:
        problems.append(f"{prefix}{key}: {v} is outside [{lo}, {hi}]")
        return None
    return v


def _hex(problems: list[str], obj: dict, key: str, prefix: str, hi: int) -> int | None:
    v = obj.get(key)
    if not isinstance(v, str) or not _HEX.match(v):
        problems.append(f"{prefix}{key}: expected a hex string like \"0x{hi:x}\", got {v!r}")
        return None
    n = int(v, 16)
    if n > hi:
        problems.append(f"{prefix}{key}: {v} is above the field's maximum 0x{hi:x}")
        return None
    return n
