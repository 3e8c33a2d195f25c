/*
 * Reads a socket's keepalive options from OUTSIDE the process that owns it:
 * pidfd_getfd duplicates the target's fd, so the values come from the kernel
 * without passing through tcp-keepalive's addon.
 * Usage: kernel-reader <pid> <fd>  →  {"enabled":1,"idle":30,"interval":5,"count":3,"userTimeout":45000}
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int get(int fd, int level, int name) {
  int value = -1;
  socklen_t length = sizeof value;
  if (getsockopt(fd, level, name, &value, &length) != 0) { perror("getsockopt"); exit(3); }
  return value;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s pid fd\n", argv[0]); return 2; }
  int pidfd = (int)syscall(SYS_pidfd_open, atoi(argv[1]), 0);
  if (pidfd < 0) { perror("pidfd_open"); return 3; }
  int fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(argv[2]), 0);
  if (fd < 0) { perror("pidfd_getfd"); return 3; }
  printf("{\"enabled\":%d,\"idle\":%d,\"interval\":%d,\"count\":%d,\"userTimeout\":%d}\n",
         get(fd, SOL_SOCKET, SO_KEEPALIVE) != 0, get(fd, IPPROTO_TCP, TCP_KEEPIDLE), get(fd, IPPROTO_TCP, TCP_KEEPINTVL),
         get(fd, IPPROTO_TCP, TCP_KEEPCNT), get(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
  return 0;
}
