// Argument checkers (see args.h). Invariant: each returns a value valid for its kind or throws
// before anything else happens; messages follow Node's ("The \"x\" argument must be ...").
#include "args.h"

#include <unistd.h>

#include <cmath>

#include "errors.h"

namespace hugespan {

static constexpr double kMaxSafe = 9007199254740991.0;  // 2^53 - 1

uint64_t PageSize() {
  static const uint64_t size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return size;
}

static std::string Describe(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "type boolean";
    case napi_string: return "type string";
    case napi_bigint: return "type bigint";
    case napi_symbol: return "type symbol";
    case napi_function: return "type function";
    case napi_object: return "an object";
    default: return "type " + std::to_string(v.Type());
  }
}

uint64_t ArgUint(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsNumber())
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   std::string("The \"") + name + "\" argument must be of type number. Received " + Describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < 0 || d != std::floor(d) || d > kMaxSafe)
    ThrowRangeError(info.Env(), "ERR_INVALID_ARG_VALUE",
                    std::string("The \"") + name + "\" argument must be an integer from 0 to 2^53 - 1. Received " +
                        v.ToString().Utf8Value());
  return static_cast<uint64_t>(d);
}

uint64_t ArgPageAligned(const Napi::CallbackInfo& info, size_t i, const char* name) {
  uint64_t n = ArgUint(info, i, name);
  if (n % PageSize() != 0)
    ThrowRangeError(info.Env(), "ERR_INVALID_ARG_VALUE",
                    std::string("The \"") + name + "\" argument must be a multiple of the page size (" +
                        std::to_string(PageSize()) + "). Received " + std::to_string(n));
  return n;
}

uint64_t ArgLength(const Napi::CallbackInfo& info, size_t i, const char* name) {
  uint64_t n = ArgPageAligned(info, i, name);
  if (n == 0)
    ThrowRangeError(info.Env(), "ERR_INVALID_ARG_VALUE", std::string("The \"") + name + "\" argument must be > 0");
  return n;
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name, bool fallback) {
  Napi::Value v = info[i];
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean())
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   std::string("The \"") + name + "\" argument must be of type boolean. Received " + Describe(v));
  return v.As<Napi::Boolean>().Value();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsString())
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   std::string("The \"") + name + "\" argument must be of type string. Received " + Describe(v));
  return v.As<Napi::String>().Utf8Value();
}

int ArgPid(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (v.IsString() && v.As<Napi::String>().Utf8Value() == "self") return 0;
  if (!v.IsNumber())
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   "The \"pid\" argument must be a positive integer or \"self\". Received " + Describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1 && d <= 4194304 && d == std::floor(d)))
    ThrowRangeError(info.Env(), "ERR_INVALID_ARG_VALUE",
                    "The \"pid\" argument must be an integer from 1 to 4194304. Received " + v.ToString().Utf8Value());
  return static_cast<int>(d);
}

}  // namespace hugespan
