"""What an artifact file is made of: its largest parts, for size reports and budget failures.

* an artifact directory: the parts its manifest lists (else its files);
* ``.onnx``: initializers;
* ``.pte``: constant tensors (by dtype and shape; a .pte keeps no names), delegate
  payloads (XNNPACK blobs carry their weights) and named data;
* ``.ptl``: members of the zip archive (constants, bytecode);
* anything else: the file itself.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

_DTYPE_BYTES = {0: 1, 1: 1, 2: 2, 3: 4, 4: 8, 5: 2, 6: 4, 7: 8, 11: 1, 15: 2}
_DTYPE_NAMES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 5: "float16",
                6: "float32", 7: "float64", 11: "bool", 15: "bfloat16"}


def file_size(path: Path) -> int:
    """Bytes of a file, or of all files under a directory."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def largest_parts(path: str | Path, top: int = 5) -> list[tuple[str, int]]:
    """(description, bytes) of the ``top`` largest parts of ``path``."""
    path = Path(path)
    try:
        if path.is_dir():
            parts = _dir_parts(path)
        elif path.suffix == ".onnx":
            parts = _onnx_parts(path)
        elif path.suffix == ".pte":
            parts = _pte_parts(path)
        elif path.suffix == ".ptl" or zipfile.is_zipfile(path):
            parts = _zip_parts(path)
        else:
            parts = [(path.name, path.stat().st_size)]
    except Exception as e:  # an unreadable file still gets a size report
        parts = [(f"{path.name} (parts unreadable: {type(e).__name__})", file_size(path))]
    return sorted(parts, key=lambda p: -p[1])[:top]


def _dir_parts(path: Path) -> list[tuple[str, int]]:
    manifest = path / "manifest.json"
    if manifest.is_file():
        import json

        parts = json.loads(manifest.read_text()).get("parts", {})
        if parts:
            return [(f"{name} ({p['file']})", int(p["bytes"])) for name, p in parts.items()]
    return [(str(p.relative_to(path)), p.stat().st_size) for p in path.rglob("*") if p.is_file()]


def _onnx_parts(path: Path) -> list[tuple[str, int]]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path), load_external_data=False)
    out = []
    for init in model.graph.initializer:
        n = len(init.raw_data) if init.raw_data else numpy_helper.to_array(init).nbytes
        out.append((f"initializer {init.name} {list(init.dims)}", n))
    return out


def _pte_parts(path: Path) -> list[tuple[str, int]]:
    from executorch.exir._serialize._program import deserialize_pte_binary

    pte = deserialize_pte_binary(path.read_bytes())
    program = pte.program
    out = []
    for plan in program.execution_plan:
        for v in plan.values:
            t = v.val
            if type(t).__name__ == "Tensor" and getattr(t, "data_buffer_idx", 0) > 0:
                n = _DTYPE_BYTES.get(int(t.scalar_type), 4)
                for s in t.sizes:
                    n *= s
                name = _DTYPE_NAMES.get(int(t.scalar_type), str(t.scalar_type))
                out.append((f"constant {name}{list(t.sizes)}", n))
        for d in plan.delegates:
            data = program.backend_delegate_data[d.processed.index].data
            out.append((f"delegate {d.id} payload #{d.processed.index}", len(data)))
    named = getattr(pte, "named_data", None)  # delegate weights (XNNPACK), keyed by content hash
    if named is not None:
        for key, entry in (getattr(named, "pte_data", None) or {}).items():
            out.append((f"named data {key[:12]} (delegate weights)", len(named.buffers[entry.buffer_index])))
    return out


def _zip_parts(path: Path) -> list[tuple[str, int]]:
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, i.file_size) for i in zf.infolist() if not i.is_dir()]
