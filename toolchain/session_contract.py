"""The inference contract's rules, in one place every runner and loader imports.

The contract itself is written in :mod:`export.graphs.base`. This module holds the checks,
with only the standard library and numpy: the Python runners (``android_harness/onnx_runner.py``)
load this one file by its path inside the emulator's Python (no torch, no odtool), and
odtool's loaders, the exporters, the parity check, the session-file writer, the devices and
the size gate import it as ``toolchain.session_contract``. The native runner
(``android_harness/runner/runner.cpp``) implements the same rules and messages.

* :func:`trim_recent` - a session longer than max_len keeps its most recent max_len items;
* :func:`input_problem` - what is wrong with one (L, length) for a model of max_len;
* :func:`declared_contract` - the (max_len, dynamic) an export file declares about itself;
* :func:`file_problem` - whether an export still matches the sha256 in its ``.report.json``.
"""

import hashlib
import json
import os
import zipfile

#: ONNX metadata_props keys, the .ptl archive's extra file, the .pte constant methods
ONNX_MAX_LEN, ONNX_DYNAMIC = "odtool.max_len", "odtool.dynamic_length"
PTL_EXTRA = "odtool_contract.json"
PTE_MAX_LEN, PTE_DYNAMIC = "odtool_max_len", "odtool_dynamic_length"
REPORT_SUFFIX = ".report.json"


class ContractError(ValueError):
    """An input or a file that breaks the contract; the message names the problem and the fix."""


def trim_recent(sequence, max_len):
    """The most recent ``max_len`` items of a session (oldest first), as a list."""
    if max_len < 1:
        raise ContractError("max_len must be >= 1, got %d" % max_len)
    return list(sequence)[-max_len:]


def input_problem(seq_len, length, max_len, dynamic=True):
    """Why items [1, ``seq_len``] with ``length`` break the contract of a ``max_len`` model, or None.

    A static export takes exactly [1, max_len]: its callers pad (the runners and odtool's
    loaders do it for them); ``dynamic=False`` here means the caller already padded."""
    if seq_len < 1:
        return "items has no positions (L=0): a session needs at least one item"
    if seq_len > max_len:
        return ("items has L=%d positions, more than the model's max_len=%d: keep the session's most recent "
                "%d items (toolchain.session_contract.trim_recent; the session writer does it)"
                % (seq_len, max_len, max_len))
    if not dynamic and seq_len != max_len:
        return "this export is static: items must be [1, %d] (right-padded with 0), got [1, %d]" % (max_len, seq_len)
    if length < 1:
        return ("length %d: an empty session has no recommendation; lengths must be in 1..L (L=%d)"
                % (length, seq_len))
    if length > seq_len:
        return "length %d is more than the L=%d positions of items; lengths must be in 1..L" % (length, seq_len)
    return None


def check_input(items, lengths, max_len, dynamic=True):
    """Raise ContractError unless ``items`` is an integer [1, L] and ``lengths`` an integer [1]
    that satisfy :func:`input_problem`. Accepts numpy arrays or torch tensors."""
    items, lengths = _array(items), _array(lengths)
    if items.dtype.kind not in "iu" or lengths.dtype.kind not in "iu":
        raise ContractError("items and lengths must be integer tensors, got %s and %s" % (items.dtype, lengths.dtype))
    if items.ndim != 2 or items.shape[0] != 1 or lengths.shape != (1,):
        raise ContractError("one session is items [1, L] and lengths [1], got %s and %s"
                            % (list(items.shape), list(lengths.shape)))
    problem = input_problem(int(items.shape[1]), int(lengths[0]), max_len, dynamic)
    if problem:
        raise ContractError(problem)


def _array(x):
    import numpy as np

    if hasattr(x, "detach"):  # a torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x)


# ---------------------------------------------------------------- what a file declares
def declared_contract(path):
    """(max_len, dynamic) as the export at ``path`` declares it, or None when it declares none
    (files exported before the contract was embedded: fall back to the ``.report.json``)."""
    suffix = os.path.splitext(str(path))[1].lower()
    try:
        if suffix == ".onnx":
            return _onnx_contract(path)
        if suffix == ".ptl":
            return _ptl_contract(path)
        if suffix == ".pte":
            return _pte_contract(path)
    except ContractError:
        raise
    except Exception:  # an unreadable file fails later, in its runtime, with its own message
        return None
    return None


def _onnx_contract(path):
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    if ONNX_MAX_LEN not in meta:
        return None
    return int(meta[ONNX_MAX_LEN]), meta.get(ONNX_DYNAMIC, "true") == "true"


def _ptl_contract(path):
    with zipfile.ZipFile(str(path)) as zf:
        name = next((n for n in zf.namelist() if n.endswith("/extra/" + PTL_EXTRA)), None)
        if name is None:
            return None
        data = json.loads(zf.read(name))
    return int(data["max_len"]), bool(data["dynamic_length"])


def _pte_contract(path):
    from executorch.runtime import Runtime

    program = Runtime.get().load_program(str(path))
    if PTE_MAX_LEN not in program.method_names:
        return None
    max_len = program.load_method(PTE_MAX_LEN).execute([])[0]
    dynamic = program.load_method(PTE_DYNAMIC).execute([])[0]
    return int(max_len), bool(dynamic)


# ---------------------------------------------------------------- the file's checksum
def sha256_file(path):
    """The hex SHA-256 of the file at ``path``, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(str(path), "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def report_path(path):
    """The path of the export report beside ``path`` (``<path>.report.json``), as a string."""
    return str(path) + REPORT_SUFFIX


def read_report(path):
    """The export's ``<file>.report.json`` as a dict, None when there is none; ContractError if unreadable."""
    rp = report_path(path)
    if not os.path.isfile(rp):
        return None
    try:
        with open(rp) as fh:
            report = json.load(fh)
    except (OSError, ValueError) as e:
        raise ContractError("%s cannot be read (%s): re-export %s (odtool export) to rewrite it"
                            % (rp, e, os.path.basename(str(path))))
    if not isinstance(report, dict) or not isinstance(report.get("sha256"), str):
        raise ContractError("%s has no sha256: re-export %s (odtool export) to rewrite it"
                            % (rp, os.path.basename(str(path))))
    return report


def file_problem(path, expected_sha256):
    """Why ``path`` does not match ``expected_sha256``, or None."""
    actual = sha256_file(path)
    if actual == expected_sha256.lower():
        return None
    return ("%s fails its sha256 check: the file has %s..., its report says %s... (corrupted or changed "
            "after export); re-export it with `odtool export` (or restore it with its %s)"
            % (path, actual[:16], expected_sha256[:16], os.path.basename(report_path(path))))
