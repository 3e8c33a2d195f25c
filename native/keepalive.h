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
 * struct) or this platform lacks is left as NaN.
 *
 * The fields, declared once, in slot order. Each row expands to the slot
 * KA_TI_<SLOT>, its name as JavaScript sees it (ka_tcp_info_names, the addon's
 * tcpInfoFields) and, on Linux, where its value comes from:
 *   LINUX(SLOT, name, member, divisor): struct tcp_info's `member` / divisor
 *   OTHER(SLOT, name): no Linux member; another platform's branch fills it
 * tcp_info.c reads the Linux members by this table; the macOS branch there
 * fills its subset by slot.
 */
#define KA_TCP_INFO_FIELDS(LINUX, OTHER)                                                          \
  LINUX(STATE, state, state, 1) /* Linux numbering: 1 established ... 11 closing; macOS mapped */ \
  LINUX(CA_STATE, caState, ca_state, 1)                                                           \
  LINUX(RETRANSMITS, retransmits, retransmits, 1)                                                 \
  LINUX(PROBES, probes, probes, 1)                                                                \
  LINUX(BACKOFF, backoff, backoff, 1)                                                             \
  LINUX(RTO, rto, rto, KA_US_PER_MS)                                                              \
  LINUX(ATO, ato, ato, KA_US_PER_MS)                                                              \
  LINUX(SEND_MSS, sendMss, snd_mss, 1)                                                            \
  LINUX(RECEIVE_MSS, receiveMss, rcv_mss, 1)                                                      \
  LINUX(UNACKED, unacked, unacked, 1)                                                             \
  LINUX(SACKED, sacked, sacked, 1)                                                                \
  LINUX(LOST, lost, lost, 1)                                                                      \
  LINUX(RETRANS_OUT, retransOut, retrans, 1)                                                      \
  LINUX(LAST_DATA_SENT, lastDataSent, last_data_sent, 1)                                          \
  LINUX(LAST_DATA_RECEIVED, lastDataReceived, last_data_recv, 1)                                  \
  LINUX(LAST_ACK_RECEIVED, lastAckReceived, last_ack_recv, 1)                                     \
  LINUX(PMTU, pmtu, pmtu, 1)                                                                      \
  LINUX(RTT, rtt, rtt, KA_US_PER_MS)                                                              \
  LINUX(RTT_VARIANCE, rttVariance, rttvar, KA_US_PER_MS)                                          \
  LINUX(SEND_CWND, sendCwnd, snd_cwnd, 1)                                                         \
  LINUX(SEND_SSTHRESH, sendSsthresh, snd_ssthresh, 1)                                             \
  LINUX(REORDERING, reordering, reordering, 1)                                                    \
  LINUX(RECEIVE_RTT, receiveRtt, rcv_rtt, KA_US_PER_MS)                                           \
  LINUX(RECEIVE_SPACE, receiveSpace, rcv_space, 1)                                                \
  LINUX(TOTAL_RETRANSMITS, totalRetransmits, total_retrans, 1)                                    \
  LINUX(BYTES_ACKED, bytesAcked, bytes_acked, 1)                                                  \
  LINUX(BYTES_RECEIVED, bytesReceived, bytes_received, 1)                                         \
  LINUX(BYTES_SENT, bytesSent, bytes_sent, 1)                                                     \
  LINUX(BYTES_RETRANSMITTED, bytesRetransmitted, bytes_retrans, 1)                                \
  LINUX(SEGMENTS_OUT, segmentsOut, segs_out, 1)                                                   \
  LINUX(SEGMENTS_IN, segmentsIn, segs_in, 1)                                                      \
  LINUX(NOT_SENT_BYTES, notSentBytes, notsent_bytes, 1)                                           \
  LINUX(MIN_RTT, minRtt, min_rtt, KA_US_PER_MS)                                                   \
  LINUX(DELIVERY_RATE, deliveryRate, delivery_rate, 1)                                            \
  LINUX(BUSY_TIME, busyTime, busy_time, KA_US_PER_MS)                                             \
  LINUX(SEND_WINDOW, sendWindow, snd_wnd, 1)                                                      \
  OTHER(SEND_QUEUE, sendQueue) /* macOS only */                                                   \
  LINUX(RECEIVE_WINDOW, receiveWindow, rcv_wnd, 1)

#define KA_TI_LINUX_SLOT_(slot, name, member, divisor) KA_TI_##slot,
#define KA_TI_OTHER_SLOT_(slot, name) KA_TI_##slot,
enum { KA_TCP_INFO_FIELDS(KA_TI_LINUX_SLOT_, KA_TI_OTHER_SLOT_) KA_TCP_INFO_FIELD_COUNT };
#undef KA_TI_LINUX_SLOT_
#undef KA_TI_OTHER_SLOT_

/* Slot i's name, as JavaScript sees it (tcp_info_names.c). */
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
