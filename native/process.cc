// Acting on another process's memory, the one careful way: MADV_COLLAPSE through
// process_madvise(2) on a pidfd (Linux >= 6.1; the caller needs PTRACE_MODE_READ on the target
// and CAP_SYS_NICE). Invariant: the only advice this file ever gives is MADV_COLLAPSE, which
// changes where a page lives, never what it holds; each range is advised on its own so that
// each gets its own answer; the pidfd is opened before anything of the process is read and
// checked alive after, so a recycled pid is never read as the process, nor advised.
#include <errno.h>
#include <signal.h>
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
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

namespace hugespan {

namespace {

// An open pidfd; -1 once closed. Collecting the handle closes it if the caller did not.
struct Pidfd {
  int fd;
  int pid;
};

// The tag that proves an object is one of our pidfds (not something a caller made up).
const napi_type_tag kPidfdTag = {0x6875676573706e31ull, 0x7069646664000001ull};

Pidfd* PidfdArg(const Napi::CallbackInfo& info, size_t i) {
  bool ours = false;
  if (info[i].IsExternal()) napi_check_object_type_tag(info.Env(), info[i], &kPidfdTag, &ours);
  if (!ours) ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", "The \"pidfd\" argument must be a handle from pidfdOpen()");
  Pidfd* p = info[i].As<Napi::External<Pidfd>>().Data();
  if (p->fd < 0) ThrowError(info.Env(), "ERR_INVALID_STATE", "the pidfd was closed");
  return p;
}

}  // namespace

// pidfdOpen(pid | "self") -> a handle that pins the process: the same process, or none, from
// now on, whatever becomes of its pid. Throws SystemError (ESRCH: no such process).
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0);
  if (pid == 0) pid = static_cast<int>(getpid());
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) ThrowSystemError(env, errno, "pidfd_open");
  auto* p = new Pidfd{fd, pid};
  auto ext = Napi::External<Pidfd>::New(env, p, [](Napi::Env, Pidfd* q) {
    if (q->fd >= 0) close(q->fd);
    delete q;
  });
  napi_type_tag_object(env, ext, &kPidfdTag);
  return ext;
}

// pidfdAlive(pidfd) -> whether the process has not exited: while it has not, its pid is its own,
// so what was read by pid since pidfdOpen was read of this process. (Signal 0 only checks.)
Napi::Value PidfdAlive(const Napi::CallbackInfo& info) {
  Pidfd* p = PidfdArg(info, 0);
  if (syscall(SYS_pidfd_send_signal, p->fd, 0, nullptr, 0) == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == ESRCH) return Napi::Boolean::New(info.Env(), false);
  if (errno == EPERM) return Napi::Boolean::New(info.Env(), true);  // alive, only not ours to signal
  ThrowSystemError(info.Env(), errno, "pidfd_send_signal");
}

// pidfdClose(pidfd): closes it now; later calls with it throw. Closing twice is allowed.
Napi::Value PidfdClose(const Napi::CallbackInfo& info) {
  bool ours = false;
  if (info[0].IsExternal()) napi_check_object_type_tag(info.Env(), info[0], &kPidfdTag, &ours);
  if (!ours) ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", "The \"pidfd\" argument must be a handle from pidfdOpen()");
  Pidfd* p = info[0].As<Napi::External<Pidfd>>().Data();
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  return info.Env().Undefined();
}

// collapseIn(pidfd, ranges: Float64Array [start, length, ...]) -> Array of 0 (collapsed) or the
// errno name per range. Throws (SystemError) only when the process cannot be advised at all
// (ESRCH: it exited; EPERM; ENOSYS), judged by the first range.
Napi::Value CollapseIn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Pidfd* p = PidfdArg(info, 0);
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
  Napi::Array out = Napi::Array::New(env, n / 2);
  for (size_t i = 0; i < n; i += 2) {
    iovec v{reinterpret_cast<void*>(static_cast<uint64_t>(flat[i])), static_cast<size_t>(flat[i + 1])};
    long rc;
    int tries = 0;
    do rc = syscall(SYS_process_madvise, p->fd, &v, 1, MADV_COLLAPSE, 0);
    while (rc < 0 && errno == EAGAIN && ++tries < 2);  // transient: a page briefly locked
    // Whole-process failures are the caller's to hear as an exception, not a per-range answer.
    if (rc < 0 && (errno == ESRCH || errno == EPERM || errno == ENOSYS || errno == EBADF)) ThrowSystemError(env, errno, "process_madvise");
    out.Set(static_cast<uint32_t>(i / 2), rc < 0 ? Napi::Value(Napi::String::New(env, ErrnoName(errno))) : Napi::Value(Napi::Number::New(env, 0)));
  }
  return out;
}

}  // namespace hugespan
