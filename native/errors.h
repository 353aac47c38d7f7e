// The one place a failure becomes a JS exception. Invariant: a syscall failure becomes an
// Error shaped like Node's SystemError (code "EINVAL", errno -22, syscall, and where known
// path/address/length); a bad argument becomes a TypeError or RangeError with an
// ERR_INVALID_ARG_* code. Every thrower is [[noreturn]]: nothing runs after a refusal.
#pragma once
#include <napi.h>
#include <cstdint>
#include <string>

namespace hugespan {

struct SysContext {
  const char* path = nullptr;   // file the syscall was about, if any
  bool hasRange = false;        // address/length the syscall was about, if any
  uint64_t address = 0, length = 0;
  const char* detail = nullptr; // e.g. the advice name
};

[[noreturn]] void ThrowSystemError(Napi::Env env, int err, const char* syscall, const SysContext& ctx = {});
[[noreturn]] void ThrowTypeError(Napi::Env env, const char* code, const std::string& message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const char* code, const std::string& message);
[[noreturn]] void ThrowError(Napi::Env env, const char* code, const std::string& message);

// What every export's wrapper (addon.cc) does with what escaped it: throw it to JS if the env
// still can, else drop it. Never throws.
void ThrowPending(napi_env env, const Napi::Error& e) noexcept;
void ThrowInternal(napi_env env, const char* what) noexcept;

// "EINVAL" for 22; "E<n>" when the C library has no name for it.
std::string ErrnoName(int err);
std::string Hex(uint64_t v);

}  // namespace hugespan
