/*
 * A C workload whose memory comes from one allocator path at a time, so a test knows who
 * owns what: `alloc MODE MIB` with MODE heap (small mallocs, the main arena), arena (small
 * mallocs from a second thread: a thread arena), mmap (8 MiB mallocs: mmapped chunks), or
 * stack (a thread touching MIB of its own stack). Every byte is written; then it prints
 * "ready" and waits for stdin to close.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t total;
static const char *mode;

static void small(size_t bytes) {
  for (size_t done = 0; done < bytes; done += 1024) memset(malloc(1000), 1, 1000);
}

static void touch_stack(size_t bytes) {
  volatile char *buf = __builtin_alloca(bytes);
  for (size_t i = 0; i < bytes; i += 4096) buf[i] = 1;
}

static void *thread(void *arg) {
  (void)arg;
  if (!strcmp(mode, "arena")) small(total);
  else touch_stack(total);
  printf("ready\n");
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {}
  exit(0);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  mode = argv[1];
  total = (size_t)atol(argv[2]) << 20;
  if (!strcmp(mode, "heap")) small(total);
  else if (!strcmp(mode, "mmap")) for (size_t done = 0; done < total; done += 8 << 20) memset(malloc(8 << 20), 1, 8 << 20);
  else {
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    if (!strcmp(mode, "stack")) pthread_attr_setstacksize(&a, total + (8 << 20));
    pthread_create(&t, &a, thread, NULL);
    pthread_join(t, NULL);
    return 0;
  }
  printf("ready\n");
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {}
  return 0;
}
