/*
 * Another process's file descriptor, duplicated into this one, so that the
 * command-line doctor can read exactly what the kernel holds for a socket of
 * any process (any language) with the same getsockopt calls as for our own.
 */
#include <errno.h>
#include <unistd.h>

#include "ka_internal.h"

#if defined(__linux__)
#include <sys/syscall.h>
/* Older kernel headers lack the numbers; both are the same on every architecture but Alpha. */
#if !defined(SYS_pidfd_open) && !defined(__alpha__)
#define SYS_pidfd_open 434
#endif
#if !defined(SYS_pidfd_getfd) && !defined(__alpha__)
#define SYS_pidfd_getfd 438
#endif
#endif

int ka_duplicate_fd(int pid, int target_fd, int *out, ka_error_t *error) {
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) return ka_fail(error, errno, "pidfd_open", "");
  /* The new descriptor has close-on-exec set (pidfd_getfd(2)). */
  int fd = (int)syscall(SYS_pidfd_getfd, pidfd, target_fd, 0);
  int saved = errno;
  close(pidfd);
  if (fd < 0) return ka_fail(error, saved, "pidfd_getfd", "");
  *out = fd;
  return 0;
#else
  (void)pid;
  (void)target_fd;
  (void)out;
  return ka_fail(error, ENOSYS, "pidfd_getfd", "");
#endif
}

int ka_close_fd(int fd, ka_error_t *error) {
  if (close(fd) != 0) return ka_fail(error, errno, "close", "");
  return 0;
}
