// Acting on another process's memory, the one careful way: MADV_COLLAPSE through
// process_madvise(2) on a pidfd (Linux >= 6.1; the caller needs PTRACE_MODE_READ on the target
// and CAP_SYS_NICE). Invariant: the only advice this file ever gives is MADV_COLLAPSE, which
// changes where a page lives, never what it holds; each range is advised on its own so that
// each gets its own answer; a pidfd pins the process, so a recycled pid is never advised.
#include <errno.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmath>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

namespace hugespan {

// collapseIn(pid, ranges: Float64Array [start, length, ...]) -> Array of 0 (collapsed) or the
// errno name per range. Throws (SystemError) only when the process cannot be opened at all.
Napi::Value CollapseIn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0);
  if (pid == 0) pid = static_cast<int>(getpid());
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"ranges\" argument must be a Float64Array of start, length pairs");
  Napi::Float64Array arr = info[1].As<Napi::Float64Array>();
  size_t n = arr.ElementLength();
  if (n % 2 != 0 || n > 2 * 65536)
    ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", "The \"ranges\" argument must hold up to 65536 start, length pairs");
  std::vector<double> flat(arr.Data(), arr.Data() + n);  // copied before any syscall
  for (size_t i = 0; i < n; i++) {
    double d = flat[i];
    if (!(d >= 0 && d <= 9007199254740991.0 && d == std::floor(d)) || static_cast<uint64_t>(d) % PageSize())
      ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", "ranges[" + std::to_string(i / 2) + "] is not page-aligned");
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) ThrowSystemError(env, errno, "pidfd_open");
  Napi::Array out = Napi::Array::New(env, n / 2);
  for (size_t i = 0; i < n; i += 2) {
    iovec v{reinterpret_cast<void*>(static_cast<uint64_t>(flat[i])), static_cast<size_t>(flat[i + 1])};
    long rc;
    int tries = 0;
    do rc = syscall(SYS_process_madvise, pidfd, &v, 1, MADV_COLLAPSE, 0);
    while (rc < 0 && errno == EAGAIN && ++tries < 2);  // transient: a page briefly locked
    out.Set(static_cast<uint32_t>(i / 2), rc < 0 ? Napi::Value(Napi::String::New(env, ErrnoName(errno))) : Napi::Value(Napi::Number::New(env, 0)));
  }
  close(pidfd);
  return out;
}

}  // namespace hugespan
