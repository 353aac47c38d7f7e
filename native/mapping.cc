// Mappings, views and the per-thread registry (see mapping.h for the invariants). Every export
// resolves its range to an owned Region first; only then does it make a syscall.
#include "mapping.h"

#include <errno.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstring>

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

// ---- Region ---------------------------------------------------------------------------

Region::~Region() {
  Unmap();
  for (const auto& [start, end] : kept) munmap(reinterpret_cast<void*>(base + start), end - start);
  if (!kept.empty()) g_keeping--;
}

void Region::Unmap() {
  if (!live) return;
  // munmap of a range we mapped cannot fail short of a kernel bug; count only what it accepted,
  // so the counters stay the kernel's word.
  if (munmap(reinterpret_cast<void*>(base), length) == 0) g_unmapped++;
  live = false;
  committed.clear();
}

void Region::Unmap(napi_env env) {
  if (!live) return;
  kept = DetachViews(env, 0, length);
  // Give back everything but the pages an escaped view still covers; ~Region frees those
  // once the last buffer over them is gone.
  uint64_t at = 0;
  bool ok = true;
  for (const auto& [start, end] : kept) {
    if (start > at) ok &= munmap(reinterpret_cast<void*>(base + at), start - at) == 0;
    at = end;
  }
  if (at < length) ok &= munmap(reinterpret_cast<void*>(base + at), length - at) == 0;
  if (!kept.empty()) g_keeping++;
  if (ok) g_unmapped++;
  live = false;
  committed.clear();
}

