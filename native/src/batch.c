/*
 * Batch datagram engine: the socket's fd is polled on Node's own event loop (uv_poll_t on the loop
 * from napi_get_uv_event_loop); reads drain the socket with recvmmsg(MSG_DONTWAIT) into memory JS
 * allocated once per socket (one ArrayBuffer of slots x slotBytes, an Int32Array of per-datagram
 * metadata, an Int32Array of control words) and call JS once per filled batch with the count, so no
 * JS object is made per datagram. Sends take a batch described by JS (one payload buffer plus an
 * Int32Array of offset/length/segment/destination rows) and go out with sendmmsg, one UDP GSO
 * super-packet (UDP_SEGMENT cmsg) per row when the kernel has GSO. Receives may ask for UDP_GRO and
 * then split each coalesced message into per-datagram rows by its gso_size cmsg.
 *
 * Kernel features are probed once at open and turned off for good when the kernel refuses them
 * (quinn-udp's rule): GSO on EIO/EINVAL from a send carrying UDP_SEGMENT, recvmmsg/sendmmsg on
 * ENOSYS (then one recvmsg/sendmsg per datagram).
 *
 * A full send queue (EAGAIN, EWOULDBLOCK, ENOBUFS) stops a send early and is reported as "blocked"
 * with the count sent so far; JS then asks for one POLLOUT wake-up (msock_batch_poll_writable).
 * Closing stops the poll (uv_poll_stop takes the fd out of epoll), closes the fd at once and
 * uv_close()s the handle; the JS references to the buffers are released from the close callback. Node's environment teardown (worker
 * exit) closes engines JS left open through an async cleanup hook.
 *
 * Events to JS (callback(kind, value)): 0 batch (value = rows in meta), 1 writable, 3 receive error
 * (value = -errno). (2, closed, is reserved.)
 *
 * Platforms: Linux (recvmmsg, sendmmsg, UDP_SEGMENT since 4.18, UDP_GRO since 5.0). Elsewhere the
 * exports exist and msock_batch_open throws ENOSYS.
 */
#ifndef NAPI_VERSION
# define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <uv.h>

#include "msock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(__linux__)
# include <netinet/udp.h>
# ifndef SOL_UDP
#  define SOL_UDP 17
# endif
# ifndef UDP_SEGMENT
#  define UDP_SEGMENT 103
# endif
# ifndef UDP_GRO
#  define UDP_GRO 104
# endif
# define MSOCK__BATCH_LINUX 1
#endif

/* ---- layout shared with src/udp/batch-engine.ts (checked there against msock_batch_layout) --- */

enum {
  /* receive rows (Int32 words per datagram) */
  RX_OFFSET = 0,      /* byte offset of the payload in the arena */
  RX_LENGTH = 1,      /* payload bytes (with RX_F_TRUNC: bytes kept; the rest was cut) */
  RX_FLAGS = 2,
  RX_PORT = 3,
  RX_FAMILY = 4,      /* 4 or 6 */
  RX_SCOPE = 5,       /* IPv6 scope id */
  RX_ADDR = 6,        /* 4 words: the address bytes in network order (IPv4 in the first word) */
  RX_IFINDEX = 10,    /* pktinfo */
  RX_LOCAL = 11,      /* 4 words: destination address (pktinfo) */
  RX_LOCAL_FAMILY = 15,
  RX_TS_SEC = 16,     /* SCM_TIMESTAMPNS, seconds as uint32 */
  RX_TS_NSEC = 17,
  RX_TOS = 18,
  RX_SEGMENT = 19,    /* UDP_GRO segment size of the message this row was split from, else 0 */
  RX_STRIDE = 20,

  RX_F_TRUNC = 1,     /* MSG_TRUNC */
  RX_F_CTRUNC = 2,    /* MSG_CTRUNC */
  RX_F_LOCAL = 4,
  RX_F_TIMESTAMP = 8,
  RX_F_TOS = 16,
  RX_F_GRO = 32,      /* split from a coalesced (GRO) message */

  /* send rows */
  TX_OFFSET = 0,
  TX_LENGTH = 1,
  TX_SEGMENT = 2,     /* > 0 and < length: cut into datagrams of this size (GSO when available) */
  TX_PORT = 3,
  TX_FAMILY = 4,      /* 0: no destination (connected socket) */
  TX_SCOPE = 5,
  TX_ADDR = 6,
  TX_STRIDE = 12,

  /* control words */
  CTRL_COUNT = 0,         /* rows in the current batch */
  CTRL_DROPS = 1,         /* last SO_RXQ_OVFL value (uint32) */
  CTRL_TRUNCATED = 2,     /* datagrams cut by MSG_TRUNC so far (uint32) */
  CTRL_SEND_ERRNO = 3,    /* errno that stopped the last send early, 0 if none or blocked */
  CTRL_SEND_BLOCKED = 4,  /* 1 when the last send stopped on a full queue */
  CTRL_CAP_GSO = 5,
  CTRL_CAP_GRO = 6,
  CTRL_CAP_RECVMMSG = 7,
  CTRL_CAP_SENDMMSG = 8,
  CTRL_GSO_MAX_SEGMENTS = 9,
  CTRL_RECV_CALLS = 10,   /* receive system calls made (uint32, wraps) */
  CTRL_WAKEUPS = 11,      /* readable wake-ups (uint32, wraps) */
  CTRL_LENGTH = 16,

  EV_BATCH = 0,
  EV_WRITABLE = 1,
  EV_CLOSED = 2,
  EV_ERROR = 3,
};

/* Segments a GRO message may hold (UDP_MAX_SEGMENTS is 128 since Linux 6.11; 64 before). */
#define MSOCK__GRO_MAX_SEGMENTS 128
/* Segments one GSO send may carry: the smaller UDP_MAX_SEGMENTS of older kernels. */
#define MSOCK__GSO_MAX_SEGMENTS 64
/* Messages per sendmmsg call. */
#define MSOCK__TX_MAX 64
#define MSOCK__RX_CMSG_SPACE (MSOCK_CMSG_SPACE + 32)

/* ---- N-API helpers ------------------------------------------------------------------------ */

static int msock__batch_int(napi_env env,
                            napi_value v,
                            const char* key,
                            int64_t min,
                            int64_t max,
                            int64_t* out) {
  napi_valuetype t;
  double d;
  char expected[96];
  NAPI_CALL_INT(env, napi_typeof(env, v, &t));
  if (t == napi_number) {
    NAPI_CALL_INT(env, napi_get_value_double(env, v, &d));
    if (d >= (double)min && d <= (double)max && d == (double)(int64_t)d) {
      *out = (int64_t)d;
      return 0;
    }
  }
  snprintf(expected, sizeof(expected), "must be an integer in %lld..%lld", (long long)min,
           (long long)max);
  msock_throw_invalid(env, key, v, expected);
  return -1;
}

