// Declarations of symbols the executorch wheel's shared libraries export but
// whose headers the wheel does not ship (include/executorch/extension/threadpool
// carries only threadpool_guard.h). Only functions are declared, never data
// layouts, so nothing here depends on a class's size or members.
//
//   libexecutorch_threadpool.so:
//     executorch::extension::threadpool::get_threadpool()
//     ThreadPool::get_thread_count() const
//     ThreadPool::_unsafe_reset_threadpool(uint32_t)
//     executorch::extension::cpuinfo::get_num_performant_cores()
//     cpuinfo_initialize / cpuinfo_get_{processors,cores,clusters,uarchs}_count
//
// Checked against executorch 1.5.1 (x86_64 and aarch64 manylinux_2_28 wheels).
#pragma once

#include <cstddef>
#include <cstdint>

namespace executorch {
namespace extension {
namespace threadpool {

class ThreadPool final {
 public:
  size_t get_thread_count() const;
  // Recreates the global pool with num_threads threads. Must be called before
  // any method is loaded/executed (the XNNPACK delegate picks up the pool
  // when it runs).
  bool _unsafe_reset_threadpool(uint32_t num_threads);

 private:
  ThreadPool() = delete;
};

ThreadPool* get_threadpool();

} // namespace threadpool

namespace cpuinfo {
uint32_t get_num_performant_cores();
} // namespace cpuinfo
} // namespace extension
} // namespace executorch

extern "C" {
bool cpuinfo_initialize(void);
uint32_t cpuinfo_get_processors_count(void);
uint32_t cpuinfo_get_cores_count(void);
uint32_t cpuinfo_get_clusters_count(void);
uint32_t cpuinfo_get_uarchs_count(void);
}
