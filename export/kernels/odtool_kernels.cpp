// odtool's ExecuTorch kernels. Registered at load time into ExecuTorch's kernel registry:
// a shared library for the Python runtime (dlopen'ed with RTLD_GLOBAL after executorch),
// or loaded by the native runner (--kernel-lib).
//
// odtool::code_topk.out(Tensor theta, Tensor codebooks, Tensor codes, int k, *,
//                       Tensor(a!) values, Tensor(b!) indices) -> (Tensor(a!), Tensor(b!))
//   theta      float32 [N] (or [1, N])        the session representation
//   codebooks  float32 [M, K, N]              the M codebooks
//   codes      uint8 / int16 / int32 [M, V+1] codebook-major: codes[m, v] is item v's m-th
//                                             code; column 0 is padding (never returned)
//   values  float32 [k], indices int64 [k]    the k best items, best first (ties: lower index)
//
// odtool::lut_topk.out(Tensor table, Tensor codes, int k, *, Tensor(a!) values, Tensor(b!) indices)
//   table      float32 [M, K]                 the look-up table, already computed by the graph
//                                             (product-quantized codes: t[m, j] = theta_m . E_m[j])
//   codes, values, indices                    as for code_topk
//
// odtool::pq_topk.out(Tensor theta, Tensor books, Tensor scales, Tensor codes, int k, *,
//                     Tensor(a!) values, Tensor(b!) indices) -> (Tensor(a!), Tensor(b!))
//   theta      float32 [M, d]                 the (rotated, zero-padded) session representation,
//                                             one d-slice per subspace
//   books      int8 [M, d, K]                 product codebooks stored int8, dimension-major
//   scales     float32 [M, K]                 each codebook vector's scale: E_m[j] = books[m, :, j] * scales[m, j]
//   codes, values, indices                    as for code_topk
//   The look-up table t[m, j] = scales[m, j] * sum_c theta[m, c] * books[m, c, j] is computed here
//   straight from the stored int8 bytes (a d x K multiply-add sweep per subspace, contiguous over
//   j), then the scan is lut_topk's: no widened codebook and no small-matrix GEMM per call.
//
// odtool::pq_topk_rotated.out(Tensor theta, Tensor rotation, Tensor rotation_scales, Tensor books,
//                             Tensor scales, Tensor codes, int k, *, Tensor(a!) values, Tensor(b!) indices)
//   theta      float32 [N]                    the session representation, not yet rotated
//   rotation   int8 [N, N], rotation_scales float32 [N]: R[i, :] = rotation[i, :] * rotation_scales[i]
//   books, scales, codes, values, indices     as for pq_topk (M * d >= N)
//   theta' = R theta (zero-padded to M * d) is computed here from the stored int8 R, then the
//   table and the scan are pq_topk's: no widened R and no GEMM call per session.
//
// odtool::pq_embed.out(Tensor ids, Tensor codes, Tensor books, Tensor scales, Tensor rotation,
//                      Tensor rotation_scales, int dim, *, Tensor(a!) out) -> Tensor(a!)
//   ids        int64 [...]                    item ids in [0, V] (0: padding, embedded as zeros)
//   codes      as for code_topk; books, scales as for pq_topk
//   rotation, rotation_scales                 as for pq_topk_rotated, or both empty (no R)
//   out        float32 [..., dim]             e_v = [E_1[c_v^1], ..., E_M[c_v^M]][:dim] R: the
//                                             session's embeddings from the stored bytes alone
//
// odtool::sasrec_block_w8.out(Tensor x, Tensor real, Tensor ln1_w, Tensor ln1_b, Tensor qkv_q, Tensor qkv_s,
//     Tensor qkv_b, Tensor out_q, Tensor out_s, Tensor out_b, Tensor ln2_w, Tensor ln2_b, Tensor f1_q,
//     Tensor f1_s, Tensor f1_b, Tensor f2_q, Tensor f2_s, Tensor f2_b, int heads, float eps, *, Tensor(a!) out)
//   x          float32 [L, N]                 one session's position states
//   real       float32 [L]                    1 at real positions, 0 at padding
//   ln*_w/_b   float32 [N]                    the block's two LayerNorms
//   *_q, *_s, *_b                             its four linear layers as linear_w8 takes them (qkv N -> 3N,
//                                             out N -> N, FFN N -> N -> N)
//   out        float32 [L, N]                 one pre-LN SASRec block (toolchain.models.sasrec.Block, eval):
//                                             h += out(MHA(LN1(h))) over real keys; h += f2(relu(f1(LN2(h))));
//                                             padding rows are returned as zeros (nothing reads them)
//
// odtool::sasrec_readout_w8.out(Tensor x, Tensor real, Tensor ln_w, Tensor ln_b, Tensor w1_q, Tensor w1_s,
//     Tensor w1_b, Tensor w2_q, Tensor w2_s, Tensor w2_b, Tensor f_q, Tensor f_s, Tensor f_b, float eps, *,
//     Tensor(a!) out)
//   out        float32 [N]                    theta: the final LayerNorm, then the soft-attention readout
//                                             sum_t real_t f(sigmoid(w1(mean) + w2(x_t))) x_t
//   Together the two run a session's whole int8 encoder (after its embeddings) in a few calls instead
//   of ~40 small ops split into ten delegate calls by the int8 layers between them.
//
// odtool::widen.out(Tensor values, Tensor scales, *, Tensor(a!) out) -> Tensor(a!)
//   values  float16 [...] (scales ignored), or int8 [R, C] with scales float32 [R, 1]
//   out     float32, values' shape: a stored tensor widened in one vectorised pass
//
// odtool::linear_w8.out(Tensor x, Tensor weight, Tensor scale, Tensor bias, *, Tensor(a!) out)
//   x       float32 [L, I]      activations (rows)
//   weight  int8 [O, I]         a weight matrix stored weight-only int8, symmetric per output row
//   scale   float32 [O, 1]      its row scales: W[o, :] = weight[o, :] * scale[o]
//   bias    float32 [O]         (zeros when the layer has none)
//   out     float32 [L, O]      x W^T + bias, in fp32 (activations are never quantized)
//
// First the M x K table t[m, j] = theta . E_m[j] (M K N multiply-adds), then the score of
// item v = ((t[0, c0] + t[1, c1]) + t[2, c2]) + ...: M table look-ups per item, nothing of
// size |V| x N is ever built (the asymmetric-distance trick of product quantization).
//
// Items are scored in blocks of 256 into a small buffer -- with AVX-512 (K <= 32: the table
// row sits in two registers, vpermt2ps looks up 16 items at once) or AVX2 gathers when the
// CPU has them, else a scalar loop -- and a block is only scanned item by item when its
// maximum beats the current k-th best, which after the first blocks is rare.
//
// With AVX-512 VBMI (uint8 codes, K <= 256, M <= 257) the scan is a filter, then an exact
// re-score (the idea of FAISS's fast-scan, made exact). Each table row is quantized to bytes
// with one step delta shared by all rows, q[m, j] = round((t[m, j] - min_m) / delta), so a row
// of 256 bytes is four registers and two vpermi2b + one blend look up 64 items at once;
// 16-bit sums A_v = sum_m q[m, c_v^m] cost no gathers. Since t = min + delta * (q + e) with
// |e| <= 1/2, an item whose A_v is below the k-th best A by more than S = M + 2 (+ a float
// rounding margin) scores strictly below k other items, so it cannot be in the top-k and is
// skipped; every other item (a few per session) is scored in fp32 exactly as the scalar loop
// scores it and offered in index order. The scan runs in two passes: the first writes every
// A_v (2 bytes an item) and each 64-item chunk's largest; the k-th largest of those maxima is
// already a valid bar (k items in k chunks reach it), so the second pass re-scores only the
// items within S of it -- about k of them, instead of the hundreds a bar that starts at
// nothing and rises as the scan goes lets through. The result -- values, indices, tie order --
// is bit for bit the exact scan's (tested against it).
#include <executorch/runtime/kernel/kernel_includes.h>
#include <executorch/runtime/kernel/operator_registry.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace odtool {
namespace {

using executorch::aten::ScalarType;
using executorch::aten::Tensor;
using executorch::runtime::EValue;
using executorch::runtime::KernelRuntimeContext;
using executorch::runtime::Span;

constexpr int kBlock = 256;

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

