/*
 * Socket creation with every option applied before bind(2), so the kernel sees reuse flags,
 * buffer sizes, device binding, IP_MULTICAST_ALL and the receive-side ancillary data switches
 * before the port is taken. The caller (addon.c) validated the values; this file only talks to
 * the kernel and closes the fd on every error path.
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

/* SO_xxxBUFFORCE (needs CAP_NET_ADMIN) first, then the plain option, which the kernel clamps to
 * net.core.[rw]mem_max instead of failing. */
static int msock__set_buffer(int fd, int force_name, int name, int bytes) {
  if (force_name != -1 && msock__setsockopt_int(fd, SOL_SOCKET, force_name, bytes) == 0) return 0;
  return msock__setsockopt_int(fd, SOL_SOCKET, name, bytes);
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

#define MSOCK__SET(level, name, value) \
  MSOCK__TRY(msock__setsockopt_int(fd, (level), (name), (value)), "setsockopt", #name)

#if defined(__linux__)
/* Linux accepts IPPROTO_IP options on a dual-stack AF_INET6 socket and applies them to its
 * v4-mapped traffic; other systems reject them, so they are only set there. */
# define MSOCK__LINUX 1
#else
# define MSOCK__LINUX 0
#endif

#define MSOCK__UNSUPPORTED(name) MSOCK__TRY(-ENOPROTOOPT, "setsockopt", #name)

int msock__socket_create(const msock_socket_opts_t* o,
                         msock_socket_result_t* result,
                         msock_failure_t* failure) {
  int fd = -1;
  int err = 0;
  int v6 = o->family == AF_INET6;
  int dual = v6 && o->ipv6_only != 1; /* may carry IPv4 traffic as v4-mapped */
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

  if (o->reuse_addr) MSOCK__SET(SOL_SOCKET, SO_REUSEADDR, 1);
  if (o->reuse_port) {
#ifdef SO_REUSEPORT
    MSOCK__SET(SOL_SOCKET, SO_REUSEPORT, 1);
#else
    MSOCK__UNSUPPORTED(SO_REUSEPORT);
#endif
  }
  if (v6 && o->ipv6_only != -1) MSOCK__SET(IPPROTO_IPV6, IPV6_V6ONLY, o->ipv6_only);

  if (o->device[0] != '\0') {
#ifdef SO_BINDTODEVICE
    MSOCK__TRY(msock__setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o->device,
                                 (socklen_t)strlen(o->device)),
               "setsockopt", "SO_BINDTODEVICE");
#else
    MSOCK__UNSUPPORTED(SO_BINDTODEVICE);
#endif
  }

  if (o->recv_buffer_bytes > 0) {
#ifdef SO_RCVBUFFORCE
    MSOCK__TRY(msock__set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, o->recv_buffer_bytes),
               "setsockopt", "SO_RCVBUF");
#else
    MSOCK__TRY(msock__set_buffer(fd, -1, SO_RCVBUF, o->recv_buffer_bytes), "setsockopt", "SO_RCVBUF");
#endif
  }
  if (o->send_buffer_bytes > 0) {
#ifdef SO_SNDBUFFORCE
    MSOCK__TRY(msock__set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, o->send_buffer_bytes),
               "setsockopt", "SO_SNDBUF");
#else
    MSOCK__TRY(msock__set_buffer(fd, -1, SO_SNDBUF, o->send_buffer_bytes), "setsockopt", "SO_SNDBUF");
#endif
  }

  if (o->multicast_all != -1) {
#if defined(__linux__)
    if (v6) {
      MSOCK__SET(IPPROTO_IPV6, IPV6_MULTICAST_ALL, o->multicast_all);
      if (dual) MSOCK__SET(IPPROTO_IP, IP_MULTICAST_ALL, o->multicast_all);
    } else {
      MSOCK__SET(IPPROTO_IP, IP_MULTICAST_ALL, o->multicast_all);
    }
#else
    /* Elsewhere a socket only receives the groups it joined: nothing to switch off. */
    if (o->multicast_all == 1) MSOCK__UNSUPPORTED(IP_MULTICAST_ALL);
#endif
  }

  if (o->pktinfo) {
    if (v6) {
#ifdef IPV6_RECVPKTINFO
      MSOCK__SET(IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
#else
      MSOCK__UNSUPPORTED(IPV6_RECVPKTINFO);
#endif
    }
#ifdef IP_PKTINFO
    if (!v6 || (dual && MSOCK__LINUX)) MSOCK__SET(IPPROTO_IP, IP_PKTINFO, 1);
#else
    if (!v6) MSOCK__UNSUPPORTED(IP_PKTINFO);
#endif
  }

  if (o->timestamps) {
#ifdef SO_TIMESTAMPNS
    MSOCK__SET(SOL_SOCKET, SO_TIMESTAMPNS, 1);
#else
    MSOCK__UNSUPPORTED(SO_TIMESTAMPNS);
#endif
  }

  if (o->rxq_ovfl) {
#ifdef SO_RXQ_OVFL
    MSOCK__SET(SOL_SOCKET, SO_RXQ_OVFL, 1);
#else
    MSOCK__UNSUPPORTED(SO_RXQ_OVFL);
#endif
  }

  if (o->recv_tos) {
    if (v6) {
#ifdef IPV6_RECVTCLASS
      MSOCK__SET(IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
#else
      MSOCK__UNSUPPORTED(IPV6_RECVTCLASS);
#endif
    }
#ifdef IP_RECVTOS
    if (!v6 || (dual && MSOCK__LINUX)) MSOCK__SET(IPPROTO_IP, IP_RECVTOS, 1);
#else
    if (!v6) MSOCK__UNSUPPORTED(IP_RECVTOS);
#endif
  }

  if (o->tos != -1) {
    if (v6) {
#ifdef IPV6_TCLASS
      MSOCK__SET(IPPROTO_IPV6, IPV6_TCLASS, o->tos);
#else
      MSOCK__UNSUPPORTED(IPV6_TCLASS);
#endif
    }
    if (!v6 || (dual && MSOCK__LINUX)) MSOCK__SET(IPPROTO_IP, IP_TOS, o->tos);
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
