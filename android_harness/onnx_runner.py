"""ONNX Runtime runner: the Python twin of the native ExecuTorch runner (runner/runner.cpp).

Runs inside the emulator's aarch64 Python (numpy + onnxruntime only: no torch, no odtool
imports) and on the host. Same flags, same session input file ("ODTSESS" v1), same JSON
fields and exit codes as ``odt_runner``, so one parser reads both:

    python3 onnx_runner.py --model M.onnx --input S.bin [--warmup 10] [--repeat 5]
                           [--threads 0] [--topk 10] [--output out.json]
                           [--sha256 HEX] [--max-len N] [--input-len pad|trim]

Graph contract: input 0 ``items`` int64/int32 [1, L] (rows right-padded with 0 up to the
model's L), optional input 1 ``length`` [1]; outputs (float scores, int indices) in either
order, or one float [1, V] score vector whose top ``--topk`` is taken here, outside the
timing. Timing: one first inference, ``--warmup`` untimed calls, ``--repeat`` timed passes.

The inference contract (export/graphs/base.py; rules in ``toolchain/session_contract.py``):
before loading, the model file is checked against ``--sha256`` (else the sha256 in
``<model>.report.json`` beside it; with neither, a warning says it is unverified) and a
mismatch exits 4. The model's max_len is the one the file declares (ONNX metadata, the
.ptl's extra file), else ``--max-len``, else its report's, else its static input shape;
a session file wider than max_len exits 3, as lengths outside 1..L do. Rows are fed as
[1, max_len] (``--input-len pad``) or as [1, len] (``trim``, dynamic-length exports only:
a static export is always padded).

``ptl_runner.py`` imports this module's harness and swaps the backend.
"""

import argparse
import json
import os
import platform
import resource
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _load_contract():
    """The contract's rules, ``toolchain/session_contract.py`` beside this package, loaded by
    its path: that one file (standard library and numpy), not the odtool packages around it."""
    import importlib.util

    if "session_contract" in sys.modules:
        return sys.modules["session_contract"]
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(os.path.dirname(here), "toolchain", "session_contract.py")
    spec = importlib.util.spec_from_file_location("session_contract", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["session_contract"] = module
    spec.loader.exec_module(module)
    return module


contract = _load_contract()

RUNNER_VERSION = "1"
EXIT_USAGE, EXIT_INPUT, EXIT_LOAD, EXIT_EXEC, EXIT_WRITE = 2, 3, 4, 5, 6


def die(code, msg):
    """Print ``msg`` as an error on stderr and exit with ``code``."""
    sys.stderr.write("%s: error: %s\n" % (os.path.basename(sys.argv[0] or "runner"), msg))
    sys.exit(code)


def read_sessions(path):
    """(items int64 [n, L], lengths int64 [n]) from an ODTSESS v1 file; exits 3 if malformed."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        die(EXIT_INPUT, "cannot open input file '%s': %s" % (path, e.strerror))
    if len(raw) < 24:
        die(EXIT_INPUT, "input file '%s' is too short for the 24-byte header" % path)
    magic, version, n, max_len, _ = struct.unpack_from("<8sIIII", raw, 0)
    if magic != b"ODTSESS\0":
        die(EXIT_INPUT, "input file '%s' has a bad magic (expected \"ODTSESS\\0\")" % path)
    if version != 1:
        die(EXIT_INPUT, "input file version %d is not supported (expected 1)" % version)
    if n == 0 or max_len == 0:
        die(EXIT_INPUT, "input file declares n_sessions=0 or max_len=0")
    if len(raw) != 24 + 8 * n * (max_len + 1):
        die(EXIT_INPUT, "input file size %d != expected %d" % (len(raw), 24 + 8 * n * (max_len + 1)))
    items = np.frombuffer(raw, "<i8", n * max_len, 24).reshape(n, max_len).astype(np.int64)
    lengths = np.frombuffer(raw, "<i8", n, 24 + 8 * n * max_len).astype(np.int64)
    bad = np.flatnonzero((lengths < 1) | (lengths > max_len))
    if bad.size:
        die(EXIT_INPUT, "session %d has length %d outside [1, max_len=%d]" % (bad[0], lengths[bad[0]], max_len))
    return items, lengths


class OnnxBackend:
    """onnxruntime's CPU execution provider, one session, ``threads`` intra-op threads."""

    runtime = "onnxruntime"

    def __init__(self, model, threads):
        import onnxruntime as ort

        self.version = ort.__version__
        opts = ort.SessionOptions()
        if threads > 0:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.threads_used = threads
        self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        ins = self.session.get_inputs()
        if not 1 <= len(ins) <= 2:
            die(EXIT_LOAD, "model takes %d inputs; expected (items[1,L]) or (items[1,L], length[1])" % len(ins))
        self.names = [i.name for i in ins]
        self.dtypes = [np.int32 if i.type == "tensor(int32)" else np.int64 for i in ins]
        last = ins[0].shape[-1] if ins[0].shape else None
        self.seq_len = last if isinstance(last, int) else None  # None: dynamic
        meta = self.session.get_modelmeta().custom_metadata_map
        self.declared = ((int(meta[contract.ONNX_MAX_LEN]), meta.get(contract.ONNX_DYNAMIC, "true") == "true")
                         if contract.ONNX_MAX_LEN in meta else None)

    def feed(self, row, length):
        f = {self.names[0]: row.reshape(1, -1).astype(self.dtypes[0])}
        if len(self.names) == 2:
            f[self.names[1]] = np.array([length], dtype=self.dtypes[1])
        return f

    def run(self, feed):
        return self.session.run(None, feed)


def extract_topk(outputs, k):
    """(indices, scores, topk_in_runner) from the outputs; see the graph contract."""
    arrays = [np.asarray(o) for o in outputs]
    scores = next((a for a in arrays if a.dtype.kind == "f"), None)
    indices = next((a for a in arrays if a.dtype.kind in "iu"), None)
    if indices is not None:
        idx = indices.reshape(-1).tolist()
        sc = [] if scores is None else scores.reshape(-1).astype(np.float64).tolist()
        if sc and len(sc) != len(idx):
            die(EXIT_EXEC, "scores and indices outputs differ in size (%d vs %d)" % (len(sc), len(idx)))
        return [int(i) for i in idx], sc, False
    if scores is not None:
        s = scores.reshape(-1).astype(np.float64)
        order = np.lexsort((np.arange(s.size), -s))[:k]  # score descending, ties -> lower index
        return [int(i) for i in order], s[order].tolist(), True
    die(EXIT_EXEC, "model returned no float or integer output")


def cpu_description():
    """What /proc/cpuinfo shows (the profile's fake text on the emulator)."""
    procs, parts = 0, set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "processor":
                    procs += 1
                elif key in ("CPU part", "model name"):
                    parts.add(val.strip())
    except OSError:
        pass
    procs = procs or (os.cpu_count() or 0)
    return {"cpuinfo_ok": False, "processors": procs, "cores": procs, "clusters": max(1, len(parts)),
            "uarchs": max(1, len(parts)), "performant_cores": None}


def memory():
    """Peak memory in kB: VmHWM and VmPeak from /proc/self/status (-1 when unreadable) and ru_maxrss."""
    status = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, val = line.partition(":")
                if key in ("VmHWM", "VmPeak"):
                    status[key] = int(val.split()[0])
    except (OSError, ValueError):
        pass
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"vm_hwm_kb": status.get("VmHWM", -1), "vm_peak_kb": status.get("VmPeak", -1), "ru_maxrss_kb": ru}


