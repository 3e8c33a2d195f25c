/*
 * Portable keepalive core: plain C over BSD sockets, no Node.js in here.
 * Every function returns 0 on success, or -1 with `error` set to the errno
 * value plus the syscall and the socket option involved, so the glue can hand
 * JavaScript one failure object (which builds the Node-style error).
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

typedef ka_config_t ka_state_t; /* what the kernel holds; KA_UNCHANGED where the platform lacks the option */

typedef struct {
  int err;             /* errno value, positive */
  const char *syscall; /* "getsockopt", "setsockopt", "pidfd_getfd", ... */
  const char *option;  /* "TCP_KEEPIDLE", "SO_TYPE", ...; "" for calls on no option */
} ka_error_t;

/* Bits of ka_capabilities(): what this build can set and read back. */
#define KA_CAP_IDLE 1u
#define KA_CAP_INTERVAL 2u
#define KA_CAP_COUNT 4u
#define KA_CAP_USER_TIMEOUT 8u
#define KA_CAP_READ_BACK 16u
#define KA_CAP_TCP_INFO 32u
#define KA_CAP_DUPLICATE_FD 64u

unsigned ka_capabilities(void);

/*
 * 0 when fd is a TCP socket over IPv4 or IPv6, else -1 with error set:
 * ENOTSOCK (not a socket), EPROTOTYPE (not a stream socket),
 * EAFNOSUPPORT (not INET/INET6, e.g. a Unix-domain socket),
 * EPROTONOSUPPORT (a stream socket that is not TCP, e.g. SCTP).
 */
int ka_check_tcp(int fd, ka_error_t *error);

/*
 * Writes the fields of config that are not KA_UNCHANGED: the TCP-level tuning
 * options first, SO_KEEPALIVE last, stopping at the first failure. A non-TCP
 * fd fails on the first TCP-level option (EOPNOTSUPP for a Unix-domain
 * socket, ENOPROTOOPT for UDP, ENOTSOCK for a pipe) before anything is written.
 */
int ka_apply(int fd, const ka_config_t *config, ka_error_t *error);

/* Reads all five values back from the kernel. */
int ka_read(int fd, ka_state_t *state, ka_error_t *error);

/*
 * TCP_INFO (Linux) or TCP_CONNECTION_INFO (macOS), one getsockopt, decoded
 * into values[KA_TCP_INFO_FIELD_COUNT] in the library's units (ms, bytes,
 * packets). A field the running kernel did not return (an older, shorter
 * struct) or this platform lacks is left as NaN. Names: ka_tcp_info_names.
 */
enum {
  KA_TI_STATE, /* Linux numbering: 1 established ... 11 closing; macOS mapped onto it */
  KA_TI_CA_STATE,
  KA_TI_RETRANSMITS,
  KA_TI_PROBES,
  KA_TI_BACKOFF,
  KA_TI_RTO,
  KA_TI_ATO,
  KA_TI_SEND_MSS,
  KA_TI_RECEIVE_MSS,
  KA_TI_UNACKED,
  KA_TI_SACKED,
  KA_TI_LOST,
  KA_TI_RETRANS_OUT,
  KA_TI_LAST_DATA_SENT,
  KA_TI_LAST_DATA_RECEIVED,
  KA_TI_LAST_ACK_RECEIVED,
  KA_TI_PMTU,
  KA_TI_RTT,
  KA_TI_RTT_VARIANCE,
  KA_TI_SEND_CWND,
  KA_TI_SEND_SSTHRESH,
  KA_TI_REORDERING,
  KA_TI_RECEIVE_RTT,
  KA_TI_RECEIVE_SPACE,
  KA_TI_TOTAL_RETRANSMITS,
  KA_TI_BYTES_ACKED,
  KA_TI_BYTES_RECEIVED,
  KA_TI_BYTES_SENT,
  KA_TI_BYTES_RETRANSMITTED,
  KA_TI_SEGMENTS_OUT,
  KA_TI_SEGMENTS_IN,
  KA_TI_NOT_SENT_BYTES,
  KA_TI_MIN_RTT,
  KA_TI_DELIVERY_RATE,
  KA_TI_BUSY_TIME,
  KA_TI_SEND_WINDOW,
  KA_TI_SEND_QUEUE,
  KA_TI_RECEIVE_WINDOW,
  KA_TCP_INFO_FIELD_COUNT
};
extern const char *const ka_tcp_info_names[KA_TCP_INFO_FIELD_COUNT];
int ka_tcp_info(int fd, double *values, ka_error_t *error);

/*
 * A duplicate, in this process, of file descriptor `target_fd` of process
 * `pid` (Linux >= 5.6: pidfd_open + pidfd_getfd; needs ptrace-attach rights
 * over pid). The caller owns *out and must close it. ENOSYS elsewhere.
 */
int ka_duplicate_fd(int pid, int target_fd, int *out, ka_error_t *error);

/* close(fd), for descriptors ka_duplicate_fd made. */
int ka_close_fd(int fd, ka_error_t *error);

#ifdef __cplusplus
}
#endif

#endif