  float threshold() const { return filled < k ? -INFINITY : v[min_pos]; }
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

// Scores of items [r0, r0 + n) into out, any code dtype.
template <typename C>
void block_scalar(const float* t, int64_t M, int64_t K, const C* codes, int64_t R, int64_t r0, int n,
                  float* out) {
  const C* c0 = codes + r0;
  for (int j = 0; j < n; ++j) out[j] = t[c0[j]];
  for (int64_t m = 1; m < M; ++m) {
    const C* c = codes + m * R + r0;
    const float* tm = t + m * K;
    for (int j = 0; j < n; ++j) out[j] += tm[c[j]];
  }
}

float block_max_scalar(const float* b, int n) {
  float p[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int q = 0; q < 8; ++q) p[q] = b[j + q] > p[q] ? b[j + q] : p[q];
  for (; j < n; ++j) p[0] = b[j] > p[0] ? b[j] : p[0];
  for (int q = 1; q < 8; ++q) p[0] = p[q] > p[0] ? p[q] : p[0];
  return p[0];
}

#if defined(__x86_64__)
// K <= 32: the table row is two zmm registers (padded with -inf past K); 16 items per permute.
__attribute__((target("avx512f,avx512bw"))) void block_avx512(const float* t32, int64_t M,
                                                                const uint8_t* codes, int64_t R,
                                                                int64_t r0, int n, float* out) {
  for (int j = 0; j < n; j += 16) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t m = 0; m < M; ++m) {
      __m128i c8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + m * R + r0 + j));
      __m512i idx = _mm512_cvtepu8_epi32(c8);
      __m512 lo = _mm512_loadu_ps(t32 + m * 32), hi = _mm512_loadu_ps(t32 + m * 32 + 16);
      __m512 x = _mm512_permutex2var_ps(lo, idx, hi);
      acc = m == 0 ? x : _mm512_add_ps(acc, x);
    }
    _mm512_storeu_ps(out + j, acc);
  }
}

__attribute__((target("avx2"))) void block_avx2(const float* t, int64_t M, int64_t K, const uint8_t* codes,
                                                int64_t R, int64_t r0, int n, float* out) {
  for (int j = 0; j < n; j += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t m = 0; m < M; ++m) {
      __m128i c8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + m * R + r0 + j));
      __m256 x = _mm256_i32gather_ps(t + m * K, _mm256_cvtepu8_epi32(c8), 4);
      acc = m == 0 ? x : _mm256_add_ps(acc, x);
    }
    _mm256_storeu_ps(out + j, acc);
  }
}

enum Impl { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kVbmi = 3 };

Impl cpu_impl() {
  static const int detected = [] {
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    return avx512 && __builtin_cpu_supports("avx512vbmi") ? kVbmi
           : avx512                                        ? kAvx512
           : __builtin_cpu_supports("avx2")                ? kAvx2
                                                           : kScalar;
  }();
  // ODTOOL_KERNEL_IMPL=0|1|2|3 caps the path (scalar, AVX2, AVX-512, AVX-512 VBMI filter):
  // tests cover each one.
  const char* cap = std::getenv("ODTOOL_KERNEL_IMPL");
  return static_cast<Impl>(cap ? std::min(detected, std::atoi(cap)) : detected);
}
#endif

void lookup_table(const float* theta, const float* books, int64_t rows, int64_t N, float* t) {
  for (int64_t r = 0; r < rows; ++r) {  // 8 partial sums: vectorizable, fixed summation order
    const float* row = books + r * N;
    float p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t n = 0;
    for (; n + 8 <= N; n += 8)
      for (int q = 0; q < 8; ++q) p[q] += row[n + q] * theta[n + q];
    float acc = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
    for (; n < N; ++n) acc += row[n] * theta[n];
    t[r] = acc;
  }
}

// The exact score of one item, summed in the scalar loop's order (so bit for bit its value).
inline float exact_score(const float* t, int64_t M, int64_t K, const uint8_t* codes, int64_t R, int64_t v) {
  float s = t[codes[v]];
  for (int64_t m = 1; m < M; ++m) s += t[m * K + codes[m * R + v]];
  return s;
}

// The k best approximate sums seen so far (only their minimum matters: the filter's threshold).
struct TopSums {
  std::vector<uint16_t> v;
  size_t k, min_pos = 0;
  explicit TopSums(size_t k_) : k(k_) { v.reserve(k_); }
  int threshold() const { return v.size() < k ? -1 : v[min_pos]; }
  void offer(uint16_t a) {
    if (v.size() < k) {
      v.push_back(a);
      if (v.size() == k) min_pos = std::min_element(v.begin(), v.end()) - v.begin();
    } else if (a > v[min_pos]) {
      v[min_pos] = a;
      min_pos = std::min_element(v.begin(), v.end()) - v.begin();
    }
  }
};

#if defined(__x86_64__)
// 64 items' byte look-ups in one table row (four registers), added to their 16-bit sums.
__attribute__((target("avx512f,avx512bw,avx512vbmi"), always_inline)) inline void look64(
    __m512i t0, __m512i t1, __m512i t2, __m512i t3, __mmask64 live, const uint8_t* codes, __m512i& lo, __m512i& hi) {
  const __m512i idx = _mm512_maskz_loadu_epi8(live, codes);
  const __m512i x = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), _mm512_permutex2var_epi8(t0, idx, t1),
                                           _mm512_permutex2var_epi8(t2, idx, t3));
  // interleaved halves (bytes 0-7, 16-23, ... in lo; 8-15, 24-31, ... in hi): put back in order once
  // per chunk, after the last row
  lo = _mm512_add_epi16(lo, _mm512_unpacklo_epi8(x, _mm512_setzero_si512()));
  hi = _mm512_add_epi16(hi, _mm512_unpackhi_epi8(x, _mm512_setzero_si512()));
}

