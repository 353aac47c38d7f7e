/*
 * Rows 16-17 baseline: the files one `serve --comm NAME` reading opens, read in C, nothing
 * parsed: /proc/meminfo, /proc/vmstat, /proc/buddyinfo, every file of transparent_hugepage/ it
 * reads (enabled, defrag, shmem_enabled, hpage_pmd_size, every khugepaged file, each hugepages-SIZE enabled and
 * stats file), /proc/<pid>/comm of every process (to select by comm), and for each selected one
 * stat, status and smaps; and, as serve's exact accounting does, one PAGEMAP_SCAN walk of each
 * one's pagemap over its mapped span (from its maps: the one file read here that serve does not,
 * to know the span without parsing smaps). Not done here: serve's kpageflags reads as root (the
 * PFNs of small runs, to find THPs mapped by PTEs). One shot; prints one JSON line.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/fs.h>
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

static char buf[1 << 16];
static long bytes, files, walks;
static struct page_region vec[4096];

/* One PAGEMAP_SCAN walk of [start, end) of pid's pagemap: present pages, huge or not. */
static void walk(const char *pid, uint64_t start, uint64_t end) {
  char path[300];
  snprintf(path, sizeof path, "/proc/%s/pagemap", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  for (uint64_t cur = start; cur < end;) {
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
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || arg.walk_end <= cur) break;
    cur = arg.walk_end;
  }
  close(fd);
  walks++;
}

/* The span of pid's mappings below the kernel's [vsyscall] page, from its maps. */
static int span(const char *pid, uint64_t *lo, uint64_t *hi) {
  char path[300];
  snprintf(path, sizeof path, "/proc/%s/maps", pid);
  FILE *f = fopen(path, "re");
  if (!f) return 0;
  char line[512];
  *lo = UINT64_MAX;
  *hi = 0;
  while (fgets(line, sizeof line, f)) {
    char *dash;
    uint64_t s = strtoull(line, &dash, 16), e = strtoull(dash + 1, NULL, 16);
    if (strstr(line, "[vsyscall]")) continue;
    if (s < *lo) *lo = s;
    if (e > *hi) *hi = e;
  }
  fclose(f);
  return *hi > *lo;
}

static long slurp(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long got = 0;
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) got += n;
  close(fd);
  bytes += got;
  files++;
  return got;
}

static void dir_files(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  char path[512];
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    slurp(path);
  }
  closedir(d);
}

int main(int argc, char **argv) {
  const char *want = argc > 1 ? argv[1] : "vmas";
  const char *thp = "/sys/kernel/mm/transparent_hugepage";
  char path[512];
  slurp("/proc/meminfo");
  slurp("/proc/vmstat");
  slurp("/proc/buddyinfo");
  const char *top[] = {"enabled", "defrag", "shmem_enabled", "hpage_pmd_size"};
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/%s", thp, top[i]);
    slurp(path);
  }
  snprintf(path, sizeof path, "%s/khugepaged", thp);
  dir_files(path);
  DIR *t = opendir(thp);
  for (struct dirent *e; t && (e = readdir(t));) {
    if (strncmp(e->d_name, "hugepages-", 10) != 0) continue;
    snprintf(path, sizeof path, "%s/%s/enabled", thp, e->d_name);
    slurp(path);
    snprintf(path, sizeof path, "%s/%s/stats", thp, e->d_name);
    dir_files(path);
  }
  if (t) closedir(t);
  long selected = 0;
  DIR *d = opendir("/proc");
  for (struct dirent *e; d && (e = readdir(d));) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char comm[64];
    ssize_t n = read(fd, comm, sizeof comm - 1);
    close(fd);
    if (n <= 0) continue;
    comm[n] = 0;
    if (comm[n - 1] == '\n') comm[n - 1] = 0;
    if (strcmp(comm, want) != 0) continue;
    selected++;
    const char *each[] = {"stat", "status", "smaps"};
    for (int i = 0; i < 3; i++) {
      snprintf(path, sizeof path, "/proc/%s/%s", e->d_name, each[i]);
      slurp(path);
    }
    uint64_t lo, hi;
    if (span(e->d_name, &lo, &hi)) walk(e->d_name, lo, hi);
  }
  if (d) closedir(d);
  printf("{\"selected\":%ld,\"files\":%ld,\"bytes\":%ld,\"walks\":%ld}\n", selected, files, bytes, walks);
  return 0;
}
