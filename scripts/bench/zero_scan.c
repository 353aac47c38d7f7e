/*
 * Row 16 baseline: the pages `report --bloat` reads, read the plain way in C: another process's
 * memory (the bench's own mapping, by pid and address) copied out with process_vm_readv one
 * 2 MiB huge page at a time into one buffer, and each 4 KiB page tested word by word until its
 * first non-zero word. Per call: every page of the range, and the count of zero pages.
 * Arguments: pid, start address, length in bytes.
 */
#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include "baseline.h"

#define HUGE (2ull << 20)
static uint64_t buffer[HUGE / 8];

static int zero_page(const uint64_t *w, size_t words) {
  for (size_t i = 0; i < words; i++)
    if (w[i]) return 0;
  return 1;
}

/* Zero pages of [start, start + len) of pid; -errno on a failed read. */
static long long scan(pid_t pid, uint64_t start, uint64_t len, long page) {
  long long zero = 0;
  for (uint64_t at = start; at < start + len; at += HUGE) {
    struct iovec local = {buffer, HUGE}, remote = {(void *)(uintptr_t)at, HUGE};
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n != (ssize_t)HUGE) return n < 0 ? -errno : -EFAULT;
    for (uint64_t off = 0; off < HUGE; off += (uint64_t)page) zero += zero_page(buffer + off / 8, (size_t)page / 8);
  }
  return zero;
}

int main(int argc, char **argv) {
  if (argc < 4) { EMIT("{\"unsupported\":\"usage: zero_scan PID START LENGTH\"}"); return 0; }
  pid_t pid = (pid_t)strtol(argv[1], NULL, 10);
  uint64_t start = strtoull(argv[2], NULL, 10), len = strtoull(argv[3], NULL, 10);
  long page = sysconf(_SC_PAGESIZE);
  long long zero = scan(pid, start, len, page);
  if (zero < 0) { EMIT("{\"unsupported\":\"process_vm_readv: %s\"}", strerror((int)-zero)); return 0; }
  EMIT("{\"ready\":true,\"zeroPages\":%lld}", zero);
  for (uint64_t calls; (calls = next_count());) {
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < calls; i++) zero = scan(pid, start, len, page);
    uint64_t t1 = now_ns();
    if (zero < 0) { EMIT("{\"error\":\"process_vm_readv: %s\"}", strerror((int)-zero)); return 1; }
    EMIT("{\"ns\":%llu,\"calls\":%llu,\"zeroPages\":%lld}", (unsigned long long)(t1 - t0), (unsigned long long)calls, zero);
  }
  return 0;
}
