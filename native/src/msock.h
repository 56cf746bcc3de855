/*
 * mediasock native core: declarations shared by the N-API glue (addon.c, batch.c, dtls.c) and the
 * pure C parts (socket.c: socket creation with options applied before bind; cmsg.c: ancillary
 * data parsing).
 *
 * Conventions (libuv style): internal functions return 0 or a negative errno and never throw;
 * on failure they fill an msock_failure_t with the system call and socket option involved, so
 * the glue can raise one error carrying errno, syscall and option. Only EINTR is retried.
 * Public C names start with `msock_`, private ones with `msock__`.
 */
#ifndef MSOCK_H_
#define MSOCK_H_

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <net/if.h>

#if defined(__linux__)
/* Older libc headers may lack these; the numbers are the Linux ABI. */
# ifndef IP_MULTICAST_ALL
#  define IP_MULTICAST_ALL 49
# endif
# ifndef IPV6_MULTICAST_ALL
#  define IPV6_MULTICAST_ALL 29
# endif
# ifndef SO_RXQ_OVFL
#  define SO_RXQ_OVFL 40
# endif
#endif

/* What failed: the system call and, when one was involved, the socket option (C names). */
typedef struct msock_failure_s {
  const char* syscall;
  const char* option;
} msock_failure_t;

/* Options for msock__socket_create; -1 in a tri-state field means "leave the OS default". */
typedef struct msock_socket_opts_s {
  int family;                 /* AF_INET or AF_INET6 */
  int type;                   /* SOCK_DGRAM or SOCK_STREAM */
  struct sockaddr_storage addr;
  socklen_t addrlen;
  int reuse_addr;             /* 0/1 */
  int reuse_port;             /* 0/1 */
  int ipv6_only;              /* -1/0/1 */
  char device[IFNAMSIZ];      /* "" = none */
  int recv_buffer_bytes;      /* 0 = leave default */
  int send_buffer_bytes;      /* 0 = leave default */
  int multicast_all;          /* -1/0/1 */
  int pktinfo;                /* 0/1 */
  int timestamps;             /* 0/1 */
  int rxq_ovfl;               /* 0/1 */
  int recv_tos;               /* 0/1 */
  int tos;                    /* -1 = default, else 0..255 */
  int listen;                 /* 0/1, stream only */
  int backlog;
} msock_socket_opts_t;

typedef struct msock_socket_result_s {
  int fd;
  struct sockaddr_storage addr;
  int recv_buffer_bytes;
  int send_buffer_bytes;
} msock_socket_result_t;

/* Creates, configures (every option before bind), binds and optionally listens. */
int msock__socket_create(const msock_socket_opts_t* opts,
                         msock_socket_result_t* result,
                         msock_failure_t* failure);

/* setsockopt/getsockopt of an int, retrying EINTR; return 0 or -errno. */
int msock__setsockopt_int(int fd, int level, int name, int value);
int msock__getsockopt_int(int fd, int level, int name, int* value);

/* close(2) that reports the error but never retries (EINTR on close leaves the fd closed). */
int msock__close(int fd);

/* Ancillary data of one received datagram, as far as the socket asked for it. */
typedef struct msock_cmsg_info_s {
  int has_local;              /* IP_PKTINFO / IPV6_PKTINFO seen */
  struct sockaddr_storage local;
  unsigned int ifindex;
  int has_tos;                /* IP_TOS / IPV6_TCLASS seen */
  int tos;
  int has_timestamp;          /* SCM_TIMESTAMPNS seen */
  int64_t timestamp_sec;
  int64_t timestamp_nsec;
  int has_drops;              /* SO_RXQ_OVFL seen (the kernel sends it once drops are non-zero) */
  uint32_t drops;
} msock_cmsg_info_t;

/* Room for every control message msock__cmsg_parse understands. */
#define MSOCK_CMSG_SPACE 256

/* Parses the control messages of one recvmsg(2) result into info (zeroed first). */
void msock__cmsg_parse(struct msghdr* msg, msock_cmsg_info_t* info);

/*
 * Module initialisers: each C file that exports functions to JS registers them on `exports` from
 * its own init, called by addon.c. Returns 0 on success, -1 with a pending JS exception.
 */
struct napi_env__;
struct napi_value__;
int msock_batch_init(struct napi_env__* env, struct napi_value__* exports);
int msock_dtls_init(struct napi_env__* env, struct napi_value__* exports);

/*
 * N-API error and property helpers shared by the glue files, defined once in addon.c. (The
 * struct pointers are napi_env and napi_value, spelled so this header needs no node_api.h.)
 * - msock_throw_napi: throws the last N-API error as an Error, unless an exception is pending.
 * - msock_set_str / msock_set_num: obj[key] = value; 0, or -1 with an exception pending.
 * - msock_throw_invalid: throws TypeError { argument, expected, value } for input the TS layer
 *   should have rejected (InvalidArgumentError on the TS side); value NULL means undefined.
 */
void msock_throw_napi(struct napi_env__* env);
int msock_set_str(struct napi_env__* env,
                  struct napi_value__* obj,
                  const char* key,
                  const char* value);
int msock_set_num(struct napi_env__* env, struct napi_value__* obj, const char* key, double value);
void msock_throw_invalid(struct napi_env__* env,
                         const char* argument,
                         struct napi_value__* value,
                         const char* expected);
/* Throws Error { errno: -err, syscall, option?, address?, port? } (the TS loader turns it into a
 * SystemCallError); err is an errno, either sign; option/address may be NULL, port -1. */
void msock_throw_errno(struct napi_env__* env,
                       int err,
                       const char* syscall,
                       const char* option,
                       const char* address,
                       int port);

/* Checks an N-API call; on failure throws the N-API error and returns NULL (or -1). */
#define NAPI_CALL(env, call)     \
  do {                           \
    if ((call) != napi_ok) {     \
      msock_throw_napi(env);     \
      return NULL;               \
    }                            \
  } while (0)

#define NAPI_CALL_INT(env, call) \
  do {                           \
    if ((call) != napi_ok) {     \
      msock_throw_napi(env);     \
      return -1;                 \
    }                            \
  } while (0)

#endif /* MSOCK_H_ */
