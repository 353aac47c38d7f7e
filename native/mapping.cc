// Mappings, handles, views and the per-thread registry (see mapping.h for the invariants).
// Every export resolves its handle and its (offset, length) inside that handle's Region first;
// only then does it make a syscall.
#include "mapping.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#include "args.h"
#include "errors.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

namespace hugespan {

// Process-wide counts of successful mmaps and munmaps of regions: the proof, for tests, that
// every region is unmapped exactly once, whoever (unmap, the collector, env teardown) did it.
static std::atomic<uint64_t> g_mapped{0}, g_unmapped{0};
// Regions whose pages an escaped view still holds mapped after unmap (see Region::kept).
static std::atomic<int64_t> g_keeping{0};
// Bytes left mapped for good because a view escaped a thread that then exited.
static std::atomic<uint64_t> g_orphaned{0};
static std::atomic<uint64_t> g_nextId{1};

static uint64_t g_maxView = (1ull << 31) - 1;  // until InitLimits reads the runtime's own
// The most address space one map() may ask for: what the kernel can give a process without an
// address hint (x86-64 with 4-level tables: 2^47; arm64: 2^48), read at load (InitLimits).
static uint64_t g_maxMap = 1ull << 47;
// The most OS pages one touch or readPages call walks: 2^20 (4 GiB at 4 KiB pages) is well
// under a second at memory speed; more is a loop of calls, each returning in bounded time.
static constexpr uint64_t kMaxTouchPages = 1ull << 20;
// The views of one mapping whose ArrayBuffers its live handle holds (see mapping.h); past it
// the oldest is let go, and is then treated as escaped if it is collected before its finalizer.
static constexpr size_t kMaxPinnedViews = 1024;

// ---- ranges -------------------------------------------------------------------------------

static Ranges Intersect(const Ranges& a, const Ranges& b) {
  Ranges out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    uint64_t lo = std::max(a[i].first, b[j].first), hi = std::min(a[i].second, b[j].second);
    if (lo < hi) out.emplace_back(lo, hi);
    (a[i].second < b[j].second) ? i++ : j++;
  }
  return out;
}

static Ranges Merge(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& x : r) {
    if (x.first >= x.second) continue;
    if (!out.empty() && x.first <= out.back().second) out.back().second = std::max(out.back().second, x.second);
    else out.push_back(x);
  }
  return out;
}

// [0, length) minus `holes`, in order.
static Ranges Complement(const Ranges& holes, uint64_t length) {
  Ranges out;
  uint64_t at = 0;
  for (const auto& [s, e] : holes) {
    if (s > at) out.emplace_back(at, s);
    at = std::max(at, e);
  }
  if (at < length) out.emplace_back(at, length);
  return out;
}

// The read/write parts of [base, base+length) as the kernel has them, by offset; false when
// /proc/self/maps cannot be read. Reads through a stack buffer: this runs after a syscall
// failed for want of memory (vm.max_map_count), when malloc may fail too.
static bool KernelReadWrite(uint64_t base, uint64_t length, Ranges* out) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1 << 16];
  size_t have = 0;
  uint64_t end = base + length;
  bool ok = true;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof buf - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { ok = false; break; }
    have += static_cast<size_t>(n);
    size_t at = 0;
    for (;;) {  // every whole line in the buffer
      char* nl = static_cast<char*>(memchr(buf + at, '\n', have - at));
      if (!nl) break;
      *nl = 0;
      uint64_t s, e;
      char perms[8];
      if (sscanf(buf + at, "%" SCNx64 "-%" SCNx64 " %7s", &s, &e, perms) == 3 && e > base && s < end && perms[0] == 'r' &&
          perms[1] == 'w')
        out->emplace_back(std::max(s, base) - base, std::min(e, end) - base);
      at = static_cast<size_t>(nl - buf) + 1;
    }
    memmove(buf, buf + at, have - at);
    have -= at;
    if (n == 0) break;
    if (have == sizeof buf) { ok = false; break; }  // a line longer than the buffer: not maps
  }
  close(fd);
  *out = Merge(*out);
  return ok;
}

// ---- Region -------------------------------------------------------------------------------

Region::~Region() {
  if (holder && env) napi_delete_reference(env, holder);
  Unmap();
  // kept pieces: munmap them now that no buffer can reach them; orphaned ones stay.
  for (const auto& [s, e] : Intersect(kept, Complement(orphaned, length)))
    munmap(reinterpret_cast<void*>(base + s), e - s);
  if (!kept.empty()) g_keeping--;
}

void Region::Unmap() {
  if (!live) return;
  // Teardown and collection: nothing can reach a local view any more, so only orphaned
  // pages (escaped views of a thread gone) stay. munmap of a range we mapped fails only at
  // vm.max_map_count; count only what the kernel accepted.
  bool ok = true;
  for (const auto& [s, e] : Complement(orphaned, length))
    ok &= munmap(reinterpret_cast<void*>(base + s), e - s) == 0;
  if (ok) g_unmapped++;
  live = false;
  committed.clear();
}

bool Region::Committed(uint64_t offset, uint64_t len) const {
  auto it = committed.upper_bound(offset);
  if (it == committed.begin()) return false;
  --it;
  // `it` starts at or before offset; it may also end before it (no subtraction that can wrap).
  return it->second > offset && it->second - offset >= len;
}

void Region::SetCommitted(uint64_t offset, uint64_t len, bool on) {
  uint64_t lo = offset, hi = offset + len;
  // Cut every interval overlapping or touching [lo, hi), keeping the parts outside it.
  auto it = committed.upper_bound(lo);
  if (it != committed.begin()) --it;
  while (it != committed.end() && it->first <= hi) {
    uint64_t s = it->first, e = it->second;
    if (e < lo) { ++it; continue; }
    it = committed.erase(it);
    if (on) {  // merge
      lo = std::min(lo, s);
      hi = std::max(hi, e);
    } else {
      if (s < lo) committed.emplace(s, lo);
      if (e > hi) committed.emplace(hi, e);
    }
  }
  if (on) committed.emplace(lo, hi);
}

static bool Overlaps(const Region::View& v, uint64_t offset, uint64_t len) {
  return v.length && v.offset < offset + len && offset < v.offset + v.length;
}

