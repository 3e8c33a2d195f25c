/*
 * Windows: Node.js never exposes a socket handle to addons (net.Socket's fd is
 * always -1), so the JS layer uses Node's own setKeepAlive there and this core
 * only answers "unsupported". It exists so that a source build succeeds.
 */
#include <errno.h>

#include "ka_internal.h"

unsigned ka_capabilities(void) {
  return 0;
}

static int unsupported(ka_error_t *error, const char *syscall, const char *option) {
  return ka_fail(error, ENOSYS, syscall, option);
}

int ka_check_tcp(int fd, ka_error_t *error) {
  (void)fd;
  return unsupported(error, "getsockopt", "SO_TYPE");
}

int ka_apply(int fd, const ka_config_t *config, ka_error_t *error) {
  (void)fd;
  (void)config;
  return unsupported(error, "setsockopt", "SO_KEEPALIVE");
}

int ka_read(int fd, ka_state_t *state, ka_error_t *error) {
  (void)fd;
  (void)state;
  return unsupported(error, "getsockopt", "SO_KEEPALIVE");
}

int ka_tcp_info(int fd, double *values, ka_error_t *error) {
  (void)fd;
  ka_tcp_info_clear(values);
  return unsupported(error, "getsockopt", "TCP_INFO");
}

int ka_duplicate_fd(int pid, int target_fd, int *out, ka_error_t *error) {
  (void)pid;
  (void)target_fd;
  (void)out;
  return unsupported(error, "pidfd_getfd", "");
}

int ka_close_fd(int fd, ka_error_t *error) {
  (void)fd;
  return unsupported(error, "close", "");
}
