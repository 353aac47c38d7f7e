// Mappings this addon created, and the only memory any call may name.
// Invariants:
//  - Every address-taking call resolves its range to one live Region of the calling
//    thread's registry, wholly inside it, before any syscall; anything else is refused.
//  - A view (Uint8Array) only ever covers committed (read/write) pages of a live Region.
//    Whatever takes access away (unmap, decommit) detaches the overlapping views first; a
//    view that escaped (its ArrayBuffer transferred) keeps its pages mapped and writable
//    until its last buffer is freed, so no JS buffer ever points at unmapped memory.
//  - A Region's memory is unmapped exactly once: by unmap(), or when the last JS object
//    holding it (the handle or a view) is collected, or when the thread's env is torn down.
#pragma once
#include <napi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace hugespan {

struct Region {
  uint64_t base = 0;
  uint64_t length = 0;
  bool live = true;
  std::map<uint64_t, uint64_t> committed;  // read/write intervals [start, end) by offset, disjoint
  struct View {
    napi_ref ref;  // weak
    uint64_t offset, length;
    uint64_t id;
  };
  std::vector<View> views;
  uint64_t nextViewId = 1;

  // Offsets [start, end) left mapped by Unmap(env) for escaped views; unmapped by ~Region.
  std::vector<std::pair<uint64_t, uint64_t>> kept;

  ~Region();
  bool Committed(uint64_t offset, uint64_t length) const;
  void SetCommitted(uint64_t offset, uint64_t length, bool on);
  // Detach every view overlapping [offset, offset+length) of this region; returns the
  // ranges of views that could not be detached (escaped), sorted and merged.
  std::vector<std::pair<uint64_t, uint64_t>> DetachViews(napi_env env, uint64_t offset, uint64_t length);
  void Unmap();               // munmap all if live; idempotent (teardown, collection)
  void Unmap(napi_env env);   // from JS: detach views, keep escaped views' pages mapped
};

// Per-env (per thread) registry, kept as Node-API instance data.
struct Registry {
  std::map<uint64_t, std::weak_ptr<Region>> regions;  // by base
  // The live region wholly containing [addr, addr+len), or throws ERR_HUGESPAN_NOT_OWNED.
  std::shared_ptr<Region> Resolve(Napi::Env env, uint64_t addr, uint64_t len);
  ~Registry();  // env teardown: unmap what is left (a worker that exits frees its memory)
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
Napi::Value Mappings(const Napi::CallbackInfo& info);
Napi::Value Counters(const Napi::CallbackInfo& info);

}  // namespace hugespan