// A view is local while its ArrayBuffer is alive here and not detached: we can detach it.
// Otherwise it was detached by someone else (ArrayBuffer.prototype.transfer) or collected
// while its backing store lives on (its finalizer, which runs when the store is freed, has
// not): another buffer may still use these pages.
static bool Local(napi_env env, const Region::View& v, napi_value* ab) {
  *ab = nullptr;
  if (!v.ref) return false;
  bool detached = true;
  napi_get_reference_value(env, v.ref, ab);
  if (*ab) napi_is_detached_arraybuffer(env, *ab, &detached);
  return *ab && !detached;
}

// Let the handle's holder go of a view's ArrayBuffer: its slot is emptied (defined, never set:
// no setter can run) and reused. A holder already collected needs nothing.
static void ClearSlot(napi_env env, Region& r, Region::View& v) {
  if (v.slot < 0) return;
  napi_value holder = nullptr;
  if (r.holder) napi_get_reference_value(env, r.holder, &holder);
  if (holder) {
    std::string key = std::to_string(v.slot);
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_property_descriptor d{key.c_str(), nullptr, nullptr, nullptr, nullptr, undef,
                               static_cast<napi_property_attributes>(napi_writable | napi_configurable), nullptr};
    napi_define_properties(env, holder, 1, &d);
  }
  r.freeSlots.push_back(static_cast<uint32_t>(v.slot));
  r.pinned--;
  v.slot = -1;
}

// The view's ArrayBuffer is no longer needed to tell its state: let it be collected.
static void DropRef(napi_env env, Region& r, Region::View& v) {
  if (v.ref) napi_delete_reference(env, v.ref);
  v.ref = nullptr;
  ClearSlot(env, r, v);
}

Ranges Region::EscapedViews(napi_env env, uint64_t offset, uint64_t len) {
  Ranges out;
  napi_value ab;
  for (auto& v : views) {
    if (!Overlaps(v, offset, len) || Local(env, v, &ab)) continue;
    if (ab) {  // alive and detached, not by us: transferred; the old buffer tells nothing more
      v.transferred = true;
      DropRef(env, *this, v);
    }
    out.emplace_back(v.offset, v.offset + v.length);
  }
  return Merge(std::move(out));
}

// Detached here, on the view's thread: its store is freed now and its finalizer queued on
// this thread; the view overlaps nothing from now on.
static void DetachView(napi_env env, Region& r, Region::View& v, napi_value ab) {
  napi_detach_arraybuffer(env, ab);
  v.length = 0;
  DropRef(env, r, v);
}

void Region::DetachViews(napi_env env, uint64_t offset, uint64_t len) {
  napi_value ab;
  for (auto& v : views)
    if (Overlaps(v, offset, len) && Local(env, v, &ab)) DetachView(env, *this, v, ab);
}

void Region::Unpin(napi_env env, View& v) {
  if (v.slot < 0) return;
  napi_value ab;
  if (!Local(env, v, &ab) && ab && v.length) {
    v.transferred = true;
    DropRef(env, *this, v);
    return;
  }
  ClearSlot(env, *this, v);
}

void Region::Settle(uint64_t offset, uint64_t len) {
  Ranges held = orphaned;  // what other views (escaped ones) still hold, and orphans
  for (const auto& v : views)
    if (v.length) held.emplace_back(v.offset, v.offset + v.length);
  Ranges free = Complement(Merge(std::move(held)), length);
  if (!live) {
    if (kept.empty()) return;
    Ranges left = Intersect(kept, Complement(free, length));
    for (const auto& [s, e] : Intersect(kept, free))
      if (munmap(reinterpret_cast<void*>(base + s), e - s) != 0) left.emplace_back(s, e);  // retried by ~Region
    kept = Merge(std::move(left));
    if (kept.empty()) g_keeping--;
    return;
  }
  // Pages decommit left read/write for this view alone: take their access away now.
  Ranges uncommitted = Complement(Ranges(committed.begin(), committed.end()), length);
  for (const auto& [s, e] : Intersect(Intersect(uncommitted, free), {{offset, offset + len}})) {
    mprotect(reinterpret_cast<void*>(base + s), e - s, PROT_NONE);  // on failure the books still claim no access
    madvise(reinterpret_cast<void*>(base + s), e - s, MADV_DONTNEED);
  }
}

void Region::Rederive(napi_env env) {
  Ranges rw, books;
  for (const auto& [s, e] : committed) books.emplace_back(s, e);
  committed.clear();
  if (KernelReadWrite(base, length, &rw))
    for (const auto& [s, e] : Intersect(books, rw)) committed.emplace(s, e);
  // Whatever is not committed now has no view over it.
  for (const auto& [s, e] : Complement(Ranges(committed.begin(), committed.end()), length)) DetachViews(env, s, e - s);
}

// ---- Registry and env teardown ------------------------------------------------------------

Registry::~Registry() {
  for (auto& [id, weak] : regions)
    if (auto r = weak.lock()) r->Unmap();
}

static uint64_t Total(const Ranges& r) {
  uint64_t n = 0;
  for (const auto& [s, e] : r) n += e - s;
  return n;
}

// Pages that must stay mapped for good: a buffer in another thread may still use them, and
// once this env is gone Node never says when it stops (see mapping.h).
static void Orphan(Region& r, Ranges more) {
  uint64_t before = Total(r.orphaned);
  more.insert(more.end(), r.orphaned.begin(), r.orphaned.end());
  r.orphaned = Merge(std::move(more));
  g_orphaned += Total(r.orphaned) - before;
}

// Whether this env can still run JS (no while it is being torn down).
static bool EnvAlive(napi_env env) {
  napi_value o;
  if (napi_create_object(env, &o) != napi_ok) return false;
  if (napi_set_named_property(env, o, "p", o) == napi_ok) return true;
  napi_value pending;
  bool has = false;
  if (napi_is_exception_pending(env, &has) == napi_ok && has) napi_get_and_clear_last_exception(env, &pending);
  return false;
}

