"""odtool's own ExecuTorch kernel: look-up-table scoring of compositional codes fused with top-k.

``odtool::code_topk(theta[N], codebooks[M, K, N], codes[M, V+1] u8|i16|i32, k)
-> (values[k] f32, indices[k] i64)`` builds the M x K table t = theta . E_m once, scores item
v as sum_m t[m, codes[v, m]] (row 0, padding, is never returned) and keeps the k best. The portable ExecuTorch kernels need ~300 us for the same gathers and top-k at
|V| = 40,728; this kernel needs a fraction of that (see benchmarks/inference_host.py).
Codes are codebook-major ([M, V+1]) so that one codebook's codes of consecutive items are
contiguous: SIMD look-ups load 16 of them at once.

* :mod:`export.kernels.ops` registers the op with PyTorch (eager reference + fake kernel),
  which ``torch.export`` and the eager parity checks need;
* :mod:`export.kernels.build` compiles ``odtool_kernels.cpp`` against the executorch wheel and
  loads it into the ExecuTorch Python runtime; the native runner compiles the same file in.
"""

#: Bytes every program that calls one of odtool's operators contains (their names are
#: "odtool::code_topk.out", "odtool::lut_topk.out"): the runtimes load the kernels when they see it.
OP_MARKER = b"odtool::"
