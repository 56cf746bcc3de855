/*
 * Socket creation with its options applied before bind(2), so the kernel sees reuse flags,
 * buffer sizes, device binding, IP_MULTICAST_ALL and the receive-side ancillary data switches
 * before the port is taken, and the one place a socket option row reaches setsockopt(2)
 * (msock__option_apply, also behind msock_setsockopt). Which options, in which order, with which
 * values is decided in TS from the option table (src/options.ts); this file knows no option by
 * name except through the two policies a row may ask for (msock.h: clamp, IPv4 side). The caller
 * (addon.c) checked the shapes; this file only talks to the kernel and closes the fd on every
 * error path.
 */
#include "msock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int msock__setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
  return MSOCK_RETRY_EINTR(setsockopt(fd, level, name, value, len)) == 0 ? 0 : -errno;
}

int msock__setsockopt_int(int fd, int level, int name, int value) {
  return msock__setsockopt(fd, level, name, &value, sizeof(value));
}

int msock__getsockopt_int(int fd, int level, int name, int* value) {
  socklen_t len = sizeof(*value);
  *value = 0;
  return MSOCK_RETRY_EINTR(getsockopt(fd, level, name, value, &len)) == 0 ? 0 : -errno;
}

int msock__close(int fd) {
  /* POSIX leaves the fd state unspecified after EINTR; on Linux it is closed: never retry. */
  if (close(fd) == 0 || errno == EINTR) return 0;
  return -errno;
}

#define MSOCK__TRY(call, sys, opt)                                                            \
  do {                                                                                         \
    err = (call);                                                                              \
    if (err != 0) {                                                                            \
      failure->syscall = (sys);                                                                \
      failure->option = (opt);                                                                 \
      goto fail;                                                                               \
    }                                                                                          \
  } while (0)

#if defined(__linux__)
/* Linux accepts IPPROTO_IP options on a dual-stack AF_INET6 socket and applies them to its
 * v4-mapped traffic; other systems reject them, so they are only set there. */
# define MSOCK__LINUX 1
#else
# define MSOCK__LINUX 0
#endif

/*
 * Policy "IPv4 side": whether an IPPROTO_IP row applies to this socket. An AF_INET socket: yes.
 * An AF_INET6 socket: only on Linux and only while it carries IPv4, which the kernel says
 * (IPV6_V6ONLY as set by an earlier row, or the net.ipv6.bindv6only default). 1 yes, 0 skip,
 * -errno when the kernel could not be asked.
 */
static int msock__carries_ipv4(int fd, int family) {
  int v6only = 0;
  int err;
  if (family != AF_INET6) return 1;
  if (!MSOCK__LINUX) return 0;
  err = msock__getsockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only);
  if (err != 0) return err;
  return v6only == 0;
}

/* Policy "clamp": EPERM (not permitted) or ENOPROTOOPT (unknown to this kernel) hand over to the
 * fallback option; any other error is the row's own. */
static int msock__clamp_applies(int err) {
  return err == -EPERM || err == -ENOPROTOOPT;
}

int msock__option_apply(int fd,
                        int family,
                        const msock_option_row_t* row,
                        msock_failure_t* failure) {
  int err;
  failure->syscall = "setsockopt";
  failure->option = row->option;
  if (row->ipv4_side) {
    err = msock__carries_ipv4(fd, family);
    if (err < 0) {
      failure->syscall = "getsockopt";
      failure->option = "IPV6_V6ONLY";
      return err;
    }
    if (err == 0) return 0;
  }
  err = msock__setsockopt(fd, row->level, row->name, &row->value, row->len);
  if (err != 0 && row->fallback_name != -1 && msock__clamp_applies(err)) {
    failure->option = row->fallback_option;
    err = msock__setsockopt(fd, row->level, row->fallback_name, &row->value, row->len);
  }
  return err;
}