// The filter-then-exact scan (see the top of this file); false, having done nothing, when the
// table cannot be quantized.
__attribute__((target("avx512f,avx512bw,avx512vbmi,fma"))) bool scan_filtered(const float* t, int64_t M, int64_t K,
                                                                          const uint8_t* codes, int64_t R,
                                                                          TopK& top) {
  // The byte table q [M, 256] (rows padded with zeros), 16 entries per step.
  std::vector<float> lo(static_cast<size_t>(M));
  __m512 range16 = _mm512_setzero_ps(), big16 = _mm512_setzero_ps();
  __mmask16 bad = 0;
  const __m512 huge = _mm512_set1_ps(3.4e38f);
  for (int64_t m = 0; m < M; ++m) {
    const float* row = t + m * K;
    __m512 a = _mm512_set1_ps(row[0]), b = a;
    for (int64_t j = 0; j < K; j += 16) {
      const __mmask16 in = K - j >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (K - j)) - 1);
      const __m512 x = _mm512_mask_loadu_ps(a, in, row + j);  // lanes past K repeat a: neutral
      a = _mm512_min_ps(a, x);
      b = _mm512_max_ps(b, x);
      const __m512 ax = _mm512_abs_ps(x);
      big16 = _mm512_max_ps(big16, ax);
      bad |= _mm512_cmp_ps_mask(ax, huge, _CMP_NLE_UQ);  // inf or NaN
    }
    lo[m] = _mm512_reduce_min_ps(a);
    range16 = _mm512_max_ps(range16, _mm512_sub_ps(_mm512_set1_ps(_mm512_reduce_max_ps(b)), _mm512_set1_ps(lo[m])));
  }
  const float range = _mm512_reduce_max_ps(range16), maxabs = _mm512_reduce_max_ps(big16);
  if (bad || !(range > 0.0f) || !std::isfinite(range)) return false;
  // Slack in steps: M / 2 on each side for the rounding of the entries, a strict margin of 2
  // steps (it also covers computing q in fp32), and a bound on fp32's rounding of the exact
  // M-term sums (relative 2^-24 per addition, on both sides, doubled).
  const double delta = static_cast<double>(range) / 255.0;
  const double fp = 2.0 * static_cast<double>(M) * static_cast<double>(M) * maxabs * 0x1p-23 / delta;
  if (!(fp < 30000.0)) return false;
  const int slack = static_cast<int>(M) + 2 + static_cast<int>(std::ceil(fp));
  std::vector<uint8_t> table_q(static_cast<size_t>(M * 256), 0);
  uint8_t* q = table_q.data();
  const __m512 inv = _mm512_set1_ps(255.0f / range), half = _mm512_set1_ps(0.5f);
  const __m512i top255 = _mm512_set1_epi32(255);
  for (int64_t m = 0; m < M; ++m) {
    const __m512 l = _mm512_set1_ps(lo[m]);
    for (int64_t j = 0; j < K; j += 16) {
      const __mmask16 in = K - j >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (K - j)) - 1);
      const __m512 x = _mm512_maskz_loadu_ps(in, t + m * K + j);
      const __m512i v = _mm512_min_epi32(_mm512_cvttps_epi32(_mm512_fmadd_ps(_mm512_sub_ps(x, l), inv, half)), top255);
      _mm512_mask_cvtepi32_storeu_epi8(q + m * 256 + j, in, _mm512_max_epi32(v, _mm512_setzero_si512()));
    }
  }
  // Pass 1: every item's 16-bit sum A_v into `approx`, and each 64-item chunk's largest.
  constexpr int kChunks = 4;  // 4 x 64 items share each row's four registers
  const int64_t chunks = (R + 63) / 64;
  std::unique_ptr<uint16_t[]> approx(new uint16_t[static_cast<size_t>(chunks * 64)]);  // every lane is written
  std::vector<uint16_t> chunk_max(static_cast<size_t>(chunks));
  const __mmask64 all = ~static_cast<__mmask64>(0);
  // 16-bit lane j of an interleaved pair: item (j / 8) * 16 + j % 8 of lo, + 8 of hi
  alignas(64) int16_t order[64];
  for (int j = 0; j < 64; ++j) order[j] = static_cast<int16_t>((j % 16 < 8 ? 0 : 32) + (j / 16) * 8 + j % 8);
  const __m512i first = _mm512_load_si512(order), second = _mm512_load_si512(order + 32);
  for (int64_t r0 = 0; r0 < R; r0 += 64 * kChunks) {
    __mmask64 live[kChunks];
    for (int c = 0; c < kChunks; ++c) {
      const int64_t n = std::max<int64_t>(0, std::min<int64_t>(64, R - r0 - 64 * c));
      live[c] = n == 64 ? all : ((static_cast<__mmask64>(1) << n) - 1);
    }
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    const uint8_t* cm = codes + r0;
    for (int64_t m = 0; m < M; ++m, cm += R) {
      const uint8_t* row = q + m * 256;
      const __m512i t0 = _mm512_loadu_si512(row), t1 = _mm512_loadu_si512(row + 64);
      const __m512i t2 = _mm512_loadu_si512(row + 128), t3 = _mm512_loadu_si512(row + 192);
      look64(t0, t1, t2, t3, live[0], cm, a0, a1);
      look64(t0, t1, t2, t3, live[1], cm + 64, a2, a3);
      look64(t0, t1, t2, t3, live[2], cm + 128, a4, a5);
      look64(t0, t1, t2, t3, live[3], cm + 192, a6, a7);
    }
    const __m512i lo_il[kChunks] = {a0, a2, a4, a6}, hi_il[kChunks] = {a1, a3, a5, a7};
    for (int c = 0; c < kChunks && live[c]; ++c) {
      const __m512i lo = _mm512_permutex2var_epi16(lo_il[c], first, hi_il[c]);
      const __m512i hi = _mm512_permutex2var_epi16(lo_il[c], second, hi_il[c]);
      const int64_t at = r0 / 64 + c;
      // lanes past R (and the padding item) read as 0
      __mmask64 keep = live[c] & (at == 0 ? ~static_cast<__mmask64>(1) : all);
      const __m512i l = _mm512_maskz_mov_epi16(static_cast<__mmask32>(keep), lo);
      const __m512i h = _mm512_maskz_mov_epi16(static_cast<__mmask32>(keep >> 32), hi);
      _mm512_storeu_si512(approx.get() + at * 64, l);
      _mm512_storeu_si512(approx.get() + at * 64 + 32, h);
      const __m512i m2 = _mm512_max_epu16(l, h);
      const __m256i m1 = _mm256_max_epu16(_mm512_castsi512_si256(m2), _mm512_extracti64x4_epi64(m2, 1));
      const __m128i m0 = _mm_max_epu16(_mm256_castsi256_si128(m1), _mm256_extracti128_si256(m1, 1));
      chunk_max[static_cast<size_t>(at)] = static_cast<uint16_t>(
          0xFFFF - _mm_cvtsi128_si32(_mm_minpos_epu16(_mm_xor_si128(m0, _mm_set1_epi16(-1)))));
    }
  }
  // The k-th largest chunk maximum B: k items (in k different chunks) have A >= B, so an item
  // with A < B - S cannot be in the top-k -- the same bound as the running k-th best below,
  // known before the first item is re-scored.
  int bar = -1;
  if (chunks >= top.k) {
    // a 256-bin histogram of the maxima finds the bin holding the k-th; only that bin's few
    // values are then ordered
    int shift = 0;
    while ((static_cast<int64_t>(255) * M) >> shift >= 256) ++shift;
    int64_t hist[256] = {};
    for (uint16_t v : chunk_max) ++hist[v >> shift];
    int bin = 255;
    int64_t above = 0;  // maxima in the bins over `bin`
    while (above + hist[bin] < top.k) above += hist[bin--];
    std::vector<uint16_t> in_bin;
    for (uint16_t v : chunk_max)
      if (v >> shift == bin) in_bin.push_back(v);
    const size_t at = static_cast<size_t>(top.k - 1 - above);
    std::nth_element(in_bin.begin(), in_bin.begin() + static_cast<std::ptrdiff_t>(at), in_bin.end(),
                     std::greater<uint16_t>());
    bar = in_bin[at];
  }
  // Pass 2: in index order, re-score exactly every item within S of the bar.
  TopSums sums(static_cast<size_t>(top.k));
  for (int64_t at = 0; at < chunks; ++at) {
    const int floor = std::max(0, std::max(bar, sums.threshold()) - slack);
    if (chunk_max[static_cast<size_t>(at)] < floor) continue;
    const __m512i b16 = _mm512_set1_epi16(static_cast<int16_t>(static_cast<uint16_t>(floor)));
    const uint16_t* a = approx.get() + at * 64;
    __mmask64 pass = static_cast<__mmask64>(_mm512_cmpge_epu16_mask(_mm512_loadu_si512(a), b16)) |
                     (static_cast<__mmask64>(_mm512_cmpge_epu16_mask(_mm512_loadu_si512(a + 32), b16)) << 32);
    const int64_t base = at * 64;
    const int64_t n = std::min<int64_t>(64, R - base);
    if (n < 64) pass &= (static_cast<__mmask64>(1) << n) - 1;
    if (base == 0) pass &= ~static_cast<__mmask64>(1);  // the padding item
    while (pass) {
      const int j = __builtin_ctzll(pass);
      pass &= pass - 1;
      if (static_cast<int>(a[j]) < std::max(bar, sums.threshold()) - slack) continue;  // the bar rose meanwhile
      sums.offer(a[j]);
      top.offer(exact_score(t, M, K, codes, R, base + j), base + j);
    }
  }
  return true;
}
#endif

template <typename C>
void scan(const float* t, int64_t M, int64_t K, const C* codes, int64_t R, TopK& top) {
  alignas(64) float buf[kBlock];
#if defined(__x86_64__)
  const Impl impl = std::is_same<C, uint8_t>::value ? cpu_impl() : kScalar;
  if (impl >= kVbmi && K <= 256 && M <= 257 &&
      scan_filtered(t, M, K, reinterpret_cast<const uint8_t*>(codes), R, top))
    return;
  std::vector<float> t32;
  if (impl >= kAvx512 && K <= 32) {  // rows of exactly 32 floats for the two-register permute
    t32.assign(static_cast<size_t>(M * 32), -INFINITY);
    for (int64_t m = 0; m < M; ++m) std::copy(t + m * K, t + m * K + K, t32.begin() + m * 32);
  }
#endif
  for (int64_t r0 = 0; r0 < R; r0 += kBlock) {
    const int n = static_cast<int>(std::min<int64_t>(kBlock, R - r0));
#if defined(__x86_64__)
    if (!t32.empty() && n % 16 == 0)
      block_avx512(t32.data(), M, reinterpret_cast<const uint8_t*>(codes), R, r0, n, buf);
    else if (impl >= kAvx2 && n % 8 == 0)
      block_avx2(t, M, K, reinterpret_cast<const uint8_t*>(codes), R, r0, n, buf);
    else
#endif
      block_scalar(t, M, K, codes, R, r0, n, buf);
    if (r0 == 0) buf[0] = -INFINITY;  // the padding item
    if (!(block_max_scalar(buf, n) > top.threshold())) continue;
    for (int j = 0; j < n; ++j)
      if (buf[j] > top.threshold()) top.offer(buf[j], r0 + j);
  }
}

// y[l, o] = scale[o] * sum_i x[l, i] * w[o, i] + bias[o]: int8 widened in registers, fp32 sums.
template <int kLanes>
inline float dot_w8(const float* x, const int8_t* w, int64_t n) {
  float p[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int q = 0; q < kLanes; ++q) p[q] += x[i + q] * static_cast<float>(w[i + q]);
  float acc = 0.0f;
  for (int q = 0; q < kLanes; ++q) acc += p[q];
  for (; i < n; ++i) acc += x[i] * static_cast<float>(w[i]);
  return acc;
}

#if defined(__x86_64__)
// One weight row widened once (8 int8 -> 8 floats per step) and used for every activation row.
__attribute__((target("avx2,fma"))) void linear_w8_avx2(const float* x, const int8_t* w, const float* scale,
                                                         const float* bias, int64_t L, int64_t I, int64_t O,
                                                         float* y) {
  constexpr int64_t kRows = 8;  // activation rows per pass: 8 accumulators stay in registers
  for (int64_t o = 0; o < O; ++o) {
    const int8_t* wo = w + o * I;
    for (int64_t l0 = 0; l0 < L; l0 += kRows) {
      const int64_t nl = std::min<int64_t>(kRows, L - l0);
      __m256 acc[kRows];
      for (int64_t r = 0; r < kRows; ++r) acc[r] = _mm256_setzero_ps();
      int64_t i = 0;
      for (; i + 8 <= I; i += 8) {
        __m256 wf = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(wo + i))));
        for (int64_t r = 0; r < nl; ++r) acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(x + (l0 + r) * I + i), wf, acc[r]);
      }
      for (int64_t r = 0; r < nl; ++r) {
        __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc[r]), _mm256_extractf128_ps(acc[r], 1));
        s4 = _mm_hadd_ps(s4, s4);
        s4 = _mm_hadd_ps(s4, s4);
        float v = _mm_cvtss_f32(s4);
        for (int64_t j = i; j < I; ++j) v += x[(l0 + r) * I + j] * static_cast<float>(wo[j]);
        y[(l0 + r) * O + o] = v * scale[o] + bias[o];
      }
    }
  }
}

