/*
 * Shared by the C baselines: a monotonic clock and the command loop. Each baseline sets up once,
 * prints one JSON line (`{"ready":true,...}` or `{"unsupported":"why"}`), then answers every
 * stdin line holding a count N with one JSON line `{"ns":total,"calls":N,...}` for N calls,
 * and exits on EOF. The bench drives it between its own runs, so both sides alternate.
 */
#ifndef HUGESPAN_BENCH_BASELINE_H
#define HUGESPAN_BENCH_BASELINE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The advice values the baselines flip between (older libc headers may lack them). */
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE 15
#endif

static inline uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* One JSON line on stdout, flushed: the bench reads line by line. */
#define EMIT(...)                    \
  do {                               \
    printf(__VA_ARGS__);             \
    putchar('\n');                   \
    fflush(stdout);                  \
  } while (0)

/* Next count from stdin; 0 on EOF (the bench closed the pipe). */
static inline uint64_t next_count(void) {
  char line[64];
  if (!fgets(line, sizeof line, stdin)) return 0;
  return strtoull(line, NULL, 10);
}

#endif
