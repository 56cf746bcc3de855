/*
 * mediasock native core: declarations shared by the N-API glue (addon.c, batch.c, dtls.c), the one
 * N-API layer they all use (napi-args.c: errors, arguments, tagged handles) and the pure C parts
 * (socket.c: socket creation with options applied before bind; cmsg.c: ancillary data).
 *
 * Conventions (libuv style): internal functions return 0 or a negative errno and never throw;
 * on failure they fill an msock_failure_t with the system call and socket option involved, so
 * the glue can raise one error carrying errno, syscall and option. Only EINTR is retried.
 * Public C names start with `msock_`, private ones with `msock__`.
 */
#ifndef MSOCK_H_
#define MSOCK_H_

#ifndef NAPI_VERSION
# define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <errno.h>
#include <stddef.h>
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

/* How a row's value is laid out for setsockopt(2) (the `kind` strings of the JS side). */
typedef enum {
  MSOCK_KIND_INT,    /* int */
  MSOCK_KIND_BOOL,   /* int 0/1 from a JS boolean */
  MSOCK_KIND_UCHAR,  /* one byte (BSD multicast TTL/loop) */
  MSOCK_KIND_STRING, /* interface name, without its NUL (SO_BINDTODEVICE) */
  MSOCK_KIND_MREQN   /* struct ip_mreqn (Linux) or struct in_addr (IP_MULTICAST_IF) */
} msock_kind_t;

/* Longest C option name a row carries for errors ("IPV6_MULTICAST_HOPS" and the like). */
#define MSOCK_OPTION_NAME_MAX 32

/*
 * One socket option, marshalled: made from the option table in TS (src/options.ts), parsed by
 * addon.c, applied by msock__option_apply. `option` names it in errors. Two named policies:
 * - clamp (fallback_name != -1): when setsockopt is refused as not permitted (EPERM, or
 *   ENOPROTOOPT from a kernel without the option), set fallback_name at the same level with the
 *   same value instead: SO_RCVBUFFORCE/SO_SNDBUFFORCE need CAP_NET_ADMIN, while SO_RCVBUF/
 *   SO_SNDBUF are clamped to net.core.[rw]mem_max rather than refused;
 * - IPv4 side (ipv4_side): an IPPROTO_IP option for the IPv4 traffic of the socket; on an AF_INET6
 *   socket it is set only when the socket carries IPv4 (IPV6_V6ONLY off, read from the kernel) on
 *   Linux, which applies IPPROTO_IP options to v4-mapped traffic, and skipped otherwise.
 */
typedef struct msock_option_row_s {
  int level;
  int name;
  msock_kind_t kind;
  union {
    int i;
    unsigned char c;
    char s[IFNAMSIZ];
#if defined(__linux__)
    struct ip_mreqn mreqn;
#endif
    struct in_addr in;
  } value;
  socklen_t len;                        /* bytes of value passed to setsockopt */
  char option[MSOCK_OPTION_NAME_MAX];
  int fallback_name;                    /* -1: no clamp policy */
  char fallback_option[MSOCK_OPTION_NAME_MAX];
  int ipv4_side;                        /* 0/1 */
} msock_option_row_t;

/* Most rows one socket creation takes. */
#define MSOCK_MAX_OPTION_ROWS 64

/*
 * Applies one row to fd (with its policy); 0, or -errno with failure set to setsockopt and the
 * option that failed (the fallback's name when the clamp policy's fallback failed too).
 */
int msock__option_apply(int fd,
                        int family,
                        const msock_option_row_t* row,
                        msock_failure_t* failure);

/* What socket creation does besides socket options. */
typedef struct msock_socket_opts_s {
  int family;                 /* AF_INET or AF_INET6 */
  int type;                   /* SOCK_DGRAM or SOCK_STREAM */
  struct sockaddr_storage addr;
  socklen_t addrlen;
  int listen;                 /* 0/1, stream only */
  int backlog;
} msock_socket_opts_t;

typedef struct msock_socket_result_s {
  int fd;
  struct sockaddr_storage addr;
  int recv_buffer_bytes;
  int send_buffer_bytes;
} msock_socket_result_t;

/*
 * Creates the socket (non-blocking, close-on-exec), applies rows[0..count) in order through
 * msock__option_apply, binds and optionally listens; reads back the address and the effective
 * buffer sizes. On failure the fd is closed and failure names the system call and option.
 */
