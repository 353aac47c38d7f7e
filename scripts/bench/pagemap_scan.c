/*
 * Row 3 baseline: the PAGEMAP_SCAN calls the addon's pagemapScan makes, on this program's own
 * mapping of the same shape (1 GiB, 2 MiB aligned, first half MADV_HUGEPAGE, second half
 * MADV_NOHUGEPAGE, every page touched). Per call: open /proc/self/pagemap, ioctl until the
 * walk reaches the end (same vector of 4096 regions, same masks), sum present and huge bytes, close.
 * Arguments: length in bytes (default 1 GiB).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "baseline.h"

#ifndef PAGEMAP_SCAN
struct page_region { uint64_t start, end, categories; };
struct pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted, category_mask,
      category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_HUGE (1 << 6)
#endif

#define HUGE (2ull << 20)
static struct page_region vec[4096];

struct result { uint64_t present, huge, regions; int err; };

static struct result scan(uint64_t start, uint64_t end) {
  struct result r = {0, 0, 0, 0};
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) { r.err = errno; return r; }
  uint64_t cur = start, covered = start;
  while (cur < end) {
    struct pm_scan_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.size = sizeof arg;
    arg.start = cur;
    arg.end = end;
    arg.vec = (uint64_t)(uintptr_t)vec;
    arg.vec_len = sizeof vec / sizeof vec[0];
    arg.category_mask = PAGE_IS_PRESENT;
    arg.return_mask = PAGE_IS_PRESENT | PAGE_IS_HUGE;
    long n = ioctl(fd, PAGEMAP_SCAN, &arg);
    if (n < 0) {
      if (errno == EINTR) continue;
      r.err = errno;
      break;
    }
    for (long i = 0; i < n; i++) {
      uint64_t rs = vec[i].start > covered ? vec[i].start : covered, re = vec[i].end;
      if (re <= rs) continue;
      covered = re;
      r.present += re - rs;
      if (vec[i].categories & PAGE_IS_HUGE) r.huge += re - rs;
      r.regions++;
    }
    uint64_t next = arg.walk_end > covered ? arg.walk_end : covered;
    if (next <= cur) break;
    cur = next;
  }
  close(fd);
  return r;
}

int main(int argc, char **argv) {
  uint64_t len = argc > 1 ? strtoull(argv[1], NULL, 10) : (1ull << 30);
  char *raw = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) { EMIT("{\"unsupported\":\"mmap: %s\"}", strerror(errno)); return 0; }
  char *base = (char *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
  if (madvise(base, len / 2, MADV_HUGEPAGE) != 0 || madvise(base + len / 2, len / 2, MADV_NOHUGEPAGE) != 0) {
    EMIT("{\"unsupported\":\"madvise: %s\"}", strerror(errno));
    return 0;
  }
  long page = sysconf(_SC_PAGESIZE);
  for (uint64_t off = 0; off < len; off += (uint64_t)page) base[off] = 1;
  uint64_t start = (uint64_t)(uintptr_t)base, end = start + len;
  struct result r = scan(start, end);
  if (r.err == ENOTTY || r.err == EINVAL || r.err == EOPNOTSUPP) {
    EMIT("{\"unsupported\":\"PAGEMAP_SCAN: %s (needs Linux >= 6.7)\"}", strerror(r.err));
    return 0;
  }
  if (r.err) { EMIT("{\"unsupported\":\"PAGEMAP_SCAN: %s\"}", strerror(r.err)); return 0; }
  EMIT("{\"ready\":true,\"length\":%llu,\"presentBytes\":%llu,\"hugeBytes\":%llu,\"regions\":%llu}",
       (unsigned long long)len, (unsigned long long)r.present, (unsigned long long)r.huge, (unsigned long long)r.regions);
  for (uint64_t calls; (calls = next_count());) {
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < calls; i++) {
      r = scan(start, end);
      if (r.err) { EMIT("{\"error\":\"PAGEMAP_SCAN: %s\"}", strerror(r.err)); return 1; }
    }
    uint64_t t1 = now_ns();
    EMIT("{\"ns\":%llu,\"calls\":%llu,\"presentBytes\":%llu,\"hugeBytes\":%llu,\"regions\":%llu}",
         (unsigned long long)(t1 - t0), (unsigned long long)calls, (unsigned long long)r.present,
         (unsigned long long)r.huge, (unsigned long long)r.regions);
  }
  return 0;
}
