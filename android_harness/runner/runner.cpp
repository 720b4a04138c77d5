// odtool native ExecuTorch runner.
//
// Loads a .pte program, runs its "forward" method on every session of a
// binary input file, times it, and prints one JSON object (see write_json).
//
// Usage:
//   odt_runner --model M.pte --input sessions.bin [--warmup 10] [--repeat 5]
//              [--threads 0] [--topk 10] [--method forward]
//              [--load-mode mmap|file] [--output result.json]
//              [--kernel-lib libfoo.so]... [--sha256 HEX] [--max-len N]
//
// ---------------------------------------------------------------------------
// Session input file format ("ODTSESS", version 1), all little-endian:
//
//   offset  size            field
//   0       8               magic: the bytes "ODTSESS\0"
//   8       4               uint32 version, = 1
//   12      4               uint32 n_sessions  (>= 1)
//   16      4               uint32 max_len     (L, >= 1)
//   20      4               uint32 reserved, = 0
//   24      8*n_sessions*L  int64 items, row-major [n_sessions, L]. Session i
//                           holds its item indices in positions 0..len_i-1 of
//                           row i (oldest first); the rest of the row is 0.
//   24+8nL  8*n_sessions    int64 lengths len_i, 1 <= len_i <= L
//
//   File size must be exactly 24 + 8 * n_sessions * (L + 1).
//   Python writer:
//     f.write(struct.pack("<8sIIII", b"ODTSESS\0", 1, n, L, 0))
//     f.write(items.astype("<i8").tobytes()); f.write(lengths.astype("<i8").tobytes())
//
// Graph contract ("forward"):
//   inputs : items  int64 (or int32) [1, Lm]   -- row i, right-padded with 0
//            length int64 (or int32) [1]       -- optional second input
//   outputs: scores float32 [1, k] and indices int64 (or int32) [1, k], in
//            either order; or a single float32 [1, V] score tensor, in which
//            case the runner takes the top --topk itself (outside the timing).
//   If L < Lm the rows are padded with 0 up to Lm; L > Lm is an error.
//   --input-len trim feeds each session as items [1, len_i] instead: for programs
//   exported with a dynamic sequence length (upper bound Lm), so a 5-click
//   session costs 5 positions, not Lm.
//
// Timing: one first inference (session 0, right after loading: reported as
// first_inference_us), then --warmup untimed calls cycling through the
// sessions, then --repeat timed passes over all sessions. Each sample is one
// forward() call (input copy + execution), measured with steady_clock.
//
// Inference contract (export/graphs/base.py; the Python runners apply the same rules
// from toolchain/session_contract.py):
//   * before loading, the model file's sha256 is checked against --sha256, else against
//     the "sha256" of <model>.report.json beside it; a mismatch exits 4; with neither,
//     a warning on stderr says the file is unverified;
//   * the model's max_len is the one the program declares (constant methods
//     odtool_max_len / odtool_dynamic_length), else --max-len, else the bound of its
//     input 0; a session file wider than max_len exits 3 (lengths outside 1..L already do);
//   * --input-len trim applies to dynamic-length programs only: a static one is padded.
//
// --kernel-lib PATH (repeatable) dlopen()s a shared library that registers
// extra ExecuTorch kernels (e.g. odtool's code_topk) before the program loads.
//
// --threads N > 0 resizes ExecuTorch's global thread pool (used by XNNPACK
// and the optimized kernels) before loading; 0 keeps the runtime default (the
// number of performant cores cpuinfo finds, or all cores). --topk is used only
// when the model returns a full score vector.
//
// JSON (one object, to --output or stdout; ExecuTorch logs go to stderr):
//   runner_version, runtime ("executorch"), runtime_version,
//   executorch_version (the same version), arch, model, input, method, load_mode,
//   kernel_libs,
//   model_size_bytes, n_sessions, max_len, model_seq_len, warmup, repeat,
//   threads {requested, used}, cpu {cpuinfo_ok, processors, cores, clusters,
//   uarchs, performant_cores} (the CPU as cpuinfo sees it), load_ms (Module
//   load + load_method), first_inference_us, latency_us {n, mean, p50, p90,
//   p99, min, max} (numpy-style linear percentiles over repeat*n_sessions
//   samples), pass_total_us [per timed pass: sum over sessions], peak_rss_kb
//   (VmHWM, else ru_maxrss; under qemu-user it is the qemu process's),
//   memory {vm_hwm_kb, vm_peak_kb, ru_maxrss_kb}, topk_in_runner,
//   deterministic (same top-k indices in every pass), sessions [{length,
//   indices[k], scores[k]}] (from the first timed pass, in output order).
//
// Exit status: 0 ok, 2 usage, 3 bad/missing input file, 4 model load
// failure, 5 execution failure or unexpected outputs, 6 output write failure.
// ---------------------------------------------------------------------------

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/runtime/core/error.h>
#include <executorch/runtime/platform/runtime.h>

