/*
 * A target process for test/account/reasons-kernel.test.ts: it makes each case a reason
 * predicts (fork-shared pages, userfaultfd-armed holes, a private /dev/zero map, mlock, prctl …)
 * on command and lets the test watch the kernel act on it. One command a line on stdin, one JSON
 * line on stdout in answer: {"rc":0,"errno":0,"value":N}. Invariant: the target only does what
 * it is told; a forked child holds the parent's pages until the parent exits (its pipe closes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

static const unsigned long H = 2UL << 20;
static int hold[2] = {-1, -1};

static void answer(long rc, long value) {
  printf("{\"rc\":%ld,\"errno\":%d,\"value\":%lu}\n", rc, rc < 0 ? errno : 0, (unsigned long)value);
  fflush(stdout);
}

/* `frames` huge-page-aligned frames inside one mapping, an untouched margin of at least one frame either side. */
static unsigned long map_flags(unsigned long frames, int fd, int flags) {
  char *m = mmap(NULL, (frames + 3) * H, PROT_READ | PROT_WRITE, flags | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
  if (m == MAP_FAILED) return 0;
  unsigned long a = ((unsigned long)m + 2 * H - 1) & ~(H - 1);
  return a;
}
static unsigned long map_frames(unsigned long frames, int fd) { return map_flags(frames, fd, MAP_PRIVATE); }

int main(void) {
  char line[256], cmd[32];
  unsigned long a, b, c;
  while (fgets(line, sizeof line, stdin)) {
    a = b = c = 0;
    if (sscanf(line, "%31s %lu %lu %lu", cmd, &a, &b, &c) < 1) continue;
    errno = 0;
    if (!strcmp(cmd, "map")) { /* map FRAMES */
      unsigned long p = map_frames(a, -1);
      answer(p ? 0 : -1, p);
    } else if (!strcmp(cmd, "mapflags")) { /* mapflags FRAMES FLAGS: anonymous, with these mmap flags (the type bits included) */
      unsigned long p = map_flags(a, -1, (int)b);
      answer(p ? 0 : -1, p);
    } else if (!strcmp(cmd, "devzero")) { /* devzero FRAMES: a private map of /dev/zero */
      int fd = open("/dev/zero", O_RDWR);
      unsigned long p = fd < 0 ? 0 : map_frames(a, fd);
      if (fd >= 0) close(fd);
      answer(p ? 0 : -1, p);
    } else if (!strcmp(cmd, "file")) { /* file FRAMES: a private map of a file of that size (path on the rest of the line) */
      char path[200];
      int fd = sscanf(line, "%*s %*u %199s", path) == 1 ? open(path, O_RDWR) : -1;
      unsigned long p = fd < 0 ? 0 : map_frames(a, fd);
      if (fd >= 0) close(fd);
      answer(p ? 0 : -1, p);
    } else if (!strcmp(cmd, "advise")) { /* advise ADDR LEN ADVICE */
      answer(madvise((void *)a, b, (int)c), 0);
    } else if (!strcmp(cmd, "collapse")) { /* collapse ADDR LEN: MADV_COLLAPSE, no retry */
      answer(madvise((void *)a, b, MADV_COLLAPSE), 0);
    } else if (!strcmp(cmd, "touch")) { /* touch ADDR LEN STEP: write every STEP bytes */
      for (unsigned long i = 0; i < b; i += c) ((volatile char *)a)[i] = 1;
      answer(0, 0);
    } else if (!strcmp(cmd, "read")) { /* read ADDR LEN STEP */
      unsigned long s = 0;
      for (unsigned long i = 0; i < b; i += c) s += ((volatile char *)a)[i];
      answer(0, s);
    } else if (!strcmp(cmd, "vmsplice")) { /* vmsplice ADDR LEN: the pages go into a pipe nobody reads, which holds a reference to each */
      int p[2];
      if (pipe(p)) { answer(-1, 0); continue; }
      struct iovec iov = {.iov_base = (void *)a, .iov_len = b};
      answer(vmsplice(p[1], &iov, 1, 0) < 0 ? -1 : 0, (unsigned long)p[0]);
    } else if (!strcmp(cmd, "mlock")) {
      answer(mlock((void *)a, b), 0);
    } else if (!strcmp(cmd, "prctl")) { /* prctl DISABLE FLAGS: PR_SET_THP_DISABLE */
      answer(prctl(PR_SET_THP_DISABLE, a, b, 0, 0), 0);
    } else if (!strcmp(cmd, "uffd")) { /* uffd ADDR LEN MODE: 1 missing, 2 wp (and protect the range) */
      long fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
      if (fd < 0) { answer(-1, 0); continue; }
      struct uffdio_api api = {.api = UFFD_API, .features = c == 2 ? UFFD_FEATURE_PAGEFAULT_FLAG_WP : 0};
      if (ioctl(fd, UFFDIO_API, &api)) { answer(-1, 0); continue; }
      struct uffdio_register reg = {.range = {.start = a, .len = b}, .mode = c == 2 ? UFFDIO_REGISTER_MODE_WP : UFFDIO_REGISTER_MODE_MISSING};
      if (ioctl(fd, UFFDIO_REGISTER, &reg)) { answer(-1, 0); continue; }
      if (c == 2) {
        struct uffdio_writeprotect wp = {.range = {.start = a, .len = b}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
        if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp)) { answer(-1, 0); continue; }
      }
      answer(0, fd); /* the fd stays open: the registration lives as long as the target */
    } else if (!strcmp(cmd, "mremap")) { /* mremap FROM LEN TO: move the pages (large folios stay whole) to TO */
      void *p = mremap((void *)a, b, b, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)c);
      answer(p == MAP_FAILED ? -1 : 0, (unsigned long)p);
    } else if (!strcmp(cmd, "fork")) { /* a child that shares every page until the parent exits */
      if (hold[0] < 0 && pipe(hold)) { answer(-1, 0); continue; }
      pid_t pid = fork();
      if (pid == 0) {
        char x;
        close(hold[1]);
        while (read(hold[0], &x, 1) > 0) {}
        _exit(0);
      }
      answer(pid < 0 ? -1 : 0, pid);
    } else {
      errno = EINVAL;
      answer(-1, 0);
    }
  }
  return 0;
}
