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

// The error object, made with plain Node-API calls whose failures are tolerated: while a worker
// is being terminated no property can be set and nothing can be thrown, and the call must
// then simply return (see ThrowPending). `e` may come back null; the throw is then empty.
using CreateError = napi_status (*)(napi_env, napi_value, napi_value, napi_value*);

static napi_value Make(napi_env env, CreateError create, const char* code, const std::string& message) {
  napi_value c = nullptr, m = nullptr, e = nullptr;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  if (napi_create_string_utf8(env, message.data(), message.size(), &m) != napi_ok) return nullptr;
  if (create(env, c, m, &e) != napi_ok) return nullptr;
  return e;
}

static void SetProp(napi_env env, napi_value o, const char* key, napi_value v) {
  if (o && v) napi_set_named_property(env, o, key, v);
}

static napi_value Str(napi_env env, const char* s) {
  napi_value v = nullptr;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value Num(napi_env env, double d) {
  napi_value v = nullptr;
  napi_create_double(env, d, &v);
  return v;
}

[[noreturn]] static void Raise(napi_env env, napi_value e) { throw Napi::Error(env, e); }

void ThrowSystemError(Napi::Env env, int err, const char* syscall, const SysContext& ctx) {
  // Node's wording: "EINVAL: invalid argument, madvise ..." — lower-cased strerror text.
  std::string text = strerror(err);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  std::string code = ErrnoName(err);
  std::string msg = code + ": " + text + ", " + syscall;
  if (ctx.path) msg += std::string(" '") + ctx.path + "'";
  if (ctx.hasRange) msg += " " + Hex(ctx.address) + "+" + std::to_string(ctx.length);
  if (ctx.detail) msg += std::string(" (") + ctx.detail + ")";

  napi_value o = Make(env, napi_create_error, code.c_str(), msg);
  SetProp(env, o, "errno", Num(env, -err));
  SetProp(env, o, "syscall", Str(env, syscall));
  if (ctx.path) SetProp(env, o, "path", Str(env, ctx.path));
  if (ctx.hasRange) {
    SetProp(env, o, "address", Num(env, static_cast<double>(ctx.address)));
    SetProp(env, o, "length", Num(env, static_cast<double>(ctx.length)));
  }
  Raise(env, o);
}

void ThrowTypeError(Napi::Env env, const char* code, const std::string& message) {
  Raise(env, Make(env, napi_create_type_error, code, message));
}

void ThrowRangeError(Napi::Env env, const char* code, const std::string& message) {
  Raise(env, Make(env, napi_create_range_error, code, message));
}

void ThrowError(Napi::Env env, const char* code, const std::string& message) {
  Raise(env, Make(env, napi_create_error, code, message));
}

void ThrowPending(napi_env env, const Napi::Error& e) noexcept {
  try {
    if (e.IsEmpty()) return;
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;  // the first one wins
    napi_value v = e.Value();
    if (v) napi_throw(env, v);  // fails only while the env is terminating: nothing to throw to
  } catch (...) {
  }
}

void ThrowInternal(napi_env env, const char* what) noexcept {
  try {
    ThrowError(env, "ERR_HUGESPAN_INTERNAL", what);
  } catch (const Napi::Error& e) {
    ThrowPending(env, e);
  } catch (...) {
  }
}

}  // namespace hugespan
