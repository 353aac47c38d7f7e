// Runs a command as on a host unlike this one, for `npm run test:hosts`:
//   launch --no-pagemap-scan CMD...  ioctl(PAGEMAP_SCAN) fails with ENOTTY, as on Linux < 6.7
//   launch --thp-disable CMD...       prctl(PR_SET_THP_DISABLE), as on a host without huge pages
// Both are inherited by every child across fork and exec (seccomp filters and the THP-disable
// flag are kept by the kernel), so a whole jest run with its workers sees the same host.
// Invariant: nothing else changes; the filter allows every other syscall, and every syscall of
// a foreign ABI (the filter only knows this architecture's ioctl number).
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define OUR_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define OUR_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "launch.c knows the ioctl syscall of x86_64 and aarch64 only"
#endif

// struct pm_scan_arg (linux/fs.h, 6.7): twelve __u64 fields, 96 bytes. Spelled out rather
// than taken from the headers so it builds where the headers predate 6.7 — which are exactly
// the hosts this emulates. The number is the same on both architectures (generic ioctl ABI).
struct pm_scan_arg_layout {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
_Static_assert(sizeof(struct pm_scan_arg_layout) == 96, "pm_scan_arg is 96 bytes");
#define OUR_PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg_layout)
_Static_assert(OUR_PAGEMAP_SCAN == 0xC0606610u, "PAGEMAP_SCAN is 0xc0606610");

// The kernel takes ioctl's request as an unsigned int and drops the upper half of the
// register; compare the low 32 bits only, as it does (args[] are u64, little endian here).
#define ARG1_LOW offsetof(struct seccomp_data, args[1])

static int no_pagemap_scan(void) {
  struct sock_filter prog[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, OUR_AUDIT_ARCH, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),  // another ABI: not ours to judge
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __X32_SYSCALL_BIT
      // x32 calls carry this bit; their ioctl is another number and is left alone.
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
#endif
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG1_LOW),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, OUR_PAGEMAP_SCAN, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOTTY & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog fprog = {.len = sizeof prog / sizeof prog[0], .filter = prog};
  // Unprivileged filters need no_new_privs; it also keeps setuid binaries from shedding it.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return perror("launch: PR_SET_NO_NEW_PRIVS"), -1;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0) return perror("launch: seccomp"), -1;
  return 0;
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    if (strcmp(argv[i], "--no-pagemap-scan") == 0) {
      if (no_pagemap_scan() < 0) return 125;
    } else if (strcmp(argv[i], "--thp-disable") == 0) {
      if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0) return perror("launch: PR_SET_THP_DISABLE"), 125;
    } else if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else {
      fprintf(stderr, "launch: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "usage: launch [--no-pagemap-scan] [--thp-disable] [--] command [args...]\n");
    return 2;
  }
  execvp(argv[i], argv + i);
  fprintf(stderr, "launch: %s: %s\n", argv[i], strerror(errno));
  return 127;
}