// [sum(a), sum(b), sum(c), sum(d)]: four 16-lane accumulators reduced together.
__attribute__((target("avx512f"))) inline __m128 reduce4_avx512(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
  const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
  __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
  s = _mm512_add_ps(s, _mm512_permute_ps(s, 0x4E));  // 128-bit block k now holds output k's partial sums
  s = _mm512_add_ps(s, _mm512_permute_ps(s, 0xB1));
  return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), s));
}

// kRows activation rows against four weight rows at a time: each weight chunk (16 int8) is
// widened once per pass and used kRows times; the four outputs of a row are reduced together.
template <int kRows>
__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) void linear_w8_avx512_pass(
    const float* x, const int8_t* w, const float* scale, const float* bias, int64_t I, int64_t O, int64_t o,
    float* y) {
  const int64_t no = std::min<int64_t>(4, O - o);
  const int8_t* wr[4];
  for (int q = 0; q < 4; ++q) wr[q] = w + std::min<int64_t>(o + q, O - 1) * I;  // past O: a repeat, not stored
  __m512 acc[4][kRows];
  for (int q = 0; q < 4; ++q)
    for (int r = 0; r < kRows; ++r) acc[q][r] = _mm512_setzero_ps();
  for (int64_t i = 0; i < I; i += 16) {
    const __mmask16 m = I - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (I - i)) - 1);
    __m512 wf[4];
    for (int q = 0; q < 4; ++q) wf[q] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, wr[q] + i)));
    for (int r = 0; r < kRows; ++r) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + r * I + i);
      for (int q = 0; q < 4; ++q) acc[q][r] = _mm512_fmadd_ps(xv, wf[q], acc[q][r]);
    }
  }
  float sums[4];
  for (int r = 0; r < kRows; ++r) {
    _mm_storeu_ps(sums, reduce4_avx512(acc[0][r], acc[1][r], acc[2][r], acc[3][r]));
    for (int64_t q = 0; q < no; ++q) y[r * O + o + q] = sums[q] * scale[o + q] + bias[o + q];
  }
}

void linear_w8_avx512(const float* x, const int8_t* w, const float* scale, const float* bias, int64_t L, int64_t I,
                      int64_t O, float* y) {
  for (int64_t l0 = 0; l0 < L; l0 += 4) {
    const float* xl = x + l0 * I;
    float* yl = y + l0 * O;
    for (int64_t o = 0; o < O; o += 4) {
      switch (std::min<int64_t>(4, L - l0)) {
        case 4: linear_w8_avx512_pass<4>(xl, w, scale, bias, I, O, o, yl); break;
        case 3: linear_w8_avx512_pass<3>(xl, w, scale, bias, I, O, o, yl); break;
        case 2: linear_w8_avx512_pass<2>(xl, w, scale, bias, I, O, o, yl); break;
        default: linear_w8_avx512_pass<1>(xl, w, scale, bias, I, O, o, yl); break;
      }
    }
  }
}

__attribute__((target("avx2,f16c"))) void widen_f16_avx2(const uint16_t* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}

// int8 rows [rows, cols] times their scales, 8 at a time (the same one rounding per entry).
__attribute__((target("avx2"))) void widen_i8_avx2(const int8_t* q, const float* s, int64_t rows, int64_t cols,
                                                   float* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* src = q + r * cols;
    float* out = dst + r * cols;
    const __m256 scale = _mm256_set1_ps(s[r]);
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8)
      _mm256_storeu_ps(out + c, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
                                                  _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + c)))),
                                              scale));
    for (; c < cols; ++c) out[c] = static_cast<float>(src[c]) * s[r];
  }
}
#endif

void linear_w8_scalar(const float* x, const int8_t* w, const float* scale, const float* bias, int64_t L,
                      int64_t I, int64_t O, float* y) {
  for (int64_t o = 0; o < O; ++o) {
    const int8_t* wo = w + o * I;
    for (int64_t l = 0; l < L; ++l) y[l * O + o] = dot_w8<16>(x + l * I, wo, I) * scale[o] + bias[o];
  }
}

// y = x W^T * scale + bias for int8 W [O, I] (the fastest path this CPU has).
void linear_w8_rows(const float* x, const int8_t* w, const float* scale, const float* bias, int64_t L, int64_t I,
                    int64_t O, float* y) {
#if defined(__x86_64__)
  if (cpu_impl() >= kAvx512) return linear_w8_avx512(x, w, scale, bias, L, I, O, y);
  if (cpu_impl() >= kAvx2) return linear_w8_avx2(x, w, scale, bias, L, I, O, y);
#endif
  linear_w8_scalar(x, w, scale, bias, L, I, O, y);
}

void linear_w8_out(KernelRuntimeContext& ctx, Span<EValue*> stack) {
  ET_KERNEL_CHECK_MSG(ctx, stack.size() >= 5, InvalidArgument, , "linear_w8.out: expected 5 arguments");
  const Tensor& x = stack[0]->toTensor();
  const Tensor& w = stack[1]->toTensor();
  const Tensor& scale = stack[2]->toTensor();
  const Tensor& bias = stack[3]->toTensor();
  Tensor& out = stack[4]->toTensor();
  ET_KERNEL_CHECK_MSG(ctx, w.dim() == 2 && w.scalar_type() == ScalarType::Char, InvalidArgument, ,
                      "linear_w8: weight must be int8 [O, I]");
  const int64_t O = w.size(0), I = w.size(1);
  ET_KERNEL_CHECK_MSG(ctx, x.scalar_type() == ScalarType::Float && x.dim() >= 1 && x.size(x.dim() - 1) == I,
                      InvalidArgument, , "linear_w8: x must be float32 [..., I]");
  ET_KERNEL_CHECK_MSG(ctx, scale.numel() == O && bias.numel() == O && scale.scalar_type() == ScalarType::Float &&
                               bias.scalar_type() == ScalarType::Float,
                      InvalidArgument, , "linear_w8: scale and bias must be float32 with O elements");
  const int64_t L = x.numel() / I;
  // out has x's shape with the last dimension O; the graph allocates it (dynamic length: resize)
  executorch::aten::SizesType sizes[executorch::runtime::kTensorDimensionLimit];
  for (int64_t d = 0; d < x.dim(); ++d) sizes[d] = static_cast<executorch::aten::SizesType>(x.size(d));
  sizes[x.dim() - 1] = static_cast<executorch::aten::SizesType>(O);
  ET_KERNEL_CHECK_MSG(ctx,
                      executorch::runtime::resize_tensor(
                          out, executorch::aten::ArrayRef<executorch::aten::SizesType>(
                                   sizes, static_cast<size_t>(x.dim()))) == executorch::runtime::Error::Ok,
                      InvalidArgument, , "linear_w8: cannot resize the output");
  const float* xp = x.const_data_ptr<float>();
  const int8_t* wp = w.const_data_ptr<int8_t>();
  const float* sp = scale.const_data_ptr<float>();
  const float* bp = bias.const_data_ptr<float>();
  float* yp = out.mutable_data_ptr<float>();
  linear_w8_rows(xp, wp, sp, bp, L, I, O, yp);
}

// odtool::widen.out(Tensor values, Tensor scales, *, Tensor(a!) out): float16 -> float32, or
// int8 [R, C] * scales [R, 1] -> float32 (a stored codebook / rotation, widened on use).
void widen_out(KernelRuntimeContext& ctx, Span<EValue*> stack) {
  ET_KERNEL_CHECK_MSG(ctx, stack.size() >= 3, InvalidArgument, , "widen.out: expected 3 arguments");
  const Tensor& v = stack[0]->toTensor();
  const Tensor& scales = stack[1]->toTensor();
  Tensor& out = stack[2]->toTensor();
  ET_KERNEL_CHECK_MSG(ctx, out.numel() == v.numel() && out.scalar_type() == ScalarType::Float, InvalidArgument, ,
                      "widen: out must be float32 with the input's size");
  const int64_t n = v.numel();
  float* dst = out.mutable_data_ptr<float>();
  if (v.scalar_type() == ScalarType::Half) {
    const uint16_t* src = reinterpret_cast<const uint16_t*>(v.const_data_ptr<executorch::aten::Half>());
#if defined(__x86_64__)
    if (cpu_impl() >= kAvx2 && __builtin_cpu_supports("f16c")) {
      widen_f16_avx2(src, n, dst);
      return;
    }
#endif
    const executorch::aten::Half* h = v.const_data_ptr<executorch::aten::Half>();
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(h[i]);
    return;
  }
  ET_KERNEL_CHECK_MSG(ctx, v.scalar_type() == ScalarType::Char && scales.scalar_type() == ScalarType::Float &&
                               scales.numel() > 0 && n % scales.numel() == 0,
                      InvalidArgument, , "widen: values must be float16, or int8 with float32 row scales");
  const int64_t rows = scales.numel(), cols = n / rows;
  const int8_t* q = v.const_data_ptr<int8_t>();
  const float* s = scales.const_data_ptr<float>();
#if defined(__x86_64__)
  if (cpu_impl() >= kAvx2) {
    widen_i8_avx2(q, s, rows, cols, dst);
    return;
  }
#endif
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[r * cols + c] = static_cast<float>(q[r * cols + c]) * s[r];
}