// Env teardown (a cleanup hook): views still local are detached and their pages freed; escaped
// ones, and pages kept for them, become orphans, so no later finalizer can unmap them. Node
// runs cleanup hooks newest first and calls every buffer's finalizer from a hook of its own,
// registered when the buffer was made, after detaching it, whether or not another thread still
// holds its backing store. View() registers this hook again after each buffer, so it runs
// before all of those and still sees which views were transferred (detached by someone else)
// and which are merely local. Finalizers of stores already freed ran before any hook (Node
// runs pending native immediates first), so an unpinned view collected by now escaped.
static void ForgetLastHandle(napi_env env);
static void Snapshot(Registry& reg);

static void Teardown(void* arg) {
  auto* reg = static_cast<Registry*>(arg);
  Snapshot(*reg);
  reg->tornDown = true;
  ForgetLastHandle(reg->env);
  napi_env env = reg->env;
  napi_handle_scope scope;
  bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
  for (auto& [id, weak] : reg->regions) {
    auto r = weak.lock();
    if (!r) continue;
    Ranges escaped = scoped ? r->EscapedViews(env, 0, r->length) : Ranges{{0, r->length}};
    escaped.insert(escaped.end(), r->kept.begin(), r->kept.end());
    Orphan(*r, std::move(escaped));
    if (scoped) r->DetachViews(env, 0, r->length);
    r->Unmap();
  }
  if (scoped) napi_close_handle_scope(env, scope);
}

static void Cleanup(Napi::Env, Registry* r) { delete r; }

// Which views were transferred, read while every view's ArrayBuffer still says so: once, at the
// start of env teardown, before Node detaches any of them.
static void Snapshot(Registry& reg) {
  if (reg.snapshotted) return;
  reg.snapshotted = true;
  napi_handle_scope scope;
  if (napi_open_handle_scope(reg.env, &scope) != napi_ok) return;
  for (auto& [id, weak] : reg.regions)
    if (auto r = weak.lock())
      for (auto& v : r->views) {
        napi_value ab;
        if (v.length && !Local(reg.env, v, &ab) && ab) v.transferred = true;
      }
  napi_close_handle_scope(reg.env, scope);
}

// The sentinels: external buffers, one made with the registry and held for the env's life, one
// made again after every view and held until the next replaces it. Node 20 finalizes an env's
// buffers newest first (each right after detaching it) before any cleanup hook, so the newest
// sentinel's finalizer runs first, while the views' buffers are still as JS left them; the
// oldest one covers a runtime that goes oldest first. Later sentinel finalizers are no-ops.
static uint8_t g_sentinelByte;
static void SentinelFinalized(napi_env env, void*, void*) {
  Registry* reg = nullptr;
  if (napi_get_instance_data(env, reinterpret_cast<void**>(&reg)) == napi_ok && reg && !EnvAlive(env)) Snapshot(*reg);
}

// The main thread's env ends with the process: nothing outlives it to orphan pages for, so it
// needs no sentinel (one more buffer a view). Unknown (no process.getBuiltinModule): a worker.
static bool IsMainThread(Napi::Env env) {
  try {
    Napi::Value process = env.Global().Get("process");
    if (!process.IsObject()) return false;
    Napi::Value get = process.As<Napi::Object>().Get("getBuiltinModule");
    if (!get.IsFunction()) return false;
    Napi::Value wt = get.As<Napi::Function>().Call(process, {Napi::String::New(env, "worker_threads")});
    if (!wt.IsObject()) return false;
    Napi::Value main = wt.As<Napi::Object>().Get("isMainThread");
    return main.IsBoolean() && main.As<Napi::Boolean>().Value();
  } catch (const Napi::Error&) {
    return false;
  }
}

// The sentinel replaced is detached here, never left to the collector: Node 20 frees an
// external buffer's bookkeeping from V8's concurrent ArrayBuffer sweeper, racing a worker's env
// teardown that may be reading it (use-after-free). Detached on this thread, its store is freed
// here and its finalizer queued on this thread.
static void RenewSentinel(napi_env env, napi_ref* ref) {
  napi_value sentinel;
  if (napi_create_external_arraybuffer(env, &g_sentinelByte, 1, SentinelFinalized, nullptr, &sentinel) != napi_ok) return;
  if (*ref) {
    napi_value old = nullptr;
    if (napi_get_reference_value(env, *ref, &old) == napi_ok && old) napi_detach_arraybuffer(env, old);
    napi_delete_reference(env, *ref);
  }
  *ref = nullptr;
  napi_create_reference(env, sentinel, 1, ref);
}

Registry& RegistryOf(Napi::Env env) {
  auto* r = env.GetInstanceData<Registry>();
  if (!r) {
    r = new Registry();
    r->env = env;
    env.SetInstanceData<Registry, Cleanup>(r);
    napi_add_env_cleanup_hook(env, Teardown, r);
    r->worker = !IsMainThread(env);
    if (r->worker) RenewSentinel(env, &r->firstSentinel);
  }
  return *r;
}

// ---- arguments ----------------------------------------------------------------------------

struct Handle {
  std::shared_ptr<Region> region;
};

// The handles this copy of the addon made on this thread and that are still alive. A wrapped
// object's pointer counts only if it is in here: one made by another copy of the addon (another
// hugespan in the process) or by any other addon is refused, never cast. One hash lookup is far
// cheaper than a type-tag check (a private-symbol lookup per call, on every madvise).
static thread_local std::unordered_set<const Handle*> t_handles;

// The last handle resolved on this thread, held weakly: a loop over one mapping (the heap's
// arena) then costs a reference read and an identity compare per call instead of an unwrap.
// The weak reference is empty once the object is collected, before its Handle can be freed.
struct LastHandle {
  napi_env env = nullptr;
  napi_ref ref = nullptr;
  Handle* handle = nullptr;
};
static thread_local LastHandle t_last;

// An env that goes away takes its references with it: never read one after (a new env on this
// thread could have the same address).
static void ForgetLastHandle(napi_env env) {
  if (t_last.env == env) t_last = {};
}

static Handle* Unwrap(napi_env env, napi_value v) {
  if (t_last.env == env && t_last.ref) {
    napi_value last = nullptr;
    bool same = false;
    if (napi_get_reference_value(env, t_last.ref, &last) == napi_ok && last && napi_strict_equals(env, v, last, &same) == napi_ok && same)
      return t_last.handle;
  }
  void* data = nullptr;
  if (napi_unwrap(env, v, &data) != napi_ok || !data) return nullptr;
  auto* h = static_cast<Handle*>(data);
  if (!t_handles.count(h)) return nullptr;
  if (t_last.ref && t_last.env == env) napi_delete_reference(env, t_last.ref);
  t_last = {env, nullptr, nullptr};
  if (napi_create_reference(env, v, 0, &t_last.ref) == napi_ok) t_last.handle = h;
  return h;
}

