"""The artifact directory: named parts plus ``manifest.json`` with size and sha256 of each.

::

    ARTIFACT/
      manifest.json   schema, version, model description, parts{name: file, bytes, sha256, meta},
                      manifest_sha256: the sha256 of the rest of the manifest (canonical JSON)
      <part files>    safetensors / raw bytes / JSON -- never pickle

Writing goes through a temp directory renamed into place; reading verifies the schema,
the version and every part's size and checksum before anything is used, and names the
part that fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from toolchain.atomic import atomic_dir
from toolchain.checksum import sha256_bytes
from toolchain.errors import ArtifactError
from toolchain.versioned import stamped, version_problem

SCHEMA = "odtool.artifact"
VERSION = 1


@dataclass
class Part:
    """One artifact part: its ``name``, ``file`` in the directory, size in ``bytes``, ``sha256``
    and extra manifest ``meta``."""
    name: str
    file: str
    bytes: int
    sha256: str
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"file": self.file, "bytes": self.bytes, "sha256": self.sha256, **self.meta}


class BundleWriter:
    """Collects parts in memory, then writes them and the manifest in one atomic step."""

    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}
        self.parts: dict[str, Part] = {}

    def add_bytes(self, name: str, file: str, data: bytes, **meta: Any) -> Part:
        if name in self.parts or file in self._files:
            raise ArtifactError(f"artifact part '{name}' ({file}) added twice")
        self._files[file] = data
        part = Part(name, file, len(data), sha256_bytes(data), meta)
        self.parts[name] = part
        return part

    def add_tensors(self, name: str, file: str, tensors: dict[str, np.ndarray], **meta: Any) -> Part:
        arrays = {k: np.ascontiguousarray(v) for k, v in sorted(tensors.items())}
        shapes = {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()}
        return self.add_bytes(name, file, st_save(arrays), tensors=shapes, **meta)

    def add_json(self, name: str, file: str, obj: Any, **meta: Any) -> Part:
        data = (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
        return self.add_bytes(name, file, data, **meta)

    def write(self, out: str | Path, manifest: dict) -> Path:
        out = Path(out)
        body = stamped(SCHEMA, VERSION, {**manifest, "parts": {n: p.to_dict() for n, p in sorted(self.parts.items())},
                                         "total_bytes": sum(p.bytes for p in self.parts.values())})
        with atomic_dir(out) as tmp:
            for file, data in self._files.items():
                (tmp / file).write_bytes(data)
            write_manifest(tmp, body)
        return out


SEAL = "manifest_sha256"


def _seal_of(body: dict) -> str:
    """sha256 of the manifest's canonical JSON without its seal: key order and layout do not count."""
    rest = {k: v for k, v in body.items() if k != SEAL}
    return sha256_bytes(json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())


def write_manifest(directory: str | Path, body: dict) -> None:
    """Write ``manifest.json`` sealed with the sha256 of its content (checked by :meth:`Bundle.load`).

    The only way odtool writes a manifest: an edit (freeze adding the measured metrics) re-seals it."""
    from toolchain.atomic import atomic_write_text

    sealed = {**body, SEAL: _seal_of(body)}
    atomic_write_text(Path(directory) / "manifest.json", json.dumps(sealed, indent=2, sort_keys=True) + "\n")


def _check_part(mpath: Path, name: str, part: Any) -> None:
    """A manifest entry names a plain file inside the artifact, its size and its sha256."""
    ok = (isinstance(part, dict) and isinstance(part.get("file"), str) and isinstance(part.get("sha256"), str)
          and isinstance(part.get("bytes"), int) and not isinstance(part.get("bytes"), bool))
    if not ok:
        raise ArtifactError(f"{mpath}: part {name!r} must have a string 'file', an integer 'bytes' and a "
                            "string 'sha256'", hint="freeze the run again")
    f = part["file"]
    if not f or "/" in f or "\\" in f or f in (".", "..") or "\x00" in f:
        raise ArtifactError(f"{mpath}: part {name!r} names the file {f!r}, which is not a plain file name "
                            "inside the artifact", hint="freeze the run again")


class Bundle:
    """A verified artifact directory. Construct with :meth:`load`."""

    def __init__(self, path: Path, manifest: dict, data: dict[str, bytes]) -> None:
        self.path = path
        self.manifest = manifest
        self._data = data

    @property
    def parts(self) -> dict[str, dict]:
        return self.manifest["parts"]

    def bytes_of(self, name: str) -> bytes:
        if name not in self._data:
            raise ArtifactError(f"{self.path}: artifact has no part '{name}' "
                                f"(parts: {', '.join(sorted(self._data))})")
        return self._data[name]

    def tensors(self, name: str) -> dict[str, np.ndarray]:
        try:
            return st_load(self.bytes_of(name))
        except Exception as e:  # safetensors raises its own error types
            raise ArtifactError(f"{self.path}: part '{name}' is not valid safetensors ({e})") from e

    def json(self, name: str) -> Any:
        return json.loads(self.bytes_of(name))

    @classmethod
    def load(cls, path: str | Path) -> "Bundle":
        path = Path(path)
        mpath = path / "manifest.json"
        if not mpath.is_file():
            raise ArtifactError(f"{path}: not an odtool artifact (no manifest.json)",
                                hint="create one with `odtool freeze RUN --out DIR`")
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
            raise ArtifactError(f"{mpath}: invalid JSON ({e})", hint="freeze the run again") from None
        if not isinstance(manifest, dict):
            raise ArtifactError(f"{mpath}: the manifest is not a JSON object", hint="freeze the run again")
        problem = version_problem(manifest, SCHEMA, "artifact", VERSION)
        if problem:
            raise ArtifactError(f"{mpath}: {problem}", hint="upgrade odtool")
        if SEAL in manifest and manifest[SEAL] != _seal_of(manifest):
            raise ArtifactError(f"{mpath}: the manifest fails its sha256 seal (edited or corrupted)",
                                hint="freeze the run again")
        parts = manifest.get("parts")
        if not isinstance(parts, dict) or not parts:
            raise ArtifactError(f"{mpath}: 'parts' must be a non-empty object naming each part's file, "
                                "bytes and sha256", hint="freeze the run again")
        data = {}
        for name, part in sorted(parts.items()):
            _check_part(mpath, name, part)
            fpath = path / part["file"]
            if not fpath.is_file():
                raise ArtifactError(f"{path}: part '{name}' is missing its file {part['file']}")
            blob = fpath.read_bytes()
            if len(blob) != part["bytes"]:
                raise ArtifactError(f"{path}: part '{name}' ({part['file']}) has {len(blob)} bytes, "
                                    f"manifest says {part['bytes']} (truncated or altered)",
                                    hint="freeze the run again")
            if sha256_bytes(blob) != part["sha256"]:
                raise ArtifactError(f"{path}: part '{name}' ({part['file']}) fails its sha256 check "
                                    "(altered or corrupted)", hint="freeze the run again")
            data[name] = blob
        return cls(path, manifest, data)
