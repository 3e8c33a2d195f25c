/*
 * TCP_INFO (Linux) and TCP_CONNECTION_INFO (macOS): one getsockopt, decoded
 * into the library's units. Each platform's branch is a plain list of
 * "this kernel field goes to that slot, in this unit".
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "keepalive.h"

static int fail(ka_error_t *error, int err, const char *syscall, const char *option) {
  error->err = err;
  error->syscall = syscall;
  error->option = option;
  return -1;
}

static void clear(double *values) {
  for (int i = 0; i < KA_TCP_INFO_FIELD_COUNT; i++) values[i] = NAN;
}

#if defined(__linux__)

/*
 * The kernel's struct tcp_info (include/uapi/linux/tcp.h, Linux 6.x), copied
 * because glibc's <netinet/tcp.h> stops at Linux 4.x fields. Fixed-width
 * members give the kernel's layout on every ABI. The kernel returns as many
 * bytes as it knows: a member past that length is not reported.
 */
struct ka_linux_tcp_info {
  uint8_t state, ca_state, retransmits, probes, backoff, options, wscale, app_limited;
  uint32_t rto, ato, snd_mss, rcv_mss;
  uint32_t unacked, sacked, lost, retrans, fackets;
  uint32_t last_data_sent, last_ack_sent, last_data_recv, last_ack_recv;
  uint32_t pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh, snd_cwnd, advmss, reordering;
  uint32_t rcv_rtt, rcv_space;
  uint32_t total_retrans;
  uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
  uint32_t segs_out, segs_in;
  uint32_t notsent_bytes, min_rtt, data_segs_in, data_segs_out;
  uint64_t delivery_rate;
  uint64_t busy_time, rwnd_limited, sndbuf_limited;
  uint32_t delivered, delivered_ce;
  uint64_t bytes_sent, bytes_retrans;
  uint32_t dsack_dups, reord_seen;
  uint32_t rcv_ooopack;
  uint32_t snd_wnd, rcv_wnd;
};

/* values[slot] = member / divisor, if the kernel's struct reaches that member. */
#define KA_PUT(slot, member, divisor)                                              \
  if (offsetof(struct ka_linux_tcp_info, member) + sizeof info.member <= length) { \
    values[slot] = (double)info.member / (divisor);                                \
  }
/* Divided, not multiplied by 0.001: 13 µs is then exactly 0.013 ms, as ss prints it. */
#define US_PER_MS 1000.0

int ka_tcp_info(int fd, double *values, ka_error_t *error) {
  struct ka_linux_tcp_info info = {0};
  socklen_t length = (socklen_t)sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return fail(error, errno, "getsockopt", "TCP_INFO");
  clear(values);
  KA_PUT(KA_TI_STATE, state, 1)
  KA_PUT(KA_TI_CA_STATE, ca_state, 1)
  KA_PUT(KA_TI_RETRANSMITS, retransmits, 1)
  KA_PUT(KA_TI_PROBES, probes, 1)
  KA_PUT(KA_TI_BACKOFF, backoff, 1)
  KA_PUT(KA_TI_RTO, rto, US_PER_MS)
  KA_PUT(KA_TI_ATO, ato, US_PER_MS)
  KA_PUT(KA_TI_SEND_MSS, snd_mss, 1)
  KA_PUT(KA_TI_RECEIVE_MSS, rcv_mss, 1)
  KA_PUT(KA_TI_UNACKED, unacked, 1)
  KA_PUT(KA_TI_SACKED, sacked, 1)
  KA_PUT(KA_TI_LOST, lost, 1)
  KA_PUT(KA_TI_RETRANS_OUT, retrans, 1)
  KA_PUT(KA_TI_LAST_DATA_SENT, last_data_sent, 1)
  KA_PUT(KA_TI_LAST_DATA_RECEIVED, last_data_recv, 1)
  KA_PUT(KA_TI_LAST_ACK_RECEIVED, last_ack_recv, 1)
  KA_PUT(KA_TI_PMTU, pmtu, 1)
  KA_PUT(KA_TI_RTT, rtt, US_PER_MS)
  KA_PUT(KA_TI_RTT_VARIANCE, rttvar, US_PER_MS)
  KA_PUT(KA_TI_SEND_CWND, snd_cwnd, 1)
  KA_PUT(KA_TI_SEND_SSTHRESH, snd_ssthresh, 1)
  KA_PUT(KA_TI_REORDERING, reordering, 1)
  KA_PUT(KA_TI_RECEIVE_RTT, rcv_rtt, US_PER_MS)
  KA_PUT(KA_TI_RECEIVE_SPACE, rcv_space, 1)
  KA_PUT(KA_TI_TOTAL_RETRANSMITS, total_retrans, 1)
  KA_PUT(KA_TI_BYTES_ACKED, bytes_acked, 1)
  KA_PUT(KA_TI_BYTES_RECEIVED, bytes_received, 1)
  KA_PUT(KA_TI_BYTES_SENT, bytes_sent, 1)
  KA_PUT(KA_TI_BYTES_RETRANSMITTED, bytes_retrans, 1)
  KA_PUT(KA_TI_SEGMENTS_OUT, segs_out, 1)
  KA_PUT(KA_TI_SEGMENTS_IN, segs_in, 1)
  KA_PUT(KA_TI_NOT_SENT_BYTES, notsent_bytes, 1)
  KA_PUT(KA_TI_MIN_RTT, min_rtt, US_PER_MS)
  KA_PUT(KA_TI_DELIVERY_RATE, delivery_rate, 1)
  KA_PUT(KA_TI_BUSY_TIME, busy_time, US_PER_MS)
  KA_PUT(KA_TI_SEND_WINDOW, snd_wnd, 1)
  KA_PUT(KA_TI_RECEIVE_WINDOW, rcv_wnd, 1)
  return 0;
}

