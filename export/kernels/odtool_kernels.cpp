// odtool's ExecuTorch kernels. Registered at load time into ExecuTorch's kernel registry:
// a shared library for the Python runtime (dlopen'ed with RTLD_GLOBAL after executorch),
// or compiled straight into the native runner.
//
// odtool::code_topk.out(Tensor theta, Tensor codebooks, Tensor codes, int k, *,
//                       Tensor(a!) values, Tensor(b!) indices) -> (Tensor(a!), Tensor(b!))
//   theta      float32 [N] (or [1, N])   the session representation
//   codebooks  float32 [M, K, N]         the M codebooks
//   codes      uint8 / int16 / int32 [V+1, M]   item v's code; row 0 is padding (never returned)
//   values  float32 [k], indices int64 [k]      the k best items, best first (ties: lower index)
//
// First the M x K table t[m, j] = theta . E_m[j] (M K N multiply-adds), then the score of
// item v = sum_m t[m, codes[v, m]]: M table look-ups per item, nothing of size |V| x N is
// ever built (the asymmetric-distance trick of product quantization). The k best are kept in a small unsorted buffer whose minimum is the
// admission threshold; few items pass it, so the selection costs little beyond the scan.
#include <executorch/runtime/kernel/kernel_includes.h>
#include <executorch/runtime/kernel/operator_registry.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace odtool {
namespace {

using executorch::aten::ScalarType;
using executorch::aten::Tensor;
using executorch::runtime::EValue;
using executorch::runtime::KernelRuntimeContext;
using executorch::runtime::Span;

// Worse = lower score, or equal score and higher index.
inline bool worse(float va, int64_t ia, float vb, int64_t ib) {
  return va < vb || (va == vb && ia > ib);
}

struct TopK {
  float* v;
  int64_t* i;
  int64_t k;
  int64_t filled = 0;
  int64_t min_pos = 0;

  void find_min() {
    min_pos = 0;
    for (int64_t q = 1; q < k; ++q)
      if (worse(v[q], i[q], v[min_pos], i[min_pos])) min_pos = q;
  }
  inline void offer(float s, int64_t item) {
    if (filled < k) {
      v[filled] = s;
      i[filled] = item;
      if (++filled == k) find_min();
    } else if (s > v[min_pos]) {  // items arrive in increasing index: a tie never wins
      v[min_pos] = s;
      i[min_pos] = item;
      find_min();
    }
  }
  void sort() {  // best first; k is small
    for (int64_t a = 1; a < filled; ++a) {
      float sv = v[a];
      int64_t si = i[a];
      int64_t b = a - 1;
      while (b >= 0 && worse(v[b], i[b], sv, si)) {
        v[b + 1] = v[b];
        i[b + 1] = i[b];
        --b;
      }
      v[b + 1] = sv;
      i[b + 1] = si;
    }
  }
};

template <typename C, int M>
void scan_fixed(const float* table, int64_t K, const C* codes, int64_t rows, TopK& top) {
  for (int64_t r = 1; r < rows; ++r) {
    const C* c = codes + r * M;
    float s = table[c[0]];
    for (int m = 1; m < M; ++m) s += table[m * K + c[m]];
    top.offer(s, r);
  }
}

template <typename C>
void scan(const float* table, int64_t M, int64_t K, const C* codes, int64_t rows, TopK& top) {
  switch (M) {  // the common M get an unrolled inner loop
    case 1: return scan_fixed<C, 1>(table, K, codes, rows, top);
    case 2: return scan_fixed<C, 2>(table, K, codes, rows, top);
    case 3: return scan_fixed<C, 3>(table, K, codes, rows, top);
    case 4: return scan_fixed<C, 4>(table, K, codes, rows, top);
    case 5: return scan_fixed<C, 5>(table, K, codes, rows, top);
    default:
      for (int64_t r = 1; r < rows; ++r) {
        const C* c = codes + r * M;
        float s = 0.f;
        for (int64_t m = 0; m < M; ++m) s += table[m * K + c[m]];
        top.offer(s, r);
      }
  }
}

void code_topk_out(KernelRuntimeContext& ctx, Span<EValue*> stack) {
  ET_KERNEL_CHECK_MSG(ctx, stack.size() >= 6, InvalidArgument, , "code_topk.out: expected 6 arguments");
  const Tensor& theta = stack[0]->toTensor();
  const Tensor& books = stack[1]->toTensor();
  const Tensor& codes = stack[2]->toTensor();
  const int64_t k = stack[3]->toInt();
  Tensor& values = stack[4]->toTensor();
  Tensor& indices = stack[5]->toTensor();

  ET_KERNEL_CHECK_MSG(ctx, books.dim() == 3 && books.scalar_type() == ScalarType::Float, InvalidArgument, ,
                      "code_topk: codebooks must be float32 [M, K, N]");
  const int64_t M = books.size(0), K = books.size(1), N = books.size(2);
  ET_KERNEL_CHECK_MSG(ctx, theta.numel() == N && theta.scalar_type() == ScalarType::Float, InvalidArgument, ,
                      "code_topk: theta must be float32 with N elements");
  ET_KERNEL_CHECK_MSG(ctx, codes.dim() == 2 && codes.size(1) == M, InvalidArgument, ,
                      "code_topk: codes must be [V+1, M] with M = codebooks.size(0)");
  const int64_t rows = codes.size(0);
  ET_KERNEL_CHECK_MSG(ctx, k >= 1 && k <= rows - 1, InvalidArgument, , "code_topk: need 1 <= k <= V");
  ET_KERNEL_CHECK_MSG(ctx, values.numel() == k && values.scalar_type() == ScalarType::Float &&
                               indices.numel() == k && indices.scalar_type() == ScalarType::Long,
                      InvalidArgument, , "code_topk: outputs must be float32 [k] and int64 [k]");

  // The M x K look-up table: one dot product of length N per codeword.
  std::vector<float> table(static_cast<size_t>(M * K));
  const float* th = theta.const_data_ptr<float>();
  const float* e = books.const_data_ptr<float>();
  for (int64_t r = 0; r < M * K; ++r) {
    const float* row = e + r * N;
    float acc = 0.f;
    for (int64_t n = 0; n < N; ++n) acc += row[n] * th[n];
    table[r] = acc;
  }

  TopK top{values.mutable_data_ptr<float>(), indices.mutable_data_ptr<int64_t>(), k};
  const float* t = table.data();
  switch (codes.scalar_type()) {
    case ScalarType::Byte:
      scan(t, M, K, codes.const_data_ptr<uint8_t>(), rows, top);
      break;
    case ScalarType::Short:
      scan(t, M, K, codes.const_data_ptr<int16_t>(), rows, top);
      break;
    case ScalarType::Int:
      scan(t, M, K, codes.const_data_ptr<int32_t>(), rows, top);
      break;
    default:
      ET_KERNEL_CHECK_MSG(ctx, false, InvalidArgument, , "code_topk: codes must be uint8, int16 or int32");
  }
  top.sort();
}

// The code values are trusted to lie in [0, K): freeze checks them when it writes the artifact
// and the exporter embeds them as constants, so no per-item bounds check runs here.
const auto registered = executorch::runtime::register_kernel(
    executorch::runtime::Kernel("odtool::code_topk.out", code_topk_out));

}  // namespace
}  // namespace odtool