int msock__socket_create(const msock_socket_opts_t* o,
                         const msock_option_row_t* rows,
                         size_t count,
                         msock_socket_result_t* result,
                         msock_failure_t* failure) {
  int fd = -1;
  int err = 0;
  size_t i;
  socklen_t len;

  memset(result, 0, sizeof(*result));
  result->fd = -1;

#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
  fd = socket(o->family, o->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd == -1) MSOCK__TRY(-errno, "socket", NULL);
#else
  fd = socket(o->family, o->type, 0);
  if (fd == -1) MSOCK__TRY(-errno, "socket", NULL);
  {
    int flags = fcntl(fd, F_GETFL);
    if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) MSOCK__TRY(-errno, "fcntl", NULL);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) MSOCK__TRY(-errno, "fcntl", NULL);
  }
#endif

  for (i = 0; i < count; i++) {
    err = msock__option_apply(fd, o->family, &rows[i], failure);
    if (err != 0) goto fail;
  }

  if (MSOCK_RETRY_EINTR(bind(fd, (const struct sockaddr*)&o->addr, o->addrlen)) == -1)
    MSOCK__TRY(-errno, "bind", NULL);

  if (o->type == SOCK_STREAM && o->listen) {
    if (listen(fd, o->backlog) == -1) MSOCK__TRY(-errno, "listen", NULL);
  }

  len = sizeof(result->addr);
  if (getsockname(fd, (struct sockaddr*)&result->addr, &len) == -1)
    MSOCK__TRY(-errno, "getsockname", NULL);
  MSOCK__TRY(msock__getsockopt_int(fd, SOL_SOCKET, SO_RCVBUF, &result->recv_buffer_bytes),
             "getsockopt", "SO_RCVBUF");
  MSOCK__TRY(msock__getsockopt_int(fd, SOL_SOCKET, SO_SNDBUF, &result->send_buffer_bytes),
             "getsockopt", "SO_SNDBUF");

  result->fd = fd;
  return 0;

fail:
  if (fd != -1) (void)msock__close(fd);
  return err;
}

int msock__socket_adopt(int fd,
                        msock_socket_result_t* result,
                        int* type,
                        struct sockaddr_storage* peer,
                        msock_failure_t* failure) {
  int err = 0;
  int flags;
  socklen_t len;

  memset(result, 0, sizeof(*result));
  memset(peer, 0, sizeof(*peer));
  result->fd = -1;
  *type = 0;
  len = sizeof(*type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, type, &len) == -1)
    MSOCK__TRY(-errno, "getsockopt", "SO_TYPE");
  len = sizeof(result->addr);
  if (getsockname(fd, (struct sockaddr*)&result->addr, &len) == -1)
    MSOCK__TRY(-errno, "getsockname", NULL);
  /* Anything but a UDP socket of the IP families is left exactly as it was: the caller refuses it. */
  if (*type != SOCK_DGRAM ||
      (result->addr.ss_family != AF_INET && result->addr.ss_family != AF_INET6))
    return 0;
  MSOCK__TRY(msock__getsockopt_int(fd, SOL_SOCKET, SO_RCVBUF, &result->recv_buffer_bytes),
             "getsockopt", "SO_RCVBUF");
  MSOCK__TRY(msock__getsockopt_int(fd, SOL_SOCKET, SO_SNDBUF, &result->send_buffer_bytes),
             "getsockopt", "SO_SNDBUF");
  /* A connected socket has a peer; ENOTCONN means it has none. */
  len = sizeof(*peer);
  if (getpeername(fd, (struct sockaddr*)peer, &len) == -1) {
    if (errno != ENOTCONN) MSOCK__TRY(-errno, "getpeername", NULL);
    memset(peer, 0, sizeof(*peer));
  }
  flags = fcntl(fd, F_GETFL);
  if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) MSOCK__TRY(-errno, "fcntl", NULL);
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) MSOCK__TRY(-errno, "fcntl", NULL);
  result->fd = fd;
  return 0;

fail:
  /* The descriptor is the caller's: never closed here. */
  return err;
}
