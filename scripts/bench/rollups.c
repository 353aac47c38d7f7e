/*
 * Row 14 baseline: what `report --all` must at least do — read /proc/<pid>/smaps_rollup of every
 * process listed in /proc at the time it runs, each into one buffer, nothing parsed. Processes
 * without a memory map (kernel threads: ESRCH or an empty file), gone meanwhile (ENOENT) or not
 * ours to read (EACCES/EPERM) are skipped and counted, as the report skips and counts them.
 * One shot: the bench times the whole command, as it times the report's. Prints one JSON line.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static char buf[1 << 16];

int main(void) {
  DIR *d = opendir("/proc");
  if (!d) { printf("{\"error\":\"cannot open /proc\"}\n"); return 1; }
  long readable = 0, unreadable = 0, empty = 0, bytes = 0;
  char path[300];
  for (struct dirent *e; (e = readdir(d));) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    snprintf(path, sizeof path, "/proc/%s/smaps_rollup", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == EACCES || errno == EPERM) unreadable++;
      continue;
    }
    long got = 0;
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        if (errno == EACCES || errno == EPERM) unreadable++;
        got = -1;
        break;
      }
      if (n == 0) break;
      got += n;
    }
    close(fd);
    if (got > 0) readable++, bytes += got;
    else if (got == 0) empty++;
  }
  closedir(d);
  printf("{\"readable\":%ld,\"unreadable\":%ld,\"empty\":%ld,\"bytes\":%ld}\n", readable, unreadable, empty, bytes);
  return 0;
}