static int msock__batch_prop_int(napi_env env,
                                 napi_value obj,
                                 const char* key,
                                 int64_t min,
                                 int64_t max,
                                 int64_t* out) {
  napi_value v;
  NAPI_CALL_INT(env, napi_get_named_property(env, obj, key, &v));
  return msock__batch_int(env, v, key, min, max, out);
}

static int msock__batch_prop_bool(napi_env env, napi_value obj, const char* key, int* out) {
  napi_value v;
  napi_valuetype t;
  bool b = false;
  NAPI_CALL_INT(env, napi_get_named_property(env, obj, key, &v));
  NAPI_CALL_INT(env, napi_typeof(env, v, &t));
  if (t == napi_undefined) {
    *out = 0;
    return 0;
  }
  if (t != napi_boolean) {
    msock_throw_invalid(env, key, v, "must be a boolean");
    return -1;
  }
  NAPI_CALL_INT(env, napi_get_value_bool(env, v, &b));
  *out = b ? 1 : 0;
  return 0;
}

/* An Int32Array's data and length; fails for anything else. */
static int msock__batch_int32s(napi_env env,
                               napi_value v,
                               const char* key,
                               int32_t** data,
                               size_t* length) {
  bool is_typed = false;
  napi_typedarray_type type;
  void* p = NULL;
  NAPI_CALL_INT(env, napi_is_typedarray(env, v, &is_typed));
  if (is_typed) {
    NAPI_CALL_INT(env, napi_get_typedarray_info(env, v, &type, length, &p, NULL, NULL));
    if (type == napi_int32_array) {
      *data = (int32_t*)p;
      return 0;
    }
  }
  msock_throw_invalid(env, key, v, "must be an Int32Array");
  return -1;
}

/* A Uint8Array's (or Buffer's) bytes; fails for anything else. */
static int msock__batch_bytes(napi_env env,
                              napi_value v,
                              const char* key,
                              uint8_t** data,
                              size_t* length) {
  bool is_typed = false;
  napi_typedarray_type type;
  void* p = NULL;
  NAPI_CALL_INT(env, napi_is_typedarray(env, v, &is_typed));
  if (is_typed) {
    NAPI_CALL_INT(env, napi_get_typedarray_info(env, v, &type, length, &p, NULL, NULL));
    if (type == napi_uint8_array) {
      *data = (uint8_t*)p;
      return 0;
    }
  }
  msock_throw_invalid(env, key, v, "must be a Uint8Array or Buffer");
  return -1;
}

/* ---- the engine --------------------------------------------------------------------------- */

typedef struct msock_batch_s msock_batch_t;

/* What the JS handle (an external) points to; outlives the engine until GC. */
typedef struct msock_batch_box_s {
  msock_batch_t* engine;
} msock_batch_box_t;

struct msock_batch_s {
  uv_poll_t poll;
  napi_env env;
  msock_batch_box_t* box;
  int fd;
  int events;
  int closing;
  int teardown;   /* the environment is going away: no more JS */
  napi_async_cleanup_hook_handle cleanup;
  napi_async_context async_context;
  napi_ref callback;
  napi_ref arena_ref;
  napi_ref meta_ref;
  napi_ref control_ref;

  uint8_t* arena;
  size_t arena_bytes;
  size_t slots;
  size_t slot_bytes;
  int32_t* meta;
  size_t meta_rows;
  int32_t* control;
  int max_batches;
  int gro;
  int gso;
  int use_recvmmsg;
  int use_sendmmsg;

#ifdef MSOCK__BATCH_LINUX
  struct mmsghdr* rx_msgs;
  struct iovec* rx_iov;
  struct sockaddr_storage* rx_names;
  char* rx_control;            /* slots x MSOCK__RX_CMSG_SPACE, aligned by malloc */
  struct mmsghdr tx_msgs[MSOCK__TX_MAX];
  struct iovec tx_iov[MSOCK__TX_MAX];
  struct sockaddr_storage tx_names[MSOCK__TX_MAX];
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(uint16_t))];
  } tx_control[MSOCK__TX_MAX];
  int tx_row[MSOCK__TX_MAX];   /* row of each message */
  int tx_datagrams[MSOCK__TX_MAX];
  int tx_gso[MSOCK__TX_MAX];
#endif
};

static void msock__batch_free(msock_batch_t* e) {
#ifdef MSOCK__BATCH_LINUX
  free(e->rx_msgs);
  free(e->rx_iov);
  free(e->rx_names);
  free(e->rx_control);
#endif
  free(e);
}

/* Calls the JS callback (kind, value) with a fresh handle scope; an exception goes to
 * 'uncaughtException' as for any other callback from the event loop. Returns -1 when JS threw. */
static int msock__batch_emit(msock_batch_t* e, int kind, int value) {
  napi_env env = e->env;
  napi_handle_scope scope;
  napi_value cb, recv, argv[2], result;
  napi_status status;
  int rc = 0;

  if (e->teardown || e->callback == NULL) return 0;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return -1;
  if (napi_get_reference_value(env, e->callback, &cb) != napi_ok || cb == NULL ||
      napi_get_global(env, &recv) != napi_ok || napi_create_int32(env, kind, &argv[0]) != napi_ok ||
      napi_create_int32(env, value, &argv[1]) != napi_ok) {
    rc = -1;
    goto done;
  }
  status = napi_make_callback(env, e->async_context, recv, cb, 2, argv, &result);
  if (status != napi_ok) {
    napi_value exception;
    bool pending = false;
    rc = -1;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env, &exception) == napi_ok)
      napi_fatal_exception(env, exception);
  }
done:
  napi_close_handle_scope(env, scope);
  return rc;
}

/* Whether JS still has the shared memory attached (a transferred ArrayBuffer is detached). */
static int msock__batch_memory_ok(msock_batch_t* e) {
  napi_env env = e->env;
  napi_handle_scope scope;
  napi_value v;
  bool detached = true;
  size_t length = 0;
  void* data = NULL;
  int ok = 0;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return 0;
  if (napi_get_reference_value(env, e->arena_ref, &v) == napi_ok && v != NULL &&
      napi_is_detached_arraybuffer(env, v, &detached) == napi_ok && !detached &&
      napi_get_reference_value(env, e->meta_ref, &v) == napi_ok && v != NULL &&
      napi_get_typedarray_info(env, v, NULL, &length, &data, NULL, NULL) == napi_ok &&
      data == (void*)e->meta && length * sizeof(int32_t) >= e->meta_rows * RX_STRIDE * sizeof(int32_t) &&
      napi_get_reference_value(env, e->control_ref, &v) == napi_ok && v != NULL &&
      napi_get_typedarray_info(env, v, NULL, &length, &data, NULL, NULL) == napi_ok &&
      data == (void*)e->control && length >= CTRL_LENGTH)
    ok = 1;
  napi_close_handle_scope(env, scope);
  return ok;
}

