/*
 * Row 4 baseline: one madvise per call flipping a 2 MiB, 2 MiB-aligned read/write range between
 * MADV_HUGEPAGE and MADV_NOHUGEPAGE, with PROT_NONE guards around it — the same layout and the same
 * alternation the addon gets.
 * Arguments: length (default 2 MiB), then "busy" to keep a second thread of this process running
 * (writing to its own memory) during the loop: node always has other threads (GC, compiler), and
 * when one runs on another CPU each flag-changing madvise costs more (the bench shows how much).
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>

#include "baseline.h"


static volatile int stop;

static void *busy(void *arg) {
  (void)arg;
  static char buf[1 << 20];
  while (!stop)
    for (size_t i = 0; i < sizeof buf; i += 64) ((volatile char *)buf)[i]++;
  return NULL;
}

int main(int argc, char **argv) {
  size_t len = argc > 1 ? strtoull(argv[1], NULL, 10) : (2u << 20);
  int withBusy = argc > 2 && strcmp(argv[2], "busy") == 0;
  /* A len-aligned read/write range with PROT_NONE guards of at least len on both sides: its VMA
     can never merge with a neighbour, so every call changes the flags of exactly one VMA. */
  char *raw = mmap(NULL, 4 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) { EMIT("{\"unsupported\":\"mmap: %s\"}", strerror(errno)); return 0; }
  uintptr_t base = (((uintptr_t)raw + len - 1) & ~(uintptr_t)(len - 1)) + len;
  if (mprotect((void *)base, len, PROT_READ | PROT_WRITE) != 0) { EMIT("{\"unsupported\":\"mprotect: %s\"}", strerror(errno)); return 0; }
  if (madvise((void *)base, len, MADV_HUGEPAGE) != 0) { EMIT("{\"unsupported\":\"madvise(MADV_HUGEPAGE): %s\"}", strerror(errno)); return 0; }
  EMIT("{\"ready\":true,\"length\":%zu,\"busyThread\":%s}", len, withBusy ? "true" : "false");
  uint64_t flip = 0;
  for (uint64_t calls; (calls = next_count());) {
    pthread_t t;
    stop = 0;
    if (withBusy && pthread_create(&t, NULL, busy, NULL) != 0) { EMIT("{\"error\":\"pthread_create failed\"}"); return 1; }
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < calls; i++, flip++) {
      if (madvise((void *)base, len, (flip & 1) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0) {
        EMIT("{\"error\":\"madvise: %s\"}", strerror(errno));
        return 1;
      }
    }
    uint64_t t1 = now_ns();
    if (withBusy) {
      stop = 1;
      pthread_join(t, NULL);
    }
    EMIT("{\"ns\":%llu,\"calls\":%llu}", (unsigned long long)(t1 - t0), (unsigned long long)calls);
  }
  return 0;
}
