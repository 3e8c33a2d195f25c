/*
 * The portable C core (native/keepalive.h) on real loopback sockets, without
 * Node: what it writes is read back with plain getsockopt, not with ka_read.
 * Built and run by test/native/core.test.ts with the host compiler, and by
 * .ci/cross.sh statically against musl and for arm64 (run under qemu), so
 * the same checks cover every C library and CPU we can execute here.
 * Prints "N passed, N failed" and exits non-zero on any failure.
 */
#include "keepalive.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* macOS spells the idle time TCP_KEEPALIVE. */
#if defined(TCP_KEEPIDLE)
#define IDLE_OPTION TCP_KEEPIDLE
#elif defined(TCP_KEEPALIVE)
#define IDLE_OPTION TCP_KEEPALIVE
#endif

static int passed, failed;

#define CHECK(condition, ...)                                       \
  do {                                                              \
    if (condition) {                                                \
      passed++;                                                     \
    } else {                                                        \
      failed++;                                                     \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #condition); \
      fprintf(stderr, __VA_ARGS__);                                 \
      fputc('\n', stderr);                                          \
    }                                                               \
  } while (0)

static int kernel_value(int fd, int level, int option) {
  int value = -12345;
  socklen_t length = sizeof value;
  if (getsockopt(fd, level, option, &value, &length) != 0) return -errno;
  return value;
}

/* A connected loopback TCP client over the given family; -1 if the family is unavailable. */
static int tcp_client(int family, int *accepted) {
  struct sockaddr_storage address;
  socklen_t length;
  memset(&address, 0, sizeof address);
  if (family == AF_INET) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof *v4;
  } else {
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = in6addr_loopback;
    length = sizeof *v6;
  }
  int listener = socket(family, SOCK_STREAM, 0);
  if (listener < 0) return -1;
  if (bind(listener, (struct sockaddr *)&address, length) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
    close(listener);
    return -1;
  }
  int client = socket(family, SOCK_STREAM, 0);
  if (client < 0 || connect(client, (struct sockaddr *)&address, length) != 0) {
    close(listener);
    if (client >= 0) close(client);
    return -1;
  }
  *accepted = accept(listener, NULL, NULL);
  close(listener);
  return client;
}

static void expect_failure(int result, const ka_error_t *error, int err, const char *option, const char *what) {
  CHECK(result == -1, "%s: expected failure, got %d", what, result);
  if (result != -1) return; /* error was not filled in */
  CHECK(error->err == err, "%s: errno %s, expected %s", what, strerror(error->err), strerror(err));
  CHECK(strcmp(error->option, option) == 0, "%s: option %s, expected %s", what, error->option, option);
}

