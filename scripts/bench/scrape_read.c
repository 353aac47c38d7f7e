/*
 * Rows 16-17 baseline: the files one `serve --comm NAME` reading opens, read in C, nothing
 * parsed: /proc/meminfo, /proc/vmstat, /proc/buddyinfo, every file of transparent_hugepage/ it
 * reads (enabled, defrag, shmem_enabled, hpage_pmd_size, every khugepaged file, each hugepages-SIZE enabled and
 * stats file), /proc/<pid>/comm of every process (to select by comm), and for each selected one
 * stat, status and smaps. (serve also walks each one's pagemap with PAGEMAP_SCAN and, as root,
 * kpageflags; those are ioctls and binary reads, not counted here.) One shot; prints one JSON line.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char buf[1 << 16];
static long bytes, files;

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
  }
  if (d) closedir(d);
  printf("{\"selected\":%ld,\"files\":%ld,\"bytes\":%ld}\n", selected, files, bytes);
  return 0;
}
