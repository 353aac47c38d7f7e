// Mappings this addon created, reached only through their handles (capabilities).
// Invariants:
//  - map() returns a handle: a JS object wrapping its own Region, and counted as a handle only
//    while this copy of the addon has it in its per-thread set of live handles. Every other call takes a handle and an
//    (offset, length) inside that Region, checked without overflow before any syscall; a
//    handle is never re-bound, so once its Region is unmapped it reaches nothing, even when
//    the kernel hands the same addresses to a new mapping. No call takes a raw address.
//  - The books never claim more access than the kernel gives: access leaves `committed`
//    (and views) before the syscall that removes it; after a syscall fails, `committed` is
//    re-derived from the kernel's own /proc/self/maps.
//  - A view (Uint8Array) only ever covers read/write pages. Whatever takes access away
//    detaches the overlapping views first; a view that escaped (its ArrayBuffer transferred)
//    keeps its pages mapped and writable until Node frees its last buffer. When the thread
//    that made it exits first, Node never says when that is, so its pages stay mapped for
//    the life of the process (counted as orphaned), never unmapped under a live buffer.
//  - A Region's memory is unmapped exactly once: by unmap(), when the last JS object holding
//    it (handle or view) is collected, or when its thread's env is torn down.
#pragma once
#include <napi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

namespace hugespan {

using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;  // [start, end) offsets, sorted, disjoint

struct Region {
  uint64_t id = 0;  // unique in the process, never reused
  uint64_t base = 0;
  uint64_t length = 0;
  bool live = true;
  std::map<uint64_t, uint64_t> committed;  // read/write intervals [start, end) by offset, disjoint
  struct View {
    napi_ref ref;  // weak; null while the view is being made
    uint64_t offset, length;
    uint64_t id;
  };
  std::vector<View> views;
  uint64_t nextViewId = 1;
  Ranges kept;      // left mapped by unmap() for escaped views (or a failed munmap); freed by ~Region
  Ranges orphaned;  // escaped views of a thread that exited: never unmapped (see mapping.h)

  ~Region();
  bool Committed(uint64_t offset, uint64_t length) const;
  void SetCommitted(uint64_t offset, uint64_t length, bool on);
  // Views overlapping [offset, offset+length) that can no longer be detached (escaped).
  Ranges EscapedViews(napi_env env, uint64_t offset, uint64_t length) const;
  // Detach every local view overlapping the range (escaped ones are left as they are).
  void DetachViews(napi_env env, uint64_t offset, uint64_t length);
  // After a failed syscall: keep only what the kernel says is read/write, and detach views
  // over anything that lost access.
  void Rederive(napi_env env);
  void Unmap();  // munmap what is still ours, except orphaned pages; idempotent
};

// Per-env (per thread) registry, kept as Node-API instance data: what env teardown frees.
struct Registry {
  napi_env env = nullptr;
  std::map<uint64_t, std::weak_ptr<Region>> regions;  // by id; retired ones too, while kept pages remain
  ~Registry();
};

Registry& RegistryOf(Napi::Env env);

Napi::Value Map(const Napi::CallbackInfo& info);
Napi::Value Unmap(const Napi::CallbackInfo& info);
Napi::Value Commit(const Napi::CallbackInfo& info);
Napi::Value Decommit(const Napi::CallbackInfo& info);
Napi::Value Madvise(const Napi::CallbackInfo& info);
Napi::Value Touch(const Napi::CallbackInfo& info);
Napi::Value ReadPages(const Napi::CallbackInfo& info);
Napi::Value RandomReads(const Napi::CallbackInfo& info);
Napi::Value View(const Napi::CallbackInfo& info);
Napi::Value Committed(const Napi::CallbackInfo& info);
Napi::Value Live(const Napi::CallbackInfo& info);
Napi::Value Mappings(const Napi::CallbackInfo& info);
Napi::Value Counters(const Napi::CallbackInfo& info);
Napi::Value Limits(const Napi::CallbackInfo& info);

// The runtime's largest ArrayBuffer, read once at load (buffer.constants.MAX_LENGTH).
void InitLimits(Napi::Env env);

}  // namespace hugespan