// odtool::unpack_w4.out(Tensor packed, *, Tensor(a!) out): an int4 weight (uint8 [R, C], two
// values a byte as q + 8, column 2j in the low nibble) -> int8 [R, 2C], so an encoder frozen int4
// runs the int8 kernels (linear_w8, sasrec_block_w8) from half the bytes; one pass per call.
void unpack_w4_out(KernelRuntimeContext& ctx, Span<EValue*> stack) {
  ET_KERNEL_CHECK_MSG(ctx, stack.size() >= 2, InvalidArgument, , "unpack_w4.out: expected 2 arguments");
  const Tensor& packed = stack[0]->toTensor();
  Tensor& out = stack[1]->toTensor();
  ET_KERNEL_CHECK_MSG(ctx, packed.scalar_type() == ScalarType::Byte && out.scalar_type() == ScalarType::Char &&
                               out.numel() == 2 * packed.numel(),
                      InvalidArgument, , "unpack_w4: packed must be uint8 and out int8 of twice its size");
  const uint8_t* src = packed.const_data_ptr<uint8_t>();
  int8_t* dst = out.mutable_data_ptr<int8_t>();
  const int64_t n = packed.numel();
  for (int64_t i = 0; i < n; ++i) {  // the compiler vectorises this loop
    dst[2 * i] = static_cast<int8_t>(static_cast<int>(src[i] & 15) - 8);
    dst[2 * i + 1] = static_cast<int8_t>(static_cast<int>(src[i] >> 4) - 8);
  }
}

// One int8 linear layer's arguments (weight [O, I], scale [O], bias [O]) as the encoder ops take them.
struct W8 {
  const int8_t* w = nullptr;
  const float* s = nullptr;
  const float* b = nullptr;
  int64_t O = 0, I = 0;
  void apply(const float* x, int64_t L, float* y) const { linear_w8_rows(x, w, s, b, L, I, O, y); }
};

bool w8_arg(KernelRuntimeContext& ctx, const char* op, Span<EValue*> stack, size_t at, int64_t O, int64_t I, W8& out) {
  const Tensor& w = stack[at]->toTensor();
  const Tensor& s = stack[at + 1]->toTensor();
  const Tensor& b = stack[at + 2]->toTensor();
  ET_KERNEL_CHECK_MSG(ctx, w.scalar_type() == ScalarType::Char && w.dim() == 2 && w.size(0) == O && w.size(1) == I &&
                               s.scalar_type() == ScalarType::Float && s.numel() == O &&
                               b.scalar_type() == ScalarType::Float && b.numel() == O,
                      InvalidArgument, false, "%s: argument %d must be an int8 [%d, %d] weight with float32 scale and bias [%d]",
                      op, static_cast<int>(at), static_cast<int>(O), static_cast<int>(I), static_cast<int>(O));
  out = W8{w.const_data_ptr<int8_t>(), s.const_data_ptr<float>(), b.const_data_ptr<float>(), O, I};
  return true;
}

bool vec_arg(KernelRuntimeContext& ctx, const char* op, const Tensor& t, int64_t n, const float*& out) {
  ET_KERNEL_CHECK_MSG(ctx, t.scalar_type() == ScalarType::Float && t.numel() == n, InvalidArgument, false,
                      "%s: expected a float32 vector of %d", op, static_cast<int>(n));
  out = t.const_data_ptr<float>();
  return true;
}

// LayerNorm of each row of x [L, N] (population variance, as nn.LayerNorm).
void layer_norm_rows(const float* x, const float* w, const float* b, double eps, int64_t L, int64_t N, float* y) {
  for (int64_t l = 0; l < L; ++l) {
    const float* r = x + l * N;
    float mu = 0.0f;
    for (int64_t j = 0; j < N; ++j) mu += r[j];
    mu /= static_cast<float>(N);
    float var = 0.0f;
    for (int64_t j = 0; j < N; ++j) var += (r[j] - mu) * (r[j] - mu);
    const float inv = 1.0f / std::sqrt(var / static_cast<float>(N) + static_cast<float>(eps));
    for (int64_t j = 0; j < N; ++j) y[l * N + j] = (r[j] - mu) * inv * w[j] + b[j];
  }
}

// The session's x [L, N] and real [L] (checked), out resized to `shape`.
bool encoder_io(KernelRuntimeContext& ctx, const char* op, const Tensor& x, const Tensor& real, Tensor& out,
                bool rows_out) {
  ET_KERNEL_CHECK_MSG(ctx, x.scalar_type() == ScalarType::Float && x.dim() == 2 && x.size(0) >= 1 &&
                               real.scalar_type() == ScalarType::Float && real.numel() == x.size(0),
                      InvalidArgument, false, "%s: x must be float32 [L, N] and real float32 [L]", op);
  executorch::aten::SizesType sizes[2] = {static_cast<executorch::aten::SizesType>(x.size(0)),
                                          static_cast<executorch::aten::SizesType>(x.size(1))};
  const auto shape = rows_out ? executorch::aten::ArrayRef<executorch::aten::SizesType>(sizes, 2)
                              : executorch::aten::ArrayRef<executorch::aten::SizesType>(sizes + 1, 1);
  ET_KERNEL_CHECK_MSG(ctx, out.scalar_type() == ScalarType::Float &&
                               executorch::runtime::resize_tensor(out, shape) == executorch::runtime::Error::Ok,
                      InvalidArgument, false, "%s: cannot resize the float32 output", op);
  return true;
}

void sasrec_block_w8_out(KernelRuntimeContext& ctx, Span<EValue*> stack) {
  const char* op = "sasrec_block_w8";
  ET_KERNEL_CHECK_MSG(ctx, stack.size() >= 21, InvalidArgument, , "sasrec_block_w8.out: expected 21 arguments");
  const Tensor& x = stack[0]->toTensor();
  const Tensor& real_t = stack[1]->toTensor();
  Tensor& out = stack[20]->toTensor();
  if (!encoder_io(ctx, op, x, real_t, out, true)) return;
  const int64_t L = x.size(0), N = x.size(1), H = stack[18]->toInt();
  const double eps = stack[19]->toDouble();
  ET_KERNEL_CHECK_MSG(ctx, H >= 1 && N % H == 0, InvalidArgument, , "sasrec_block_w8: N must be a multiple of heads");
  const float *ln1w, *ln1b, *ln2w, *ln2b;
  W8 qkv, proj, f1, f2;
  if (!vec_arg(ctx, op, stack[2]->toTensor(), N, ln1w) || !vec_arg(ctx, op, stack[3]->toTensor(), N, ln1b) ||
      !w8_arg(ctx, op, stack, 4, 3 * N, N, qkv) || !w8_arg(ctx, op, stack, 7, N, N, proj) ||
      !vec_arg(ctx, op, stack[10]->toTensor(), N, ln2w) || !vec_arg(ctx, op, stack[11]->toTensor(), N, ln2b) ||
      !w8_arg(ctx, op, stack, 12, N, N, f1) || !w8_arg(ctx, op, stack, 15, N, N, f2))
    return;
  const float* xp = x.const_data_ptr<float>();
  const float* real = real_t.const_data_ptr<float>();
  // the real rows, compacted (a padded session computes only its real positions)
  std::vector<int64_t> rows;
  for (int64_t l = 0; l < L; ++l)
    if (real[l] != 0.0f) rows.push_back(l);
  const int64_t R = static_cast<int64_t>(rows.size()), d = N / H;
  std::vector<float> h(static_cast<size_t>(R * N)), t(static_cast<size_t>(R * N)), q3(static_cast<size_t>(R * 3 * N)),
      o(static_cast<size_t>(R * N), 0.0f), att(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r)
    for (int64_t j = 0; j < N; ++j) h[r * N + j] = xp[rows[r] * N + j];
  layer_norm_rows(h.data(), ln1w, ln1b, eps, R, N, t.data());
  qkv.apply(t.data(), R, q3.data());
  const float inv_sqrt_d = 1.0f / std::sqrt(static_cast<float>(d));
  for (int64_t hh = 0; hh < H; ++hh) {
    for (int64_t i = 0; i < R; ++i) {  // softmax over the real keys (padding keys carry no weight)
      const float* qi = q3.data() + i * 3 * N + hh * d;
      float mx = -INFINITY;
      for (int64_t j = 0; j < R; ++j) {
        const float* kj = q3.data() + j * 3 * N + N + hh * d;
        float dot = 0.0f;
        for (int64_t c = 0; c < d; ++c) dot += qi[c] * kj[c];
        att[j] = dot * inv_sqrt_d;
        mx = std::max(mx, att[j]);
      }
      float z = 0.0f;
      for (int64_t j = 0; j < R; ++j) z += (att[j] = std::exp(att[j] - mx));
      float* oi = o.data() + i * N + hh * d;
      for (int64_t j = 0; j < R; ++j) {
        const float a = att[j] / z;
        const float* vj = q3.data() + j * 3 * N + 2 * N + hh * d;
        for (int64_t c = 0; c < d; ++c) oi[c] += a * vj[c];
      }
    }
  }
  proj.apply(o.data(), R, t.data());
  for (int64_t k = 0; k < R * N; ++k) h[k] += t[k];
  layer_norm_rows(h.data(), ln2w, ln2b, eps, R, N, t.data());
  f1.apply(t.data(), R, o.data());
  for (int64_t k = 0; k < R * N; ++k) o[k] = std::max(o[k], 0.0f);
  f2.apply(o.data(), R, t.data());
  float* yp = out.mutable_data_ptr<float>();
  for (int64_t k = 0; k < L * N; ++k) yp[k] = 0.0f;
  for (int64_t r = 0; r < R; ++r)
    for (int64_t j = 0; j < N; ++j) yp[rows[r] * N + j] = h[r * N + j] + t[r * N + j];
}