bool Region::Committed(uint64_t offset, uint64_t len) const {
  auto it = committed.upper_bound(offset);
  if (it == committed.begin()) return false;
  --it;
  return it->first <= offset && it->second >= offset + len;
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

std::vector<std::pair<uint64_t, uint64_t>> Region::DetachViews(napi_env env, uint64_t offset, uint64_t len) {
  std::vector<std::pair<uint64_t, uint64_t>> escaped;
  for (auto& v : views) {
    if (v.length == 0 || v.offset >= offset + len || v.offset + v.length <= offset) continue;
    napi_value ab = nullptr;
    bool detached = false;
    napi_get_reference_value(env, v.ref, &ab);
    if (ab) napi_is_detached_arraybuffer(env, ab, &detached);
    if (ab && !detached) {
      napi_detach_arraybuffer(env, ab);
      v.length = 0;  // detached: overlaps nothing from now on
      continue;
    }
    // Detached by someone else (ArrayBuffer.prototype.transfer) or collected while its
    // backing store lives on (the view's finalizer, which runs when the store is freed, has
    // not): another buffer may still use these pages.
    escaped.emplace_back(v.offset, v.offset + v.length);
  }
  std::sort(escaped.begin(), escaped.end());
  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (const auto& r : escaped) {
    if (!merged.empty() && r.first <= merged.back().second) merged.back().second = std::max(merged.back().second, r.second);
    else merged.push_back(r);
  }
  return merged;
}

// ---- Registry -------------------------------------------------------------------------

Registry::~Registry() {
  for (auto& [base, weak] : regions)
    if (auto r = weak.lock()) r->Unmap();
}

std::shared_ptr<Region> Registry::Resolve(Napi::Env env, uint64_t addr, uint64_t len) {
  auto it = regions.upper_bound(addr);
  if (it != regions.begin()) {
    --it;
    auto r = it->second.lock();
    if (r && r->live && addr >= r->base && addr + len <= r->base + r->length) return r;
  }
  ThrowRangeError(env, "ERR_HUGESPAN_NOT_OWNED",
                  "The range " + Hex(addr) + "+" + std::to_string(len) +
                      " is not wholly inside a live mapping created by hugespan on this thread");
}

static void Cleanup(Napi::Env, Registry* r) { delete r; }

Registry& RegistryOf(Napi::Env env) {
  auto* r = env.GetInstanceData<Registry>();
  if (!r) {
    r = new Registry();
    env.SetInstanceData<Registry, Cleanup>(r);
  }
  return *r;
}

// ---- helpers --------------------------------------------------------------------------

struct Range {
  std::shared_ptr<Region> region;
  uint64_t addr, len;
  uint64_t offset() const { return addr - region->base; }
  void* ptr() const { return reinterpret_cast<void*>(addr); }
};

// Arguments (address, length) at i, i+1: page aligned, owned by this thread.
static Range ArgRange(const Napi::CallbackInfo& info, size_t i) {
  uint64_t addr = ArgPageAligned(info, i, "address");
  uint64_t len = ArgLength(info, i + 1, "length");
  return {RegistryOf(info.Env()).Resolve(info.Env(), addr, len), addr, len};
}

static Range ArgCommittedRange(const Napi::CallbackInfo& info, size_t i) {
  Range r = ArgRange(info, i);
  if (!r.region->Committed(r.offset(), r.len))
    ThrowRangeError(info.Env(), "ERR_HUGESPAN_NOT_COMMITTED",
                    "The range " + Hex(r.addr) + "+" + std::to_string(r.len) +
                        " is not wholly committed (read/write); touching it would fault");
  return r;
}

static SysContext Ctx(uint64_t addr, uint64_t len, const char* detail = nullptr) {
  SysContext c;
  c.hasRange = true;
  c.address = addr;
  c.length = len;
  c.detail = detail;
  return c;
}

// ---- exports --------------------------------------------------------------------------

static void FinalizeHandle(Napi::Env, std::shared_ptr<Region>* hint) { delete hint; }

// map(length, align, commit) -> { address, length }: reserve `length` bytes with no access
// (or read/write when commit), the start aligned to `align` (a power of two >= page size).
Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t len = ArgLength(info, 0, "length");
  uint64_t align = info[1].IsUndefined() ? PageSize() : ArgUint(info, 1, "align");
  if (align < PageSize() || (align & (align - 1)) != 0 || align > (1ull << 30))
    ThrowRangeError(env, "ERR_INVALID_ARG_VALUE",
                    "The \"align\" argument must be a power of two from the page size to 1 GiB. Received " +
                        std::to_string(align));
  bool commit = ArgBool(info, 2, "commit", false);

  // Over-reserve by align - page, then trim both ends: the kernel gives page alignment only.
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
  auto region = std::make_shared<Region>();
  region->base = base;
  region->length = len;
  if (commit) region->SetCommitted(0, len, true);

  Registry& reg = RegistryOf(env);
  reg.regions[base] = region;
  // Forget regions whose JS objects were all collected, amortised over insertions.
  static thread_local size_t pruneAt = 64;
  if (reg.regions.size() >= pruneAt) {
    for (auto it = reg.regions.begin(); it != reg.regions.end();)
      it = it->second.expired() ? reg.regions.erase(it) : std::next(it);
    pruneAt = std::max<size_t>(64, reg.regions.size() * 2);
  }

  Napi::Object handle = Napi::Object::New(env);
  handle.Set("address", static_cast<double>(base));
  handle.Set("length", static_cast<double>(len));
  handle.AddFinalizer(FinalizeHandle, new std::shared_ptr<Region>(region));
  return handle;
}

// unmap(address): address must be the start of a live mapping.
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t addr = ArgPageAligned(info, 0, "address");
  Registry& reg = RegistryOf(env);
  auto it = reg.regions.find(addr);
  auto r = it == reg.regions.end() ? nullptr : it->second.lock();
  if (!r || !r->live)
    ThrowRangeError(env, "ERR_HUGESPAN_NOT_OWNED",
                    "The address " + Hex(addr) + " is not the start of a live mapping created by hugespan on this thread");
  r->Unmap(env);
  reg.regions.erase(it);
  return env.Undefined();
}

Napi::Value Commit(const Napi::CallbackInfo& info) {
  Range r = ArgRange(info, 0);
  if (mprotect(r.ptr(), r.len, PROT_READ | PROT_WRITE) != 0)
    ThrowSystemError(info.Env(), errno, "mprotect", Ctx(r.addr, r.len));
  r.region->SetCommitted(r.offset(), r.len, true);
  return info.Env().Undefined();
}

