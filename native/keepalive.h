/*
 * Portable keepalive core: plain C over BSD sockets, no Node.js in here.
 * Every function reports failure as an errno value plus the syscall and the
 * socket option involved, so the glue can build a Node-style error.
 */
#ifndef TCP_KEEPALIVE_CORE_H
#define TCP_KEEPALIVE_CORE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Any field set to KA_UNCHANGED is not written. */
#define KA_UNCHANGED (-1)

typedef struct {
  int enable;          /* 0 or 1 */
  int idle_s;          /* seconds before the first probe */
  int interval_s;      /* seconds between unanswered probes */
  int count;           /* unanswered probes before the connection is dropped */
  int user_timeout_ms; /* TCP_USER_TIMEOUT, 0 = kernel default */
} ka_config_t;

typedef ka_config_t ka_state_t; /* what the kernel holds; nothing is KA_UNCHANGED */

typedef struct {
  int err;             /* errno value, positive */
  const char *syscall; /* "getsockopt", "setsockopt", "getsockname" */
  const char *option;  /* "TCP_KEEPIDLE", "SO_TYPE", ... */
} ka_error_t;

/* Bits of ka_capabilities(): what this build can set and read back. */
#define KA_CAP_IDLE 1u
#define KA_CAP_INTERVAL 2u
#define KA_CAP_COUNT 4u
#define KA_CAP_USER_TIMEOUT 8u
#define KA_CAP_READ_BACK 16u

unsigned ka_capabilities(void);

/*
 * 0 when fd is a TCP socket over IPv4 or IPv6, else -1 with error set:
 * ENOTSOCK (not a socket), EPROTOTYPE (not a stream socket),
 * EAFNOSUPPORT (not INET/INET6, e.g. a Unix-domain socket),
 * EPROTONOSUPPORT (a stream socket that is not TCP, e.g. SCTP).
 */
int ka_check_tcp(int fd, ka_error_t *error);

/* Writes the fields of config that are not KA_UNCHANGED; stops at the first failure. */
int ka_apply(int fd, const ka_config_t *config, ka_error_t *error);

/* Reads all five values back from the kernel. */
int ka_read(int fd, ka_state_t *state, ka_error_t *error);

/* "ENOPROTOOPT" for ENOPROTOOPT; "UNKNOWN" for an errno this table does not know. */
const char *ka_errno_name(int err);

/* A short English description, independent of the C library's locale. */
const char *ka_errno_description(int err);

#ifdef __cplusplus
}
#endif

#endif