// The Region behind the handle at i: made by this copy of the addon, and still mapped. The
// handle is an argument of the running call, so its Region lives at least as long as the call:
// a plain pointer, no reference count touched on the hot path.
static Region* ArgRegion(const Napi::CallbackInfo& info, size_t i, bool mustBeLive = true) {
  Napi::Env env = info.Env();
  Handle* h = Unwrap(env, info[i]);
  if (!h)
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE",
                   "The \"handle\" argument must be a mapping handle returned by this addon's map()");
  Region* region = h->region.get();
  if (mustBeLive && !region->live)
    ThrowError(env, "ERR_HUGESPAN_UNMAPPED",
               "This mapping (" + Hex(region->base) + "+" + std::to_string(region->length) +
                   ") was unmapped; its handle reaches no memory");
  return region;
}

struct Span {
  Region* region;
  uint64_t offset, len;
  uint64_t addr() const { return region->base + offset; }
  void* ptr() const { return reinterpret_cast<void*>(addr()); }
};

// (handle, offset, length) at i: page aligned, length > 0, wholly inside the handle's Region.
static Span ArgSpan(const Napi::CallbackInfo& info, size_t i) {
  Region* region = ArgRegion(info, i);
  uint64_t offset = ArgPageAligned(info, i + 1, "offset");
  uint64_t len = ArgLength(info, i + 2, "length");
  if (offset > region->length || len > region->length - offset)  // no sum that can wrap
    ThrowRangeError(info.Env(), "ERR_OUT_OF_RANGE",
                    "The range offset " + std::to_string(offset) + " + length " + std::to_string(len) +
                        " is outside this mapping of " + std::to_string(region->length) + " bytes");
  return {region, offset, len};
}

static Span ArgCommittedSpan(const Napi::CallbackInfo& info, size_t i) {
  Span s = ArgSpan(info, i);
  if (!s.region->Committed(s.offset, s.len))
    ThrowRangeError(info.Env(), "ERR_HUGESPAN_NOT_COMMITTED",
                    "The range offset " + std::to_string(s.offset) + " + length " + std::to_string(s.len) +
                        " is not wholly committed (read/write); touching it would fault");
  return s;
}

static SysContext Ctx(uint64_t addr, uint64_t len, const char* detail = nullptr) {
  SysContext c;
  c.hasRange = true;
  c.address = addr;
  c.length = len;
  c.detail = detail;
  return c;
}

// ---- exports ------------------------------------------------------------------------------

// map(length, align, commit) -> handle { address, length }: reserve `length` bytes with no
// access (or read/write when commit), the start aligned to `align` (a power of two >= page).
Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t len = ArgLength(info, 0, "length");
  uint64_t align = info[1].IsUndefined() ? PageSize() : ArgUint(info, 1, "align");
  if (align < PageSize() || (align & (align - 1)) != 0 || align > (1ull << 30))
    ThrowRangeError(env, "ERR_INVALID_ARG_VALUE",
                    "The \"align\" argument must be a power of two from the page size to 1 GiB. Received " +
                        std::to_string(align));
  bool commit = ArgBool(info, 2, "commit", false);
  if (len > g_maxMap || len + align - PageSize() > g_maxMap)
    ThrowRangeError(env, "ERR_OUT_OF_RANGE",
                    "The \"length\" argument (with its alignment) must be at most " + std::to_string(g_maxMap) +
                        " bytes, the address space this process can be given. Received " + std::to_string(len));

  // Over-reserve by align - page (len < 2^53, align <= 2^30: no wrap), then trim both ends:
  // the kernel gives page alignment only.
  uint64_t span = len + align - PageSize();
  void* p = mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) ThrowSystemError(env, errno, "mmap", Ctx(0, len));
  uint64_t raw = reinterpret_cast<uint64_t>(p);
  uint64_t base = (raw + align - 1) & ~(align - 1);
  if (base > raw) munmap(p, base - raw);
  if (raw + span > base + len) munmap(reinterpret_cast<void*>(base + len), raw + span - (base + len));
  if (commit && mprotect(reinterpret_cast<void*>(base), len, PROT_READ | PROT_WRITE) != 0) {
    int err = errno;
    munmap(reinterpret_cast<void*>(base), len);
    ThrowSystemError(env, err, "mprotect", Ctx(base, len));
  }

  g_mapped++;
  std::shared_ptr<Region> region(new Region());  // not make_shared: see Registry::regions
  region->id = g_nextId++;
  region->base = base;
  region->length = len;
  region->env = env;
  if (commit) region->SetCommitted(0, len, true);

  Registry& reg = RegistryOf(env);
  reg.regions[region->id] = region;
  // Forget regions whose JS objects were all collected, amortised over insertions.
  static thread_local size_t pruneAt = 64;
  if (reg.regions.size() >= pruneAt) {
    for (auto it = reg.regions.begin(); it != reg.regions.end();)
      it = it->second.expired() ? reg.regions.erase(it) : std::next(it);
    pruneAt = std::max<size_t>(64, reg.regions.size() * 2);
  }

  Napi::Object handle = Napi::Object::New(env);
  handle.DefineProperties({
      Napi::PropertyDescriptor::Value("address", Napi::Number::New(env, static_cast<double>(base)), napi_enumerable),
      Napi::PropertyDescriptor::Value("length", Napi::Number::New(env, static_cast<double>(len)), napi_enumerable),
  });
  auto* h = new Handle{region};
  auto finalize = [](napi_env env, void* d, void*) {
    auto* h = static_cast<Handle*>(d);
    t_handles.erase(h);
    delete h;  // the views' holder went with the handle object
  };
  if (napi_wrap(env, handle, h, finalize, nullptr, nullptr) != napi_ok) {
    delete h;  // the region goes with it (unmapped by ~Region)
    ThrowError(env, "ERR_HUGESPAN_INTERNAL", "napi_wrap failed");
  }
  t_handles.insert(h);
  return handle;
}