static void check_tcp_socket(int family, const char *name) {
  int accepted = -1;
  int fd = tcp_client(family, &accepted);
  if (fd < 0) {
    printf("SKIPPED: no loopback %s here (%s)\n", name, strerror(errno));
    return;
  }
  ka_error_t error;
  CHECK(ka_check_tcp(fd, &error) == 0, "%s: check_tcp failed with %s", name, strerror(error.err));

  /* An option this platform lacks is refused by name (ENOPROTOOPT), never silently dropped. */
  const unsigned capabilities = ka_capabilities();
  static const struct {
    unsigned capability;
    const char *option;
  } tunings[] = {{KA_CAP_IDLE, "TCP_KEEPIDLE"}, {KA_CAP_INTERVAL, "TCP_KEEPINTVL"}, {KA_CAP_COUNT, "TCP_KEEPCNT"},
                 {KA_CAP_USER_TIMEOUT, "TCP_USER_TIMEOUT"}};
  for (unsigned i = 0; i < sizeof tunings / sizeof tunings[0]; i++) {
    if (capabilities & tunings[i].capability) continue;
    ka_config_t unsupported = {KA_UNCHANGED, KA_UNCHANGED, KA_UNCHANGED, KA_UNCHANGED, KA_UNCHANGED};
    int *fields[] = {&unsupported.idle_s, &unsupported.interval_s, &unsupported.count, &unsupported.user_timeout_ms};
    *fields[i] = 10;
    expect_failure(ka_apply(fd, &unsupported, &error), &error, ENOPROTOOPT, tunings[i].option, name);
  }
#define IF_SUPPORTED(capability, value) ((capabilities & (capability)) ? (value) : KA_UNCHANGED)
  const int idle = IF_SUPPORTED(KA_CAP_IDLE, 30), interval = IF_SUPPORTED(KA_CAP_INTERVAL, 5),
            user_timeout = IF_SUPPORTED(KA_CAP_USER_TIMEOUT, 45000);
  ka_config_t config = {1, idle, interval, IF_SUPPORTED(KA_CAP_COUNT, 3), user_timeout};
  CHECK(ka_apply(fd, &config, &error) == 0, "%s: apply failed: %s(%s)", name, error.option, strerror(error.err));
  CHECK(kernel_value(fd, SOL_SOCKET, SO_KEEPALIVE) == 1, "%s: SO_KEEPALIVE", name);
  CHECK(kernel_value(accepted, SOL_SOCKET, SO_KEEPALIVE) == 0, "%s: the accepted socket changed with the client", name);
#ifdef IDLE_OPTION
  CHECK(kernel_value(fd, IPPROTO_TCP, IDLE_OPTION) == 30, "%s: idle", name);
#endif
#ifdef TCP_KEEPINTVL
  CHECK(kernel_value(fd, IPPROTO_TCP, TCP_KEEPINTVL) == 5, "%s: interval", name);
#endif
#ifdef TCP_KEEPCNT
  CHECK(kernel_value(fd, IPPROTO_TCP, TCP_KEEPCNT) == 3, "%s: count", name);
#endif
#ifdef TCP_USER_TIMEOUT
  CHECK(kernel_value(fd, IPPROTO_TCP, TCP_USER_TIMEOUT) == 45000, "%s: user timeout", name);
#endif

  /* KA_UNCHANGED leaves a value alone; enable 0 keeps the tuning. */
  const int count = IF_SUPPORTED(KA_CAP_COUNT, 7);
  ka_config_t partial = {0, KA_UNCHANGED, KA_UNCHANGED, count, KA_UNCHANGED};
  CHECK(ka_apply(fd, &partial, &error) == 0, "%s: partial apply", name);
  ka_state_t state;
  CHECK(ka_read(fd, &state, &error) == 0, "%s: read failed: %s", name, strerror(error.err));
  CHECK(state.enable == 0 && state.idle_s == idle && state.interval_s == interval && state.count == count &&
            state.user_timeout_ms == user_timeout,
        "%s: read back %d %d %d %d %d", name, state.enable, state.idle_s, state.interval_s, state.count, state.user_timeout_ms);
  CHECK(kernel_value(fd, SOL_SOCKET, SO_KEEPALIVE) == 0, "%s: SO_KEEPALIVE off", name);

#ifdef TCP_KEEPCNT
  /* The kernel refuses a count of 0; the error names the option and SO_KEEPALIVE is left as it was. */
  ka_config_t refused = {1, KA_UNCHANGED, KA_UNCHANGED, 0, KA_UNCHANGED};
  expect_failure(ka_apply(fd, &refused, &error), &error, EINVAL, "TCP_KEEPCNT", name);
  CHECK(strcmp(error.syscall, "setsockopt") == 0, "%s: syscall %s", name, error.syscall);
  CHECK(kernel_value(fd, SOL_SOCKET, SO_KEEPALIVE) == 0, "%s: a failed apply switched keepalive on", name);
#endif

  /* The accepted side is a TCP socket too, and independent of the client. */
  CHECK(ka_check_tcp(accepted, &error) == 0, "%s: accepted check_tcp", name);
  close(accepted);
  close(fd);
  /* A closed fd is EBADF, never a crash. */
  expect_failure(ka_check_tcp(fd, &error), &error, EBADF, "SO_TYPE", "closed fd");
  expect_failure(ka_read(fd, &state, &error), &error, EBADF, "SO_KEEPALIVE", "read on closed fd");
}