#include "et_private.h"

#include <sys/resource.h>
#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#ifndef ODT_RUNNER_VERSION
#define ODT_RUNNER_VERSION "1"
#endif
#ifndef ODT_EXECUTORCH_VERSION
#define ODT_EXECUTORCH_VERSION "unknown"
#endif

namespace {

using executorch::aten::ScalarType;
using executorch::aten::Tensor;
using executorch::extension::TensorPtr;
using executorch::extension::module::Module;
using executorch::runtime::Error;
using executorch::runtime::EValue;
using Clock = std::chrono::steady_clock;

enum Exit { kOk = 0, kUsage = 2, kInput = 3, kLoad = 4, kExec = 5, kWrite = 6 };

[[noreturn]] void die(int code, const std::string& msg) {
  std::fprintf(stderr, "odt_runner: error: %s\n", msg.c_str());
  std::exit(code);
}

const char* err_str(Error e) {
  return executorch::runtime::to_string(e);
}

std::string err_msg(const std::string& what, Error e) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), " (executorch error 0x%x: ", (unsigned)e);
  return what + buf + err_str(e) + ")";
}

struct Options {
  std::string model, input, output, method = "forward", load_mode = "mmap", input_len = "pad";
  std::vector<std::string> kernel_libs;
  std::string sha256;
  long warmup = 10, repeat = 5, threads = 0, topk = 10, max_len = 0;
};

void usage(FILE* f) {
  std::fprintf(
      f,
      "usage: odt_runner --model M.pte --input S.bin [--warmup N=10] "
      "[--repeat N=5]\n"
      "                  [--threads N=0 (runtime default)] [--topk K=10] "
      "[--method forward]\n"
      "                  [--load-mode mmap|file] [--output out.json]\n"
      "                  [--kernel-lib lib.so (repeatable)] [--input-len pad|trim]\n"
      "                  [--sha256 HEX] [--max-len N]\n");
}

long parse_long(const std::string& flag, const std::string& v, long lo) {
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v.c_str(), &end, 10);
  if (errno || end == v.c_str() || *end != '\0' || x < lo) {
    die(kUsage, flag + " expects an integer >= " + std::to_string(lo) +
                ", got '" + v + "'");
  }
  return x;
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      usage(stdout);
      std::exit(kOk);
    }
    std::string val;
    auto eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      val = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a.rfind("--", 0) == 0) {
      if (i + 1 >= argc) die(kUsage, a + " needs a value");
      val = argv[++i];
    } else {
      usage(stderr);
      die(kUsage, "unexpected argument '" + a + "'");
    }
    if (a == "--model") o.model = val;
    else if (a == "--input") o.input = val;
    else if (a == "--output") o.output = val;
    else if (a == "--method") o.method = val;
    else if (a == "--load-mode") o.load_mode = val;
    else if (a == "--input-len") o.input_len = val;
    else if (a == "--warmup") o.warmup = parse_long(a, val, 0);
    else if (a == "--repeat") o.repeat = parse_long(a, val, 1);
    else if (a == "--threads") o.threads = parse_long(a, val, 0);
    else if (a == "--topk") o.topk = parse_long(a, val, 1);
    else if (a == "--kernel-lib") o.kernel_libs.push_back(val);
    else if (a == "--sha256") o.sha256 = val;
    else if (a == "--max-len") o.max_len = parse_long(a, val, 1);
    else {
      usage(stderr);
      die(kUsage, "unknown option '" + a + "'");
    }
  }
  if (o.model.empty() || o.input.empty()) {
    usage(stderr);
    die(kUsage, "--model and --input are required");
  }
  if (o.load_mode != "mmap" && o.load_mode != "file") {
    die(kUsage, "--load-mode must be mmap or file");
  }
  if (o.input_len != "pad" && o.input_len != "trim") {
    die(kUsage, "--input-len must be pad or trim");
  }
  if (!o.sha256.empty()) {
    bool hex = o.sha256.size() == 64;
    for (char& c : o.sha256) {
      c = char(std::tolower((unsigned char)c));
      hex = hex && std::isxdigit((unsigned char)c);
    }
    if (!hex) die(kUsage, "--sha256 expects 64 hex digits, got '" + o.sha256 + "'");
  }
  return o;
}

