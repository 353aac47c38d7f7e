// The zero 4 KiB subpages of another process's memory: what a huge page holds that nothing
// wrote. Invariant: read-only (process_vm_readv copies out; nothing is written to the target),
// bounded (never more than the caller's byte budget is read), and at memory speed: a huge page
// a read into one reusable aligned buffer, each page tested a cache line at a time with an
// early exit at the first non-zero word.
#include <errno.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "args.h"
#include "errors.h"

namespace hugespan {

namespace {

// One huge page a read: a PMD-mapped THP is read whole, in one syscall.
constexpr size_t kChunk = 2u << 20;

// The buffer reads land in: page-aligned (a malloc'd one starts 16 bytes in, and the kernel's
// copy into a misaligned destination ran at half the speed), 2 MiB-aligned and advised
// hugepage, so the copy and the scan walk one TLB entry. One per thread, kept for later calls.
class Buffer {
 public:
  uint64_t* data() {
    if (!base_) {
      void* raw = mmap(nullptr, 2 * kChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (raw == MAP_FAILED) return nullptr;
      raw_ = raw;
      base_ = reinterpret_cast<uint64_t*>((reinterpret_cast<uintptr_t>(raw) + kChunk - 1) & ~(uintptr_t)(kChunk - 1));
      madvise(base_, kChunk, MADV_HUGEPAGE);  // a hint: 4 KiB pages do too, more slowly
    }
    return base_;
  }
  ~Buffer() {
    if (raw_) munmap(raw_, 2 * kChunk);
  }

 private:
  void* raw_ = nullptr;
  uint64_t* base_ = nullptr;
};

// True when the page holds only zeros: 8 words (a cache line) ORed at a time, so a page with
// data (the usual case) is rejected at its first line and a zero page costs one pass.
inline bool ZeroPage(const uint64_t* w, size_t words) {
  for (size_t i = 0; i < words; i += 8)
    if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7]) return false;
  return true;
}

uint64_t NowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

}  // namespace

// zeroPages(pid | "self", ranges: Float64Array [start, length, ...], budget) ->
// { zero: Float64Array, read: Float64Array, bytes, ns }: per range the zero pages found and the
// bytes read (less than its length once the budget ran out, or where the range was not mapped
// any more); `bytes` in all, `ns` spent. Throws SystemError when the process cannot be read at
// all (ESRCH, EPERM: needs ptrace read access).
Napi::Value ZeroPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0);
  if (pid == 0) pid = static_cast<int>(getpid());
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"ranges\" argument must be a Float64Array of start, length pairs");
  Napi::Float64Array arr = info[1].As<Napi::Float64Array>();
  uint64_t budget = ArgUint(info, 2, "budget");
  const size_t n = arr.ElementLength();
  const uint64_t page = PageSize();
  if (n % 2 != 0 || n > 2 * (1u << 20))
    ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", "The \"ranges\" argument must hold up to 1048576 start, length pairs");
  for (size_t i = 0; i < n; i++) {
    double d = arr[i];
    if (!(d >= 0 && d <= 9007199254740991.0 && d == std::floor(d)) || static_cast<uint64_t>(d) % page)
      ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", "ranges[" + std::to_string(i / 2) + "] is not page-aligned");
  }
  thread_local Buffer buffer;
  uint64_t* buf = buffer.data();
  if (!buf) ThrowSystemError(env, errno, "mmap");
  const size_t words = page / sizeof(uint64_t);

  Napi::Float64Array zero = Napi::Float64Array::New(env, n / 2);
  Napi::Float64Array read = Napi::Float64Array::New(env, n / 2);
  uint64_t total = 0;
  const uint64_t t0 = NowNs();
  for (size_t i = 0; i < n && total < budget; i += 2) {
    uint64_t at = static_cast<uint64_t>(arr[i]), left = static_cast<uint64_t>(arr[i + 1]);
    uint64_t zeros = 0, got = 0;
    while (left > 0 && total < budget) {
      size_t want = static_cast<size_t>(std::min<uint64_t>({left, kChunk, (budget - total + page - 1) / page * page}));
      iovec local{buf, want};
      iovec remote{reinterpret_cast<void*>(at), want};
      ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EFAULT || errno == ENOMEM)) break;  // unmapped since: what was read stands
      if (r < 0) ThrowSystemError(env, errno, "process_vm_readv");
      size_t whole = static_cast<size_t>(r) / page * page;
      for (size_t off = 0; off < whole; off += page) zeros += ZeroPage(buf + off / sizeof(uint64_t), words);
      got += whole;
      total += whole;
      at += whole;
      left -= whole;
      if (whole < want) break;  // a partial read: the rest is not mapped
    }
    zero[i / 2] = static_cast<double>(zeros);
    read[i / 2] = static_cast<double>(got);
  }
  const uint64_t t1 = NowNs();
  Napi::Object out = Napi::Object::New(env);
  out.Set("zero", zero);
  out.Set("read", read);
  out.Set("bytes", static_cast<double>(total));
  out.Set("ns", static_cast<double>(t1 - t0));
  return out;
}

}  // namespace hugespan
