/* Linux, macOS and the BSDs. */
#include "ka_internal.h"

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

static int set_int(int fd, int level, int name, int value, const char *option, ka_error_t *error) {
  if (setsockopt(fd, level, name, &value, (socklen_t)sizeof value) != 0) {
    return ka_fail(error, errno, "setsockopt", option);
  }
  return 0;
}

static int get_int(int fd, int level, int name, int *value, const char *option, ka_error_t *error) {
  socklen_t length = (socklen_t)sizeof *value;
  if (getsockopt(fd, level, name, value, &length) != 0) {
    return ka_fail(error, errno, "getsockopt", option);
  }
  return 0;
}

/*
 * One #ifdef per option, as libuv's uv__tcp_keepalive has them: an option
 * this platform's headers lack is ENOPROTOOPT when asked for and KA_UNCHANGED
 * when read back.
 */
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
#if defined(__linux__) || (defined(__APPLE__) && defined(TCP_CONNECTION_INFO))
  capabilities |= KA_CAP_TCP_INFO; /* tcp_info.c */
#endif
#ifdef __linux__
  capabilities |= KA_CAP_DUPLICATE_FD; /* process_fd.c */
#endif
  return capabilities;
}

int ka_check_tcp(int fd, ka_error_t *error) {
  int type = 0;
  if (get_int(fd, SOL_SOCKET, SO_TYPE, &type, "SO_TYPE", error) != 0) return -1;
  if (type != SOCK_STREAM) return ka_fail(error, EPROTOTYPE, "getsockopt", "SO_TYPE");

#ifdef SO_DOMAIN
  int family = 0;
  if (get_int(fd, SOL_SOCKET, SO_DOMAIN, &family, "SO_DOMAIN", error) != 0) return -1;
#else
  struct sockaddr_storage address;
  socklen_t length = (socklen_t)sizeof address;
  if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
    return ka_fail(error, errno, "getsockname", "SO_DOMAIN");
  }
  int family = address.ss_family;
#endif
  if (family != AF_INET && family != AF_INET6) {
    return ka_fail(error, EAFNOSUPPORT, "getsockopt", "SO_DOMAIN");
  }

#ifdef SO_PROTOCOL
  /* SCTP also offers SOCK_STREAM over INET; its keepalive options differ. */
  int protocol = 0;
  if (get_int(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, "SO_PROTOCOL", error) != 0) return -1;
  if (protocol != IPPROTO_TCP) return ka_fail(error, EPROTONOSUPPORT, "getsockopt", "SO_PROTOCOL");
#endif
  return 0;
}

/* Writes one TCP-level option unless it is KA_UNCHANGED; ENOPROTOOPT where the headers lack it (name < 0). */
static int set_tuning(int fd, int name, int value, const char *option, ka_error_t *error) {
  if (value == KA_UNCHANGED) return 0;
  if (name < 0) return ka_fail(error, ENOPROTOOPT, "setsockopt", option);
  return set_int(fd, IPPROTO_TCP, name, value, option, error);
}

/* Reads one TCP-level option; KA_UNCHANGED where the headers lack it (name < 0). */
static int get_tuning(int fd, int name, int *value, const char *option, ka_error_t *error) {
  *value = KA_UNCHANGED;
  return name < 0 ? 0 : get_int(fd, IPPROTO_TCP, name, value, option, error);
}

#ifndef TCP_KEEPIDLE
#define TCP_KEEPIDLE (-1)
#endif
#ifndef TCP_KEEPINTVL
#define TCP_KEEPINTVL (-1)
#endif
#ifndef TCP_KEEPCNT
#define TCP_KEEPCNT (-1)
#endif
#ifndef TCP_USER_TIMEOUT
#define TCP_USER_TIMEOUT (-1)
#endif

int ka_apply(int fd, const ka_config_t *config, ka_error_t *error) {
  /* Tuning first, switch last: a failure never leaves probes running on timings it half-replaced. */
  if (set_tuning(fd, TCP_KEEPIDLE, config->idle_s, KA_IDLE_OPTION_NAME, error) != 0 ||
      set_tuning(fd, TCP_KEEPINTVL, config->interval_s, "TCP_KEEPINTVL", error) != 0 ||
      set_tuning(fd, TCP_KEEPCNT, config->count, "TCP_KEEPCNT", error) != 0 ||
      set_tuning(fd, TCP_USER_TIMEOUT, config->user_timeout_ms, "TCP_USER_TIMEOUT", error) != 0)
    return -1;
  if (config->enable == KA_UNCHANGED) return 0;
  return set_int(fd, SOL_SOCKET, SO_KEEPALIVE, config->enable ? 1 : 0, "SO_KEEPALIVE", error);
}

int ka_read(int fd, ka_state_t *state, ka_error_t *error) {
  if (get_int(fd, SOL_SOCKET, SO_KEEPALIVE, &state->enable, "SO_KEEPALIVE", error) != 0) return -1;
  state->enable = state->enable != 0;
  return get_tuning(fd, TCP_KEEPIDLE, &state->idle_s, KA_IDLE_OPTION_NAME, error) != 0 ||
                 get_tuning(fd, TCP_KEEPINTVL, &state->interval_s, "TCP_KEEPINTVL", error) != 0 ||
                 get_tuning(fd, TCP_KEEPCNT, &state->count, "TCP_KEEPCNT", error) != 0 ||
                 get_tuning(fd, TCP_USER_TIMEOUT, &state->user_timeout_ms, "TCP_USER_TIMEOUT", error) != 0
             ? -1
             : 0;
}
