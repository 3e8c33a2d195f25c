/* Linux's <netinet/tcp.h> shaped like macOS's: see .ci/cross.sh simulated-platforms. */
#include_next <netinet/tcp.h>
#define KA_SIMULATED_PLATFORM 1
#undef TCP_KEEPIDLE
#undef TCP_USER_TIMEOUT
/* macOS's name for the idle time; Linux's TCP_KEEPIDLE number, so it reaches a real option here. */
#define TCP_KEEPALIVE 4
