/*
 * What both C floors (floor.c, tcp-info-floor.c) share: a connected loopback
 * TCP socket of their own, and one idle thread that stays blocked for the life
 * of the process. Every Node process has several threads, and with more than
 * one the kernel's fd lookup costs ~20 % more per syscall (floor.c measures
 * it), so a floor with a second thread is the one a Node process can reach.
 */
#ifndef TCPKA_BENCH_FLOOR_COMMON_H
#define TCPKA_BENCH_FLOOR_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(2);
}

static int connected_socket(void) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address;
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, (struct sockaddr *)&address, &length) != 0)
    die("listen");
  int client = socket(AF_INET, SOCK_STREAM, 0);
  if (client < 0 || connect(client, (struct sockaddr *)&address, sizeof address) != 0) die("connect");
  if (accept(listener, NULL, NULL) < 0) die("accept");
  return client;
}

static void *idle_thread(void *unused) {
  (void)unused;
  for (;;) pause(); /* blocked in the kernel, never runs: it only has to exist */
  return NULL;
}

static void start_idle_thread(void) {
  pthread_t thread;
  if (pthread_create(&thread, NULL, idle_thread, NULL) != 0) die("pthread_create");
  pthread_detach(thread);
}

#endif
