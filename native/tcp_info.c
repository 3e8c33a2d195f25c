/*
 * TCP_INFO (Linux) and TCP_CONNECTION_INFO (macOS): one getsockopt, decoded
 * into the library's units. Linux's branch is expanded from the field table
 * (KA_TCP_INFO_FIELDS, keepalive.h); macOS's is a plain list of "this kernel
 * field goes to that slot, in this unit".
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "ka_internal.h"

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

/* One LINUX row of the table: the slot gets member / divisor, if the kernel's struct reaches that member. */
#define KA_PUT_LINUX_(slot, name, member, divisor)                                 \
  if (offsetof(struct ka_linux_tcp_info, member) + sizeof info.member <= length) { \
    values[KA_TI_##slot] = (double)info.member / (divisor);                        \
  }
/* An OTHER row: Linux has no such member, the slot stays NaN. */
#define KA_SKIP_OTHER_(slot, name)
/* Divided, not multiplied by 0.001: 13 µs is then exactly 0.013 ms, as ss prints it. */
#define KA_US_PER_MS 1000.0

int ka_tcp_info(int fd, double *values, ka_error_t *error) {
  struct ka_linux_tcp_info info = {0};
  socklen_t length = (socklen_t)sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) {
    return ka_fail(error, errno, "getsockopt", "TCP_INFO");
  }
  ka_tcp_info_clear(values);
  KA_TCP_INFO_FIELDS(KA_PUT_LINUX_, KA_SKIP_OTHER_)
  return 0;
}

#elif defined(__APPLE__) && defined(TCP_CONNECTION_INFO)

/* XNU's TCPS_* states, in Linux's numbering (the "state" row of KA_TCP_INFO_FIELDS). */
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
    return ka_fail(error, errno, "getsockopt", "TCP_CONNECTION_INFO");
  }
  ka_tcp_info_clear(values);
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
  ka_tcp_info_clear(values);
  return ka_fail(error, ENOPROTOOPT, "getsockopt", "TCP_INFO");
}

#endif
