// Mappings this addon created, reached only through their handles (capabilities).
// Invariants:
//  - map() returns a handle: a JS object wrapping its own Region, and counted as a handle only
//    while this copy of the addon has it in its per-thread set of live handles. Every other call takes a handle and an
//    (offset, length) inside that Region, checked without overflow before any syscall; a
//    handle is never re-bound, so once its Region is unmapped it reaches nothing, even when
//    the kernel hands the same addresses to a new mapping. No call takes a raw address.
//  - No call runs JS after it has captured native state: every JS argument (array elements,
//    typed array contents) is read, copied and checked before the first Region pointer is
//    taken or syscall made, so a getter or Proxy cannot unmap, remap or detach under a call.
//  - Interval arithmetic never subtracts across a range it has not checked (no unsigned wrap).
//  - The books never claim more access than the kernel gives: access leaves `committed`
//    (and views) before the syscall that removes it; after a syscall fails, `committed` is
//    re-derived from the kernel's own /proc/self/maps.
//  - A view (Uint8Array) only ever covers read/write pages. Whatever takes access away
//    detaches the overlapping views first. A view escaped only when its ArrayBuffer was
//    detached by someone else (ArrayBuffer.prototype.transfer moves the backing store to a new
//    buffer, which may then go to another thread): its pages stay mapped and writable until
//    Node frees the store, then they are unmapped or lose access (FinalizeView), whatever the
//    handle does. While its handle lives, a view's ArrayBuffer is held by the handle
//    object itself (pinned, up to kMaxPinnedViews a mapping; handle and views are collected
//    together), so a view JS dropped is still seen as local, detached, and its pages given back
//    at once: books == kernel right after unmap/decommit. Past the bound the oldest pinned view
//    is let go: on the main thread to the collector (an unpinned view collected before its
//    store was freed is treated as escaped until its finalizer runs); in a worker it is
//    detached (length 0), so no buffer of a live handle is freed by V8's concurrent sweeper,
//    which in Node 20 races the worker's env teardown.
//  - At a thread's exit Node 20 detaches and finalizes every buffer of the env, newest first,
//    before any cleanup hook, whether or not its store lives on elsewhere. In a worker, a
//    sentinel buffer made again after every view (and one made first, for the other order) is
//    finalized first and records then which views were transferred
//    (Snapshot), while their buffers still say so. Only those (and unpinned views collected
//    before their store was freed, which cannot be told apart) are orphaned: mapped for the
//    life of the process. Every other page of the thread is unmapped. Where a runtime detaches
//    buffers from cleanup hooks instead, ours (registered again after every view) runs first.
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

struct Region : std::enable_shared_from_this<Region> {
  uint64_t id = 0;  // unique in the process, never reused
  uint64_t base = 0;
  uint64_t length = 0;
  bool live = true;
  std::map<uint64_t, uint64_t> committed;  // read/write intervals [start, end) by offset, disjoint
  struct View {
    napi_ref ref;  // the ArrayBuffer, weakly; null while being made or once settled
    uint64_t offset, length;  // length 0: detached by us, overlaps nothing
    uint64_t id;
    int64_t slot = -1;  // >= 0: pinned, held by the handle's holder array at this index
    bool transferred = false;  // seen detached by someone else: its store lives in another buffer
  };
  std::vector<View> views;
  uint64_t nextViewId = 1;
  size_t pinned = 0;  // views whose ArrayBuffer the handle holds
  napi_env env = nullptr;     // of the thread that mapped it: Regions die in its finalizers and hooks
  napi_ref holder = nullptr;  // weak: the handle's holder array (see Pin in mapping.cc)
  std::vector<uint32_t> freeSlots;
  uint32_t slots = 0;
  Ranges kept;      // left mapped by unmap() for escaped views (or a failed munmap); freed by ~Region
  Ranges orphaned;  // escaped views of a thread that exited: never unmapped (see mapping.h)

  ~Region();
  bool Committed(uint64_t offset, uint64_t length) const;
  void SetCommitted(uint64_t offset, uint64_t length, bool on);
  // Views overlapping [offset, offset+length) that can no longer be detached (escaped).
  // Marks the transferred ones as it goes.
  Ranges EscapedViews(napi_env env, uint64_t offset, uint64_t length);
  // Detach every local view overlapping the range (escaped ones are left as they are).
  void DetachViews(napi_env env, uint64_t offset, uint64_t length);
  // After a failed syscall: keep only what the kernel says is read/write, and detach views
  // over anything that lost access.
  void Rederive(napi_env env);
  void Unmap();  // munmap what is still ours, except orphaned pages; idempotent
  // Let go of a view's ArrayBuffer (weak reference), noting first whether it was transferred.
  void Unpin(napi_env env, View& v);
  // A view's backing store was freed: give back the pages only it still held (kept pages of an
  // unmapped region, or decommitted pages it kept read/write).
  void Settle(uint64_t offset, uint64_t length);
};

// Per-env (per thread) registry, kept as Node-API instance data: what env teardown frees.
struct Registry {
  napi_env env = nullptr;
  std::map<uint64_t, std::weak_ptr<Region>> regions;  // by id; retired ones too, while kept pages remain
  bool tornDown = false;  // our cleanup hook ran: Node's per-buffer hooks may call FinalizeView next
  bool worker = false;  // not the main thread: its env may end before buffers it made
  bool snapshotted = false;  // teardown began: which views were transferred is recorded
  napi_ref sentinel = nullptr, firstSentinel = nullptr;
  napi_ref holderKey = nullptr;  // the symbol handles hold their views' buffers under  // see SentinelFinalized (mapping.cc)
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

// The runtime's largest ArrayBuffer, read once at load (buffer.constants.MAX_LENGTH), and the
// address space a map() may ask for.
void InitLimits(Napi::Env env);
// Bounds of other files' calls, reported by limits().
uint64_t MaxSmapsStreams();
uint64_t MaxThpRangeBytes();

}  // namespace hugespan
