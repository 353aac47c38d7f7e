// Host facts only C can ask for: the OS page size and the per-process THP switch.
// Invariant: reads change nothing; setThpDisabled changes only this process (and its children).
#include <errno.h>
#include <sys/prctl.h>

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

}  // namespace hugespan