def warn(msg):
    """Print ``msg`` as a warning on stderr."""
    sys.stderr.write("%s: warning: %s\n" % (os.path.basename(sys.argv[0] or "runner"), msg))


def verify_model(args):
    """Refuse (exit 4) a model file that does not match its sha256; returns its report or None."""
    try:
        report = contract.read_report(args.model)
    except contract.ContractError as e:
        if not args.sha256:
            die(EXIT_LOAD, str(e))
        report = None
    expected = args.sha256 or (report or {}).get("sha256")
    if not expected:
        warn("%s has no %s and no --sha256 was given: the file is not verified"
             % (args.model, os.path.basename(contract.report_path(args.model))))
        return report
    problem = contract.file_problem(args.model, expected)
    if problem:
        die(EXIT_LOAD, problem)
    return report


def model_contract(backend, args, report):
    """(max_len, dynamic) of the loaded model; see the module docstring for the order."""
    declared = getattr(backend, "declared", None)
    if declared is not None:
        if args.max_len and args.max_len != declared[0]:
            die(EXIT_LOAD, "the model declares max_len=%d, --max-len says %d" % (declared[0], args.max_len))
        return declared
    graph = (report or {}).get("graph") or {}
    max_len = args.max_len or graph.get("max_len") or backend.seq_len
    if max_len:
        dynamic = backend.seq_len is None and bool(graph.get("dynamic_length", True))
        if backend.seq_len is not None and backend.seq_len != max_len:
            die(EXIT_LOAD, "the model's input is [1, %d], its max_len is given as %d" % (backend.seq_len, max_len))
        return int(max_len), dynamic
    return None