// decommit(address, length): drop the pages and take access away, views first. Pages an
// escaped view still covers are dropped but keep their access: a buffer we can no longer
// detach must never fault. Our own calls treat them as decommitted all the same.
Napi::Value Decommit(const Napi::CallbackInfo& info) {
  Range r = ArgRange(info, 0);
  uint64_t at = r.offset(), end = r.offset() + r.len;
  for (const auto& [s, e] : r.region->DetachViews(info.Env(), at, r.len)) {
    uint64_t cut = std::max(s, at);
    if (cut > at && mprotect(reinterpret_cast<void*>(r.region->base + at), cut - at, PROT_NONE) != 0)
      ThrowSystemError(info.Env(), errno, "mprotect", Ctx(r.region->base + at, cut - at));
    at = std::max(at, std::min(e, end));
  }
  if (end > at && mprotect(reinterpret_cast<void*>(r.region->base + at), end - at, PROT_NONE) != 0)
    ThrowSystemError(info.Env(), errno, "mprotect", Ctx(r.region->base + at, end - at));
  r.region->SetCommitted(r.offset(), r.len, false);
  if (madvise(r.ptr(), r.len, MADV_DONTNEED) != 0)
    ThrowSystemError(info.Env(), errno, "madvise", Ctx(r.addr, r.len, "dontneed"));
  return info.Env().Undefined();
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

// madvise(address, length, advice)
Napi::Value Madvise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Range r = ArgRange(info, 0);
  // The advice name is read into a stack buffer: this call is on the hot path of every
  // sysUsed/sysUnused, and a std::string per call is a measurable share of it.
  if (!info[2].IsString())
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"advice\" argument must be of type string");
  char name[16];
  size_t len = 0;
  napi_get_value_string_utf8(env, info[2], name, sizeof name, &len);
  const AdviceName* a = nullptr;
  for (const auto& k : kAdvice)
    if (len == strlen(k.name) && memcmp(name, k.name, len) == 0) a = &k;
  if (!a)
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                   "The \"advice\" argument must be one of normal, willneed, dontneed, free, hugepage, nohugepage, "
                   "collapse. Received '" + info[2].As<Napi::String>().Utf8Value() + "'");
  int rc = madvise(r.ptr(), r.len, a->advice);
  // MADV_COLLAPSE's EAGAIN is transient (a page was briefly locked or isolated): retry once.
  if (rc != 0 && errno == EAGAIN && a->advice == MADV_COLLAPSE) rc = madvise(r.ptr(), r.len, a->advice);
  if (rc != 0) ThrowSystemError(env, errno, "madvise", Ctx(r.addr, r.len, a->name));
  return env.Undefined();
}

// touch(address, length[, byte]): write one byte per OS page (fault the range in).
Napi::Value Touch(const Napi::CallbackInfo& info) {
  Range r = ArgCommittedRange(info, 0);
  uint64_t byte = info[2].IsUndefined() ? 1 : ArgUint(info, 2, "byte") & 0xff;
  volatile uint8_t* p = reinterpret_cast<volatile uint8_t*>(r.addr);
  for (uint64_t off = 0; off < r.len; off += PageSize()) p[off] = static_cast<uint8_t>(byte);
  return info.Env().Undefined();
}

// readPages(address, length) -> sum of the first byte of every OS page.
Napi::Value ReadPages(const Napi::CallbackInfo& info) {
  Range r = ArgCommittedRange(info, 0);
  const volatile uint8_t* p = reinterpret_cast<const volatile uint8_t*>(r.addr);
  uint64_t sum = 0;
  for (uint64_t off = 0; off < r.len; off += PageSize()) sum += p[off];
  return Napi::Number::New(info.Env(), static_cast<double>(sum));
}

