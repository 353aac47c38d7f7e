// Exact per-range huge page truth from the kernel: the PAGEMAP_SCAN ioctl (Linux >= 6.7).
// Invariant: the runs returned tile the present pages of [start, end) in address order,
// each labelled huge (PMD-mapped) or not; adjacent runs never share a label. The shared zero
// page (and the huge zero page a read fault maps) is not memory: it counts as not present,
// as smaps' Rss does not count it either. A walk that stops early is an error, never a
// partial answer labelled exact.
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "args.h"
#include "errors.h"

#ifndef PAGEMAP_SCAN
// From the 6.7 uapi <linux/fs.h>; the build hosts' headers may be older.
struct page_region {
  __u64 start, end, categories;
};
struct pm_scan_arg {
  __u64 size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted, category_mask,
      category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#endif

namespace hugespan {

std::string ProcPath(int pid, const char* leaf);

// pagemapScan(pid | "self", start, end, withRuns = true)
//   -> { presentBytes, hugeBytes, runs: Float64Array }
// runs holds (start, end, huge 0|1) triples. One fd and one walk for the whole range, however
// many VMAs it spans (a report scans a whole process at once: an open+ioctl+close per VMA cost
// 31x the single walk at 60 000 VMAs). withRuns = false is the totals-only path: the same walk,
// no runs kept (runs is empty), for callers that need only the bytes.
Napi::Value PagemapScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0);
  uint64_t start = ArgPageAligned(info, 1, "start");
  uint64_t end = ArgPageAligned(info, 2, "end");
  bool withRuns = ArgBool(info, 3, "withRuns", true);
  if (end <= start) ThrowRangeError(env, "ERR_INVALID_ARG_VALUE", "The \"end\" argument must be greater than \"start\"");

  std::string path = ProcPath(pid, "pagemap");
  SysContext ctx;
  ctx.path = path.c_str();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowSystemError(env, errno, "open", ctx);

  static thread_local std::vector<page_region> vec(4096);
  std::vector<double> runs;
  uint64_t present = 0, huge = 0, cur = start, covered = start;
  while (cur < end) {
    pm_scan_arg arg{};
    arg.size = sizeof arg;
    arg.start = cur;
    arg.end = end;
    arg.vec = reinterpret_cast<uint64_t>(vec.data());
    arg.vec_len = vec.size();
    arg.category_mask = PAGE_IS_PRESENT;  // only present pages, labelled huge or not
    arg.return_mask = PAGE_IS_PRESENT | PAGE_IS_HUGE | PAGE_IS_PFNZERO;
    long n = ioctl(fd, PAGEMAP_SCAN, &arg);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      close(fd);
      ThrowSystemError(env, err, "ioctl", ctx);
    }
    for (long i = 0; i < n; i++) {
      // When the vector fills, the kernel may set walk_end before the last region it
      // returned (seen on 6.18: back to a page-table boundary); never count a page twice.
      uint64_t rs = std::max<uint64_t>(vec[i].start, covered), re = vec[i].end;
      if (re <= rs) continue;
      covered = re;
      if (vec[i].categories & PAGE_IS_PFNZERO) continue;  // the zero page: read, never written
      double h = (vec[i].categories & PAGE_IS_HUGE) ? 1 : 0;
      present += re - rs;
      if (h) huge += re - rs;
      if (!withRuns) continue;
      size_t k = runs.size();
      if (k && runs[k - 2] == static_cast<double>(rs) && runs[k - 1] == h)
        runs[k - 2] = static_cast<double>(re);  // one run split across two calls: join it
      else
        runs.insert(runs.end(), {static_cast<double>(rs), static_cast<double>(re), h});
    }
    uint64_t next = std::max<uint64_t>(arg.walk_end, covered);
    if (next <= cur) {  // no progress: never spin, and never call a partial walk exact
      close(fd);
      ThrowError(env, "ERR_HUGESPAN_INTERNAL",
                 "PAGEMAP_SCAN made no progress at " + Hex(cur) + " (walk_end " + Hex(arg.walk_end) + ")");
    }
    cur = next;
  }
  close(fd);

  Napi::Object out = Napi::Object::New(env);
  out.Set("presentBytes", static_cast<double>(present));
  out.Set("hugeBytes", static_cast<double>(huge));
  Napi::Float64Array a = Napi::Float64Array::New(env, runs.size());
  std::copy(runs.begin(), runs.end(), a.Data());
  out.Set("runs", a);
  return out;
}

}  // namespace hugespan