void sasrec_readout_w8_out(KernelRuntimeContext& ctx, Span<EValue*> stack) {
  const char* op = "sasrec_readout_w8";
  ET_KERNEL_CHECK_MSG(ctx, stack.size() >= 15, InvalidArgument, , "sasrec_readout_w8.out: expected 15 arguments");
  const Tensor& x = stack[0]->toTensor();
  const Tensor& real_t = stack[1]->toTensor();
  Tensor& out = stack[14]->toTensor();
  if (!encoder_io(ctx, op, x, real_t, out, false)) return;
  const int64_t L = x.size(0), N = x.size(1);
  const double eps = stack[13]->toDouble();
  const float *lnw, *lnb;
  W8 w1, w2, f;
  if (!vec_arg(ctx, op, stack[2]->toTensor(), N, lnw) || !vec_arg(ctx, op, stack[3]->toTensor(), N, lnb) ||
      !w8_arg(ctx, op, stack, 4, N, N, w1) || !w8_arg(ctx, op, stack, 7, N, N, w2) ||
      !w8_arg(ctx, op, stack, 10, 1, N, f))
    return;
  const float* xp = x.const_data_ptr<float>();
  const float* real = real_t.const_data_ptr<float>();
  std::vector<float> xr;
  for (int64_t l = 0; l < L; ++l)
    if (real[l] != 0.0f) xr.insert(xr.end(), xp + l * N, xp + (l + 1) * N);
  const int64_t R = static_cast<int64_t>(xr.size()) / N;
  float* theta = out.mutable_data_ptr<float>();
  for (int64_t j = 0; j < N; ++j) theta[j] = 0.0f;
  if (R == 0) return;
  std::vector<float> xn(static_cast<size_t>(R * N)), mean(static_cast<size_t>(N), 0.0f), a(static_cast<size_t>(N)),
      g(static_cast<size_t>(R * N));
  layer_norm_rows(xr.data(), lnw, lnb, eps, R, N, xn.data());
  for (int64_t r = 0; r < R; ++r)
    for (int64_t j = 0; j < N; ++j) mean[j] += xn[r * N + j];
  for (int64_t j = 0; j < N; ++j) mean[j] /= static_cast<float>(R);
  w1.apply(mean.data(), 1, a.data());
  w2.apply(xn.data(), R, g.data());
  for (int64_t r = 0; r < R; ++r)
    for (int64_t j = 0; j < N; ++j) g[r * N + j] = 1.0f / (1.0f + std::exp(-(g[r * N + j] + a[j])));
  for (int64_t r = 0; r < R; ++r) {
    float alpha;
    f.apply(g.data() + r * N, 1, &alpha);
    for (int64_t j = 0; j < N; ++j) theta[j] += alpha * xn[r * N + j];
  }
}

// Top-k of every item's look-ups into table [M, K] (any supported code dtype) into values / indices.
void scan_codes(KernelRuntimeContext& ctx, const float* table, int64_t M, int64_t K, const Tensor& codes,
                int64_t k, Tensor& values, Tensor& indices) {
  const int64_t R = codes.size(1);
  TopK top{values.mutable_data_ptr<float>(), indices.mutable_data_ptr<int64_t>(), k};
  switch (codes.scalar_type()) {
    case ScalarType::Byte:
      scan(table, M, K, codes.const_data_ptr<uint8_t>(), R, top);
      break;
    case ScalarType::Short:
      scan(table, M, K, codes.const_data_ptr<int16_t>(), R, top);
      break;
    case ScalarType::Int:
      scan(table, M, K, codes.const_data_ptr<int32_t>(), R, top);
      break;
    default:
      ET_KERNEL_CHECK_MSG(ctx, false, InvalidArgument, , "odtool kernels: codes must be uint8, int16 or int32");
  }
  top.sort();
}

// The checks every scan shares: codes [M, V+1] codebook-major, 1 <= k <= V, outputs [k].
bool scan_args_ok(KernelRuntimeContext& ctx, const char* op, const Tensor& codes, int64_t M, int64_t k,
                  const Tensor& values, const Tensor& indices) {
  ET_KERNEL_CHECK_MSG(ctx, codes.dim() == 2 && codes.size(0) == M, InvalidArgument, false,
                      "%s: codes must be [M, V+1] (codebook-major), M = the number of codebooks", op);
  ET_KERNEL_CHECK_MSG(ctx, k >= 1 && k <= codes.size(1) - 1, InvalidArgument, false, "%s: need 1 <= k <= V", op);
  ET_KERNEL_CHECK_MSG(ctx, values.numel() == k && values.scalar_type() == ScalarType::Float &&
                               indices.numel() == k && indices.scalar_type() == ScalarType::Long,
                      InvalidArgument, false, "%s: outputs must be float32 [k] and int64 [k]", op);
  return true;
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
  if (!scan_args_ok(ctx, "code_topk", codes, M, k, values, indices)) return;

  std::vector<float> table(static_cast<size_t>(M * K));
  lookup_table(theta.const_data_ptr<float>(), books.const_data_ptr<float>(), M * K, N, table.data());
  scan_codes(ctx, table.data(), M, K, codes, k, values, indices);
}

// t[m, :] = scales[m, :] * sum_c theta[m, c] * books[m, c, :], summed over c in order. One body,
// compiled per instruction set (the loop over j is contiguous: the compiler vectorises it).
__attribute__((always_inline)) inline void pq_table_body(const float* theta, const int8_t* books,
                                                         const float* scales, int64_t M, int64_t d, int64_t K,
                                                         float* t) {
  for (int64_t m = 0; m < M; ++m) {
    float* tm = t + m * K;
    for (int64_t j = 0; j < K; ++j) tm[j] = 0.0f;
    for (int64_t c = 0; c < d; ++c) {
      const float x = theta[m * d + c];
      const int8_t* row = books + (m * d + c) * K;
      for (int64_t j = 0; j < K; ++j) tm[j] += x * static_cast<float>(row[j]);
    }
    const float* sm = scales + m * K;
    for (int64_t j = 0; j < K; ++j) tm[j] *= sm[j];
  }
}

// out[l, :] = sum_i (x[l, i] * s[i]) * q[i, :]: rows x [L, N] times R = diag(s) q [N, N] (int8),
// the same one body per instruction set.
__attribute__((always_inline)) inline void rotate_rows_body(const float* x, const int8_t* q, const float* s,
                                                            int64_t L, int64_t N, float* out) {
  for (int64_t l = 0; l < L; ++l) {
    float* o = out + l * N;
    for (int64_t j = 0; j < N; ++j) o[j] = 0.0f;
    for (int64_t i = 0; i < N; ++i) {
      const float a = x[l * N + i] * s[i];
      const int8_t* row = q + i * N;
      for (int64_t j = 0; j < N; ++j) o[j] += a * static_cast<float>(row[j]);
    }
  }
}

void pq_table_scalar(const float* theta, const int8_t* books, const float* scales, int64_t M, int64_t d,
                     int64_t K, float* t) {
  pq_table_body(theta, books, scales, M, d, K, t);
}

