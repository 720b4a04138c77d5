"""TorchScript-lite runner: ``onnx_runner.py``'s harness with torch's lite interpreter.

Same flags, input file, JSON and exit codes as the other runners. Needs torch: on the host
the venv's; on the emulator only when the aarch64 torch wheel was provisioned
(``odtool emulator setup --with-torch``). The lite interpreter has no input metadata: the
max_len comes from the archive's ``extra/odtool_contract.json`` (odtool's exports), else
``--max-len`` or the report; a file with neither runs at the session file's L, with a warning.

    python3 ptl_runner.py --model M.ptl --input S.bin [--threads 1] [--output out.json]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from onnx_runner import contract, main  # noqa: E402  (a sibling file, not the odtool package)

_ptl_contract = contract._ptl_contract


class TorchLiteBackend:
    """A ``.ptl`` program loaded with ``torch.jit.mobile._load_for_lite_interpreter``."""

    runtime = "torchscript-lite"
    seq_len = None  # no input metadata in a lite program: use the file's L

    def __init__(self, model, threads):
        import torch
        from torch.jit.mobile import _load_for_lite_interpreter

        self.torch = torch
        self.version = torch.__version__
        if threads > 0:
            torch.set_num_threads(threads)
        self.threads_used = torch.get_num_threads()
        self.declared = _ptl_contract(model)  # the archive's extra/odtool_contract.json, if any
        self.module = _load_for_lite_interpreter(model)

    def feed(self, row, length):
        t = self.torch
        return (t.from_numpy(np.ascontiguousarray(row.reshape(1, -1))), t.tensor([length], dtype=t.int64))

    arity = None  # learnt on the first call: (items, length), else (items,)

    def run(self, feed):
        with self.torch.no_grad():
            if self.arity is None:
                try:
                    out = self.module(*feed)
                    self.arity = 2
                except RuntimeError:
                    out = self.module(feed[0])
                    self.arity = 1
            else:
                out = self.module(*feed[:self.arity])
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return [o.numpy() for o in outs]


if __name__ == "__main__":
    sys.exit(main(backend_cls=TorchLiteBackend))