// ---------------------------------------------------------------- input file
struct Sessions {
  uint32_t n = 0, max_len = 0;
  std::vector<int64_t> items;    // n * max_len
  std::vector<int64_t> lengths;  // n
};

template <typename T>
T read_le(const unsigned char* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}

Sessions read_sessions(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) die(kInput, "cannot open input file '" + path + "': " + std::strerror(errno));
  std::vector<unsigned char> buf((std::istreambuf_iterator<char>(f)),
                                 std::istreambuf_iterator<char>());
  if (buf.size() < 24) die(kInput, "input file '" + path + "' is too short for the 24-byte header");
  static const unsigned char kMagic[8] = {'O', 'D', 'T', 'S', 'E', 'S', 'S', 0};
  if (std::memcmp(buf.data(), kMagic, 8) != 0) {
    die(kInput, "input file '" + path + "' has a bad magic (expected \"ODTSESS\\0\")");
  }
  uint32_t version = read_le<uint32_t>(&buf[8]);
  if (version != 1) die(kInput, "input file version " + std::to_string(version) + " is not supported (expected 1)");
  Sessions s;
  s.n = read_le<uint32_t>(&buf[12]);
  s.max_len = read_le<uint32_t>(&buf[16]);
  if (s.n == 0 || s.max_len == 0) die(kInput, "input file declares n_sessions=0 or max_len=0");
  uint64_t expect = 24 + 8ull * s.n * (uint64_t(s.max_len) + 1);
  if (buf.size() != expect) {
    die(kInput, "input file size " + std::to_string(buf.size()) + " != expected " +
                    std::to_string(expect) + " for n_sessions=" + std::to_string(s.n) +
                    ", max_len=" + std::to_string(s.max_len));
  }
  const unsigned char* p = buf.data() + 24;
  s.items.resize(size_t(s.n) * s.max_len);
  for (size_t i = 0; i < s.items.size(); ++i, p += 8) s.items[i] = read_le<int64_t>(p);
  s.lengths.resize(s.n);
  for (uint32_t i = 0; i < s.n; ++i, p += 8) {
    s.lengths[i] = read_le<int64_t>(p);
    if (s.lengths[i] < 1 || s.lengths[i] > s.max_len) {
      die(kInput, "session " + std::to_string(i) + " has length " + std::to_string(s.lengths[i]) +
                      " outside [1, max_len=" + std::to_string(s.max_len) + "]");
    }
  }
  return s;
}

// ---------------------------------------------------------------- sha256
// SHA-256 (FIPS 180-4). The round constants are the first 32 fractional bits of the cube
// roots of the first 64 primes, the initial hash those of the square roots of the first 8.
uint32_t frac_bits(long double x) {
  return uint32_t((x - std::floor(x)) * 4294967296.0L);
}