// unmap(handle): give the memory back. Either the whole mapping is gone (views empty, the
// handle dead) or, when the kernel refuses the first munmap, nothing changed. Pages under an
// escaped view stay mapped until its last buffer is freed.
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = ArgRegion(info, 0);
  Ranges escaped = r->EscapedViews(env, 0, r->length);
  Ranges pieces = Complement(escaped, r->length);
  size_t done = 0;
  int err = 0;
  for (; done < pieces.size(); done++)
    if (munmap(reinterpret_cast<void*>(r->base + pieces[done].first), pieces[done].second - pieces[done].first) != 0) {
      err = errno;
      break;
    }
  if (err && done == 0) {
    // The kernel splits before it unmaps, so a refused first munmap unmapped nothing; the
    // books are re-derived all the same rather than trusted.
    r->Rederive(env);
    ThrowSystemError(env, err, "munmap", Ctx(r->base, r->length));
  }
  // From here the mapping is retired: pieces the kernel refused are kept and retried when
  // the Region is freed, like the pages of escaped views.
  r->DetachViews(env, 0, r->length);
  r->kept = escaped;
  for (size_t k = done; k < pieces.size(); k++) r->kept.push_back(pieces[k]);
  r->kept = Merge(std::move(r->kept));
  if (!r->kept.empty()) g_keeping++;
  if (!err) g_unmapped++;
  r->live = false;
  r->committed.clear();
  if (err)
    ThrowSystemError(env, err, "munmap", Ctx(r->base + pieces[done].first, pieces[done].second - pieces[done].first,
                                             "mapping retired; the rest is unmapped when its handle is freed"));
  return env.Undefined();
}

// commit(handle, offset, length): read/write. On failure the books follow the kernel.
Napi::Value Commit(const Napi::CallbackInfo& info) {
  Span s = ArgSpan(info, 0);
  if (mprotect(s.ptr(), s.len, PROT_READ | PROT_WRITE) != 0) {
    int err = errno;
    s.region->SetCommitted(s.offset, s.len, true);  // candidates; Rederive keeps what the kernel gave
    s.region->Rederive(info.Env());
    ThrowSystemError(info.Env(), err, "mprotect", Ctx(s.addr(), s.len));
  }
  s.region->SetCommitted(s.offset, s.len, true);
  return info.Env().Undefined();
}

// decommit(handle, offset, length): take access away, then drop the pages. Access leaves the
// books and the views before the syscall; mprotect is not atomic across VMAs, so on failure
// the books are re-derived from the kernel. Pages an escaped view still covers keep their
// access (a buffer we can no longer detach must never fault) but are dropped all the same.
Napi::Value Decommit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Span s = ArgSpan(info, 0);
  Region& r = *s.region;
  std::map<uint64_t, uint64_t> before = r.committed;
  Ranges escaped = r.EscapedViews(env, s.offset, s.len);
  r.SetCommitted(s.offset, s.len, false);
  r.DetachViews(env, s.offset, s.len);
  Ranges inRange = Intersect(Complement(escaped, r.length), {{s.offset, s.offset + s.len}});
  for (const auto& [a, b] : inRange)
    if (mprotect(reinterpret_cast<void*>(r.base + a), b - a, PROT_NONE) != 0) {
      int err = errno;
      r.committed = before;
      r.Rederive(env);
      ThrowSystemError(env, err, "mprotect", Ctx(r.base + a, b - a));
    }
  if (madvise(s.ptr(), s.len, MADV_DONTNEED) != 0) ThrowSystemError(env, errno, "madvise", Ctx(s.addr(), s.len, "dontneed"));
  return env.Undefined();
}

struct AdviceName {
  const char* name;
  int advice;
};
static const AdviceName kAdvice[] = {
    {"normal", MADV_NORMAL},     {"willneed", MADV_WILLNEED},       {"dontneed", MADV_DONTNEED},
    {"free", MADV_FREE},         {"hugepage", MADV_HUGEPAGE},       {"nohugepage", MADV_NOHUGEPAGE},
    {"collapse", MADV_COLLAPSE},
};

// madvise(handle, offset, length, advice)
Napi::Value Madvise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Span s = ArgSpan(info, 0);
  // The advice name is read into a stack buffer: this call is on the hot path of every
  // sysUsed/sysUnused, and a std::string per call is a measurable share of it.
  if (!info[3].IsString())
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"advice\" argument must be of type string");
  char name[16];
  size_t len = 0;
  napi_get_value_string_utf8(env, info[3], name, sizeof name, &len);
  const AdviceName* a = nullptr;
  for (const auto& k : kAdvice)
    if (len == strlen(k.name) && memcmp(name, k.name, len) == 0) a = &k;
  if (!a)
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                   "The \"advice\" argument must be one of normal, willneed, dontneed, free, hugepage, nohugepage, "
                   "collapse. Received '" + info[3].As<Napi::String>().Utf8Value() + "'");
  int rc = madvise(s.ptr(), s.len, a->advice);
  // MADV_COLLAPSE's EAGAIN is transient (a page was briefly locked or isolated): retry once.
  if (rc != 0 && errno == EAGAIN && a->advice == MADV_COLLAPSE) rc = madvise(s.ptr(), s.len, a->advice);
  if (rc != 0) ThrowSystemError(env, errno, "madvise", Ctx(s.addr(), s.len, a->name));
  return env.Undefined();
}

static uint64_t MaxTouch() { return kMaxTouchPages * PageSize(); }

// A committed span no longer than one touch/readPages call may walk.
static Span ArgWalkSpan(const Napi::CallbackInfo& info) {
  Span s = ArgSpan(info, 0);
  if (s.len > MaxTouch())
    ThrowRangeError(info.Env(), "ERR_OUT_OF_RANGE",
                    "The \"length\" argument must be at most " + std::to_string(MaxTouch()) + " bytes (" +
                        std::to_string(kMaxTouchPages) + " pages) a call. Received " + std::to_string(s.len));
  if (!s.region->Committed(s.offset, s.len))
    ThrowRangeError(info.Env(), "ERR_HUGESPAN_NOT_COMMITTED",
                    "The range offset " + std::to_string(s.offset) + " + length " + std::to_string(s.len) +
                        " is not wholly committed (read/write); touching it would fault");
  return s;
}

