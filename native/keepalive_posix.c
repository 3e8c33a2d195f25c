/* Linux, macOS and the BSDs. */
#include "keepalive.h"

#include <errno.h>
#include <stddef.h>
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

/*
 * The four tuning options in the order they are written. An option this
 * platform's headers lack is listed with supported = 0: asking for it is
 * ENOPROTOOPT, reading it gives KA_UNCHANGED. Constant data, no state.
 */
typedef struct {
  int supported;
  int name;
  const char *label;
  size_t field; /* offset of the value in ka_config_t */
  unsigned capability;
} ka_tuning_option_t;

#ifdef TCP_KEEPIDLE
#define KA_IDLE \
  { 1, TCP_KEEPIDLE, KA_IDLE_OPTION_NAME, offsetof(ka_config_t, idle_s), KA_CAP_IDLE }
#else
#define KA_IDLE \
  { 0, 0, "TCP_KEEPIDLE", offsetof(ka_config_t, idle_s), KA_CAP_IDLE }
#endif
#ifdef TCP_KEEPINTVL
#define KA_INTERVAL \
  { 1, TCP_KEEPINTVL, "TCP_KEEPINTVL", offsetof(ka_config_t, interval_s), KA_CAP_INTERVAL }
#else
#define KA_INTERVAL \
  { 0, 0, "TCP_KEEPINTVL", offsetof(ka_config_t, interval_s), KA_CAP_INTERVAL }
#endif
#ifdef TCP_KEEPCNT
#define KA_COUNT \
  { 1, TCP_KEEPCNT, "TCP_KEEPCNT", offsetof(ka_config_t, count), KA_CAP_COUNT }
#else
#define KA_COUNT \
  { 0, 0, "TCP_KEEPCNT", offsetof(ka_config_t, count), KA_CAP_COUNT }
#endif
#ifdef TCP_USER_TIMEOUT
#define KA_USER_TIMEOUT \
  { 1, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", offsetof(ka_config_t, user_timeout_ms), KA_CAP_USER_TIMEOUT }
#else
#define KA_USER_TIMEOUT \
  { 0, 0, "TCP_USER_TIMEOUT", offsetof(ka_config_t, user_timeout_ms), KA_CAP_USER_TIMEOUT }
#endif

static const ka_tuning_option_t tuning_options[] = {KA_IDLE, KA_INTERVAL, KA_COUNT, KA_USER_TIMEOUT};
#define KA_TUNING_OPTIONS (sizeof tuning_options / sizeof tuning_options[0])

static int *field_of(ka_config_t *config, const ka_tuning_option_t *option) {
  return (int *)((char *)config + option->field);
}

unsigned ka_capabilities(void) {
  unsigned capabilities = KA_CAP_READ_BACK;
  for (size_t i = 0; i < KA_TUNING_OPTIONS; i++) {
    if (tuning_options[i].supported) capabilities |= tuning_options[i].capability;
  }
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
  /* Tuning first, switch last: a failure never leaves probes running on timings it half-replaced. */
  for (size_t i = 0; i < KA_TUNING_OPTIONS; i++) {
    const ka_tuning_option_t *option = &tuning_options[i];
    int value = *field_of((ka_config_t *)config, option);
    if (value == KA_UNCHANGED) continue;
    if (!option->supported) return fail(error, ENOPROTOOPT, "setsockopt", option->label);
    if (set_int(fd, IPPROTO_TCP, option->name, value, option->label, error) != 0) return -1;
  }
  if (config->enable != KA_UNCHANGED &&
      set_int(fd, SOL_SOCKET, SO_KEEPALIVE, config->enable ? 1 : 0, "SO_KEEPALIVE", error) != 0)
    return -1;
  return 0;
}

int ka_read(int fd, ka_state_t *state, ka_error_t *error) {
  if (get_int(fd, SOL_SOCKET, SO_KEEPALIVE, &state->enable, "SO_KEEPALIVE", error) != 0) return -1;
  state->enable = state->enable != 0;
  for (size_t i = 0; i < KA_TUNING_OPTIONS; i++) {
    const ka_tuning_option_t *option = &tuning_options[i];
    int *value = field_of(state, option);
    *value = KA_UNCHANGED;
    if (option->supported && get_int(fd, IPPROTO_TCP, option->name, value, option->label, error) != 0) return -1;
  }
  return 0;
}
