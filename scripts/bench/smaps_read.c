/*
 * Row 1 baseline: read /proc/<pid>/smaps (the node process's, so the kernel generates the same
 * text our readSmaps gets) into one large buffer and do nothing else: no parsing, no objects.
 * Per call: open, read until EOF, close — what any reader of the file must do.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "baseline.h"

static char buf[4 << 20];

static ssize_t read_all(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t used = 0;
  for (;;) {
    ssize_t n = read(fd, buf + used, sizeof buf - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { int e = errno; close(fd); return -e; }
    if (n == 0) break;
    used += (size_t)n;
    if (used == sizeof buf) break;
  }
  close(fd);
  return (ssize_t)used;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: smaps_read <pid>\n"); return 2; }
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/smaps", argv[1]);
  ssize_t n = read_all(path);
  if (n < 0) { EMIT("{\"unsupported\":\"cannot read %s: %s\"}", path, strerror((int)-n)); return 0; }
  EMIT("{\"ready\":true,\"bytes\":%zd}", n);
  for (uint64_t calls; (calls = next_count());) {
    uint64_t bytes = 0, t0 = now_ns();
    for (uint64_t i = 0; i < calls; i++) {
      n = read_all(path);
      if (n < 0) { EMIT("{\"error\":\"read %s: %s\"}", path, strerror((int)-n)); return 1; }
      bytes += (uint64_t)n;
    }
    uint64_t t1 = now_ns();
    EMIT("{\"ns\":%llu,\"calls\":%llu,\"bytes\":%llu}", (unsigned long long)(t1 - t0), (unsigned long long)calls,
         (unsigned long long)(bytes / calls));
  }
  return 0;
}