// touch(handle, offset, length[, byte]): write one byte per OS page (fault the range in).
Napi::Value Touch(const Napi::CallbackInfo& info) {
  uint64_t byte = info[3].IsUndefined() ? 1 : ArgUint(info, 3, "byte") & 0xff;
  Span s = ArgWalkSpan(info);
  volatile uint8_t* p = reinterpret_cast<volatile uint8_t*>(s.addr());
  for (uint64_t off = 0; off < s.len; off += PageSize()) p[off] = static_cast<uint8_t>(byte);
  return info.Env().Undefined();
}

// readPages(handle, offset, length) -> sum of the first byte of every OS page.
Napi::Value ReadPages(const Napi::CallbackInfo& info) {
  Span s = ArgWalkSpan(info);
  const volatile uint8_t* p = reinterpret_cast<const volatile uint8_t*>(s.addr());
  uint64_t sum = 0;
  for (uint64_t off = 0; off < s.len; off += PageSize()) sum += p[off];
  return Napi::Number::New(info.Env(), static_cast<double>(sum));
}

// The most work one randomReads call may be asked for: ~2.7e8 reads is seconds at memory
// speed and under a minute at the worst TLB-miss cost; more is a loop of calls.
static constexpr uint64_t kMaxReads = 1ull << 28;
static constexpr size_t kMaxRanges = 1u << 20;

