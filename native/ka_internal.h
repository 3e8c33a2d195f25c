/*
 * Private to the C core (keepalive_posix.c, keepalive_win32.c, tcp_info.c,
 * process_fd.c): helpers they share. The glue (binding.cc) sees keepalive.h only.
 */
#ifndef TCP_KEEPALIVE_INTERNAL_H
#define TCP_KEEPALIVE_INTERNAL_H

#include <math.h>

#include "keepalive.h"

/* Fills *error and returns -1, so that a failure is `return ka_fail(...)`. */
static inline int ka_fail(ka_error_t *error, int err, const char *syscall, const char *option) {
  error->err = err;
  error->syscall = syscall;
  error->option = option;
  return -1;
}

/* Every TCP_INFO slot to NaN ("not reported") before a platform fills what it has. */
static inline void ka_tcp_info_clear(double *values) {
  for (int i = 0; i < KA_TCP_INFO_FIELD_COUNT; i++) values[i] = NAN;
}

#endif