void rotate_rows_scalar(const float* x, const int8_t* q, const float* s, int64_t L, int64_t N, float* out) {
  rotate_rows_body(x, q, s, L, N, out);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void pq_table_avx2(const float* theta, const int8_t* books,
                                                       const float* scales, int64_t M, int64_t d, int64_t K,
                                                       float* t) {
  pq_table_body(theta, books, scales, M, d, K, t);
}

__attribute__((target("avx2,fma"))) void rotate_rows_avx2(const float* x, const int8_t* q, const float* s,
                                                          int64_t L, int64_t N, float* out) {
  rotate_rows_body(x, q, s, L, N, out);
}
#endif

#if defined(__x86_64__)
// out[r, j] = out_scale[j] * sum_i (x[r, i] * in_scale[i]) q[i, j] for kRows rows and n <= 64
// columns of int8 rows q [I, ldq] (either scale may be null): the output block stays in
// registers while the I int8 rows stream past, each widened once for all kRows rows.
template <int kRows>
__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) void i8_rows_pass(
    const float* x, int64_t ldx, const float* in_scale, const int8_t* q, int64_t ldq, int64_t I, int64_t n,
    const float* out_scale, float* out, int64_t ldo) {
  __mmask16 mk[4];
  for (int b = 0; b < 4; ++b) {
    const int64_t rem = n - 16 * b;
    mk[b] = rem >= 16 ? static_cast<__mmask16>(0xFFFF) : rem <= 0 ? 0 : static_cast<__mmask16>((1u << rem) - 1);
  }
  __m512 acc[kRows][4];
  for (int r = 0; r < kRows; ++r)
    for (int b = 0; b < 4; ++b) acc[r][b] = _mm512_setzero_ps();
  for (int64_t i = 0; i < I; ++i) {
    const int8_t* row = q + i * ldq;
    __m512 w[4];
    for (int b = 0; b < 4; ++b) w[b] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mk[b], row + 16 * b)));
    for (int r = 0; r < kRows; ++r) {
      const __m512 a = _mm512_set1_ps(in_scale ? x[r * ldx + i] * in_scale[i] : x[r * ldx + i]);
      for (int b = 0; b < 4; ++b) acc[r][b] = _mm512_fmadd_ps(a, w[b], acc[r][b]);
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int b = 0; b < 4; ++b) {
      if (!mk[b]) continue;
      const __m512 v = out_scale ? _mm512_mul_ps(acc[r][b], _mm512_maskz_loadu_ps(mk[b], out_scale + 16 * b)) : acc[r][b];
      _mm512_mask_storeu_ps(out + r * ldo + 16 * b, mk[b], v);
    }
}

// i8_rows_pass over every row (up to four at a time) and every 64 columns of q [I, J].
void i8_rows_avx512(const float* x, int64_t L, const float* in_scale, const int8_t* q, int64_t I, int64_t J,
                    const float* out_scale, float* out) {
  for (int64_t l0 = 0; l0 < L; l0 += 4)
    for (int64_t j0 = 0; j0 < J; j0 += 64) {
      const float* xl = x + l0 * I;
      const int8_t* qj = q + j0;
      const float* sj = out_scale ? out_scale + j0 : nullptr;
      float* o = out + l0 * J + j0;
      const int64_t n = std::min<int64_t>(64, J - j0);
      switch (std::min<int64_t>(4, L - l0)) {
        case 4: i8_rows_pass<4>(xl, I, in_scale, qj, J, I, n, sj, o, J); break;
        case 3: i8_rows_pass<3>(xl, I, in_scale, qj, J, I, n, sj, o, J); break;
        case 2: i8_rows_pass<2>(xl, I, in_scale, qj, J, I, n, sj, o, J); break;
        default: i8_rows_pass<1>(xl, I, in_scale, qj, J, I, n, sj, o, J); break;
      }
    }
}
#endif

void pq_table(const float* theta, const int8_t* books, const float* scales, int64_t M, int64_t d, int64_t K,
              float* t) {
#if defined(__x86_64__)
  if (cpu_impl() >= kAvx512) {  // subspace m: theta's d entries times the book's d rows of K
    for (int64_t m = 0; m < M; ++m) i8_rows_avx512(theta + m * d, 1, nullptr, books + m * d * K, d, K, scales + m * K, t + m * K);
    return;
  }
  if (cpu_impl() >= kAvx2) return pq_table_avx2(theta, books, scales, M, d, K, t);
#endif
  pq_table_scalar(theta, books, scales, M, d, K, t);
}

void rotate_rows(const float* x, const int8_t* q, const float* s, int64_t L, int64_t N, float* out) {
#if defined(__x86_64__)
  if (cpu_impl() >= kAvx512) return i8_rows_avx512(x, L, s, q, N, N, nullptr, out);
  if (cpu_impl() >= kAvx2) return rotate_rows_avx2(x, q, s, L, N, out);
#endif
  rotate_rows_scalar(x, q, s, L, N, out);
}

// theta'[i] = s[i] * (q[i, :] . theta): R theta with R = diag(s) q stored int8 -- linear_w8 of
// one row, with no bias.
void rotate_theta(const float* theta, const int8_t* q, const float* s, int64_t N, float* out) {
  const std::vector<float> zeros(static_cast<size_t>(N), 0.0f);
  linear_w8_rows(theta, q, s, zeros.data(), 1, N, N, out);
}

// The checks pq_topk and pq_topk_rotated share: int8 books [M, d, K], float32 scales [M, K].
bool pq_books_ok(KernelRuntimeContext& ctx, const char* op, const Tensor& books, const Tensor& scales) {
  ET_KERNEL_CHECK_MSG(ctx, books.dim() == 3 && books.scalar_type() == ScalarType::Char, InvalidArgument, false,
                      "%s: books must be int8 [M, d, K]", op);
  ET_KERNEL_CHECK_MSG(ctx, scales.numel() == books.size(0) * books.size(2) && scales.scalar_type() == ScalarType::Float,
                      InvalidArgument, false, "%s: scales must be float32 [M, K]", op);
  return true;
}

// An int8 rotation [N, N] with float32 row scales [N], or (when allowed) both empty.
bool rotation_ok(KernelRuntimeContext& ctx, const char* op, const Tensor& q, const Tensor& s, int64_t N,
                 bool may_be_empty) {
  if (may_be_empty && q.numel() == 0 && s.numel() == 0) return true;
  ET_KERNEL_CHECK_MSG(ctx, q.scalar_type() == ScalarType::Char && q.numel() == N * N &&
                               s.scalar_type() == ScalarType::Float && s.numel() == N,
                      InvalidArgument, false, "%s: rotation must be int8 [N, N] with float32 row scales [N]", op);
  return true;
}

void pq_topk_out(KernelRuntimeContext& ctx, Span<EValue*> stack) {
  ET_KERNEL_CHECK_MSG(ctx, stack.size() >= 7, InvalidArgument, , "pq_topk.out: expected 7 arguments");
  const Tensor& theta = stack[0]->toTensor();
  const Tensor& books = stack[1]->toTensor();
  const Tensor& scales = stack[2]->toTensor();
  const Tensor& codes = stack[3]->toTensor();
  const int64_t k = stack[4]->toInt();
  Tensor& values = stack[5]->toTensor();
  Tensor& indices = stack[6]->toTensor();
  if (!pq_books_ok(ctx, "pq_topk", books, scales)) return;
  const int64_t M = books.size(0), d = books.size(1), K = books.size(2);
  ET_KERNEL_CHECK_MSG(ctx, theta.numel() == M * d && theta.scalar_type() == ScalarType::Float, InvalidArgument, ,
                      "pq_topk: theta must be float32 with M * d elements");
  if (!scan_args_ok(ctx, "pq_topk", codes, M, k, values, indices)) return;
  std::vector<float> table(static_cast<size_t>(M * K));
  pq_table(theta.const_data_ptr<float>(), books.const_data_ptr<int8_t>(), scales.const_data_ptr<float>(), M, d, K,
           table.data());
  scan_codes(ctx, table.data(), M, K, codes, k, values, indices);
}

void pq_topk_rotated_out(KernelRuntimeContext& ctx, Span<EValue*> stack) {
  ET_KERNEL_CHECK_MSG(ctx, stack.size() >= 9, InvalidArgument, , "pq_topk_rotated.out: expected 9 arguments");
  const Tensor& theta = stack[0]->toTensor();
  const Tensor& rq = stack[1]->toTensor();
  const Tensor& rs = stack[2]->toTensor();
  const Tensor& books = stack[3]->toTensor();
  const Tensor& scales = stack[4]->toTensor();
  const Tensor& codes = stack[5]->toTensor();
  const int64_t k = stack[6]->toInt();
  Tensor& values = stack[7]->toTensor();
  Tensor& indices = stack[8]->toTensor();
  if (!pq_books_ok(ctx, "pq_topk_rotated", books, scales)) return;
  const int64_t M = books.size(0), d = books.size(1), K = books.size(2), N = theta.numel();
  ET_KERNEL_CHECK_MSG(ctx, theta.scalar_type() == ScalarType::Float && N >= 1 && N <= M * d, InvalidArgument, ,
                      "pq_topk_rotated: theta must be float32 [N] with N <= M * d");
  if (!rotation_ok(ctx, "pq_topk_rotated", rq, rs, N, false)) return;
  if (!scan_args_ok(ctx, "pq_topk_rotated", codes, M, k, values, indices)) return;
  std::vector<float> rotated(static_cast<size_t>(M * d), 0.0f);  // zero past N: the padding
  rotate_theta(theta.const_data_ptr<float>(), rq.const_data_ptr<int8_t>(), rs.const_data_ptr<float>(), N,
               rotated.data());
  std::vector<float> table(static_cast<size_t>(M * K));
  pq_table(rotated.data(), books.const_data_ptr<int8_t>(), scales.const_data_ptr<float>(), M, d, K, table.data());
  scan_codes(ctx, table.data(), M, K, codes, k, values, indices);
}