// randomReads(handles[], ranges: Float64Array [offset, length, ...], count, seed)
//   -> { ns, reads, checksum }
// `count` random 8-byte reads spread uniformly over the bytes of the ranges (range k inside
// handles[k]). A range is picked in O(1) whatever their number (Vose's alias table, built
// once per call); the time is taken here so that no JS/C++ crossing is in the measurement.
Napi::Value RandomReads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray())
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"handles\" argument must be an array of mapping handles");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"ranges\" argument must be a Float64Array of offset, length pairs");
  Napi::Array handles = info[0].As<Napi::Array>();
  size_t n = handles.Length();
  auto pairs = [&]() {
    return info[1].As<Napi::TypedArray>().ElementLength() == 2 * n;
  };
  if (n == 0 || n > kMaxRanges || !pairs())
    ThrowRangeError(env, "ERR_INVALID_ARG_VALUE",
                    "The \"ranges\" argument must hold one offset, length pair per handle (1 to " +
                        std::to_string(kMaxRanges) + " of them)");
  uint64_t count = ArgUint(info, 2, "count");
  if (count > kMaxReads)
    ThrowRangeError(env, "ERR_OUT_OF_RANGE",
                    "The \"count\" argument must be at most " + std::to_string(kMaxReads) + " (2^28) reads a call. Received " +
                        std::to_string(count));
  uint64_t seed = ArgUint(info, 3, "seed") | 1;

  // Every element first, while nothing native is held: an accessor element (or one inherited
  // through a hole) runs JS here, and that JS may unmap, remap or detach anything. Then the
  // ranges are copied, after the last JS ran; from there on no JS runs until the call returns.
  std::vector<napi_value> elems(n);
  for (size_t i = 0; i < n; i++) elems[i] = handles.Get(static_cast<uint32_t>(i));
  if (!info[1].IsTypedArray() || !pairs())
    ThrowRangeError(env, "ERR_INVALID_ARG_VALUE",
                    "The \"ranges\" argument was detached or resized while the handles were read");
  std::vector<double> flat(2 * n);
  {
    Napi::Float64Array arr = info[1].As<Napi::Float64Array>();
    std::copy(arr.Data(), arr.Data() + 2 * n, flat.begin());
  }

  std::vector<uint64_t> addrs(n), lens(n);
  std::vector<std::shared_ptr<Region>> hold(n);  // nothing can unmap them mid-call, but be plain
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    Handle* h = Unwrap(env, elems[i]);
    if (!h) ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "handles[" + std::to_string(i) + "] is not a mapping handle of this addon");
    auto r = h->region;
    double o = flat[2 * i], l = flat[2 * i + 1];
    const std::string at = "ranges[" + std::to_string(i) + "]";
    if (!r->live) ThrowError(env, "ERR_HUGESPAN_UNMAPPED", at + ": its mapping was unmapped");
    if (!(o >= 0 && l > 0 && o <= 9007199254740991.0 && l <= 9007199254740991.0 && o == (double)(uint64_t)o &&
          l == (double)(uint64_t)l) ||
        (uint64_t)o % PageSize() || (uint64_t)l % PageSize())
      ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", at + " is not a page-aligned offset and length");
    uint64_t off = (uint64_t)o, len = (uint64_t)l;
    if (off > r->length || len > r->length - off)
      ThrowRangeError(env, "ERR_OUT_OF_RANGE", at + " is outside its mapping");
    if (!r->Committed(off, len)) ThrowRangeError(env, "ERR_HUGESPAN_NOT_COMMITTED", at + " is not committed");
    if (__builtin_add_overflow(total, len, &total))
      ThrowRangeError(env, "ERR_OUT_OF_RANGE", "The ranges add up to more than 2^64 bytes");
    addrs[i] = r->base + off;
    lens[i] = len;
    hold[i] = std::move(r);
  }

  // Vose's alias method: range k is drawn with probability lens[k] / total.
  std::vector<double> prob(n);
  std::vector<uint32_t> alias(n);
  {
    std::vector<double> p(n);
    std::vector<uint32_t> small, large;
    for (size_t i = 0; i < n; i++) {
      p[i] = static_cast<double>(lens[i]) / static_cast<double>(total) * static_cast<double>(n);
      (p[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      uint32_t s = small.back(), l = large.back();
      small.pop_back();
      prob[s] = p[s];
      alias[s] = l;
      p[l] = (p[l] + p[s]) - 1.0;
      if (p[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    for (uint32_t i : large) prob[i] = 1.0, alias[i] = i;
    for (uint32_t i : small) prob[i] = 1.0, alias[i] = i;  // rounding leftovers
  }

  uint64_t x = seed, sum = 0;
  auto next = [&x]() {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;  // xorshift64
    return x;
  };
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (uint64_t c = 0; c < count; c++) {
    uint64_t a = next(), b = next();
    size_t k = n == 1 ? 0 : static_cast<size_t>(a % n);
    if (n != 1 && static_cast<double>(b >> 11) * 0x1.0p-53 >= prob[k]) k = alias[k];
    uint64_t off = (next() % lens[k]) & ~7ull;  // lens[k] >= one page: never zero
    sum += *reinterpret_cast<const volatile uint64_t*>(addrs[k] + off);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  Napi::Object out = Napi::Object::New(env);
  out.Set("ns", static_cast<double>((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)));
  out.Set("reads", static_cast<double>(count));
  out.Set("checksum", static_cast<double>(sum & 0xffffffffffffull));
  return out;
}

// Pins a view's ArrayBuffer to its handle object: a holder array under a symbol only this copy
// knows, non-configurable on the handle, the buffer in a slot defined (not set) on it. The
// handle and its dropped views are then collected together, in one collection; a caller who
// empties the holder by hand only loses the at-once guarantee, never safety (see mapping.h).
static void Pin(napi_env env, napi_value handle, Region& r, Region::View& v, napi_value ab) {
  Registry& reg = RegistryOf(env);
  napi_value holder = nullptr, key = nullptr;
  if (r.holder) napi_get_reference_value(env, r.holder, &holder);
  if (!holder) {
    if (!reg.holderKey) {
      napi_value sym;
      if (napi_create_symbol(env, nullptr, &sym) != napi_ok || napi_create_reference(env, sym, 1, &reg.holderKey) != napi_ok) return;
    }
    napi_get_reference_value(env, reg.holderKey, &key);
    if (!key || napi_create_array(env, &holder) != napi_ok) return;
    napi_property_descriptor d{nullptr, key, nullptr, nullptr, nullptr, holder, napi_default, nullptr};
    if (napi_define_properties(env, handle, 1, &d) != napi_ok) return;
    if (r.holder) napi_delete_reference(env, r.holder);
    r.holder = nullptr;
    if (napi_create_reference(env, holder, 0, &r.holder) != napi_ok) return;
  }
  uint32_t slot;
  if (!r.freeSlots.empty()) {
    slot = r.freeSlots.back();
    r.freeSlots.pop_back();
  } else {
    slot = r.slots++;
  }
  std::string name = std::to_string(slot);
  napi_property_descriptor d{name.c_str(), nullptr, nullptr, nullptr, nullptr, ab,
                             static_cast<napi_property_attributes>(napi_writable | napi_configurable), nullptr};
  if (napi_define_properties(env, holder, 1, &d) != napi_ok) {
    r.freeSlots.push_back(slot);
    return;
  }
  v.slot = slot;
  r.pinned++;
}

struct ViewHint {
  std::shared_ptr<Region> region;  // a live view keeps its memory mapped
  uint64_t id;
};

// Node calls this in three cases. (1) The backing store was freed (no buffer anywhere reaches
// these pages), from a native immediate while the env runs: the pages only this view held are
// given back (Settle). (2) While the env is being torn down, before any cleanup hook (Node 20
// finalizes every Node-API buffer of the env first, whether or not its store lives on in
// another thread): the view's own ArrayBuffer tells (it is pinned, so still there): still
// attached, it never left; detached by someone else (or already collected, unknown), its
// pages are orphaned before the Region can go. (3) From Node's per-buffer cleanup hook, after
// ours (see Teardown), which has already orphaned what escaped: nothing more to do.
static void FinalizeView(napi_env env, void*, void* data) {
  auto* hint = static_cast<ViewHint*>(data);
  Region& r = *hint->region;
  auto it = std::find_if(r.views.begin(), r.views.end(), [&](const Region::View& v) { return v.id == hint->id; });
  if (it != r.views.end()) {
    Region::View v = *it;
    Registry* reg = nullptr;
    napi_get_instance_data(env, reinterpret_cast<void**>(&reg));
    bool settle = false;
    if (v.length && !(reg && reg->tornDown)) {
      if (EnvAlive(env)) {
        settle = true;
      } else {
        if (reg) Snapshot(*reg);  // when the sentinel did not come first: this view reads as transferred
        v = *it;
        if (v.transferred || !v.ref) Orphan(r, {{v.offset, v.offset + v.length}});  // else: never left, unmapped with its Region
      }
    }
    DropRef(env, r, *it);
    r.views.erase(it);
    if (settle) r.Settle(v.offset, v.length);
  }
  delete hint;
}

// view(handle, offset, length) -> Uint8Array over committed memory, zero-copy.
Napi::Value View(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Span s = ArgCommittedSpan(info, 0);
  // Past the runtime's limit Node refuses the buffer after running our finalizer (Node 20:
  // ERR_BUFFER_TOO_LARGE above 4 GiB); refuse before anything is made.
  if (s.len > g_maxView)
    ThrowRangeError(env, "ERR_INVALID_ARG_VALUE",
                    "The \"length\" argument must be at most " + std::to_string(g_maxView) +
                        " bytes for a view (this runtime's largest ArrayBuffer). Received " + std::to_string(s.len));
  Region& r = *s.region;
  uint64_t id = r.nextViewId++;
  r.views.push_back({nullptr, s.offset, s.len, id});
  // The region from the span, not a second unwrap (which fails once a terminate is under way).
  auto* hint = new ViewHint{r.shared_from_this(), id};  // a live view keeps its memory
  napi_value ab;
  if (napi_create_external_arraybuffer(env, s.ptr(), s.len, FinalizeView, hint, &ab) != napi_ok) {
    // Node may have made the buffer all the same (a worker terminated mid-call fails the
    // call after the buffer exists) and will then call FinalizeView with the hint at teardown:
    // the hint is never freed here (FinalizeView frees it, finding no entry); the entry goes.
    auto it = std::find_if(r.views.begin(), r.views.end(), [id](const Region::View& v) { return v.id == id; });
    if (it != r.views.end()) r.views.erase(it);
    napi_value pending;
    napi_get_and_clear_last_exception(env, &pending);
    ThrowError(env, "ERR_HUGESPAN_INTERNAL", "the runtime refused an external ArrayBuffer of " + std::to_string(s.len) + " bytes");
  }
  // Pinned while the handle lives (see mapping.h); past the bound, the oldest is let go: on the
  // main thread to the collector; in a worker detached here, never left to the collector (Node
  // 20 frees an external buffer's bookkeeping from V8's concurrent sweeper, racing the worker's
  // env teardown that reads it: a use-after-free inside Node).
  Registry& reg = RegistryOf(env);
  if (r.pinned >= kMaxPinnedViews)
    for (auto& v : r.views)
      if (v.slot >= 0) {
        napi_value old;
        if (reg.worker && Local(env, v, &old))
          DetachView(env, r, v, old);
        else
          r.Unpin(env, v);
        break;
      }
  auto it = std::find_if(r.views.begin(), r.views.end(), [id](const Region::View& v) { return v.id == id; });
  napi_create_reference(env, ab, 0, &it->ref);
  Pin(env, info[0], r, *it, ab);
  // Our teardown hook must run before Node's hook for this buffer: register it again, newest.
  napi_remove_env_cleanup_hook(env, Teardown, &reg);
  napi_add_env_cleanup_hook(env, Teardown, &reg);
  if (reg.worker) RenewSentinel(env, &reg.sentinel);
  return Napi::Uint8Array::New(env, s.len, Napi::ArrayBuffer(env, ab), 0);
}

// A region's read/write parts as [[offset, length], ...], in order.
static Napi::Array CommittedArray(Napi::Env env, const Region& r) {
  Napi::Array c = Napi::Array::New(env);
  uint32_t k = 0;
  for (auto& [s, e] : r.committed) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, static_cast<double>(s));
    pair.Set(1u, static_cast<double>(e - s));
    c.Set(k++, pair);
  }
  return c;
}

// committed(handle) -> [[offset, length], ...]: the read/write parts, in order (none once unmapped).
Napi::Value Committed(const Napi::CallbackInfo& info) {
  return CommittedArray(info.Env(), *ArgRegion(info, 0, false));
}

// live(handle) -> whether its memory is still mapped.
Napi::Value Live(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ArgRegion(info, 0, false)->live);
}

// mappings() -> [{ address, length, committed: [[offset, length], ...], views }] of this
// thread, by address: for leak checks and diagnostics; it grants nothing.
Napi::Value Mappings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::shared_ptr<Region>> live;
  for (auto& [id, weak] : RegistryOf(env).regions)
    if (auto r = weak.lock(); r && r->live) live.push_back(std::move(r));
  std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return a->base < b->base; });
  Napi::Array out = Napi::Array::New(env, live.size());
  uint32_t n = 0;
  for (const auto& r : live) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("address", static_cast<double>(r->base));
    o.Set("length", static_cast<double>(r->length));
    o.Set("committed", CommittedArray(env, *r));
    o.Set("views", static_cast<double>(r->views.size()));
    out.Set(n++, o);
  }
  return out;
}