#ifdef MSOCK__BATCH_LINUX

static void msock__batch_put_addr(int32_t* row,
                                  int addr_word,
                                  int family_word,
                                  const struct sockaddr_storage* ss) {
  memset(&row[addr_word], 0, 16);
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in* sin = (const struct sockaddr_in*)ss;
    memcpy(&row[addr_word], &sin->sin_addr, 4);
    row[family_word] = 4;
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6* sin6 = (const struct sockaddr_in6*)ss;
    memcpy(&row[addr_word], &sin6->sin6_addr, 16);
    row[family_word] = 6;
  } else {
    row[family_word] = 0;
  }
}

/* The gso_size of a coalesced message (UDP_GRO cmsg), or 0. */
static int msock__batch_gro_size(struct msghdr* msg) {
  struct cmsghdr* c;
  if (msg->msg_control == NULL || msg->msg_controllen == 0) return 0;
  for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int v;
      memcpy(&v, CMSG_DATA(c), sizeof(v));
      return v > 0 ? v : 0;
    }
  }
  return 0;
}

/* Turns message i (already received into slot i) into rows starting at *rows. */
static void msock__batch_rows(msock_batch_t* e, size_t i, size_t* rows) {
  struct msghdr* msg = &e->rx_msgs[i].msg_hdr;
  size_t len = e->rx_msgs[i].msg_len;
  size_t offset = i * e->slot_bytes;
  msock_cmsg_info_t info;
  int32_t* row;
  int flags = 0, seg = 0;
  size_t pos = 0;

  msock__cmsg_parse(msg, &info);
  if (msg->msg_flags & MSG_TRUNC) {
    flags |= RX_F_TRUNC;
    e->control[CTRL_TRUNCATED] = (int32_t)((uint32_t)e->control[CTRL_TRUNCATED] + 1u);
  }
  if (msg->msg_flags & MSG_CTRUNC) flags |= RX_F_CTRUNC;
  if (info.has_drops) e->control[CTRL_DROPS] = (int32_t)info.drops;
  if (e->gro) seg = msock__batch_gro_size(msg);
  if (seg > 0 && (size_t)seg < len) flags |= RX_F_GRO;
  else seg = 0;

  do {
    size_t take = seg > 0 ? (size_t)seg : len;
    int row_flags = flags;
    if (take > len - pos) take = len - pos;
    /* Room left for one row of this message only: the rest stays whole and is flagged. */
    if (seg > 0 && *rows + 1 >= e->meta_rows && pos + take < len) {
      take = len - pos;
      row_flags &= ~RX_F_GRO;
      row_flags |= RX_F_TRUNC;
    }
    row = &e->meta[*rows * RX_STRIDE];
    row[RX_OFFSET] = (int32_t)(offset + pos);
    row[RX_LENGTH] = (int32_t)take;
    row[RX_FLAGS] = row_flags;
    row[RX_SEGMENT] = seg;
    if (((struct sockaddr*)msg->msg_name)->sa_family == AF_INET6) {
      const struct sockaddr_in6* sin6 = (const struct sockaddr_in6*)msg->msg_name;
      row[RX_PORT] = ntohs(sin6->sin6_port);
      row[RX_SCOPE] = (int32_t)sin6->sin6_scope_id;
    } else {
      const struct sockaddr_in* sin = (const struct sockaddr_in*)msg->msg_name;
      row[RX_PORT] = ntohs(sin->sin_port);
      row[RX_SCOPE] = 0;
    }
    msock__batch_put_addr(row, RX_ADDR, RX_FAMILY, (const struct sockaddr_storage*)msg->msg_name);
    if (info.has_local) {
      row[RX_FLAGS] |= RX_F_LOCAL;
      msock__batch_put_addr(row, RX_LOCAL, RX_LOCAL_FAMILY, &info.local);
      row[RX_IFINDEX] = (int32_t)info.ifindex;
    } else {
      row[RX_LOCAL_FAMILY] = 0;
      row[RX_IFINDEX] = 0;
    }
    if (info.has_timestamp) {
      row[RX_FLAGS] |= RX_F_TIMESTAMP;
      row[RX_TS_SEC] = (int32_t)(uint32_t)info.timestamp_sec;
      row[RX_TS_NSEC] = (int32_t)info.timestamp_nsec;
    } else {
      row[RX_TS_SEC] = 0;
      row[RX_TS_NSEC] = 0;
    }
    if (info.has_tos) row[RX_FLAGS] |= RX_F_TOS;
    row[RX_TOS] = info.has_tos ? info.tos : 0;
    (*rows)++;
    pos += take;
  } while (pos < len);
}

/* One receive call into the slots: rows written (>= 0), 0 on EAGAIN, or -errno.
 * *messages gets the messages received (to tell whether the socket was drained). */
static int msock__batch_recv(msock_batch_t* e, size_t* messages) {
  size_t i, vlen = e->slots, rows = 0;
  int n;

  *messages = 0;
  if (e->gro && vlen > e->meta_rows / MSOCK__GRO_MAX_SEGMENTS)
    vlen = e->meta_rows / MSOCK__GRO_MAX_SEGMENTS;
  if (vlen == 0) vlen = 1;
  for (i = 0; i < vlen; i++) {
    struct msghdr* h = &e->rx_msgs[i].msg_hdr;
    e->rx_iov[i].iov_base = e->arena + i * e->slot_bytes;
    e->rx_iov[i].iov_len = e->slot_bytes;
    h->msg_name = &e->rx_names[i];
    h->msg_namelen = sizeof(e->rx_names[i]);
    h->msg_iov = &e->rx_iov[i];
    h->msg_iovlen = 1;
    h->msg_control = e->rx_control + i * MSOCK__RX_CMSG_SPACE;
    h->msg_controllen = MSOCK__RX_CMSG_SPACE;
    h->msg_flags = 0;
    e->rx_msgs[i].msg_len = 0;
  }

  if (e->use_recvmmsg) {
    do
      n = recvmmsg(e->fd, e->rx_msgs, (unsigned int)vlen, MSG_DONTWAIT, NULL);
    while (n == -1 && errno == EINTR);
    e->control[CTRL_RECV_CALLS] = (int32_t)((uint32_t)e->control[CTRL_RECV_CALLS] + 1u);
    if (n == -1 && errno == ENOSYS) {
      e->use_recvmmsg = 0;
      e->control[CTRL_CAP_RECVMMSG] = 0;
    }
  }
  if (!e->use_recvmmsg) {
    /* One recvmsg per datagram until the slots are full or the queue is empty. */
    for (n = 0; (size_t)n < vlen; n++) {
      ssize_t r;
      do
        r = recvmsg(e->fd, &e->rx_msgs[n].msg_hdr, MSG_DONTWAIT);
      while (r == -1 && errno == EINTR);
      e->control[CTRL_RECV_CALLS] = (int32_t)((uint32_t)e->control[CTRL_RECV_CALLS] + 1u);
      if (r == -1) {
        if (n > 0) break;
        n = -1;
        break;
      }
      e->rx_msgs[n].msg_len = (unsigned int)r;
    }
  }
  if (n == -1) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -errno;
  }
  for (i = 0; i < (size_t)n; i++) msock__batch_rows(e, i, &rows);
  *messages = (size_t)n;
  e->control[CTRL_COUNT] = (int32_t)rows;
  return (int)rows;
}

