/*
 * The physical floor: the same syscalls configureKeepalive / getKeepalive make,
 * from C, on a connected loopback TCP socket of its own. Driven by bench/run.js
 * over stdin/stdout ("set <calls>" | "get <calls>" | "verify 0"), answering ns
 * per call, so its rounds interleave with the Node contenders'. Values follow
 * the same sequence as bench/lib/per-call.js: every call writes new values.
 *
 * Threaded by default: before measuring, it starts one idle thread that stays
 * blocked for the life of the process (see start_idle_thread). `floor single`
 * leaves it out; bench/run.js runs that too, only to show what it changes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "floor-common.h"

#define SECONDS_SPAN 32000
#define COUNT_SPAN 127

/*
 * Why the floor has a second thread: every Node process has several (V8's
 * platform workers, libuv's threadpool, the inspector/signal threads), and a
 * process with more than one thread pays more for every syscall on an fd.
 * The kernel's fd lookup (fdget() in fs/file.c) has a fast path for a process
 * whose file table is not shared: no other thread can close the fd meanwhile,
 * so it takes no reference on the struct file. Threads share the file table
 * (CLONE_FILES), so with two or more every setsockopt/getsockopt takes and
 * drops a reference (two atomic operations on a shared cache line) instead.
 * Measured on the benchmark VM: ~20 % more per 4 × setsockopt. A
 * single-threaded C loop is therefore a floor no Node process can reach; one
 * idle thread, blocked until exit (start_idle_thread, floor-common.h), makes
 * the floor the cost Node really faces.
 */

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void set_int(int fd, int level, int name, int value) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) die("setsockopt");
}

static int get_int(int fd, int level, int name) {
  int value = 0;
  socklen_t length = sizeof value;
  if (getsockopt(fd, level, name, &value, &length) != 0) die("getsockopt");
  return value;
}

static unsigned long configured; /* calls made so far: the next values to write */
static long sink;

/*
 * What configureKeepalive(socket, { idle, interval, count }) makes: tuning first, switch last.
 * run_set and run_get stay functions of their own: callgrind counts inside them by name
 * (bench/benchmarks/instructions.js, --toggle-collect).
 */
__attribute__((noinline)) static double run_set(int fd, long calls) {
  double start = now_ns();
  for (long k = 0; k < calls; k++, configured++) {
    set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 1 + (int)(configured % SECONDS_SPAN));
    set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 1 + (int)((configured + SECONDS_SPAN / 2) % SECONDS_SPAN));
    set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 1 + (int)(configured % COUNT_SPAN));
    set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  }
  return (now_ns() - start) / (double)calls;
}

/* What getKeepalive reads: five options. */
__attribute__((noinline)) static double run_get(int fd, long calls) {
  double start = now_ns();
  for (long k = 0; k < calls; k++) {
    sink += get_int(fd, SOL_SOCKET, SO_KEEPALIVE) + get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE) +
            get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL) + get_int(fd, IPPROTO_TCP, TCP_KEEPCNT) +
            get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT);
  }
  return (now_ns() - start) / (double)calls;
}

/* "ok" when the kernel holds the last values written (the loop really ran). */
static int verify(int fd) {
  if (configured == 0) return 1;
  unsigned long last = configured - 1;
  return get_int(fd, SOL_SOCKET, SO_KEEPALIVE) == 1 &&
         get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE) == 1 + (int)(last % SECONDS_SPAN) &&
         get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL) == 1 + (int)((last + SECONDS_SPAN / 2) % SECONDS_SPAN) &&
         get_int(fd, IPPROTO_TCP, TCP_KEEPCNT) == 1 + (int)(last % COUNT_SPAN);
}

int main(int argc, char **argv) {
  int single = argc > 1 && strcmp(argv[1], "single") == 0;
  if (!single) start_idle_thread();
  int setter = connected_socket();
  int reader = connected_socket();
  set_int(reader, SOL_SOCKET, SO_KEEPALIVE, 1);
  char line[128];
  char command[16];
  long calls;
  while (fgets(line, sizeof line, stdin) != NULL) {
    if (sscanf(line, "%15s %ld", command, &calls) != 2) {
      printf("bad request\n");
    } else if (strcmp(command, "set") == 0 && calls > 0) {
      printf("%.3f\n", run_set(setter, calls));
    } else if (strcmp(command, "get") == 0 && calls > 0) {
      printf("%.3f\n", run_get(reader, calls));
    } else if (strcmp(command, "verify") == 0) {
      printf(verify(setter) ? "ok\n" : "kernel does not hold the last values written\n");
    } else {
      printf("unknown request %s\n", command);
    }
    fflush(stdout);
  }
  return sink == 42 ? 3 : 0; /* sink is used, so the reads stay observable */
}
