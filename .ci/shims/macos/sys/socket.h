/* macOS has neither SO_DOMAIN nor SO_PROTOCOL: the core must find the family with getsockname. */
#include_next <sys/socket.h>
#undef SO_DOMAIN
#undef SO_PROTOCOL