int msock__socket_create(const msock_socket_opts_t* opts,
                         const msock_option_row_t* rows,
                         size_t count,
                         msock_socket_result_t* result,
                         msock_failure_t* failure);

/*
 * Reads what an existing descriptor is (SO_TYPE, getsockname) and, for a UDP socket of AF_INET or
 * AF_INET6, its buffer sizes, then makes it non-blocking and close-on-exec; result->fd is set only
 * then. Anything else is left untouched (result->fd stays -1, *type and result->addr say what it
 * is). peer gets getpeername's answer for a connected socket (ss_family AF_UNSPEC otherwise).
 * The descriptor is never closed. Returns 0 or -errno (failure names the call).
 */
int msock__socket_adopt(int fd,
                        msock_socket_result_t* result,
                        int* type,
                        struct sockaddr_storage* peer,
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
  int has_ttl;                /* IP_TTL (IP_RECVTTL on) / IPV6_HOPLIMIT (IPV6_RECVHOPLIMIT on) seen */
  int ttl;
} msock_cmsg_info_t;

/* Room for every control message msock__cmsg_parse understands. */
#define MSOCK_CMSG_SPACE 256

/* Parses the control messages of one recvmsg(2) result into info (zeroed first). */
void msock__cmsg_parse(struct msghdr* msg, msock_cmsg_info_t* info);

/*
 * Writes the control messages of one outgoing message into a caller-owned buffer (aligned for
 * struct cmsghdr), one after the other, without CMSG_NXTHDR (which reads the next header's length
 * from the buffer). Use: msock__cmsg_encode_begin, msock__cmsg_encode per message (-ENOSPC when the
 * buffer is full), msock__cmsg_encode_end (sets msg_controllen, or no control at all when empty).
 */
typedef struct msock_cmsg_encoder_s {
  struct msghdr* msg;
  size_t used;
  size_t size;
} msock_cmsg_encoder_t;
void msock__cmsg_encode_begin(msock_cmsg_encoder_t* enc, struct msghdr* msg, void* buf, size_t size);
int msock__cmsg_encode(msock_cmsg_encoder_t* enc,
                       int level,
                       int type,
                       const void* data,
                       size_t len);
void msock__cmsg_encode_end(msock_cmsg_encoder_t* enc);

/* ---- system-call helpers (socket.c) -------------------------------------------------------- */

/*
 * Evaluates `expr` (a system call returning -1 with errno on failure) again while it fails with
 * EINTR, and yields its last value. Every system call of the addon that can be interrupted goes
 * through it (socket2's `syscall!`, quinn-udp's `retry_if_interrupted`); close(2) does not (see
 * msock__close).
 */
#define MSOCK_RETRY_EINTR(expr)                    \
  __extension__({                                  \
    __typeof__(expr) msock__r;                     \
    do                                             \
      msock__r = (expr);                           \
    while (msock__r == -1 && errno == EINTR);      \
    msock__r;                                      \
  })

/* setsockopt(2) of any value, retrying EINTR; 0 or -errno. */
int msock__setsockopt(int fd, int level, int name, const void* value, socklen_t len);

/*
 * Module initialisers: each C file that exports functions to JS registers them on `exports` from
 * its own init, called by addon.c. Returns 0 on success, -1 with a pending JS exception.
 */
int msock_batch_init(napi_env env, napi_value exports);
int msock_dtls_init(napi_env env, napi_value exports);
int msock_pacer_init(napi_env env, napi_value exports);

/* ---- the N-API layer (napi-args.c): the only N-API helpers the glue files use ------------- */

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

/* Checks an N-API call; on failure throws the N-API error and jumps to `label` (for cleanup). */
#define NAPI_CALL_GOTO(env, label, call) \
  do {                                   \
    if ((call) != napi_ok) {             \
      msock_throw_napi(env);             \
      goto label;                        \
    }                                    \
  } while (0)

/* Throws the last N-API error as an Error, unless an exception is already pending. */
void msock_throw_napi(napi_env env);
/*
 * Throws Error { errno: -|err|, syscall, option?, address?, port? } (the TS loader turns it into a
 * SystemCallError). err is an errno of either sign (both 12 and -12 mean ENOMEM); option and
 * address may be NULL, port -1 for none. Out of memory is msock_throw_errno(env, ENOMEM, "malloc").
 */