static void check_refusals(void) {
  ka_error_t error;
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  expect_failure(ka_check_tcp(udp, &error), &error, EPROTOTYPE, "SO_TYPE", "udp socket");
  close(udp);

  int pair[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair: %s", strerror(errno));
  expect_failure(ka_check_tcp(pair[0], &error), &error, EAFNOSUPPORT, "SO_DOMAIN", "unix stream socket");
  close(pair[0]);
  close(pair[1]);

  int pipe_ends[2];
  CHECK(pipe(pipe_ends) == 0, "pipe: %s", strerror(errno));
  expect_failure(ka_check_tcp(pipe_ends[0], &error), &error, ENOTSOCK, "SO_TYPE", "pipe");
  close(pipe_ends[0]);
  close(pipe_ends[1]);

#if defined(__linux__) && !defined(KA_SIMULATED_PLATFORM)
  /* Without the TCP check, the kernel refuses TCP-level options on other sockets before anything is written. */
  ka_config_t tuning = {1, 5, KA_UNCHANGED, KA_UNCHANGED, KA_UNCHANGED};
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair: %s", strerror(errno));
  expect_failure(ka_apply(pair[0], &tuning, &error), &error, EOPNOTSUPP, "TCP_KEEPIDLE", "apply on a unix socket");
  CHECK(kernel_value(pair[0], SOL_SOCKET, SO_KEEPALIVE) == 0, "a refused apply switched keepalive on a unix socket");
  close(pair[0]);
  close(pair[1]);
#endif

  unsigned capabilities = ka_capabilities();
  CHECK((capabilities & KA_CAP_READ_BACK) != 0, "capabilities %u", capabilities);
#if defined(__linux__) && !defined(KA_SIMULATED_PLATFORM)
  unsigned linux_has_all = KA_CAP_IDLE | KA_CAP_INTERVAL | KA_CAP_COUNT | KA_CAP_USER_TIMEOUT | KA_CAP_READ_BACK |
                           KA_CAP_TCP_INFO | KA_CAP_DUPLICATE_FD;
  CHECK(capabilities == linux_has_all, "capabilities %u on Linux", capabilities);
#endif
}

#if defined(__linux__) && !defined(KA_SIMULATED_PLATFORM)
/* TCP_INFO of an established loopback connection, and another process's fd read through a duplicate. */
static void check_tcp_info_and_duplicate(void) {
  int server = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  CHECK(bind(server, (struct sockaddr *)&address, sizeof address) == 0 && listen(server, 1) == 0 &&
            getsockname(server, (struct sockaddr *)&address, &length) == 0,
        "tcp_info: listen: %s", strerror(errno));
  int client = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(connect(client, (struct sockaddr *)&address, sizeof address) == 0, "tcp_info: connect: %s", strerror(errno));
  double values[KA_TCP_INFO_FIELD_COUNT];
  ka_error_t error;
  CHECK(ka_tcp_info(client, values, &error) == 0, "tcp_info: %s", strerror(error.err));
  CHECK(values[KA_TI_STATE] == 1, "tcp_info: state %f, expected 1 (established)", values[KA_TI_STATE]);
  if (getenv("KA_TEST_UNDER_QEMU") != NULL) {
    /* qemu-user passes TCP_INFO through as if it were an int option: only its first 4 bytes come back. */
    CHECK(isnan(values[KA_TI_RTO]), "tcp_info under qemu: rto %f, expected NaN (not returned)", values[KA_TI_RTO]);
    printf("SKIPPED tcp_info rto: qemu-user returns only the first 4 bytes of TCP_INFO\n");
  } else {
    CHECK(values[KA_TI_RTO] >= 200, "tcp_info: rto %f ms", values[KA_TI_RTO]);
  }
  CHECK(strcmp(ka_tcp_info_names[KA_TI_RTO], "rto") == 0, "tcp_info: name %s", ka_tcp_info_names[KA_TI_RTO]);
  CHECK(ka_tcp_info(server, values, &error) == 0 && values[KA_TI_STATE] == 10, "tcp_info: listener state %f",
        values[KA_TI_STATE]);

  ka_config_t config = {1, 42, KA_UNCHANGED, KA_UNCHANGED, KA_UNCHANGED};
  CHECK(ka_apply(client, &config, &error) == 0, "duplicate: apply");
  int copy = -1;
  CHECK(ka_duplicate_fd((int)getpid(), client, &copy, &error) == 0, "duplicate: %s(%s)", error.syscall,
        strerror(error.err));
  CHECK(copy >= 0 && copy != client && kernel_value(copy, IPPROTO_TCP, IDLE_OPTION) == 42, "duplicate: idle via copy");
  CHECK(ka_close_fd(copy, &error) == 0, "duplicate: close");
  expect_failure(ka_close_fd(copy, &error), &error, EBADF, "", "close twice");
  close(client);
  close(server);
}
#endif

int main(void) {
#if defined(__linux__) && !defined(KA_SIMULATED_PLATFORM)
  check_tcp_info_and_duplicate();
#endif
  check_tcp_socket(AF_INET, "IPv4");
  check_tcp_socket(AF_INET6, "IPv6");
  check_refusals();
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