/* Receive calls per readable wake-up before yielding to the rest of the event loop. */
static void msock__batch_readable(msock_batch_t* e) {
  int b;
  if (!msock__batch_memory_ok(e)) {
    /* JS detached the shared memory: nothing can be delivered any more. */
    uv_poll_stop(&e->poll);
    msock__batch_emit(e, EV_ERROR, -EFAULT);
    return;
  }
  e->control[CTRL_WAKEUPS] = (int32_t)((uint32_t)e->control[CTRL_WAKEUPS] + 1u);
  for (b = 0; b < e->max_batches && !e->closing; b++) {
    size_t messages = 0;
    int rows = msock__batch_recv(e, &messages);
    if (rows < 0) {
      msock__batch_emit(e, EV_ERROR, rows);
      return;
    }
    if (rows == 0) return;
    if (msock__batch_emit(e, EV_BATCH, rows) != 0) return;
    if (messages < e->slots) return; /* drained */
  }
}

#endif /* MSOCK__BATCH_LINUX */

static void msock__batch_on_poll(uv_poll_t* handle, int status, int events) {
  msock_batch_t* e = (msock_batch_t*)handle->data;
  if (e->closing) return;
  if (status == UV_EBADF) {
    /* libuv reports POLLERR as UV_EBADF and stops the handle. On a UDP socket POLLERR is a pending
     * socket error (an ICMP error on a connected socket: ECONNREFUSED ...): read it (which clears
     * it), resume polling and report it, as dgram reports it from recvmsg. */
    int err = 0;
    if (msock__getsockopt_int(e->fd, SOL_SOCKET, SO_ERROR, &err) == 0 && err != 0) {
      if (e->events != 0) uv_poll_start(&e->poll, e->events, msock__batch_on_poll);
      msock__batch_emit(e, EV_ERROR, -err);
      return;
    }
  }
  if (status < 0) {
    msock__batch_emit(e, EV_ERROR, status);
    return;
  }
  if ((events & UV_WRITABLE) && (e->events & UV_WRITABLE)) {
    e->events &= ~UV_WRITABLE;
    if (e->events != 0)
      uv_poll_start(&e->poll, e->events, msock__batch_on_poll);
    else
      uv_poll_stop(&e->poll);
    if (msock__batch_emit(e, EV_WRITABLE, 0) != 0 || e->closing) return;
  }
#ifdef MSOCK__BATCH_LINUX
  if ((events & UV_READABLE) && (e->events & UV_READABLE)) msock__batch_readable(e);
#endif
}

static void msock__batch_release(msock_batch_t* e) {
  napi_env env = e->env;
  if (!e->teardown) {
    if (e->callback) napi_delete_reference(env, e->callback);
    if (e->arena_ref) napi_delete_reference(env, e->arena_ref);
    if (e->meta_ref) napi_delete_reference(env, e->meta_ref);
    if (e->control_ref) napi_delete_reference(env, e->control_ref);
    if (e->async_context) napi_async_destroy(env, e->async_context);
  }
  e->callback = e->arena_ref = e->meta_ref = e->control_ref = NULL;
  e->async_context = NULL;
}

static void msock__batch_on_close(uv_handle_t* handle) {
  msock_batch_t* e = (msock_batch_t*)handle->data;
  /* Only environment teardown leaves the fd for here; msock_batch_close closed it already. */
  if (e->fd >= 0) msock__close(e->fd);
  e->fd = -1;
  if (e->box != NULL) e->box->engine = NULL;
  msock__batch_release(e);
  if (e->cleanup != NULL) napi_remove_async_cleanup_hook(e->cleanup);
  msock__batch_free(e);
}

static void msock__batch_begin_close(msock_batch_t* e) {
  if (e->closing) return;
  e->closing = 1;
  uv_poll_stop(&e->poll);
  uv_close((uv_handle_t*)&e->poll, msock__batch_on_close);
}

/* Environment teardown (process or worker exit) with the engine still open. */
static void msock__batch_on_teardown(napi_async_cleanup_hook_handle handle, void* arg) {
  msock_batch_t* e = (msock_batch_t*)arg;
  e->teardown = 1;
  e->cleanup = handle;
  msock__batch_begin_close(e);
}

static void msock__batch_box_finalize(napi_env env, void* data, void* hint) {
  msock_batch_box_t* box = (msock_batch_box_t*)data;
  (void)env;
  (void)hint;
  if (box->engine != NULL) box->engine->box = NULL;
  free(box);
}

/* The engine behind a handle; throws EBADF once it is closed. */
static msock_batch_t* msock__batch_get(napi_env env, napi_value v, int allow_closing) {
  napi_valuetype t;
  msock_batch_box_t* box = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) {
    msock_throw_napi(env);
    return NULL;
  }
  if (t != napi_external) {
    msock_throw_invalid(env, "handle", v, "must be a handle from msock_batch_open");
    return NULL;
  }
  if (napi_get_value_external(env, v, (void**)&box) != napi_ok) {
    msock_throw_napi(env);
    return NULL;
  }
  if (box == NULL || box->engine == NULL || (!allow_closing && box->engine->closing)) {
    msock_throw_errno(env, EBADF, "msock_batch", NULL, NULL, -1);
    return NULL;
  }
  return box->engine;
}

/* ---- exports ------------------------------------------------------------------------------ */

/* msock_batch_open(fd, arena: ArrayBuffer, meta: Int32Array, control: Int32Array,
 *                  callback(kind, value), { slots, slotBytes, gro, maxBatchesPerWake }) -> handle */