void msock_throw_errno(napi_env env,
                       int err,
                       const char* syscall,
                       const char* option,
                       const char* address,
                       int port);
/*
 * Throws TypeError { argument, expected, value } for input the TS layer should have rejected
 * (InvalidArgumentError on the TS side); value NULL means undefined.
 */
void msock_throw_invalid(napi_env env, const char* argument, napi_value value, const char* expected);

/* obj[key] = value; 0, or -1 with an exception pending. */
int msock_set_str(napi_env env, napi_value obj, const char* key, const char* value);
int msock_set_num(napi_env env, napi_value obj, const char* key, double value);
int msock_set_bool(napi_env env, napi_value obj, const char* key, int value);

/* Registers exported functions on `exports` under their C names. */
typedef struct msock_export_s {
  const char* name;
  napi_callback cb;
} msock_export_t;
int msock_export_functions(napi_env env,
                           napi_value exports,
                           const msock_export_t* fns,
                           size_t count);

/*
 * Argument unpacking. All return 0, or -1 with an exception pending (TypeError { argument,
 * expected } for a value of the wrong shape). The msock_opt_* family reads an optional property:
 * 1 present (and *out set), 0 absent or undefined (*out untouched), -1 exception pending.
 */
/* The first `want` arguments; missing ones are undefined. */
int msock_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv);
/* obj[key]: 1 present, 0 absent or undefined, -1. */
int msock_arg_prop(napi_env env, napi_value obj, const char* key, napi_value* out);
int msock_arg_int(napi_env env,
                  napi_value v,
                  const char* key,
                  int64_t min,
                  int64_t max,
                  int64_t* out);
/* A file descriptor: an integer in 0..INT32_MAX. */
int msock_arg_fd(napi_env env, napi_value v, int* fd);
int msock_arg_bool(napi_env env, napi_value v, const char* key, int* out);
int msock_arg_object(napi_env env, napi_value v, const char* key);
int msock_arg_function(napi_env env, napi_value v, const char* key);
/* A string into buf (NUL-terminated); refuses one that does not fit or holds a NUL. */
int msock_arg_string(napi_env env, napi_value v, const char* key, char* buf, size_t size);
/* A string into a fresh malloc'd buffer (*out, the caller frees); refuses an embedded NUL. */
int msock_arg_string_dup(napi_env env, napi_value v, const char* key, char** out);
/* The bytes of a Uint8Array (or Buffer), borrowed for the call; never NULL. */
int msock_arg_bytes(napi_env env, napi_value v, const char* key, uint8_t** data, size_t* length);
/* The words of an Int32Array, borrowed for the call. */
int msock_arg_int32s(napi_env env, napi_value v, const char* key, int32_t** data, size_t* length);
int msock_opt_int(napi_env env,
                  napi_value obj,
                  const char* key,
                  int64_t min,
                  int64_t max,
                  int* out);
int msock_opt_bool(napi_env env, napi_value obj, const char* key, int* out);
int msock_opt_string(napi_env env, napi_value obj, const char* key, char* buf, size_t size);
int msock_opt_string_dup(napi_env env, napi_value obj, const char* key, char** out);

/*
 * Native handles: every C object JS holds is an external carrying a type tag (napi_type_tag_object)
 * of its kind, and every entry point checks the tag, so a handle of one kind passed where another
 * is expected throws TypeError { argument: key, expected } instead of reading the wrong struct.
 * The tags are distinct 128-bit values (high word "mediasock", low word the kind).
 */
extern const napi_type_tag msock_tag_batch;
extern const napi_type_tag msock_tag_dtls_context;
extern const napi_type_tag msock_tag_dtls_connection;
extern const napi_type_tag msock_tag_pacer;
/*
 * Wraps data in a tagged external with `finalize`. 0; -1 when the external could not be made (data
 * still belongs to the caller); -2 when it was made but not tagged (data belongs to the finalizer,
 * which runs once the unreturned external is collected). An exception is pending on failure.
 */
int msock_handle_new(napi_env env,
                     void* data,
                     napi_finalize finalize,
                     const napi_type_tag* tag,
                     napi_value* out);
/* The data of an external carrying `tag`; NULL with an exception pending for anything else. */
void* msock_arg_handle(napi_env env,
                       napi_value v,
                       const napi_type_tag* tag,
                       const char* key,
                       const char* expected);

#endif /* MSOCK_H_ */
