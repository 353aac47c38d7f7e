// Argument checking at the boundary, one helper per kind of argument. Invariant: a helper
// either returns a value that is valid for its kind or throws (TypeError/RangeError with a
// code) before any syscall has been made.
#pragma once
#include <napi.h>
#include <cstdint>
#include <string>

namespace hugespan {

// A non-negative integer Number no larger than 2^53 - 1.
uint64_t ArgUint(const Napi::CallbackInfo& info, size_t i, const char* name);
// Like ArgUint, and a multiple of the OS page size.
uint64_t ArgPageAligned(const Napi::CallbackInfo& info, size_t i, const char* name);
// A page-aligned length greater than zero.
uint64_t ArgLength(const Napi::CallbackInfo& info, size_t i, const char* name);
bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name, bool fallback);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
// A pid: a positive integer, or the string "self" (returned as 0).
int ArgPid(const Napi::CallbackInfo& info, size_t i);

uint64_t PageSize();

}  // namespace hugespan