static napi_value msock_batch_open(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 6;
  napi_value argv[6], handle, name;
  napi_valuetype t;
  bool is_ab = false;
  int64_t fd, slots, slot_bytes, max_batches;
  int gro = 0;
  void* arena = NULL;
  size_t arena_bytes = 0, meta_len = 0, control_len = 0;
  int32_t *meta = NULL, *control = NULL;
  msock_batch_t* e = NULL;
  msock_batch_box_t* box = NULL;
  uv_loop_t* loop = NULL;
  int rc;

  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 6) {
    msock_throw_invalid(env, "arguments", NULL,
                               "must be (fd, arena, meta, control, callback, options)");
    return NULL;
  }
#ifndef MSOCK__BATCH_LINUX
  msock_throw_errno(env, ENOSYS, "recvmmsg", NULL, NULL, -1);
  return NULL;
#else
  if (msock__batch_int(env, argv[0], "fd", 0, 0x7fffffff, &fd) != 0) return NULL;
  NAPI_CALL(env, napi_is_arraybuffer(env, argv[1], &is_ab));
  if (!is_ab) {
    msock_throw_invalid(env, "arena", argv[1], "must be an ArrayBuffer");
    return NULL;
  }
  NAPI_CALL(env, napi_get_arraybuffer_info(env, argv[1], &arena, &arena_bytes));
  if (msock__batch_int32s(env, argv[2], "meta", &meta, &meta_len) != 0) return NULL;
  if (msock__batch_int32s(env, argv[3], "control", &control, &control_len) != 0) return NULL;
  NAPI_CALL(env, napi_typeof(env, argv[4], &t));
  if (t != napi_function) {
    msock_throw_invalid(env, "callback", argv[4], "must be a function");
    return NULL;
  }
  NAPI_CALL(env, napi_typeof(env, argv[5], &t));
  if (t != napi_object) {
    msock_throw_invalid(env, "options", argv[5], "must be an object");
    return NULL;
  }
  if (msock__batch_prop_int(env, argv[5], "slots", 1, 1024, &slots) != 0 ||
      msock__batch_prop_int(env, argv[5], "slotBytes", 1, 1 << 20, &slot_bytes) != 0 ||
      msock__batch_prop_int(env, argv[5], "maxBatchesPerWake", 1, 1 << 16, &max_batches) != 0 ||
      msock__batch_prop_bool(env, argv[5], "gro", &gro) != 0)
    return NULL;
  if ((size_t)slots * (size_t)slot_bytes > arena_bytes) {
    msock_throw_invalid(env, "arena", argv[1], "must hold slots x slotBytes bytes");
    return NULL;
  }
  if (meta_len < (size_t)slots * (gro ? MSOCK__GRO_MAX_SEGMENTS : 1) * RX_STRIDE) {
    msock_throw_invalid(env, "meta", argv[2],
                               "must hold slots (x 128 with gro) rows of the receive stride");
    return NULL;
  }
  if (control_len < CTRL_LENGTH) {
    msock_throw_invalid(env, "control", argv[3], "must hold 16 words");
    return NULL;
  }
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));

  e = calloc(1, sizeof(*e));
  box = calloc(1, sizeof(*box));
  if (e == NULL || box == NULL) goto nomem;
  e->rx_msgs = calloc((size_t)slots, sizeof(*e->rx_msgs));
  e->rx_iov = calloc((size_t)slots, sizeof(*e->rx_iov));
  e->rx_names = calloc((size_t)slots, sizeof(*e->rx_names));
  e->rx_control = calloc((size_t)slots, MSOCK__RX_CMSG_SPACE);
  if (e->rx_msgs == NULL || e->rx_iov == NULL || e->rx_names == NULL || e->rx_control == NULL)
    goto nomem;
  e->env = env;
  e->fd = (int)fd;
  e->arena = (uint8_t*)arena;
  e->arena_bytes = arena_bytes;
  e->slots = (size_t)slots;
  e->slot_bytes = (size_t)slot_bytes;
  e->meta = meta;
  e->meta_rows = meta_len / RX_STRIDE;
  e->control = control;
  e->max_batches = (int)max_batches;
  e->use_recvmmsg = 1;
  e->use_sendmmsg = 1;
  memset(control, 0, CTRL_LENGTH * sizeof(int32_t));

  /* Probes, once. GSO: the option exists on this socket (getsockopt works from Linux 4.18). */
  {
    int v = 0;
    e->gso = msock__getsockopt_int(e->fd, SOL_UDP, UDP_SEGMENT, &v) == 0;
    if (gro) e->gro = msock__setsockopt_int(e->fd, SOL_UDP, UDP_GRO, 1) == 0;
  }
  control[CTRL_CAP_GSO] = e->gso;
  control[CTRL_CAP_GRO] = e->gro;
  control[CTRL_CAP_RECVMMSG] = 1;
  control[CTRL_CAP_SENDMMSG] = 1;
  control[CTRL_GSO_MAX_SEGMENTS] = e->gso ? MSOCK__GSO_MAX_SEGMENTS : 1;

  if (napi_create_reference(env, argv[4], 1, &e->callback) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &e->arena_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &e->meta_ref) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &e->control_ref) != napi_ok ||
      napi_create_string_utf8(env, "mediasock:batch", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &e->async_context) != napi_ok)
    goto napi_fail;

  rc = uv_poll_init(loop, &e->poll, e->fd);
  if (rc != 0) {
    msock__batch_release(e);
    msock__batch_free(e);
    free(box);
    msock_throw_errno(env, rc, "uv_poll_init", NULL, NULL, -1);
    return NULL;
  }
  e->poll.data = e;
  e->events = UV_READABLE;
  rc = uv_poll_start(&e->poll, e->events, msock__batch_on_poll);
  if (rc != 0) {
    /* The handle is initialised: it must be closed through the loop. The fd stays with JS. */
    e->fd = -1;
    free(box);
    msock__batch_release(e);
    e->teardown = 1; /* no 'closed' event for an engine JS never got */
    msock__batch_begin_close(e);
    msock_throw_errno(env, rc, "uv_poll_start", NULL, NULL, -1);
    return NULL;
  }
  if (napi_add_async_cleanup_hook(env, msock__batch_on_teardown, e, &e->cleanup) != napi_ok) {
    e->cleanup = NULL;
    e->fd = -1;
    free(box);
    msock_throw_napi(env);
    msock__batch_release(e);
    e->teardown = 1;
    msock__batch_begin_close(e);
    return NULL;
  }
  box->engine = e;
  e->box = box;
  if (napi_create_external(env, box, msock__batch_box_finalize, NULL, &handle) != napi_ok) {
    /* Nobody can close it from JS now: close the poll here; the fd stays with JS. */
    e->box = NULL;
    e->fd = -1;
    free(box);
    msock_throw_napi(env);
    msock__batch_release(e);
    e->teardown = 1;
    msock__batch_begin_close(e);
    return NULL;
  }
  return handle;

