/* Linux, macOS and the BSDs. */
#include "keepalive.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>

/* macOS names the idle time TCP_KEEPALIVE. */
#if !defined(TCP_KEEPIDLE) && defined(TCP_KEEPALIVE)
#define TCP_KEEPIDLE TCP_KEEPALIVE
#define KA_IDLE_OPTION_NAME "TCP_KEEPALIVE"
#else
#define KA_IDLE_OPTION_NAME "TCP_KEEPIDLE"
#endif

static int fail(ka_error_t *error, int err, const char *syscall, const char *option) {
  error->err = err;
  error->syscall = syscall;
  error->option = option;
  return -1;
}

static int set_int(int fd, int level, int name, int value, const char *option, ka_error_t *error) {
  if (setsockopt(fd, level, name, &value, (socklen_t)sizeof value) != 0) {
    return fail(error, errno, "setsockopt", option);
  }
  return 0;
}

static int get_int(int fd, int level, int name, int *value, const char *option, ka_error_t *error) {
  socklen_t length = (socklen_t)sizeof *value;
  if (getsockopt(fd, level, name, value, &length) != 0) {
    return fail(error, errno, "getsockopt", option);
  }
  return 0;
}

unsigned ka_capabilities(void) {
  unsigned capabilities = KA_CAP_READ_BACK;
#ifdef TCP_KEEPIDLE
  capabilities |= KA_CAP_IDLE;
#endif
#ifdef TCP_KEEPINTVL
  capabilities |= KA_CAP_INTERVAL;
#endif
#ifdef TCP_KEEPCNT
  capabilities |= KA_CAP_COUNT;
#endif
#ifdef TCP_USER_TIMEOUT
  capabilities |= KA_CAP_USER_TIMEOUT;
#endif
  return capabilities;
}

int ka_check_tcp(int fd, ka_error_t *error) {
  int type = 0;
  if (get_int(fd, SOL_SOCKET, SO_TYPE, &type, "SO_TYPE", error) != 0) return -1;
  if (type != SOCK_STREAM) return fail(error, EPROTOTYPE, "getsockopt", "SO_TYPE");

#ifdef SO_DOMAIN
  int family = 0;
  if (get_int(fd, SOL_SOCKET, SO_DOMAIN, &family, "SO_DOMAIN", error) != 0) return -1;
#else
  struct sockaddr_storage address;
  socklen_t length = (socklen_t)sizeof address;
  if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
    return fail(error, errno, "getsockname", "SO_DOMAIN");
  }
  int family = address.ss_family;
#endif
  if (family != AF_INET && family != AF_INET6) {
    return fail(error, EAFNOSUPPORT, "getsockopt", "SO_DOMAIN");
  }

#ifdef SO_PROTOCOL
  /* SCTP also offers SOCK_STREAM over INET; its keepalive options differ. */
  int protocol = 0;
  if (get_int(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, "SO_PROTOCOL", error) != 0) return -1;
  if (protocol != IPPROTO_TCP) return fail(error, EPROTONOSUPPORT, "getsockopt", "SO_PROTOCOL");
#endif
  return 0;
}

int ka_apply(int fd, const ka_config_t *config, ka_error_t *error) {
  /* Tuning first, switch last: a failure never leaves probes running on old timings it just half-replaced. */
#ifdef TCP_KEEPIDLE
  if (config->idle_s != KA_UNCHANGED &&
      set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, config->idle_s, KA_IDLE_OPTION_NAME, error) != 0) return -1;
#else
  if (config->idle_s != KA_UNCHANGED) return fail(error, ENOPROTOOPT, "setsockopt", "TCP_KEEPIDLE");
#endif
#ifdef TCP_KEEPINTVL
  if (config->interval_s != KA_UNCHANGED &&
      set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, config->interval_s, "TCP_KEEPINTVL", error) != 0) return -1;
#else
  if (config->interval_s != KA_UNCHANGED) return fail(error, ENOPROTOOPT, "setsockopt", "TCP_KEEPINTVL");
#endif
#ifdef TCP_KEEPCNT
  if (config->count != KA_UNCHANGED &&
      set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, config->count, "TCP_KEEPCNT", error) != 0) return -1;
#else
  if (config->count != KA_UNCHANGED) return fail(error, ENOPROTOOPT, "setsockopt", "TCP_KEEPCNT");
#endif
#ifdef TCP_USER_TIMEOUT
  if (config->user_timeout_ms != KA_UNCHANGED &&
      set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, config->user_timeout_ms, "TCP_USER_TIMEOUT", error) != 0) return -1;
#else
  if (config->user_timeout_ms != KA_UNCHANGED) return fail(error, ENOPROTOOPT, "setsockopt", "TCP_USER_TIMEOUT");
#endif
  if (config->enable != KA_UNCHANGED &&
      set_int(fd, SOL_SOCKET, SO_KEEPALIVE, config->enable ? 1 : 0, "SO_KEEPALIVE", error) != 0) return -1;
  return 0;
}

int ka_read(int fd, ka_state_t *state, ka_error_t *error) {
  if (get_int(fd, SOL_SOCKET, SO_KEEPALIVE, &state->enable, "SO_KEEPALIVE", error) != 0) return -1;
  state->enable = state->enable != 0;
#ifdef TCP_KEEPIDLE
  if (get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, &state->idle_s, KA_IDLE_OPTION_NAME, error) != 0) return -1;
#else
  state->idle_s = KA_UNCHANGED;
#endif
#ifdef TCP_KEEPINTVL
  if (get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, &state->interval_s, "TCP_KEEPINTVL", error) != 0) return -1;
#else
  state->interval_s = KA_UNCHANGED;
#endif
#ifdef TCP_KEEPCNT
  if (get_int(fd, IPPROTO_TCP, TCP_KEEPCNT, &state->count, "TCP_KEEPCNT", error) != 0) return -1;
#else
  state->count = KA_UNCHANGED;
#endif
#ifdef TCP_USER_TIMEOUT
  if (get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &state->user_timeout_ms, "TCP_USER_TIMEOUT", error) != 0) return -1;
#else
  state->user_timeout_ms = KA_UNCHANGED;
#endif
  return 0;
}