std::string sha256_hex(const std::string& path, bool* ok) {
  uint32_t k[64], h[8];
  for (int n = 2, i = 0; i < 64; ++n) {
    bool prime = true;
    for (int d = 2; d * d <= n; ++d) prime = prime && n % d;
    if (!prime) continue;
    if (i < 8) h[i] = frac_bits(std::sqrt((long double)n));
    k[i++] = frac_bits(std::cbrt((long double)n));
  }
  auto rotr = [](uint32_t x, int r) { return (x >> r) | (x << (32 - r)); };
  auto block = [&](const unsigned char* p) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = uint32_t(p[4 * i]) << 24 | uint32_t(p[4 * i + 1]) << 16 | uint32_t(p[4 * i + 2]) << 8 | p[4 * i + 3];
    }
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  };
  std::ifstream f(path, std::ios::binary);
  *ok = bool(f);
  if (!f) return "";
  std::vector<unsigned char> buf(1 << 16);
  uint64_t total = 0;
  size_t have = 0;  // bytes of a partial block at the start of buf
  while (true) {
    f.read(reinterpret_cast<char*>(buf.data() + have), std::streamsize(buf.size() - have));
    size_t got = size_t(f.gcount());
    total += got;
    have += got;
    size_t full = have / 64 * 64;
    for (size_t off = 0; off < full; off += 64) block(buf.data() + off);
    std::memmove(buf.data(), buf.data() + full, have - full);
    have -= full;
    if (!f) break;
  }
  unsigned char tail[128] = {0};
  std::memcpy(tail, buf.data(), have);
  tail[have] = 0x80;
  size_t len = have + 1 + 8 <= 64 ? 64 : 128;
  uint64_t bits = total * 8;
  for (int i = 0; i < 8; ++i) tail[len - 1 - i] = (unsigned char)(bits >> (8 * i));
  for (size_t off = 0; off < len; off += 64) block(tail + off);
  char out[65];
  for (int i = 0; i < 8; ++i) std::snprintf(out + 8 * i, 9, "%08x", h[i]);
  return std::string(out, 64);
}

// The "sha256" of <model>.report.json (written by odtool export), or "" when there is none.
std::string report_sha256(const std::string& model, bool* has_report) {
  std::ifstream f(model + ".report.json");
  *has_report = bool(f);
  if (!f) return "";
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t key = text.find("\"sha256\"");
  if (key == std::string::npos) return "";
  size_t q = text.find('"', text.find(':', key) + 1);
  if (q == std::string::npos || q + 65 > text.size()) return "";
  return text.substr(q + 1, 64);
}

std::string base_name(const std::string& p) {
  size_t s = p.find_last_of('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

void verify_model(const Options& opt) {
  bool has_report = false;
  std::string expected = opt.sha256.empty() ? report_sha256(opt.model, &has_report) : opt.sha256;
  if (expected.empty()) {
    if (has_report) {
      die(kLoad, opt.model + ".report.json has no sha256: re-export " + base_name(opt.model) +
                     " (odtool export) to rewrite it");
    }
    std::fprintf(stderr, "odt_runner: warning: %s has no %s.report.json and no --sha256 was given: "
                 "the file is not verified\n", opt.model.c_str(), base_name(opt.model).c_str());
    return;
  }
  bool ok = false;
  std::string actual = sha256_hex(opt.model, &ok);
  if (!ok) die(kLoad, "cannot read model file '" + opt.model + "': " + std::strerror(errno));
  for (char& c : expected) c = char(std::tolower((unsigned char)c));
  if (actual != expected) {
    die(kLoad, opt.model + " fails its sha256 check: the file has " + actual.substr(0, 16) +
                   "..., its report says " + expected.substr(0, 16) +
                   "... (corrupted or changed after export); re-export it with `odtool export` "
                   "(or restore it with its " + base_name(opt.model) + ".report.json)");
  }
}

// ---------------------------------------------------------------- helpers
bool is_int_type(ScalarType t) { return t == ScalarType::Long || t == ScalarType::Int; }
bool is_float_type(ScalarType t) { return t == ScalarType::Float || t == ScalarType::Double; }

struct SessionInputs {
  std::vector<int64_t> items64, len64;
  std::vector<int32_t> items32, len32;
  TensorPtr items, length;
};

struct TopK {
  std::vector<int64_t> indices;
  std::vector<double> scores;
};

double now_us(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// numpy.percentile's default ("linear") interpolation on sorted data.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  double idx = p / 100.0 * double(sorted.size() - 1);
  size_t lo = size_t(std::floor(idx)), hi = size_t(std::ceil(idx));
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - double(lo));
}

double tensor_float_at(const Tensor& t, size_t i) {
  return t.scalar_type() == ScalarType::Float ? double(t.const_data_ptr<float>()[i])
                                              : t.const_data_ptr<double>()[i];
}
int64_t tensor_int_at(const Tensor& t, size_t i) {
  return t.scalar_type() == ScalarType::Long ? t.const_data_ptr<int64_t>()[i]
                                             : int64_t(t.const_data_ptr<int32_t>()[i]);
}

// Extracts top-k from the method outputs (see the graph contract above).
bool extract_topk(const std::vector<EValue>& outs, long k, TopK* r, bool* in_runner,
                  std::string* why) {
  const Tensor* scores = nullptr;
  const Tensor* indices = nullptr;
  for (const auto& ev : outs) {
    if (!ev.isTensor()) continue;
    const Tensor& t = ev.toTensor();
    if (is_float_type(t.scalar_type()) && !scores) scores = &t;
    else if (is_int_type(t.scalar_type()) && !indices) indices = &t;
  }
  r->indices.clear();
  r->scores.clear();
  *in_runner = false;
  if (indices) {
    size_t n = indices->numel();
    if (scores && size_t(scores->numel()) != n) {
      *why = "scores and indices outputs differ in size (" + std::to_string(scores->numel()) +
             " vs " + std::to_string(n) + ")";
      return false;
    }
    for (size_t i = 0; i < n; ++i) {
      r->indices.push_back(tensor_int_at(*indices, i));
      if (scores) r->scores.push_back(tensor_float_at(*scores, i));
    }
    return true;
  }
  if (scores) {  // full score vector: take top-k here (descending, ties -> lower index)
    *in_runner = true;
    size_t n = scores->numel();
    size_t kk = std::min<size_t>(size_t(k), n);
    std::vector<int64_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), [&](int64_t a, int64_t b) {
      double sa = tensor_float_at(*scores, a), sb = tensor_float_at(*scores, b);
      return sa > sb || (sa == sb && a < b);
    });
    for (size_t i = 0; i < kk; ++i) {
      r->indices.push_back(idx[i]);
      r->scores.push_back(tensor_float_at(*scores, idx[i]));
    }
    return true;
  }
  *why = "method returned no float or integer tensor output";
  return false;
}

