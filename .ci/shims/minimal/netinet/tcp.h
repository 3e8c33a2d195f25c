/* A platform with SO_KEEPALIVE only (older BSDs, some embedded stacks): every tuning option absent. */
#include_next <netinet/tcp.h>
#define KA_SIMULATED_PLATFORM 1
#undef TCP_KEEPIDLE
#undef TCP_KEEPINTVL
#undef TCP_KEEPCNT
#undef TCP_USER_TIMEOUT
