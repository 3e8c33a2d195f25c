/* errno names and descriptions that do not depend on the C library's locale or thread safety. */
#include "keepalive.h"

#include <errno.h>

typedef struct {
  int err;
  const char *name;
  const char *description;
} errno_entry_t;

static const errno_entry_t errno_table[] = {
#define ENTRY(code, text) {code, #code, text},
  ENTRY(EBADF, "bad file descriptor")
  ENTRY(EINVAL, "invalid argument")
  ENTRY(ENOSYS, "function not implemented")
  ENTRY(EPERM, "operation not permitted")
  ENTRY(EACCES, "permission denied")
  ENTRY(ENOMEM, "not enough memory")
#ifdef ENOTSOCK
  ENTRY(ENOTSOCK, "not a socket")
#endif
#ifdef ENOPROTOOPT
  ENTRY(ENOPROTOOPT, "protocol not available")
#endif
#ifdef EPROTOTYPE
  ENTRY(EPROTOTYPE, "protocol wrong type for socket")
#endif
#ifdef EPROTONOSUPPORT
  ENTRY(EPROTONOSUPPORT, "protocol not supported")
#endif
#ifdef EAFNOSUPPORT
  ENTRY(EAFNOSUPPORT, "address family not supported")
#endif
#ifdef EOPNOTSUPP
  ENTRY(EOPNOTSUPP, "operation not supported on socket")
#endif
#ifdef ENOBUFS
  ENTRY(ENOBUFS, "no buffer space available")
#endif
#ifdef ENOTCONN
  ENTRY(ENOTCONN, "socket is not connected")
#endif
#ifdef EFAULT
  ENTRY(EFAULT, "bad address")
#endif
#undef ENTRY
};

static const errno_entry_t *find(int err) {
  for (unsigned i = 0; i < sizeof errno_table / sizeof errno_table[0]; i++) {
    if (errno_table[i].err == err) return &errno_table[i];
  }
  return 0;
}

const char *ka_errno_name(int err) {
  const errno_entry_t *entry = find(err);
  return entry ? entry->name : "UNKNOWN";
}

const char *ka_errno_description(int err) {
  const errno_entry_t *entry = find(err);
  return entry ? entry->description : "unknown error";
}