nomem:
  if (e != NULL) msock__batch_free(e);
  free(box);
  msock_throw_errno(env, ENOMEM, "malloc", NULL, NULL, -1);
  return NULL;
napi_fail:
  msock_throw_napi(env);
  msock__batch_release(e);
  msock__batch_free(e);
  free(box);
  return NULL;
#endif
}

/* msock_batch_close(handle) -> 0 or -errno of close(2): stops polling (uv_poll_stop takes the fd
 * out of epoll at once), closes the fd now so the port is free when this returns, and uv_close()s
 * the handle; its memory and the JS references go from the close callback. A second call is a
 * no-op returning 0. */
static napi_value msock_batch_close(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1], result;
  msock_batch_t* e;
  int rc = 0;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 1) {
    msock_throw_invalid(env, "handle", NULL, "is required");
    return NULL;
  }
  e = msock__batch_get(env, argv[0], 1);
  if (e == NULL) return NULL;
  if (!e->closing) {
    uv_poll_stop(&e->poll);
    if (e->fd >= 0) rc = msock__close(e->fd);
    e->fd = -1;
    msock__batch_begin_close(e);
  }
  NAPI_CALL(env, napi_create_int32(env, rc, &result));
  return result;
}

/* msock_batch_ref(handle, on): uv_ref / uv_unref of the poll handle. */
static napi_value msock_batch_ref(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 2;
  napi_value argv[2], result;
  bool on = true;
  msock_batch_t* e;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 2) {
    msock_throw_invalid(env, "arguments", NULL, "must be (handle, on)");
    return NULL;
  }
  e = msock__batch_get(env, argv[0], 0);
  if (e == NULL) return NULL;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    msock_throw_invalid(env, "on", argv[1], "must be a boolean");
    return NULL;
  }
  if (on)
    uv_ref((uv_handle_t*)&e->poll);
  else
    uv_unref((uv_handle_t*)&e->poll);
  NAPI_CALL(env, napi_get_undefined(env, &result));
  return result;
}

/* msock_batch_poll_writable(handle): one 'writable' event once the send queue has room. */
static napi_value msock_batch_poll_writable(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1], result;
  msock_batch_t* e;
  int rc;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 1) {
    msock_throw_invalid(env, "handle", NULL, "is required");
    return NULL;
  }
  e = msock__batch_get(env, argv[0], 0);
  if (e == NULL) return NULL;
  if (!(e->events & UV_WRITABLE)) {
    e->events |= UV_WRITABLE;
    rc = uv_poll_start(&e->poll, e->events, msock__batch_on_poll);
    if (rc != 0) {
      e->events &= ~UV_WRITABLE;
      msock_throw_errno(env, rc, "uv_poll_start", NULL, NULL, -1);
      return NULL;
    }
  }
  NAPI_CALL(env, napi_get_undefined(env, &result));
  return result;
}

/* msock_batch_read(handle, on): starts or stops reading (the kernel queue holds what arrives
 * meanwhile); used for backpressure while JS holds a batch. */
static napi_value msock_batch_read(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 2;
  napi_value argv[2], result;
  bool on = true;
  msock_batch_t* e;
  int rc, events;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 2) {
    msock_throw_invalid(env, "arguments", NULL, "must be (handle, on)");
    return NULL;
  }
  e = msock__batch_get(env, argv[0], 0);
  if (e == NULL) return NULL;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    msock_throw_invalid(env, "on", argv[1], "must be a boolean");
    return NULL;
  }
  events = on ? (e->events | UV_READABLE) : (e->events & ~UV_READABLE);
  if (events != e->events) {
    e->events = events;
    rc = events != 0 ? uv_poll_start(&e->poll, events, msock__batch_on_poll) : uv_poll_stop(&e->poll);
    if (rc != 0) {
      msock_throw_errno(env, rc, "uv_poll_start", NULL, NULL, -1);
      return NULL;
    }
  }
  NAPI_CALL(env, napi_get_undefined(env, &result));
  return result;
}

/* Reads a sockaddr from 16 address bytes + family + port + scope (the send row layout). */
static int msock__batch_sockaddr(const int32_t* row,
                                 int family_word,
                                 int addr_word,
                                 int port_word,
                                 int scope_word,
                                 struct sockaddr_storage* ss,
                                 socklen_t* len) {
  memset(ss, 0, sizeof(*ss));
  if (row[family_word] == 4) {
    struct sockaddr_in* sin = (struct sockaddr_in*)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)row[port_word]);
    memcpy(&sin->sin_addr, &row[addr_word], 4);
    *len = sizeof(*sin);
    return 1;
  }
  if (row[family_word] == 6) {
    struct sockaddr_in6* sin6 = (struct sockaddr_in6*)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)row[port_word]);
    sin6->sin6_scope_id = (uint32_t)row[scope_word];
    memcpy(&sin6->sin6_addr, &row[addr_word], 16);
    *len = sizeof(*sin6);
    return 1;
  }
  *len = 0;
  return 0;
}

/* msock_batch_connect(handle, row: Int32Array) connects to the send-row destination in `row`
 * (family 0 dissolves the association with AF_UNSPEC). */
static napi_value msock_batch_connect(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 2, len = 0;
  napi_value argv[2], result;
  int32_t* row = NULL;
  struct sockaddr_storage ss;
  socklen_t sslen = 0;
  msock_batch_t* e;
  int rc;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 2) {
    msock_throw_invalid(env, "arguments", NULL, "must be (handle, row)");
    return NULL;
  }
  e = msock__batch_get(env, argv[0], 0);
  if (e == NULL) return NULL;
  if (msock__batch_int32s(env, argv[1], "row", &row, &len) != 0) return NULL;
  if (len < TX_STRIDE || (row[TX_FAMILY] != 0 && row[TX_FAMILY] != 4 && row[TX_FAMILY] != 6) ||
      row[TX_PORT] < 0 || row[TX_PORT] > 65535) {
    msock_throw_invalid(env, "row", argv[1], "must be one send row (family 0, 4 or 6)");
    return NULL;
  }
  if (!msock__batch_sockaddr(row, TX_FAMILY, TX_ADDR, TX_PORT, TX_SCOPE, &ss, &sslen)) {
    ss.ss_family = AF_UNSPEC;
    sslen = sizeof(struct sockaddr);
  }
  do
    rc = connect(e->fd, (struct sockaddr*)&ss, sslen);
  while (rc == -1 && errno == EINTR);
  /* Dissolving an association may report EAFNOSUPPORT on some kernels; it still dissolves. */
  if (rc == -1 && !(ss.ss_family == AF_UNSPEC && errno == EAFNOSUPPORT)) {
    msock_throw_errno(env, errno, "connect", NULL, NULL, -1);
    return NULL;
  }
  NAPI_CALL(env, napi_get_undefined(env, &result));
  return result;
}