// counters() -> { mapped, unmapped, keeping, orphaned }: regions mapped and unmapped by this
// process, ever; those whose pages a transferred view still holds mapped right now; bytes left
// mapped for good under views that escaped a thread that exited.
Napi::Value Counters(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("mapped", static_cast<double>(g_mapped.load()));
  o.Set("unmapped", static_cast<double>(g_unmapped.load()));
  o.Set("keeping", static_cast<double>(g_keeping.load()));
  o.Set("orphaned", static_cast<double>(g_orphaned.load()));
  return o;
}

// limits() -> { maxView, maxReads, maxRanges, maxTouch, maxMap, maxPinnedViews, ...smaps }: the
// bounds the calls above enforce (and those of smaps_napi.cc / pageflags.cc).
Napi::Value Limits(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("maxView", static_cast<double>(g_maxView));
  o.Set("maxReads", static_cast<double>(kMaxReads));
  o.Set("maxRanges", static_cast<double>(kMaxRanges));
  o.Set("maxTouch", static_cast<double>(MaxTouch()));
  o.Set("maxMap", static_cast<double>(g_maxMap));
  o.Set("maxPinnedViews", static_cast<double>(kMaxPinnedViews));
  o.Set("maxStreams", static_cast<double>(MaxSmapsStreams()));
  o.Set("maxThpRangeBytes", static_cast<double>(MaxThpRangeBytes()));
  return o;
}

// The top of the address space the kernel gives without a hint: the end of the highest user
// mapping (the stack sits just under it) rounded up to a power of two, and no more than
// RLIMIT_AS. The vsyscall page (x86-64, above 2^63) is not user address space.
static uint64_t AddressSpace() {
  uint64_t top = 0;
  if (FILE* f = fopen("/proc/self/maps", "re")) {
    char line[512];
    while (fgets(line, sizeof line, f)) {
      uint64_t s, e;
      if (sscanf(line, "%" SCNx64 "-%" SCNx64, &s, &e) == 2 && e < (1ull << 63)) top = std::max(top, e);
    }
    fclose(f);
  }
  uint64_t space = 1ull << 47;
  if (top) {
    space = 1;
    while (space < top && space < (1ull << 62)) space <<= 1;
  }
  rlimit as;
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) space = std::min<uint64_t>(space, as.rlim_cur);
  return space;
}

// buffer.constants.MAX_LENGTH through process.getBuiltinModule (Node >= 20.16); where that is
// missing, 2^31 - 1, below every supported runtime's limit.
void InitLimits(Napi::Env env) {
  static const uint64_t space = AddressSpace();
  g_maxMap = space;
  try {
    Napi::Value process = env.Global().Get("process");
    if (!process.IsObject()) return;
    Napi::Value get = process.As<Napi::Object>().Get("getBuiltinModule");
    if (!get.IsFunction()) return;
    Napi::Value buffer = get.As<Napi::Function>().Call(process, {Napi::String::New(env, "buffer")});
    if (!buffer.IsObject()) return;
    Napi::Value constants = buffer.As<Napi::Object>().Get("constants");
    if (!constants.IsObject()) return;
    Napi::Value max = constants.As<Napi::Object>().Get("MAX_LENGTH");
    if (!max.IsNumber()) return;
    double d = max.As<Napi::Number>().DoubleValue();
    if (d >= 4096 && d <= 9007199254740991.0) g_maxView = static_cast<uint64_t>(d);
  } catch (const Napi::Error& e) {
    // Keep the conservative limit; the load itself must not fail for this.
  }
}

}  // namespace hugespan
