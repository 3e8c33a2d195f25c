/*
 * The floor for tcpInfo / connectionHealth: one getsockopt(TCP_INFO) of the
 * kernel's whole struct, from C, on a connected loopback TCP socket of its
 * own. Driven by bench/benchmarks/health.js over stdin/stdout ("info <calls>"),
 * answering ns per call, so its rounds interleave with the Node contenders'.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "floor-common.h"

/* Wall time, or (BENCH_CLOCK=cpu in the parent) this process's CPU time: on a loaded machine, time spent
   waiting for a CPU is not the call's cost. */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now_ns(void) {
  struct timespec t;
  clock_gettime(clock_id, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* As large as the addon asks for (Linux 6.x's struct tcp_info is 248 bytes); the kernel copies what it has. */
static unsigned char info[256];
static uint64_t sink;

static double run_info(int fd, long calls) {
  double start = now_ns();
  for (long k = 0; k < calls; k++) {
    socklen_t length = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &length) != 0) die("getsockopt");
    sink += info[0] + length; /* state: the read is used */
  }
  return (now_ns() - start) / (double)calls;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "cpu") == 0) clock_id = CLOCK_PROCESS_CPUTIME_ID;
  start_idle_thread(); /* floor-common.h: the floor a Node process (always threaded) can reach */
  int fd = connected_socket();
  char line[128];
  char command[16];
  long calls;
  while (fgets(line, sizeof line, stdin) != NULL) {
    if (sscanf(line, "%15s %ld", command, &calls) != 2) {
      printf("bad request\n");
    } else if (strcmp(command, "info") == 0 && calls > 0) {
      printf("%.3f\n", run_info(fd, calls));
    } else if (strcmp(command, "verify") == 0) {
      printf(sink > 0 ? "ok\n" : "no TCP_INFO was read\n");
    } else {
      printf("unknown request %s\n", command);
    }
    fflush(stdout);
  }
  return sink == 42 ? 3 : 0;
}