long read_status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  size_t klen = std::strlen(key);
  while (std::getline(f, line)) {
    if (line.compare(0, klen, key) == 0 && line.size() > klen && line[klen] == ':') {
      return std::strtol(line.c_str() + klen + 1, nullptr, 10);
    }
  }
  return -1;
}

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      case '\r': o += "\\r"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof(b), "\\u%04x", c);
          o += b;
        } else {
          o += char(c);
        }
    }
  }
  return o + "\"";
}

std::string json_num(double v) {
  if (!std::isfinite(v)) return "null";
  char b[40];
  std::snprintf(b, sizeof(b), "%.9g", v);
  return b;
}

const char* arch_name() {
#if defined(__aarch64__)
  return "aarch64";
#elif defined(__x86_64__)
  return "x86_64";
#elif defined(__arm__)
  return "arm";
#else
  return "unknown";
#endif
}

} // namespace

int main(int argc, char** argv) {
  Options opt = parse_args(argc, argv);

  struct stat st;
  if (stat(opt.model.c_str(), &st) != 0) {
    die(kLoad, "model file '" + opt.model + "' not found: " + std::strerror(errno));
  }
  Sessions sess = read_sessions(opt.input);
  verify_model(opt);

  executorch::runtime::runtime_init();

  // Extra kernel libraries register their operators from static initializers;
  // RTLD_GLOBAL lets them bind to the libexecutorch.so this binary already uses.
  for (const auto& lib : opt.kernel_libs) {
    if (!dlopen(lib.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
      const char* why = dlerror();
      die(kLoad, "cannot load kernel library '" + lib + "': " + (why ? why : "unknown error"));
    }
  }

  // CPU as seen through cpuinfo (on the emulator: the fake proc/ and sys/ tree).
  bool cpuinfo_ok = cpuinfo_initialize();
  uint32_t n_proc = cpuinfo_ok ? cpuinfo_get_processors_count() : 0;
  uint32_t n_cores = cpuinfo_ok ? cpuinfo_get_cores_count() : 0;
  uint32_t n_clusters = cpuinfo_ok ? cpuinfo_get_clusters_count() : 0;
  uint32_t n_uarchs = cpuinfo_ok ? cpuinfo_get_uarchs_count() : 0;
  uint32_t n_perf = executorch::extension::cpuinfo::get_num_performant_cores();

  // Thread pool: must be sized before the method is loaded and run.
  auto* pool = executorch::extension::threadpool::get_threadpool();
  if (!pool) die(kLoad, "executorch thread pool could not be created");
  if (opt.threads > 0 && !pool->_unsafe_reset_threadpool(uint32_t(opt.threads))) {
    die(kLoad, "could not resize the executorch thread pool to " + std::to_string(opt.threads));
  }
  size_t threads_used = pool->get_thread_count();

  // ------------------------------------------------------------------ load
  auto t_load0 = Clock::now();
  Module module(opt.model,
                opt.load_mode == "file" ? Module::LoadMode::File : Module::LoadMode::Mmap);
  Error e = module.load();
  if (e != Error::Ok) die(kLoad, err_msg("failed to load program '" + opt.model + "'", e));
  auto names = module.method_names();
  if (!names.ok()) die(kLoad, err_msg("failed to list methods", names.error()));
  if (!names->count(opt.method)) {
    std::string all;
    for (const auto& n : *names) all += (all.empty() ? "" : ", ") + n;
    die(kLoad, "program has no method '" + opt.method + "' (methods: " + all + ")");
  }
  e = module.load_method(opt.method);
  if (e != Error::Ok) die(kLoad, err_msg("failed to load method '" + opt.method + "'", e));
  auto t_load1 = Clock::now();

  auto meta = module.method_meta(opt.method);
  if (!meta.ok()) die(kLoad, err_msg("failed to read method meta", meta.error()));
  size_t n_inputs = meta->num_inputs();
  if (n_inputs < 1 || n_inputs > 2) {
    die(kLoad, "method '" + opt.method + "' takes " + std::to_string(n_inputs) +
                   " inputs; expected (items[1,L]) or (items[1,L], length[1])");
  }
  auto in0 = meta->input_tensor_meta(0);
  if (!in0.ok()) die(kLoad, err_msg("input 0 is not a tensor", in0.error()));
  ScalarType items_type = in0->scalar_type();
  auto in0_sizes = in0->sizes();
  if (!is_int_type(items_type) || in0_sizes.size() < 1 || in0_sizes.size() > 2 ||
      (in0_sizes.size() == 2 && in0_sizes[0] != 1)) {
    die(kLoad, "input 0 must be an int64/int32 tensor of shape [1, L] or [L]");
  }
  // The contract the program declares (odtool exports), else --max-len, else input 0's bound.
  uint32_t model_len = uint32_t(in0_sizes[in0_sizes.size() - 1]);
  bool dynamic = true;
  if (names->count("odtool_max_len") && names->count("odtool_dynamic_length")) {
    auto ml = module.execute("odtool_max_len");
    auto dl = module.execute("odtool_dynamic_length");
    if (!ml.ok() || !dl.ok() || ml->empty() || dl->empty() || !(*ml)[0].isInt() || !(*dl)[0].isBool()) {
      die(kLoad, "program '" + opt.model + "' declares its max_len but the value cannot be read");
    }
    long declared = long((*ml)[0].toInt());
    dynamic = (*dl)[0].toBool();
    if (opt.max_len && opt.max_len != declared) {
      die(kLoad, "the model declares max_len=" + std::to_string(declared) + ", --max-len says " +
                     std::to_string(opt.max_len));
    }
    if (declared != long(model_len)) {
      die(kLoad, "the model declares max_len=" + std::to_string(declared) + " but its input is [1, " +
                     std::to_string(model_len) + "]");
    }
  } else if (opt.max_len) {
    if (opt.max_len > long(model_len)) {
      die(kLoad, "--max-len " + std::to_string(opt.max_len) + " is more than the model's input bound " +
                     std::to_string(model_len));
    }
    model_len = uint32_t(opt.max_len);
  }
  if (sess.max_len > model_len) {
    die(kInput, "input max_len " + std::to_string(sess.max_len) + " exceeds the model's sequence length " +
                    std::to_string(model_len) + ": items has L=" + std::to_string(sess.max_len) +
                    " positions, more than the model's max_len=" + std::to_string(model_len) +
                    ": keep the session's most recent " + std::to_string(model_len) +
                    " items (toolchain.session_contract.trim_recent; the session writer does it)");
  }
  const bool trim = opt.input_len == "trim" && dynamic;  // a static program is always padded
  ScalarType len_type = ScalarType::Long;
  std::vector<executorch::aten::SizesType> len_sizes = {1};
  if (n_inputs == 2) {
    auto in1 = meta->input_tensor_meta(1);
    if (!in1.ok() || !is_int_type(in1->scalar_type())) {
      die(kLoad, "input 1 (length) must be an int64/int32 tensor");
    }
    len_type = in1->scalar_type();
    len_sizes.assign(in1->sizes().begin(), in1->sizes().end());
  }
  std::vector<executorch::aten::SizesType> items_sizes(in0_sizes.begin(), in0_sizes.end());

  // Prepare every session's input tensors up front (outside the timing).
  std::vector<SessionInputs> inputs(sess.n);
  for (uint32_t i = 0; i < sess.n; ++i) {
    SessionInputs& si = inputs[i];
    std::vector<int64_t> row(trim ? size_t(sess.lengths[i]) : size_t(model_len), 0);
    std::copy_n(&sess.items[size_t(i) * sess.max_len], trim ? row.size() : size_t(sess.max_len), row.begin());
    std::vector<executorch::aten::SizesType> sizes = items_sizes;
    sizes.back() = executorch::aten::SizesType(row.size());
    if (items_type == ScalarType::Long) {
      si.items64 = row;
      si.items = executorch::extension::make_tensor_ptr(sizes, si.items64.data(), ScalarType::Long);
    } else {
      si.items32.assign(row.begin(), row.end());
      si.items = executorch::extension::make_tensor_ptr(sizes, si.items32.data(), ScalarType::Int);
    }
    if (n_inputs == 2) {
      if (len_type == ScalarType::Long) {
        si.len64 = {sess.lengths[i]};
        si.length = executorch::extension::make_tensor_ptr(len_sizes, si.len64.data(), ScalarType::Long);
      } else {
        si.len32 = {int32_t(sess.lengths[i])};
        si.length = executorch::extension::make_tensor_ptr(len_sizes, si.len32.data(), ScalarType::Int);
      }
    }
  }

  auto run_one = [&](uint32_t i) {
    std::vector<EValue> args;
    args.emplace_back(*inputs[i].items);
    if (n_inputs == 2) args.emplace_back(*inputs[i].length);
    return module.execute(opt.method, args);
  };

  // -------------------------------------------------------- first inference
  auto t_f0 = Clock::now();
  auto first = run_one(0);
  auto t_f1 = Clock::now();
  if (!first.ok()) die(kExec, err_msg("first inference failed on session 0", first.error()));
  double first_us = now_us(t_f0, t_f1);

  // ---------------------------------------------------------------- warm-up
  for (long w = 0; w < opt.warmup; ++w) {
    uint32_t i = uint32_t(w % sess.n);
    auto r = run_one(i);
    if (!r.ok()) die(kExec, err_msg("warm-up inference failed on session " + std::to_string(i), r.error()));
  }

  // ---------------------------------------------------------------- timed
  std::vector<double> samples;
  samples.reserve(size_t(opt.repeat) * sess.n);
  std::vector<double> pass_totals;
  std::vector<TopK> topk(sess.n);
  bool deterministic = true, topk_in_runner = false;
  for (long rep = 0; rep < opt.repeat; ++rep) {
    double pass = 0;
    for (uint32_t i = 0; i < sess.n; ++i) {
      auto t0 = Clock::now();
      auto r = run_one(i);
      auto t1 = Clock::now();
      if (!r.ok()) die(kExec, err_msg("inference failed on session " + std::to_string(i), r.error()));
      double us = now_us(t0, t1);
      samples.push_back(us);
      pass += us;
      TopK cur;
      std::string why;
      if (!extract_topk(*r, opt.topk, &cur, &topk_in_runner, &why)) die(kExec, why);
      if (rep == 0) topk[i] = std::move(cur);
      else if (cur.indices != topk[i].indices) deterministic = false;
    }
    pass_totals.push_back(pass);
  }

  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  double mean = std::accumulate(samples.begin(), samples.end(), 0.0) / double(samples.size());

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  long vm_hwm = read_status_kb("VmHWM");
  long vm_peak = read_status_kb("VmPeak");
  long peak_rss = vm_hwm > 0 ? vm_hwm : long(ru.ru_maxrss);

  // ------------------------------------------------------------------ JSON
  std::ostringstream j;
  j << "{\n";
  j << "  \"runner_version\": " << json_str(ODT_RUNNER_VERSION) << ",\n";
  j << "  \"runtime\": \"executorch\",\n";
  j << "  \"runtime_version\": " << json_str(ODT_EXECUTORCH_VERSION) << ",\n";
  j << "  \"executorch_version\": " << json_str(ODT_EXECUTORCH_VERSION) << ",\n";
  j << "  \"arch\": " << json_str(arch_name()) << ",\n";
  j << "  \"model\": " << json_str(opt.model) << ",\n";
  j << "  \"input\": " << json_str(opt.input) << ",\n";
  j << "  \"method\": " << json_str(opt.method) << ",\n";
  j << "  \"load_mode\": " << json_str(opt.load_mode) << ",\n";
  j << "  \"input_len\": " << json_str(trim ? "trim" : "pad") << ",\n";
  j << "  \"kernel_libs\": [";
  for (size_t i = 0; i < opt.kernel_libs.size(); ++i) j << (i ? ", " : "") << json_str(opt.kernel_libs[i]);
  j << "],\n";
  j << "  \"model_size_bytes\": " << (long long)st.st_size << ",\n";
  j << "  \"n_sessions\": " << sess.n << ",\n";
  j << "  \"max_len\": " << sess.max_len << ",\n";
  j << "  \"model_seq_len\": " << model_len << ",\n";
  j << "  \"warmup\": " << opt.warmup << ",\n";
  j << "  \"repeat\": " << opt.repeat << ",\n";
  j << "  \"threads\": {\"requested\": " << opt.threads << ", \"used\": " << threads_used << "},\n";
  j << "  \"cpu\": {\"cpuinfo_ok\": " << (cpuinfo_ok ? "true" : "false")
    << ", \"processors\": " << n_proc << ", \"cores\": " << n_cores
    << ", \"clusters\": " << n_clusters << ", \"uarchs\": " << n_uarchs
    << ", \"performant_cores\": " << n_perf << "},\n";
  j << "  \"load_ms\": " << json_num(now_us(t_load0, t_load1) / 1000.0) << ",\n";
  j << "  \"first_inference_us\": " << json_num(first_us) << ",\n";
  j << "  \"latency_us\": {\"n\": " << samples.size() << ", \"mean\": " << json_num(mean)
    << ", \"p50\": " << json_num(percentile(sorted, 50)) << ", \"p90\": " << json_num(percentile(sorted, 90))
    << ", \"p99\": " << json_num(percentile(sorted, 99)) << ", \"min\": " << json_num(sorted.front())
    << ", \"max\": " << json_num(sorted.back()) << "},\n";
  j << "  \"pass_total_us\": [";
  for (size_t i = 0; i < pass_totals.size(); ++i) j << (i ? ", " : "") << json_num(pass_totals[i]);
  j << "],\n";
  j << "  \"peak_rss_kb\": " << peak_rss << ",\n";
  j << "  \"memory\": {\"vm_hwm_kb\": " << vm_hwm << ", \"vm_peak_kb\": " << vm_peak
    << ", \"ru_maxrss_kb\": " << ru.ru_maxrss << "},\n";
  j << "  \"topk_in_runner\": " << (topk_in_runner ? "true" : "false") << ",\n";
  j << "  \"deterministic\": " << (deterministic ? "true" : "false") << ",\n";
  j << "  \"sessions\": [\n";
  for (uint32_t i = 0; i < sess.n; ++i) {
    j << "    {\"length\": " << sess.lengths[i] << ", \"indices\": [";
    for (size_t q = 0; q < topk[i].indices.size(); ++q) j << (q ? ", " : "") << topk[i].indices[q];
    j << "], \"scores\": [";
    for (size_t q = 0; q < topk[i].scores.size(); ++q) j << (q ? ", " : "") << json_num(topk[i].scores[q]);
    j << "]}" << (i + 1 < sess.n ? "," : "") << "\n";
  }
  j << "  ]\n}\n";

  const std::string out = j.str();
  if (opt.output.empty()) {
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  } else {
    std::ofstream f(opt.output, std::ios::binary | std::ios::trunc);
    if (!f || !(f << out) || !f.flush()) {
      die(kWrite, "cannot write output file '" + opt.output + "': " + std::strerror(errno));
    }
  }
  return kOk;
}
