// A target process with N VMAs holding anonymous memory, for the report rows. Invariant: it
// makes exactly N extra VMAs (one region, every page touched, then every other page's
// protection flipped so no two neighbours merge), prints one JSON line once ready and stays
// until its stdin closes, so the bench and the target never outlive each other.
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000;
  long page = sysconf(_SC_PAGESIZE);
  if (n < 1) {
    printf("{\"error\":\"N must be >= 1\"}\n");
    return 1;
  }
  char *p = mmap(NULL, (size_t)n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    printf("{\"error\":\"mmap failed\"}\n");
    return 1;
  }
  for (long i = 0; i < n; i++) p[i * page] = 1;  // anonymous memory in every VMA
  // Alternating protection splits the region into n VMAs (n - 1 boundaries, each a split).
  for (long i = 1; i < n; i += 2) {
    if (mprotect(p + i * page, page, PROT_READ) != 0) {
      printf("{\"error\":\"mprotect failed at %ld (vm.max_map_count?)\"}\n", i);
      return 1;
    }
  }
  printf("{\"pid\":%d,\"vmas\":%ld}\n", (int)getpid(), n);
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {
  }
  return 0;
}
