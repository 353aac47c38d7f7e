// THPs mapped by PTEs, page by page. /proc/PID/pagemap gives each present page's frame number
// (PFN) and /proc/kpageflags that frame's flags (KPF_THP); the kernel shows PFNs to root
// (CAP_SYS_ADMIN) only. Invariant: the answer lists exactly the pages of the given ranges whose
// frame carries KPF_THP, as [start, end) pairs in address order; where frame numbers are
// hidden (a present page reads PFN 0, or kpageflags cannot be opened) the answer is null, never
// an empty list. thpFolios classifies those pages by folio as the kernel's tools/mm/thpmaps
// does (its counts, per caller's group, add up to the THP pages it saw, each in one class).
// Read-only: no memory of the process is touched.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"

namespace hugespan {

std::string ProcPath(int pid, const char* leaf);

namespace {

constexpr uint64_t kPresent = uint64_t{1} << 63;
constexpr uint64_t kPfnMask = (uint64_t{1} << 55) - 1;
constexpr uint64_t kKpfThp = uint64_t{1} << 22;  // include/uapi/linux/kernel-page-flags.h
constexpr uint64_t kKpfAnon = uint64_t{1} << 12;
constexpr uint64_t kKpfHead = uint64_t{1} << 15;
constexpr uint64_t kKpfTail = uint64_t{1} << 16;
constexpr uint64_t kMaxSafe = (uint64_t{1} << 53) - 1;

// pread until `bytes` are in or the file ends; returns the bytes read, -1 with errno set.
ssize_t ReadAt(int fd, void* buf, size_t bytes, uint64_t at) {
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = pread(fd, static_cast<char*>(buf) + got, bytes - got, static_cast<off_t>(at + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

// The mapped parts of [start, end) pairs (ascending, disjoint) by /proc/PID/maps: pagemap
// has nothing to say about the gaps between VMAs, and walking them was most of the time of a
// call over a whole address space. False when maps cannot be read (then `ranges` is kept).
bool MappedParts(const std::string& path, std::vector<uint64_t>& ranges) {
  FILE* f = fopen(path.c_str(), "re");
  if (!f) return false;
  std::vector<uint64_t> vmas;
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    unsigned long long s, e;
    if (sscanf(line, "%llx-%llx", &s, &e) == 2 && s < e && e <= kMaxSafe) vmas.insert(vmas.end(), {s, e});
    // a line longer than the buffer: skip its rest
    while (!strchr(line, '\n') && fgets(line, sizeof line, f)) {
    }
  }
  fclose(f);
  std::vector<uint64_t> out;
  size_t j = 0;
  for (size_t i = 0; i < ranges.size(); i += 2) {
    while (j < vmas.size() && vmas[j + 1] <= ranges[i]) j += 2;
    for (size_t k = j; k < vmas.size() && vmas[k] < ranges[i + 1]; k += 2) {
      uint64_t s = std::max(ranges[i], vmas[k]), e = std::min(ranges[i + 1], vmas[k + 1]);
      if (s < e) {
        if (!out.empty() && out.back() == s) out.back() = e;
        else out.insert(out.end(), {s, e});
      }
    }
  }
  ranges = std::move(out);
  return true;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

// The most bytes of mapped address space one thpRanges call reads pagemap for: 2^28 pages
// (1 TiB at 4 KiB pages), ~1.5 s at the ~5 ns a page pagemap costs; more is refused.
static constexpr uint64_t kMaxThpPages = uint64_t{1} << 28;
uint64_t MaxThpRangeBytes() { return kMaxThpPages * PageSize(); }

// thpRanges(pid | "self", ranges: Float64Array of start, end pairs) -> Float64Array | null
// Ranges: page-aligned, start < end, ascending and disjoint (a report's small runs, or its
// VMAs). One pagemap read per 64 Ki pages, one kpageflags read per run of consecutive frames,
// all in C++: the TypeScript reader this replaces spent ~2 µs of fs.readSync per frame.
Napi::Value ThpRanges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"ranges\" argument must be a Float64Array of start, end pairs");
  Napi::Float64Array a = info[1].As<Napi::Float64Array>();
  if (a.ElementLength() % 2) ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", "The \"ranges\" argument must hold start, end pairs (an even length)");
  const uint64_t page = PageSize();
  std::vector<uint64_t> ranges(a.ElementLength());
  uint64_t prevEnd = 0;
  for (size_t i = 0; i < ranges.size(); i += 2) {
    double s = a[i], e = a[i + 1];
    bool whole = s >= 0 && e >= 0 && s <= static_cast<double>(kMaxSafe) && e <= static_cast<double>(kMaxSafe) && s == static_cast<double>(static_cast<uint64_t>(s)) &&
                 e == static_cast<double>(static_cast<uint64_t>(e));
    if (!whole) ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", "ranges[" + std::to_string(i) + "]: addresses must be integers in [0, 2^53)");
    ranges[i] = static_cast<uint64_t>(s);
    ranges[i + 1] = static_cast<uint64_t>(e);
    if (ranges[i] % page || ranges[i + 1] % page) ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", "ranges[" + std::to_string(i) + "]: addresses must be page-aligned");
    if (ranges[i] >= ranges[i + 1] || ranges[i] < prevEnd)
      ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", "ranges[" + std::to_string(i) + "]: each range must be non-empty, in ascending order, and not overlap the one before");
    prevEnd = ranges[i + 1];
  }

  // Only what is mapped is read, and no more than the bound: a call returns in bounded time.
  // (maps is read only for a call past the bound: a report asks once per VMA.)
  auto total = [&ranges]() {
    uint64_t n = 0;
    for (size_t i = 0; i < ranges.size(); i += 2) n += ranges[i + 1] - ranges[i];
    return n;
  };
  uint64_t bytes = total();
  if (bytes > MaxThpRangeBytes() && MappedParts(ProcPath(pid, "maps"), ranges)) bytes = total();
  if (bytes > MaxThpRangeBytes())
    ThrowRangeError(env, "ERR_OUT_OF_RANGE",
                    "The \"ranges\" argument covers " + std::to_string(bytes) + " mapped bytes; at most " +
                        std::to_string(MaxThpRangeBytes()) + " a call");

  std::string path = ProcPath(pid, "pagemap");
  SysContext ctx;
  ctx.path = path.c_str();
  Fd pagemap, kflags;
  pagemap.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (pagemap.fd < 0) ThrowSystemError(env, errno, "open", ctx);
  kflags.fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
  if (kflags.fd < 0) return env.Null();  // not root, or no kpageflags: hidden

  constexpr size_t kEntries = 1 << 16;  // 512 KiB of pagemap entries a read
  static thread_local std::vector<uint64_t> entries(kEntries), flags(1 << 12);
  std::vector<double> out;
  // The run of pages with consecutive frames being gathered: address, first frame, length.
  uint64_t runVa = 0, runPfn = 0, runLen = 0;
  int failed = 0;  // errno of a kpageflags read that failed
  auto flush = [&]() {
    for (uint64_t done = 0; done < runLen && !failed;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(runLen - done, flags.size()));
      ssize_t got = ReadAt(kflags.fd, flags.data(), n * 8, (runPfn + done) * 8);
      if (got < 0) {
        failed = errno;
        break;
      }
      for (size_t j = 0; j * 8 + 8 <= static_cast<size_t>(got); j++) {
        if (!(flags[j] & kKpfThp)) continue;
        double va = static_cast<double>(runVa + (done + j) * page);
        size_t k = out.size();
        if (k && out[k - 1] == va) out[k - 1] = va + static_cast<double>(page);  // extends the last THP range
        else out.insert(out.end(), {va, va + static_cast<double>(page)});
      }
      done += n;
    }
    runLen = 0;
  };
  for (size_t i = 0; i < ranges.size(); i += 2) {
    for (uint64_t at = ranges[i]; at < ranges[i + 1];) {
      size_t pages = static_cast<size_t>(std::min<uint64_t>(kEntries, (ranges[i + 1] - at) / page));
      ssize_t got = ReadAt(pagemap.fd, entries.data(), pages * 8, at / page * 8);
      if (got < 0) ThrowSystemError(env, errno, "pread", ctx);
      size_t have = static_cast<size_t>(got) / 8;
      for (size_t j = 0; j < have; j++) {
        uint64_t va = at + j * page;
        if (!(entries[j] & kPresent)) continue;
        uint64_t pfn = entries[j] & kPfnMask;
        if (pfn == 0) return env.Null();  // frame numbers hidden: not root
        if (runLen && va == runVa + runLen * page && pfn == runPfn + runLen) {
          runLen++;
          continue;
        }
        flush();
        runVa = va;
        runPfn = pfn;
        runLen = 1;
      }
      if (have < pages) break;  // past the end of the address space pagemap covers
      at += pages * page;
    }
  }
  flush();
  if (failed) {
    SysContext fctx;
    fctx.path = "/proc/kpageflags";
    ThrowSystemError(env, failed, "pread", fctx);
  }
  Napi::Float64Array result = Napi::Float64Array::New(env, out.size());
  std::copy(out.begin(), out.end(), result.Data());
  return result;
}


namespace {

// thpmaps' classes of a THP page mapped by PTEs: in a folio mapped whole at a virtual address
// aligned to its size, mapped whole elsewhere, or in a folio mapped only in part.
enum FolioClass { kPartial = 0, kAligned = 1, kUnaligned = 2 };

// The counts of one group, by (anon, class, order): pages.
struct GroupCounts {
  uint64_t pages[2][3][64] = {};
};

// One run of THP pages consecutive both virtually and physically (thpmaps' cont range), fed
// page by page in address order; each page's kpageflags is given.
struct ContRange {
  bool open = false;
  uint64_t startVfn = 0, lastVfn = 0, lastPfn = 0;
  bool firstAnon = false;
  bool headSeen = false;
  uint64_t headVfn = 0;
  bool headAnon = false;
};

}  // namespace

// thpFolios(pid | "self", ranges: Float64Array of start, end, group triples) -> Float64Array | null
// The THP pages of the ranges classified as tools/mm/thpmaps does, per group (a VMA: thpmaps
// reads VMA by VMA, so a group's runs never join another's): pages before a range's first folio
// head, or of a last folio that goes on past the range (the next frame is a compound tail), are
// "partial"; every other folio counts 2^floor(log2(its mapped pages)) pages at its order,
// "aligned" where its first address is a multiple of its size. Ranges as thpRanges takes them,
// groups integers in [0, 2^32), non-decreasing. The answer: quintuples group, anon (0|1),
// class (0 partial, 1 aligned, 2 unaligned), order, pages; only non-zero counts. PMD-mapped
// folios are counted too (a caller subtracts smaps' AnonHugePages, or passes only small runs).
Napi::Value ThpFolios(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"ranges\" argument must be a Float64Array of start, end, group triples");
  Napi::Float64Array a = info[1].As<Napi::Float64Array>();
  if (a.ElementLength() % 3) ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", "The \"ranges\" argument must hold start, end, group triples (a length divisible by 3)");
  const uint64_t page = PageSize();
  // Copied and checked before anything is opened: the array cannot change under the reads.
  std::vector<uint64_t> ranges(a.ElementLength());
  uint64_t prevEnd = 0, prevGroup = 0, bytes = 0;
  auto whole = [](double v, double max) { return v >= 0 && v <= max && v == static_cast<double>(static_cast<uint64_t>(v)); };
  for (size_t i = 0; i < ranges.size(); i += 3) {
    double s = a[i], e = a[i + 1], g = a[i + 2];
    std::string at = "ranges[" + std::to_string(i) + "]: ";
    if (!whole(s, static_cast<double>(kMaxSafe)) || !whole(e, static_cast<double>(kMaxSafe)))
      ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", at + "addresses must be integers in [0, 2^53)");
    if (!whole(g, 4294967295.0)) ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", at + "a group must be an integer in [0, 2^32)");
    ranges[i] = static_cast<uint64_t>(s);
    ranges[i + 1] = static_cast<uint64_t>(e);
    ranges[i + 2] = static_cast<uint64_t>(g);
    if (ranges[i] % page || ranges[i + 1] % page) ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", at + "addresses must be page-aligned");
    if (ranges[i] >= ranges[i + 1] || ranges[i] < prevEnd || ranges[i + 2] < prevGroup)
      ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", at + "each range must be non-empty, in ascending order, not overlap the one before, and its group not below the one before");
    prevEnd = ranges[i + 1];
    prevGroup = ranges[i + 2];
    bytes += ranges[i + 1] - ranges[i];
  }
  if (bytes > MaxThpRangeBytes())
    ThrowRangeError(env, "ERR_OUT_OF_RANGE",
                    "The \"ranges\" argument covers " + std::to_string(bytes) + " bytes; at most " + std::to_string(MaxThpRangeBytes()) + " a call");

  std::string path = ProcPath(pid, "pagemap");
  SysContext ctx;
  ctx.path = path.c_str();
  Fd pagemap, kflags;
  pagemap.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (pagemap.fd < 0) ThrowSystemError(env, errno, "open", ctx);
  kflags.fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
  if (kflags.fd < 0) return env.Null();  // not root, or no kpageflags: hidden

  constexpr size_t kEntries = 1 << 16;
  static thread_local std::vector<uint64_t> entries(kEntries), flags(1 << 12);
  std::vector<double> out;
  GroupCounts counts;
  bool any = false;
  int failed = 0;
  ContRange cr;
  const uint64_t pageShift = static_cast<uint64_t>(__builtin_ctzll(page));

  auto count = [&](bool anon, FolioClass c, unsigned order, uint64_t pages) {
    if (!pages) return;
    counts.pages[anon][c][order] += pages;
    any = true;
  };
  // A fully mapped folio of `nr` pages at `vfn`: thpmaps counts 2^floor(log2 nr) pages.
  auto folio = [&](uint64_t vfn, uint64_t nr, bool anon) {
    unsigned order = 63 - static_cast<unsigned>(__builtin_clzll(nr));
    uint64_t n = uint64_t{1} << order;
    count(anon, vfn % n == 0 ? kAligned : kUnaligned, order, n);
  };
  auto closeRange = [&]() {
    if (!cr.open) return;
    cr.open = false;
    uint64_t endVfn = cr.lastVfn + 1;
    if (!cr.headSeen) {
      count(cr.firstAnon, kPartial, 0, endVfn - cr.startVfn);
      return;
    }
    // The last folio goes on past the range when the next frame is one of its tails.
    uint64_t next = 0;
    ssize_t got = ReadAt(kflags.fd, &next, 8, (cr.lastPfn + 1) * 8);
    if (got < 0) failed = errno;
    if (got == 8 && (next & kKpfTail)) count(cr.headAnon, kPartial, 0, endVfn - cr.headVfn);
    else folio(cr.headVfn, endVfn - cr.headVfn, cr.headAnon);
  };
  auto feed = [&](uint64_t vfn, uint64_t pfn, uint64_t f) {
    if (!(f & kKpfThp)) return;
    bool anon = (f & kKpfAnon) != 0;
    if (cr.open && vfn == cr.lastVfn + 1 && pfn == cr.lastPfn + 1) {
      cr.lastVfn = vfn;
      cr.lastPfn = pfn;
    } else {
      closeRange();
      cr = ContRange{};
      cr.open = true;
      cr.startVfn = cr.lastVfn = vfn;
      cr.lastPfn = pfn;
      cr.firstAnon = anon;
    }
    if (!(f & kKpfHead)) return;
    if (!cr.headSeen) count(cr.firstAnon, kPartial, 0, vfn - cr.startVfn);
    else folio(cr.headVfn, vfn - cr.headVfn, cr.headAnon);
    cr.headSeen = true;
    cr.headVfn = vfn;
    cr.headAnon = anon;
  };
  auto endGroup = [&](uint64_t group) {
    closeRange();
    if (!any) return;
    for (int an = 0; an < 2; an++)
      for (int c = 0; c < 3; c++)
        for (unsigned o = 0; o < 64; o++)
          if (counts.pages[an][c][o])
            out.insert(out.end(), {static_cast<double>(group), static_cast<double>(an), static_cast<double>(c), static_cast<double>(o), static_cast<double>(counts.pages[an][c][o])});
    counts = GroupCounts{};
    any = false;
  };
  // Frames gathered in runs of consecutive frame numbers: one kpageflags read a run.
  uint64_t runVa = 0, runPfn = 0, runLen = 0;
  auto flush = [&]() {
    for (uint64_t done = 0; done < runLen && !failed;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(runLen - done, flags.size()));
      ssize_t got = ReadAt(kflags.fd, flags.data(), n * 8, (runPfn + done) * 8);
      if (got < 0) {
        failed = errno;
        break;
      }
      for (size_t j = 0; j * 8 + 8 <= static_cast<size_t>(got); j++) feed(((runVa >> pageShift) + done + j), runPfn + done + j, flags[j]);
      done += n;
    }
    runLen = 0;
  };
  for (size_t i = 0; i < ranges.size() && !failed; i += 3) {
    if (i && ranges[i + 2] != ranges[i - 1]) {
      flush();
      endGroup(ranges[i - 1]);
    }
    for (uint64_t at = ranges[i]; at < ranges[i + 1];) {
      size_t pages = static_cast<size_t>(std::min<uint64_t>(kEntries, (ranges[i + 1] - at) / page));
      ssize_t got = ReadAt(pagemap.fd, entries.data(), pages * 8, at / page * 8);
      if (got < 0) ThrowSystemError(env, errno, "pread", ctx);
      size_t have = static_cast<size_t>(got) / 8;
      for (size_t j = 0; j < have; j++) {
        uint64_t va = at + j * page;
        if (!(entries[j] & kPresent)) continue;
        uint64_t pfn = entries[j] & kPfnMask;
        if (pfn == 0) return env.Null();  // frame numbers hidden: not root
        if (runLen && va == runVa + runLen * page && pfn == runPfn + runLen) {
          runLen++;
          continue;
        }
        flush();
        runVa = va;
        runPfn = pfn;
        runLen = 1;
      }
      if (have < pages) break;
      at += pages * page;
    }
  }
  flush();
  if (!ranges.empty()) endGroup(ranges[ranges.size() - 1]);
  if (failed) {
    SysContext fctx;
    fctx.path = "/proc/kpageflags";
    ThrowSystemError(env, failed, "pread", fctx);
  }
  Napi::Float64Array result = Napi::Float64Array::New(env, out.size());
  std::copy(out.begin(), out.end(), result.Data());
  return result;
}

}  // namespace hugespan
