// Host facts only C can ask for: the OS page size and the per-process THP switch.
// Invariant: reads change nothing; setThpDisabled changes only this process (and its children).
#include <errno.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "args.h"
#include "errors.h"

#ifndef PR_SET_THP_DISABLE
#define PR_SET_THP_DISABLE 41
#define PR_GET_THP_DISABLE 42
#endif

namespace hugespan {

Napi::Value GetPageSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(PageSize()));
}

Napi::Value ThpDisabled(const Napi::CallbackInfo& info) {
  int rc = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
  if (rc < 0) ThrowSystemError(info.Env(), errno, "prctl");
  return Napi::Boolean::New(info.Env(), rc != 0);
}

// setThpDisabled(bool): PR_SET_THP_DISABLE for the whole process (inherited by children).
Napi::Value SetThpDisabled(const Napi::CallbackInfo& info) {
  if (!info[0].IsBoolean())
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", "The \"disabled\" argument must be of type boolean");
  if (prctl(PR_SET_THP_DISABLE, info[0].As<Napi::Boolean>().Value() ? 1 : 0, 0, 0, 0) < 0)
    ThrowSystemError(info.Env(), errno, "prctl");
  return info.Env().Undefined();
}

// exitNow(code): _exit(2), for a command whose output has all left. Node's own exit first
// waits for V8's background threads to finish their current job, such as optimizing a function
// that will never run again (30-40 ms after a 1 000-VMA report, measured with strace).
Napi::Value ExitNow(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", "The \"code\" argument must be of type number");
  double code = info[0].As<Napi::Number>().DoubleValue();
  if (!(code >= 0 && code <= 255) || code != static_cast<int>(code))
    ThrowRangeError(info.Env(), "ERR_OUT_OF_RANGE", "The \"code\" argument must be an integer from 0 to 255");
  _exit(static_cast<int>(code));
}

}  // namespace hugespan