def bench(backend_cls, args):
    """Load, run and time; returns the JSON object."""
    items, lengths = read_sessions(args.input)
    n, file_len = items.shape
    report = verify_model(args)
    t0 = time.perf_counter()
    try:
        backend = backend_cls(args.model, args.threads)
    except SystemExit:
        raise
    except Exception as e:  # the runtime's own load error, reported as exit 4
        die(EXIT_LOAD, "failed to load '%s': %s" % (args.model, e))
    load_ms = (time.perf_counter() - t0) * 1e3
    declared = model_contract(backend, args, report)
    if declared is None:
        warn("%s declares no max_len (and none was given with --max-len): sessions are not bounded" % args.model)
        declared = (file_len, True)
    seq_len, dynamic = declared
    if file_len > seq_len:
        die(EXIT_INPUT, "input max_len %d exceeds the model's sequence length %d: %s"
            % (file_len, seq_len, contract.input_problem(file_len, 1, seq_len)))
    padded = np.zeros((n, seq_len), dtype=np.int64)
    padded[:, :file_len] = items
    if args.input_len == "trim" and dynamic:  # dynamic sequence length: each session as [1, len]
        feeds = [backend.feed(padded[i, :int(lengths[i])], int(lengths[i])) for i in range(n)]
    else:
        feeds = [backend.feed(padded[i], int(lengths[i])) for i in range(n)]

    def run(i):
        try:
            return backend.run(feeds[i])
        except Exception as e:
            die(EXIT_EXEC, "inference failed on session %d: %s" % (i, e))

    f0 = time.perf_counter()
    run(0)
    first_us = (time.perf_counter() - f0) * 1e6
    for w in range(args.warmup):
        run(w % n)
    samples, passes, topk, deterministic, in_runner = [], [], [None] * n, True, False
    for rep in range(args.repeat):
        total = 0.0
        for i in range(n):
            a = time.perf_counter()
            out = run(i)
            us = (time.perf_counter() - a) * 1e6
            samples.append(us)
            total += us
            idx, sc, in_runner = extract_topk(out, args.topk)
            if rep == 0:
                topk[i] = {"length": int(lengths[i]), "indices": idx, "scores": sc}
            elif idx != topk[i]["indices"]:
                deterministic = False
        passes.append(total)
    lat = np.asarray(samples)
    mem = memory()
    return {
        "runner_version": RUNNER_VERSION, "runtime": backend.runtime, "runtime_version": backend.version,
        "executorch_version": None, "arch": platform.machine(), "model": args.model, "input": args.input,
        "method": "forward", "load_mode": "file", "input_len": args.input_len if dynamic else "pad", "model_size_bytes": os.path.getsize(args.model),
        "n_sessions": int(n), "max_len": int(file_len), "model_seq_len": int(seq_len),
        "warmup": args.warmup, "repeat": args.repeat,
        "threads": {"requested": args.threads, "used": int(backend.threads_used)},
        "cpu": cpu_description(), "load_ms": load_ms, "first_inference_us": first_us,
        "latency_us": {"n": int(lat.size), "mean": float(lat.mean()), "p50": float(np.percentile(lat, 50)),
                       "p90": float(np.percentile(lat, 90)), "p99": float(np.percentile(lat, 99)),
                       "min": float(lat.min()), "max": float(lat.max())},
        "pass_total_us": passes, "peak_rss_kb": mem["vm_hwm_kb"] if mem["vm_hwm_kb"] > 0 else mem["ru_maxrss_kb"],
        "memory": mem, "topk_in_runner": in_runner, "deterministic": deterministic,
        "python_version": platform.python_version(), "numpy_version": np.__version__, "sessions": topk,
    }


def parse_args(argv):
    """Parse and check the runner's flags; exits 2 on a usage error, 4 when the model file is missing."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--topk", type=int, default=10)
    p.add_argument("--method", default="forward")
    p.add_argument("--load-mode", default="file")
    p.add_argument("--input-len", default="pad", choices=["pad", "trim"])
    p.add_argument("--sha256", help="the model file's expected sha256 (default: from <model>.report.json)")
    p.add_argument("--max-len", type=int, default=0, help="the model's max_len, for files that declare none")
    args = p.parse_args(argv)  # exits 2 on a usage error, as odt_runner does
    if args.warmup < 0 or args.repeat < 1 or args.threads < 0 or args.topk < 1 or args.max_len < 0:
        die(EXIT_USAGE, "--warmup >= 0, --repeat >= 1, --threads >= 0, --topk >= 1 and --max-len >= 1 are required")
    if args.sha256 is not None and (len(args.sha256) != 64
                                    or any(c not in "0123456789abcdefABCDEF" for c in args.sha256)):
        die(EXIT_USAGE, "--sha256 expects 64 hex digits, got '%s'" % args.sha256)
    if not os.path.isfile(args.model):
        die(EXIT_LOAD, "model file '%s' not found" % args.model)
    return args


def main(argv=None, backend_cls=OnnxBackend):
    """Run the benchmark and write its JSON to --output or stdout; returns 0, exits 6 if it cannot write."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    text = json.dumps(bench(backend_cls, args), indent=2) + "\n"
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.output, "w") as f:
            f.write(text)
    except OSError as e:
        die(EXIT_WRITE, "cannot write output file '%s': %s" % (args.output, e.strerror))
    return 0


if __name__ == "__main__":
    sys.exit(main())