// randomReads(ranges: Float64Array [addr, len, ...], count, seed) -> { ns, reads }
// `count` random 8-byte reads spread over the ranges by size; the time is taken here so
// that no JS/C++ crossing is in the measurement.
Napi::Value RandomReads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"ranges\" argument must be a Float64Array of address, length pairs");
  Napi::Float64Array arr = info[0].As<Napi::Float64Array>();
  if (arr.ElementLength() == 0 || arr.ElementLength() % 2 != 0)
    ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", "The \"ranges\" argument must hold one or more address, length pairs");
  uint64_t count = ArgUint(info, 1, "count");
  uint64_t seed = ArgUint(info, 2, "seed") | 1;

  std::vector<uint64_t> addrs, ends;  // ends: running total of lengths
  uint64_t total = 0;
  Registry& reg = RegistryOf(env);
  for (size_t i = 0; i < arr.ElementLength(); i += 2) {
    double a = arr[i], l = arr[i + 1];
    if (!(a >= 0 && l > 0 && a <= 9007199254740991.0 && l <= 9007199254740991.0 && a == (uint64_t)a && l == (uint64_t)l) ||
        (uint64_t)a % PageSize() || (uint64_t)l % PageSize())
      ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", "ranges[" + std::to_string(i / 2) + "] is not a page-aligned range");
    auto r = reg.Resolve(env, (uint64_t)a, (uint64_t)l);
    if (!r->Committed((uint64_t)a - r->base, (uint64_t)l))
      ThrowRangeError(env, "ERR_HUGESPAN_NOT_COMMITTED", "ranges[" + std::to_string(i / 2) + "] is not committed");
    addrs.push_back((uint64_t)a);
    total += (uint64_t)l;
    ends.push_back(total);
  }
  uint64_t x = seed, sum = 0;
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (uint64_t n = 0; n < count; n++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;  // xorshift64
    uint64_t off = (x % total) & ~7ull;
    size_t k = ends.size() == 1 ? 0 : std::upper_bound(ends.begin(), ends.end(), off) - ends.begin();
    uint64_t start = k ? ends[k - 1] : 0;
    sum += *reinterpret_cast<const volatile uint64_t*>(addrs[k] + (off - start));
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  Napi::Object out = Napi::Object::New(env);
  out.Set("ns", static_cast<double>((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)));
  out.Set("reads", static_cast<double>(count));
  out.Set("checksum", static_cast<double>(sum & 0xffffffffffffull));
  return out;
}

struct ViewHint {
  std::shared_ptr<Region> region;  // a live view keeps its memory mapped
  uint64_t id;
};

static void FinalizeView(Napi::Env env, void*, ViewHint* hint) {
  auto& views = hint->region->views;
  for (auto it = views.begin(); it != views.end(); ++it)
    if (it->id == hint->id) {
      napi_delete_reference(env, it->ref);
      views.erase(it);
      break;
    }
  delete hint;
}

// view(address, length) -> Uint8Array over committed memory, zero-copy.
Napi::Value View(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Range r = ArgCommittedRange(info, 0);
  auto* hint = new ViewHint{r.region, r.region->nextViewId++};
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, r.ptr(), r.len, FinalizeView, hint);
  napi_ref ref;
  if (napi_create_reference(env, ab, 0, &ref) != napi_ok) ThrowError(env, "ERR_HUGESPAN_INTERNAL", "napi_create_reference failed");
  r.region->views.push_back({ref, r.offset(), r.len, hint->id});
  return Napi::Uint8Array::New(env, r.len, ab, 0);
}

// mappings() -> [{ address, length, committed: [[offset, length], ...] }] of this thread.
Napi::Value Mappings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (auto& [base, weak] : RegistryOf(env).regions) {
    auto r = weak.lock();
    if (!r || !r->live) continue;
    Napi::Object o = Napi::Object::New(env);
    o.Set("address", static_cast<double>(r->base));
    o.Set("length", static_cast<double>(r->length));
    Napi::Array c = Napi::Array::New(env);
    uint32_t k = 0;
    for (auto& [s, e] : r->committed) {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, static_cast<double>(s));
      pair.Set(1u, static_cast<double>(e - s));
      c.Set(k++, pair);
    }
    o.Set("committed", c);
    o.Set("views", static_cast<double>(r->views.size()));
    out.Set(n++, o);
  }
  return out;
}

}  // namespace hugespan

namespace hugespan {

// counters() -> { mapped, unmapped, keeping }: regions mapped and unmapped by this process,
// ever, and those whose pages a transferred view still holds mapped right now.
Napi::Value Counters(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("mapped", static_cast<double>(g_mapped.load()));
  o.Set("unmapped", static_cast<double>(g_unmapped.load()));
  o.Set("keeping", static_cast<double>(g_keeping.load()));
  return o;
}

}  // namespace hugespan