#ifdef MSOCK__BATCH_LINUX
static int msock__batch_would_block(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

/* Datagrams in row r counting from datagram `skip`. */
static int msock__batch_row_datagrams(const int32_t* row, int skip) {
  int len = row[TX_LENGTH], seg = row[TX_SEGMENT];
  if (seg <= 0 || len <= seg) return 1 - skip;
  return (len + seg - 1) / seg - skip;
}
#endif

/* msock_batch_send(handle, payload: Uint8Array, rows: Int32Array, first, count, skip) -> datagrams
 * sent. Starts at row `first`, datagram `skip` of it. Stops early on a full queue (control
 * SEND_BLOCKED = 1) or on an error after at least one datagram (control SEND_ERRNO); throws when
 * the very first datagram fails. */
static napi_value msock_batch_send(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 6, payload_len = 0, rows_len = 0;
  napi_value argv[6], result;
  uint8_t* payload = NULL;
  int32_t* rows = NULL;
  int64_t first, count, skip;
  msock_batch_t* e;
  int64_t r;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 6) {
    msock_throw_invalid(env, "arguments", NULL,
                               "must be (handle, payload, rows, first, count, skip)");
    return NULL;
  }
  e = msock__batch_get(env, argv[0], 0);
  if (e == NULL) return NULL;
  if (msock__batch_bytes(env, argv[1], "payload", &payload, &payload_len) != 0 ||
      msock__batch_int32s(env, argv[2], "rows", &rows, &rows_len) != 0 ||
      msock__batch_int(env, argv[3], "first", 0, 0x7fffffff, &first) != 0 ||
      msock__batch_int(env, argv[4], "count", 0, 0x7fffffff, &count) != 0 ||
      msock__batch_int(env, argv[5], "skip", 0, 0xffff, &skip) != 0)
    return NULL;
  if ((size_t)(first + count) * TX_STRIDE > rows_len) {
    msock_throw_invalid(env, "rows", argv[2], "must hold first + count send rows");
    return NULL;
  }
  for (r = first; r < first + count; r++) {
    const int32_t* row = &rows[r * TX_STRIDE];
    if (row[TX_OFFSET] < 0 || row[TX_LENGTH] < 0 ||
        (size_t)row[TX_OFFSET] + (size_t)row[TX_LENGTH] > payload_len || row[TX_SEGMENT] < 0 ||
        (row[TX_FAMILY] != 0 && row[TX_FAMILY] != 4 && row[TX_FAMILY] != 6) ||
        row[TX_PORT] < 0 || row[TX_PORT] > 65535) {
      msock_throw_invalid(env, "rows", argv[2],
                                 "must describe datagrams inside the payload buffer");
      return NULL;
    }
  }
  if (count > 0 && skip >= msock__batch_row_datagrams(&rows[first * TX_STRIDE], 0)) {
    msock_throw_invalid(env, "skip", argv[5], "must be below the first row's datagrams");
    return NULL;
  }
  e->control[CTRL_SEND_ERRNO] = 0;
  e->control[CTRL_SEND_BLOCKED] = 0;

#ifdef MSOCK__BATCH_LINUX
  {
    int64_t row_i = first, end = first + count;
    int seg_i = (int)skip; /* next datagram within row_i */
    double sent = 0;
    int err = 0;
    /* Cleared for the rest of this call when a GSO segment does not fit the route's MTU. */
    int gso_fits = 1;

    while (row_i < end) {
      int k = 0, n = -1, j;
      int64_t ri = row_i;
      int si = seg_i;

      /* Build up to TX_MAX messages from the cursor. */
      while (ri < end && k < MSOCK__TX_MAX) {
        const int32_t* row = &rows[ri * TX_STRIDE];
        struct msghdr* h = &e->tx_msgs[k].msg_hdr;
        int len = row[TX_LENGTH], seg = row[TX_SEGMENT];
        int split = seg > 0 && len > seg;
        int total = split ? (len + seg - 1) / seg : 1;
        int take, start;
        socklen_t namelen = 0;

        memset(h, 0, sizeof(*h));
        if (msock__batch_sockaddr(row, TX_FAMILY, TX_ADDR, TX_PORT, TX_SCOPE, &e->tx_names[k],
                                  &namelen)) {
          h->msg_name = &e->tx_names[k];
          h->msg_namelen = namelen;
        }
        start = split ? si * seg : 0;
        if (split && e->gso && gso_fits && total - si > 1) {
          /* One GSO super-packet for the rest of the row. */
          struct cmsghdr* c;
          uint16_t size = (uint16_t)seg;
          take = total - si;
          e->tx_iov[k].iov_base = payload + row[TX_OFFSET] + start;
          e->tx_iov[k].iov_len = (size_t)(len - start);
          h->msg_control = e->tx_control[k].buf;
          h->msg_controllen = sizeof(e->tx_control[k].buf);
          c = CMSG_FIRSTHDR(h);
          c->cmsg_level = SOL_UDP;
          c->cmsg_type = UDP_SEGMENT;
          c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
          memcpy(CMSG_DATA(c), &size, sizeof(size));
          e->tx_gso[k] = 1;
        } else {
          int end_byte = split ? (start + seg < len ? start + seg : len) : len;
          take = 1;
          e->tx_iov[k].iov_base = payload + row[TX_OFFSET] + start;
          e->tx_iov[k].iov_len = (size_t)(end_byte - start);
          e->tx_gso[k] = 0;
        }
        h->msg_iov = &e->tx_iov[k];
        h->msg_iovlen = 1;
        e->tx_row[k] = (int)ri;
        e->tx_datagrams[k] = take;
        k++;
        si += take;
        if (si >= total) {
          ri++;
          si = 0;
        }
      }

      if (e->use_sendmmsg) {
        do
          n = sendmmsg(e->fd, e->tx_msgs, (unsigned int)k, MSG_DONTWAIT);
        while (n == -1 && errno == EINTR);
        if (n == -1 && errno == ENOSYS) {
          e->use_sendmmsg = 0;
          e->control[CTRL_CAP_SENDMMSG] = 0;
        }
      }
      if (!e->use_sendmmsg) {
        for (n = 0; n < k; n++) {
          ssize_t w;
          do
            w = sendmsg(e->fd, &e->tx_msgs[n].msg_hdr, MSG_DONTWAIT);
          while (w == -1 && errno == EINTR);
          if (w == -1) break;
        }
        if (n == 0) n = -1;
      }
      if (n == -1) {
        err = errno;
        if (e->tx_gso[0] && (err == EIO || err == EINVAL) && e->gso) {
          /* The kernel or the device refuses GSO: off for good, resend without it. */
          e->gso = 0;
          e->control[CTRL_CAP_GSO] = 0;
          e->control[CTRL_GSO_MAX_SEGMENTS] = 1;
          err = 0;
          continue;
        }
        if (e->tx_gso[0] && err == EMSGSIZE && gso_fits) {
          /* A segment plus headers exceeds the route's MTU: recent kernels answer EMSGSIZE there
           * (older ones EINVAL, handled above). GSO itself works, so it stays on; for the rest of
           * this call the datagrams go one per message, which the IP layer fragments as it does for
           * the node engine's sends (or refuses with EMSGSIZE under IP_PMTUDISC_DO, reported as
           * usual). */
          gso_fits = 0;
          err = 0;
          continue;
        }
        break;
      }
      /* Advance the cursor by the n messages sent. */
      for (j = 0; j < n; j++) {
        const int32_t* row = &rows[row_i * TX_STRIDE];
        int total = msock__batch_row_datagrams(row, 0);
        sent += e->tx_datagrams[j];
        seg_i += e->tx_datagrams[j];
        if (seg_i >= total) {
          row_i++;
          seg_i = 0;
        }
      }
    }

    if (err != 0) {
      if (msock__batch_would_block(err)) {
        e->control[CTRL_SEND_BLOCKED] = 1;
      } else if (sent == 0) {
        msock_throw_errno(env, err, e->use_sendmmsg ? "sendmmsg" : "sendmsg", NULL, NULL, -1);
        return NULL;
      } else {
        e->control[CTRL_SEND_ERRNO] = err;
      }
    }
    NAPI_CALL(env, napi_create_double(env, sent, &result));
    return result;
  }
#else
  (void)payload;
  msock_throw_errno(env, ENOSYS, "sendmmsg", NULL, NULL, -1);
  return NULL;
#endif
}