#elif defined(__APPLE__) && defined(TCP_CONNECTION_INFO)

/* XNU's TCPS_* states, in Linux's numbering (the order of ka_tcp_info_names' "state"). */
static double linux_state(uint8_t xnu_state) {
  static const double map[] = {
      7,  /* TCPS_CLOSED -> close */
      10, /* TCPS_LISTEN */
      2,  /* TCPS_SYN_SENT */
      3,  /* TCPS_SYN_RECEIVED */
      1,  /* TCPS_ESTABLISHED */
      8,  /* TCPS_CLOSE_WAIT */
      4,  /* TCPS_FIN_WAIT_1 */
      11, /* TCPS_CLOSING */
      9,  /* TCPS_LAST_ACK */
      5,  /* TCPS_FIN_WAIT_2 */
      6,  /* TCPS_TIME_WAIT */
  };
  return xnu_state < sizeof map / sizeof map[0] ? map[xnu_state] : NAN;
}

/* macOS reports times in ms already; it has no probe count and no last-receive times. */
int ka_tcp_info(int fd, double *values, ka_error_t *error) {
  struct tcp_connection_info info;
  socklen_t length = (socklen_t)sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_CONNECTION_INFO, &info, &length) != 0) {
    return fail(error, errno, "getsockopt", "TCP_CONNECTION_INFO");
  }
  clear(values);
  values[KA_TI_STATE] = linux_state(info.tcpi_state);
  values[KA_TI_RTO] = info.tcpi_rto;
  values[KA_TI_SEND_MSS] = info.tcpi_maxseg;
  values[KA_TI_SEND_SSTHRESH] = info.tcpi_snd_ssthresh;
  values[KA_TI_SEND_CWND] = info.tcpi_snd_cwnd;
  values[KA_TI_SEND_WINDOW] = info.tcpi_snd_wnd;
  values[KA_TI_SEND_QUEUE] = info.tcpi_snd_sbbytes;
  values[KA_TI_RECEIVE_WINDOW] = info.tcpi_rcv_wnd;
  values[KA_TI_RTT] = info.tcpi_srtt;
  values[KA_TI_RTT_VARIANCE] = info.tcpi_rttvar;
  values[KA_TI_BYTES_SENT] = (double)info.tcpi_txbytes;
  values[KA_TI_BYTES_RECEIVED] = (double)info.tcpi_rxbytes;
  values[KA_TI_BYTES_RETRANSMITTED] = (double)info.tcpi_txretransmitbytes;
  values[KA_TI_SEGMENTS_OUT] = (double)info.tcpi_txpackets;
  values[KA_TI_SEGMENTS_IN] = (double)info.tcpi_rxpackets;
  values[KA_TI_TOTAL_RETRANSMITS] = (double)info.tcpi_txretransmitpackets;
  return 0;
}

#else

int ka_tcp_info(int fd, double *values, ka_error_t *error) {
  (void)fd;
  clear(values);
  return fail(error, ENOPROTOOPT, "getsockopt", "TCP_INFO");
}

#endif