// The concatenated subspace rows of each id, cut to dim (before R): rows [n, dim].
template <typename C>
bool gather_pq_rows(const int64_t* ids, int64_t n, const C* codes, int64_t R, const int8_t* books,
                    const float* scales, int64_t M, int64_t d, int64_t K, int64_t dim, float* rows) {
  for (int64_t l = 0; l < n; ++l) {
    const int64_t v = ids[l];
    if (v < 0 || v >= R) return false;
    float* out = rows + l * dim;
    if (v == 0) {
      for (int64_t x = 0; x < dim; ++x) out[x] = 0.0f;
      continue;
    }
    for (int64_t m = 0; m < M; ++m) {
      const int64_t c = static_cast<int64_t>(codes[m * R + v]);
      const float sc = scales[m * K + c];
      for (int64_t x = 0; x < d && m * d + x < dim; ++x) out[m * d + x] = static_cast<float>(books[(m * d + x) * K + c]) * sc;
    }
  }
  return true;
}

void pq_embed_out(KernelRuntimeContext& ctx, Span<EValue*> stack) {
  ET_KERNEL_CHECK_MSG(ctx, stack.size() >= 8, InvalidArgument, , "pq_embed.out: expected 8 arguments");
  const Tensor& ids = stack[0]->toTensor();
  const Tensor& codes = stack[1]->toTensor();
  const Tensor& books = stack[2]->toTensor();
  const Tensor& scales = stack[3]->toTensor();
  const Tensor& rq = stack[4]->toTensor();
  const Tensor& rs = stack[5]->toTensor();
  const int64_t dim = stack[6]->toInt();
  Tensor& out = stack[7]->toTensor();
  if (!pq_books_ok(ctx, "pq_embed", books, scales)) return;
  const int64_t M = books.size(0), d = books.size(1), K = books.size(2);
  ET_KERNEL_CHECK_MSG(ctx, ids.scalar_type() == ScalarType::Long, InvalidArgument, , "pq_embed: ids must be int64");
  ET_KERNEL_CHECK_MSG(ctx, dim >= 1 && dim <= M * d, InvalidArgument, , "pq_embed: need 1 <= dim <= M * d");
  ET_KERNEL_CHECK_MSG(ctx, codes.dim() == 2 && codes.size(0) == M, InvalidArgument, ,
                      "pq_embed: codes must be [M, V+1] (codebook-major)");
  if (!rotation_ok(ctx, "pq_embed", rq, rs, dim, true)) return;
  ET_KERNEL_CHECK_MSG(ctx, out.scalar_type() == ScalarType::Float && ids.dim() < executorch::runtime::kTensorDimensionLimit,
                      InvalidArgument, , "pq_embed: out must be float32");
  // out is ids' shape plus [dim]; the graph allocates it (dynamic length: resize)
  executorch::aten::SizesType sizes[executorch::runtime::kTensorDimensionLimit];
  for (int64_t x = 0; x < ids.dim(); ++x) sizes[x] = static_cast<executorch::aten::SizesType>(ids.size(x));
  sizes[ids.dim()] = static_cast<executorch::aten::SizesType>(dim);
  ET_KERNEL_CHECK_MSG(ctx,
                      executorch::runtime::resize_tensor(
                          out, executorch::aten::ArrayRef<executorch::aten::SizesType>(
                                   sizes, static_cast<size_t>(ids.dim() + 1))) == executorch::runtime::Error::Ok,
                      InvalidArgument, , "pq_embed: cannot resize the output");
  const int64_t n = ids.numel(), R = codes.size(1);
  const bool rotate = rq.numel() > 0;
  std::vector<float> rows(rotate ? static_cast<size_t>(n * dim) : 0);
  float* dst = rotate ? rows.data() : out.mutable_data_ptr<float>();
  const int64_t* ip = ids.const_data_ptr<int64_t>();
  const int8_t* bp = books.const_data_ptr<int8_t>();
  const float* sp = scales.const_data_ptr<float>();
  bool ok = false;
  switch (codes.scalar_type()) {
    case ScalarType::Byte:
      ok = gather_pq_rows(ip, n, codes.const_data_ptr<uint8_t>(), R, bp, sp, M, d, K, dim, dst);
      break;
    case ScalarType::Short:
      ok = gather_pq_rows(ip, n, codes.const_data_ptr<int16_t>(), R, bp, sp, M, d, K, dim, dst);
      break;
    case ScalarType::Int:
      ok = gather_pq_rows(ip, n, codes.const_data_ptr<int32_t>(), R, bp, sp, M, d, K, dim, dst);
      break;
    default:
      ET_KERNEL_CHECK_MSG(ctx, false, InvalidArgument, , "pq_embed: codes must be uint8, int16 or int32");
  }
  ET_KERNEL_CHECK_MSG(ctx, ok, InvalidArgument, , "pq_embed: an id is outside [0, V]");
  if (!rotate) return;
  float* op = out.mutable_data_ptr<float>();
  for (int64_t l = 0; l < n; ++l) {  // padding rows are zeros and stay zeros: only items are rotated
    if (ip[l] == 0) {
      for (int64_t x = 0; x < dim; ++x) op[l * dim + x] = 0.0f;
    } else {
      rotate_rows(rows.data() + l * dim, rq.const_data_ptr<int8_t>(), rs.const_data_ptr<float>(), 1, dim,
                  op + l * dim);
    }
  }
}

void lut_topk_out(KernelRuntimeContext& ctx, Span<EValue*> stack) {
  ET_KERNEL_CHECK_MSG(ctx, stack.size() >= 5, InvalidArgument, , "lut_topk.out: expected 5 arguments");
  const Tensor& table = stack[0]->toTensor();
  const Tensor& codes = stack[1]->toTensor();
  const int64_t k = stack[2]->toInt();
  Tensor& values = stack[3]->toTensor();
  Tensor& indices = stack[4]->toTensor();
  ET_KERNEL_CHECK_MSG(ctx, table.dim() == 2 && table.scalar_type() == ScalarType::Float, InvalidArgument, ,
                      "lut_topk: table must be float32 [M, K]");
  const int64_t M = table.size(0), K = table.size(1);
  if (!scan_args_ok(ctx, "lut_topk", codes, M, k, values, indices)) return;
  scan_codes(ctx, table.const_data_ptr<float>(), M, K, codes, k, values, indices);
}

// The code values are trusted to lie in [0, K): freeze checks them when it writes the artifact
// and the exporter embeds them as constants, so no per-item bounds check runs here.
const auto registered = executorch::runtime::register_kernel(
    executorch::runtime::Kernel("odtool::code_topk.out", code_topk_out));
const auto registered_lut = executorch::runtime::register_kernel(
    executorch::runtime::Kernel("odtool::lut_topk.out", lut_topk_out));
const auto registered_pq = executorch::runtime::register_kernel(
    executorch::runtime::Kernel("odtool::pq_topk.out", pq_topk_out));
const auto registered_pq_rotated = executorch::runtime::register_kernel(
    executorch::runtime::Kernel("odtool::pq_topk_rotated.out", pq_topk_rotated_out));
const auto registered_pq_embed = executorch::runtime::register_kernel(
    executorch::runtime::Kernel("odtool::pq_embed.out", pq_embed_out));
const auto registered_block = executorch::runtime::register_kernel(
    executorch::runtime::Kernel("odtool::sasrec_block_w8.out", sasrec_block_w8_out));
const auto registered_readout = executorch::runtime::register_kernel(
    executorch::runtime::Kernel("odtool::sasrec_readout_w8.out", sasrec_readout_w8_out));
const auto registered_w8 = executorch::runtime::register_kernel(
    executorch::runtime::Kernel("odtool::linear_w8.out", linear_w8_out));
const auto registered_widen = executorch::runtime::register_kernel(
    executorch::runtime::Kernel("odtool::widen.out", widen_out));
const auto registered_unpack_w4 = executorch::runtime::register_kernel(
    executorch::runtime::Kernel("odtool::unpack_w4.out", unpack_w4_out));

}  // namespace
}  // namespace odtool