/* msock_batch_layout() -> the word offsets and flags shared with JS. */
static napi_value msock_batch_layout(napi_env env, napi_callback_info cbinfo) {
  static const struct {
    const char* name;
    int value;
  } entries[] = {
      {"RX_OFFSET", RX_OFFSET},
      {"RX_LENGTH", RX_LENGTH},
      {"RX_FLAGS", RX_FLAGS},
      {"RX_PORT", RX_PORT},
      {"RX_FAMILY", RX_FAMILY},
      {"RX_SCOPE", RX_SCOPE},
      {"RX_ADDR", RX_ADDR},
      {"RX_IFINDEX", RX_IFINDEX},
      {"RX_LOCAL", RX_LOCAL},
      {"RX_LOCAL_FAMILY", RX_LOCAL_FAMILY},
      {"RX_TS_SEC", RX_TS_SEC},
      {"RX_TS_NSEC", RX_TS_NSEC},
      {"RX_TOS", RX_TOS},
      {"RX_SEGMENT", RX_SEGMENT},
      {"RX_STRIDE", RX_STRIDE},
      {"RX_F_TRUNC", RX_F_TRUNC},
      {"RX_F_CTRUNC", RX_F_CTRUNC},
      {"RX_F_LOCAL", RX_F_LOCAL},
      {"RX_F_TIMESTAMP", RX_F_TIMESTAMP},
      {"RX_F_TOS", RX_F_TOS},
      {"RX_F_GRO", RX_F_GRO},
      {"TX_OFFSET", TX_OFFSET},
      {"TX_LENGTH", TX_LENGTH},
      {"TX_SEGMENT", TX_SEGMENT},
      {"TX_PORT", TX_PORT},
      {"TX_FAMILY", TX_FAMILY},
      {"TX_SCOPE", TX_SCOPE},
      {"TX_ADDR", TX_ADDR},
      {"TX_STRIDE", TX_STRIDE},
      {"CTRL_COUNT", CTRL_COUNT},
      {"CTRL_DROPS", CTRL_DROPS},
      {"CTRL_TRUNCATED", CTRL_TRUNCATED},
      {"CTRL_SEND_ERRNO", CTRL_SEND_ERRNO},
      {"CTRL_SEND_BLOCKED", CTRL_SEND_BLOCKED},
      {"CTRL_CAP_GSO", CTRL_CAP_GSO},
      {"CTRL_CAP_GRO", CTRL_CAP_GRO},
      {"CTRL_CAP_RECVMMSG", CTRL_CAP_RECVMMSG},
      {"CTRL_CAP_SENDMMSG", CTRL_CAP_SENDMMSG},
      {"CTRL_GSO_MAX_SEGMENTS", CTRL_GSO_MAX_SEGMENTS},
      {"CTRL_RECV_CALLS", CTRL_RECV_CALLS},
      {"CTRL_WAKEUPS", CTRL_WAKEUPS},
      {"CTRL_LENGTH", CTRL_LENGTH},
      {"GRO_MAX_SEGMENTS", MSOCK__GRO_MAX_SEGMENTS},
      {"GSO_MAX_SEGMENTS", MSOCK__GSO_MAX_SEGMENTS},
      {"EV_BATCH", EV_BATCH},
      {"EV_WRITABLE", EV_WRITABLE},
      {"EV_CLOSED", EV_CLOSED},
      {"EV_ERROR", EV_ERROR},
  };
  napi_value result, v;
  size_t i;
  (void)cbinfo;
  NAPI_CALL(env, napi_create_object(env, &result));
  for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
    NAPI_CALL(env, napi_create_int32(env, entries[i].value, &v));
    NAPI_CALL(env, napi_set_named_property(env, result, entries[i].name, v));
  }
  return result;
}

int msock_batch_init(napi_env env, napi_value exports) {
  static const struct {
    const char* name;
    napi_callback cb;
  } fns[] = {
      {"msock_batch_open", msock_batch_open},
      {"msock_batch_close", msock_batch_close},
      {"msock_batch_ref", msock_batch_ref},
      {"msock_batch_poll_writable", msock_batch_poll_writable},
      {"msock_batch_read", msock_batch_read},
      {"msock_batch_connect", msock_batch_connect},
      {"msock_batch_send", msock_batch_send},
      {"msock_batch_layout", msock_batch_layout},
  };
  size_t i;
  for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    napi_value fn;
    NAPI_CALL_INT(env, napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn));
    NAPI_CALL_INT(env, napi_set_named_property(env, exports, fns[i].name, fn));
  }
  return 0;
}
