// Node-style errors (see errors.h). Invariant: every message starts with the code and names
// the call, so one line on stderr says what failed and where.
#include "errors.h"

#include <errno.h>

#include <cctype>
#include <cstring>

namespace hugespan {

std::string ErrnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = strerrorname_np(err)) return name;
#else
  // musl and older glibc have no strerrorname_np: name the errors this addon can meet.
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case ENOTTY: return "ENOTTY";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
  }
#endif
  return "E" + std::to_string(err);
}

std::string Hex(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

void ThrowSystemError(Napi::Env env, int err, const char* syscall, const SysContext& ctx) {
  // Node's wording: "EINVAL: invalid argument, madvise ..." — lower-cased strerror text.
  std::string text = strerror(err);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  std::string code = ErrnoName(err);
  std::string msg = code + ": " + text + ", " + syscall;
  if (ctx.path) msg += std::string(" '") + ctx.path + "'";
  if (ctx.hasRange) msg += " " + Hex(ctx.address) + "+" + std::to_string(ctx.length);
  if (ctx.detail) msg += std::string(" (") + ctx.detail + ")";

  Napi::Error e = Napi::Error::New(env, msg);
  Napi::Object o = e.Value();
  o.Set("code", code);
  o.Set("errno", -err);
  o.Set("syscall", syscall);
  if (ctx.path) o.Set("path", ctx.path);
  if (ctx.hasRange) {
    o.Set("address", static_cast<double>(ctx.address));
    o.Set("length", static_cast<double>(ctx.length));
  }
  throw e;
}

static void ThrowWith(Napi::Error e, const char* code) {
  e.Value().Set("code", code);
  throw e;
}

void ThrowTypeError(Napi::Env env, const char* code, const std::string& message) {
  ThrowWith(Napi::TypeError::New(env, message), code);
  __builtin_unreachable();
}

void ThrowRangeError(Napi::Env env, const char* code, const std::string& message) {
  ThrowWith(Napi::RangeError::New(env, message), code);
  __builtin_unreachable();
}

void ThrowError(Napi::Env env, const char* code, const std::string& message) {
  ThrowWith(Napi::Error::New(env, message), code);
  __builtin_unreachable();
}

}  // namespace hugespan
