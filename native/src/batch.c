/*
 * Batch datagram engine: the socket's fd is polled on Node's own event loop (uv_poll_t on the loop
 * from napi_get_uv_event_loop); reads drain the socket with recvmmsg(MSG_DONTWAIT) into receive
 * memory this file maps once per socket, and call JS once per filled batch with the count, so no JS
 * object is made per datagram. Sends take a batch described by JS (one payload buffer plus an
 * Int32Array of offset/length/segment/destination/TTL rows) and go out with sendmmsg, one UDP GSO
 * super-packet (UDP_SEGMENT cmsg) per row when the kernel has GSO. Receives may ask for UDP_GRO and
 * then split each coalesced message into per-datagram rows by its gso_size cmsg.
 *
 * Receive memory: one anonymous private mmap(2) per socket holding the metadata rows and then the
 * slots (slots x slotBytes), handed to JS as one external ArrayBuffer (views: `meta`, `arena`).
 * Pages the kernel never writes stay unbacked, so an idle socket costs about nothing and one that
 * receives small datagrams holds about one page per slot. Close gives it back deterministically,
 * not at some later GC: the ArrayBuffer is detached (every JS view then has length 0, so no JS
 * access can reach the memory) and the mapping is unmapped at once, which also keeps the number of
 * live mappings (vm.max_map_count) equal to the number of open sockets whether GC runs or not.
 * Consequence for callers: a payload view of a batch must not be handed to anything that keeps the
 * raw pointer past the socket's close (copy it to keep it; the batch contract says so anyway).
 *
 * Per-row TTL: a send row may carry its own TTL / hop limit, sent as a control message on that
 * message only (IP_TTL for IPv4 and v4-mapped destinations, 1..255; IPV6_HOPLIMIT for IPv6,
 * 0..255), so nothing is changed on the socket and later sends keep the socket's TTL. Each row is
 * its own message (or GSO super-packet): rows are never merged, so rows of different TTLs never
 * share a GSO send. Linux applies both options to unicast and multicast destinations; it rejects
 * IP_TTL 0 with EINVAL, so a multicast TTL of 0 (host-local) cannot be a per-row value on IPv4 and
 * is the TS layer's to handle (IP_MULTICAST_TTL on the socket).
 *
 * Kernel features are probed once at open and turned off for good when the kernel refuses them
 * (quinn-udp's rule): GSO on EIO/EINVAL from a send carrying UDP_SEGMENT, recvmmsg/sendmmsg on
 * ENOSYS (then one recvmsg/sendmsg per datagram).
 *
 * A full send queue (EAGAIN, EWOULDBLOCK, ENOBUFS) stops a send early and is reported as "blocked"
 * with the count sent so far; JS then asks for one POLLOUT wake-up (msock_batch_poll_writable).
 * Closing stops the poll (uv_poll_stop takes the fd out of epoll), closes the fd at once, releases
 * the receive memory and uv_close()s the handle; the JS references go from the close callback.
 * Node's environment teardown (worker exit) closes engines JS left open through an async cleanup
 * hook.
 *
 * Events to JS (callback(kind, value)): EV_BATCH (value = rows in meta), EV_WRITABLE,
 * EV_ERROR (a receive call failed; value = -errno), EV_POLL_ERROR (libuv could not poll the fd,
 * or could not re-arm the poll: reading has stopped; value = libuv error, a negative errno).
 *
 * Handles are type-tagged externals (msock_tag_batch): any other value, a DTLS handle included,
 * throws a TypeError instead of being read as an engine.
 *
 * Platforms: Linux (recvmmsg, sendmmsg, UDP_SEGMENT since 4.18, UDP_GRO since 5.0). Elsewhere the
 * exports exist and msock_batch_open throws ENOSYS.
 */
#include "msock.h"

#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
  TX_ADDR = 6,        /* 4 words */
  TX_TTL = 10,        /* -1: the socket's TTL; else this row's TTL / hop limit (0..255) */
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
  /* 10 and 11 counted receive calls and wake-ups that nothing read; not reused. */
  CTRL_LENGTH = 16,

  EV_BATCH = 0,
  EV_WRITABLE = 1,
  /* 2 was a "closed" event that was never sent; not reused. */
  EV_ERROR = 3,
  EV_POLL_ERROR = 4,
};

/* Segments a GRO message may hold (UDP_MAX_SEGMENTS is 128 since Linux 6.11; 64 before). */
#define MSOCK__GRO_MAX_SEGMENTS 128
/* Segments one GSO send may carry: the smaller UDP_MAX_SEGMENTS of older kernels. */
#define MSOCK__GSO_MAX_SEGMENTS 64
/* Messages per sendmmsg call. */
#define MSOCK__TX_MAX 64
#define MSOCK__RX_CMSG_SPACE (MSOCK_CMSG_SPACE + 32)
/* Control messages of one send: UDP_SEGMENT, and a TTL as IP_TTL and/or IPV6_HOPLIMIT. */
#define MSOCK__TX_CMSG_SPACE (CMSG_SPACE(sizeof(uint16_t)) + 2 * CMSG_SPACE(sizeof(int)))

/* ---- receive memory ----------------------------------------------------------------------- */

/*
 * One mapping: metadata rows first (page-aligned), then the slots. Shared by the engine and the
 * ArrayBuffer's finalizer (two references); whoever comes first with a reason unmaps it, once.
 */
typedef struct msock__mem_s {
  uint8_t* base;
  size_t bytes;
  size_t meta_bytes;   /* page-aligned: the arena starts here */
  int refs;
  int unmapped;
} msock__mem_t;

static void msock__mem_unmap(msock__mem_t* m) {
  if (__atomic_exchange_n(&m->unmapped, 1, __ATOMIC_ACQ_REL) == 0) munmap(m->base, m->bytes);
}

static void msock__mem_unref(msock__mem_t* m) {
  if (m == NULL || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  msock__mem_unmap(m);
  free(m);
}

/* The ArrayBuffer was collected: nothing in JS can reach the memory any more. */
static void msock__mem_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)data;
  msock__mem_unref((msock__mem_t*)hint);
}

/* Maps meta_bytes + arena_bytes; 0 or -errno. */
static int msock__mem_map(size_t meta_bytes, size_t arena_bytes, msock__mem_t** out) {
  long page = sysconf(_SC_PAGESIZE);
  size_t p = page > 0 ? (size_t)page : 4096;
  msock__mem_t* m = calloc(1, sizeof(*m));
  void* base;
  if (m == NULL) return -ENOMEM;
  m->meta_bytes = (meta_bytes + p - 1) / p * p;
  m->bytes = m->meta_bytes + (arena_bytes + p - 1) / p * p;
  /* MAP_NORESERVE: the slots are sized for the largest datagram; most of them stay untouched. */
  base = mmap(NULL, m->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
              -1, 0);
  if (base == MAP_FAILED) {
    int err = errno;
    free(m);
    return -err;
  }
  m->base = (uint8_t*)base;
  m->refs = 1;
  *out = m;
  return 0;
}

/* ---- the engine --------------------------------------------------------------------------- */

typedef struct msock_batch_s msock_batch_t;

/* What the JS handle (a tagged external) points to; outlives the engine until GC. */
typedef struct msock_batch_box_s {
  msock_batch_t* engine;
} msock_batch_box_t;

struct msock_batch_s {
  uv_poll_t poll;
  napi_env env;
  msock_batch_box_t* box;
  int fd;
  int family;     /* AF_INET or AF_INET6 (SO_DOMAIN) */
  int events;
  int closing;
  int teardown;   /* the environment is going away: no more JS */
  int orphaned;   /* closed, but the cleanup hook could not be removed: it frees the engine */
  napi_async_cleanup_hook_handle cleanup;
  napi_async_context async_context;
  napi_ref callback;
  napi_ref memory_ref;   /* the external ArrayBuffer over mem */
  napi_ref control_ref;

  msock__mem_t* mem;
  uint8_t* arena;
  size_t slots;
  size_t slot_bytes;
  int32_t* meta;
  size_t meta_rows;
  int32_t* control;
  int max_batches;
  int gro;
  int names; /* ask for each datagram's source address (msg_name); 0: rows carry family 0 */
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
    char buf[MSOCK__TX_CMSG_SPACE];
  } tx_control[MSOCK__TX_MAX];
  int tx_datagrams[MSOCK__TX_MAX]; /* datagrams each message carries */
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
  msock__mem_unref(e->mem);
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
  if (napi_get_reference_value(env, e->memory_ref, &v) == napi_ok && v != NULL &&
      napi_is_detached_arraybuffer(env, v, &detached) == napi_ok && !detached &&
      napi_get_reference_value(env, e->control_ref, &v) == napi_ok && v != NULL &&
      napi_get_typedarray_info(env, v, NULL, &length, &data, NULL, NULL) == napi_ok &&
      data == (void*)e->control && length >= CTRL_LENGTH)
    ok = 1;
  if (napi_close_handle_scope(env, scope) != napi_ok) ok = 0;
  return ok;
}

/*
 * Gives the receive memory back at close: detaches the ArrayBuffer (every view of it then has
 * length 0) and unmaps the pages. When JS detached it first (transferred it to a worker), the
 * other side owns the pages now: they are left to its finalizer. When detaching fails, the pages
 * are still dropped (MADV_DONTNEED: reads see zeros, RSS falls) and unmapped by the finalizer.
 */
static void msock__batch_release_memory(msock_batch_t* e) {
  napi_env env = e->env;
  napi_handle_scope scope;
  napi_value v;
  bool detached = false;
  if (e->mem == NULL || e->memory_ref == NULL) return;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, e->memory_ref, &v) == napi_ok && v != NULL &&
      napi_is_detached_arraybuffer(env, v, &detached) == napi_ok) {
    if (!detached) {
      if (napi_detach_arraybuffer(env, v) == napi_ok)
        msock__mem_unmap(e->mem);
      else
        (void)madvise(e->mem->base, e->mem->bytes, MADV_DONTNEED);
    }
  }
  if (napi_close_handle_scope(env, scope) != napi_ok) return;
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
    if (msg->msg_name == NULL) {
      /* Source addresses not asked for: family 0 says so. */
      row[RX_FAMILY] = 0;
      row[RX_PORT] = 0;
      row[RX_SCOPE] = 0;
    } else if (((struct sockaddr*)msg->msg_name)->sa_family == AF_INET6) {
      const struct sockaddr_in6* sin6 = (const struct sockaddr_in6*)msg->msg_name;
      row[RX_PORT] = ntohs(sin6->sin6_port);
      row[RX_SCOPE] = (int32_t)sin6->sin6_scope_id;
    } else {
      const struct sockaddr_in* sin = (const struct sockaddr_in*)msg->msg_name;
      row[RX_PORT] = ntohs(sin->sin_port);
      row[RX_SCOPE] = 0;
    }
    if (msg->msg_name != NULL)
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
  int n = -1;

  *messages = 0;
  if (e->gro && vlen > e->meta_rows / MSOCK__GRO_MAX_SEGMENTS)
    vlen = e->meta_rows / MSOCK__GRO_MAX_SEGMENTS;
  if (vlen == 0) vlen = 1;
  for (i = 0; i < vlen; i++) {
    struct msghdr* h = &e->rx_msgs[i].msg_hdr;
    e->rx_iov[i].iov_base = e->arena + i * e->slot_bytes;
    e->rx_iov[i].iov_len = e->slot_bytes;
    /* Without source addresses the kernel skips copying one out per datagram. */
    h->msg_name = e->names ? &e->rx_names[i] : NULL;
    h->msg_namelen = e->names ? sizeof(e->rx_names[i]) : 0;
    h->msg_iov = &e->rx_iov[i];
    h->msg_iovlen = 1;
    h->msg_control = e->rx_control + i * MSOCK__RX_CMSG_SPACE;
    h->msg_controllen = MSOCK__RX_CMSG_SPACE;
    h->msg_flags = 0;
    e->rx_msgs[i].msg_len = 0;
  }

  if (e->use_recvmmsg) {
    n = MSOCK_RETRY_EINTR(recvmmsg(e->fd, e->rx_msgs, (unsigned int)vlen, MSG_DONTWAIT, NULL));
    if (n == -1 && errno == ENOSYS) {
      e->use_recvmmsg = 0;
      e->control[CTRL_CAP_RECVMMSG] = 0;
    }
  }
  if (!e->use_recvmmsg) {
    /* One recvmsg per datagram until the slots are full or the queue is empty. */
    for (n = 0; (size_t)n < vlen; n++) {
      ssize_t r = MSOCK_RETRY_EINTR(recvmsg(e->fd, &e->rx_msgs[n].msg_hdr, MSG_DONTWAIT));
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
    e->events = 0;
    (void)uv_poll_stop(&e->poll);
    msock__batch_emit(e, EV_ERROR, -EFAULT);
    return;
  }
  for (b = 0; b < e->max_batches && !e->closing; b++) {
    size_t messages = 0;
    int rows = msock__batch_recv(e, &messages);
    if (rows < 0) {
      msock__batch_emit(e, EV_ERROR, rows);
      return;
    }
    if (rows == 0) return;
    if (msock__batch_emit(e, EV_BATCH, rows) != 0) return;
    /* JS paused reading in the callback (it holds this batch): the next recvmmsg would overwrite it. */
    if (!(e->events & UV_READABLE)) return;
    if (messages < e->slots) return; /* drained */
  }
}

#endif /* MSOCK__BATCH_LINUX */

static void msock__batch_on_poll(uv_poll_t* handle, int status, int events);

/* Stops polling after a libuv failure and tells JS: reading has stopped, nothing is silent. */
static void msock__batch_poll_failed(msock_batch_t* e, int rc) {
  e->events = 0;
  (void)uv_poll_stop(&e->poll); /* always 0 for an initialised poll handle */
  msock__batch_emit(e, EV_POLL_ERROR, rc);
}

/* Polls for e->events (stops when none); on failure stops and reports EV_POLL_ERROR. */
static int msock__batch_rearm(msock_batch_t* e) {
  int rc = e->events != 0 ? uv_poll_start(&e->poll, e->events, msock__batch_on_poll)
                          : uv_poll_stop(&e->poll);
  if (rc != 0) msock__batch_poll_failed(e, rc);
  return rc;
}

static void msock__batch_on_poll(uv_poll_t* handle, int status, int events) {
  msock_batch_t* e = (msock_batch_t*)handle->data;
  if (e->closing) return;
  if (status == UV_EBADF) {
    /* libuv reports POLLERR as UV_EBADF and stops the handle. On a UDP socket POLLERR is a pending
     * socket error (an ICMP error on a connected socket: ECONNREFUSED ...): read it (which clears
     * it), resume polling and report it, as dgram reports it from recvmsg. */
    int err = 0;
    if (msock__getsockopt_int(e->fd, SOL_SOCKET, SO_ERROR, &err) == 0 && err != 0) {
      if (msock__batch_rearm(e) != 0) return;
      msock__batch_emit(e, EV_ERROR, -err);
      return;
    }
  }
  if (status < 0) {
    msock__batch_poll_failed(e, status);
    return;
  }
  if ((events & UV_WRITABLE) && (e->events & UV_WRITABLE)) {
    e->events &= ~UV_WRITABLE;
    if (msock__batch_rearm(e) != 0) return;
    if (msock__batch_emit(e, EV_WRITABLE, 0) != 0 || e->closing) return;
  }
#ifdef MSOCK__BATCH_LINUX
  if ((events & UV_READABLE) && (e->events & UV_READABLE)) msock__batch_readable(e);
#endif
}

static void msock__batch_release(msock_batch_t* e) {
  napi_env env = e->env;
  /* Deleting references cannot fail for references this engine made; nothing to do if it did. */
  if (!e->teardown) {
    if (e->callback) (void)napi_delete_reference(env, e->callback);
    if (e->memory_ref) (void)napi_delete_reference(env, e->memory_ref);
    if (e->control_ref) (void)napi_delete_reference(env, e->control_ref);
    if (e->async_context) (void)napi_async_destroy(env, e->async_context);
  }
  e->callback = e->memory_ref = e->control_ref = NULL;
  e->async_context = NULL;
}

static void msock__batch_on_close(uv_handle_t* handle) {
  msock_batch_t* e = (msock_batch_t*)handle->data;
  /* Only environment teardown leaves the fd for here; msock_batch_close closed it already. */
  if (e->fd >= 0) (void)msock__close(e->fd);
  e->fd = -1;
  if (e->box != NULL) e->box->engine = NULL;
  e->box = NULL;
  msock__batch_release(e);
  if (e->cleanup != NULL && napi_remove_async_cleanup_hook(e->cleanup) != napi_ok) {
    /* The hook stays registered and will run at teardown with e: it frees e then. */
    e->orphaned = 1;
    return;
  }
  msock__batch_free(e);
}

static void msock__batch_begin_close(msock_batch_t* e) {
  if (e->closing) return;
  e->closing = 1;
  e->events = 0;
  (void)uv_poll_stop(&e->poll); /* always 0 for an initialised poll handle */
  uv_close((uv_handle_t*)&e->poll, msock__batch_on_close);
}

/* Environment teardown (process or worker exit) with the engine still open. */
static void msock__batch_on_teardown(napi_async_cleanup_hook_handle handle, void* arg) {
  msock_batch_t* e = (msock_batch_t*)arg;
  if (e->orphaned) {
    /* Nothing more can be done if removal fails again: the environment is going away anyway. */
    (void)napi_remove_async_cleanup_hook(handle);
    msock__batch_free(e);
    return;
  }
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

/* The engine behind a handle; TypeError for anything but a batch handle, EBADF once closed. */
static msock_batch_t* msock__batch_get(napi_env env, napi_value v, int allow_closing) {
  msock_batch_box_t* box = msock_arg_handle(env, v, &msock_tag_batch, "handle",
                                            "must be a batch engine handle from msock_batch_open");
  if (box == NULL) return NULL;
  if (box->engine == NULL || (!allow_closing && box->engine->closing)) {
    msock_throw_errno(env, EBADF, "msock_batch", NULL, NULL, -1);
    return NULL;
  }
  return box->engine;
}

/* ---- exports ------------------------------------------------------------------------------ */

/* A required integer option. */
static int msock__batch_option(napi_env env,
                               napi_value options,
                               const char* key,
                               int64_t min,
                               int64_t max,
                               int64_t* out) {
  napi_value v;
  if (msock_arg_prop(env, options, key, &v) < 0) return -1;
  return msock_arg_int(env, v, key, min, max, out);
}

/*
 * msock_batch_open(fd, control: Int32Array(CTRL_LENGTH), callback(kind, value),
 *                  { slots, slotBytes, gro?, sourceAddress?, maxBatchesPerWake })
 *   -> { handle, meta, arena }   (sourceAddress, default true: ask for each datagram's msg_name)
 *
 * Maps the receive memory (see the top of this file) and returns it as two views of one external
 * ArrayBuffer: `meta` (Int32Array, slots rows of RX_STRIDE words, x GRO_MAX_SEGMENTS with gro) and
 * `arena` (Uint8Array of slots x slotBytes; RX_OFFSET counts from its start). Both read as length 0
 * once the engine is closed. On failure the fd stays open, for the caller to close.
 */
static napi_value msock_batch_open(napi_env env, napi_callback_info cbinfo) {
#ifndef MSOCK__BATCH_LINUX
  (void)cbinfo;
  msock_throw_errno(env, ENOSYS, "recvmmsg", NULL, NULL, -1);
  return NULL;
#else
  napi_value argv[4], result = NULL, handle, memory, meta_v, arena_v, name;
  int64_t slots, slot_bytes, max_batches;
  int fd, gro = 0, names = 1, rc;
  size_t control_len = 0, meta_rows;
  int32_t* control = NULL;
  msock_batch_t* e = NULL;
  msock_batch_box_t* box = NULL;
  uv_loop_t* loop = NULL;

  if (msock_args(env, cbinfo, 4, argv) != 0) return NULL;
  if (msock_arg_fd(env, argv[0], &fd) != 0 ||
      msock_arg_int32s(env, argv[1], "control", &control, &control_len) != 0 ||
      msock_arg_function(env, argv[2], "callback") != 0 ||
      msock_arg_object(env, argv[3], "options") != 0 ||
      msock__batch_option(env, argv[3], "slots", 1, 1024, &slots) != 0 ||
      msock__batch_option(env, argv[3], "slotBytes", 1, 1 << 20, &slot_bytes) != 0 ||
      msock__batch_option(env, argv[3], "maxBatchesPerWake", 1, 1 << 16, &max_batches) != 0 ||
      msock_opt_bool(env, argv[3], "gro", &gro) < 0 ||
      msock_opt_bool(env, argv[3], "sourceAddress", &names) < 0)
    return NULL;
  if (control_len < CTRL_LENGTH) {
    msock_throw_invalid(env, "control", argv[1], "must hold 16 words");
    return NULL;
  }
  meta_rows = (size_t)slots * (gro ? MSOCK__GRO_MAX_SEGMENTS : 1);
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));

  e = calloc(1, sizeof(*e));
  box = calloc(1, sizeof(*box));
  if (e == NULL || box == NULL) goto nomem;
  e->env = env;
  e->fd = fd;
  e->rx_msgs = calloc((size_t)slots, sizeof(*e->rx_msgs));
  e->rx_iov = calloc((size_t)slots, sizeof(*e->rx_iov));
  e->rx_names = calloc((size_t)slots, sizeof(*e->rx_names));
  e->rx_control = calloc((size_t)slots, MSOCK__RX_CMSG_SPACE);
  if (e->rx_msgs == NULL || e->rx_iov == NULL || e->rx_names == NULL || e->rx_control == NULL)
    goto nomem;
  rc = msock__mem_map(meta_rows * RX_STRIDE * sizeof(int32_t),
                      (size_t)slots * (size_t)slot_bytes, &e->mem);
  if (rc != 0) {
    msock_throw_errno(env, rc, "mmap", NULL, NULL, -1);
    goto fail_free;
  }
  e->meta = (int32_t*)(void*)e->mem->base;
  e->meta_rows = meta_rows;
  e->arena = e->mem->base + e->mem->meta_bytes;
  e->slots = (size_t)slots;
  e->slot_bytes = (size_t)slot_bytes;
  e->control = control;
  e->max_batches = (int)max_batches;
  e->names = names;
  e->use_recvmmsg = 1;
  e->use_sendmmsg = 1;
  memset(control, 0, CTRL_LENGTH * sizeof(int32_t));

  /* Probes, once. GSO: the option exists on this socket (getsockopt works from Linux 4.18). */
  {
    int v = 0;
    e->gso = msock__getsockopt_int(fd, SOL_UDP, UDP_SEGMENT, &v) == 0;
    if (gro) e->gro = msock__setsockopt_int(fd, SOL_UDP, UDP_GRO, 1) == 0;
    if (msock__getsockopt_int(fd, SOL_SOCKET, SO_DOMAIN, &e->family) != 0) e->family = AF_INET;
  }
  control[CTRL_CAP_GSO] = e->gso;
  control[CTRL_CAP_GRO] = e->gro;
  control[CTRL_CAP_RECVMMSG] = 1;
  control[CTRL_CAP_SENDMMSG] = 1;
  control[CTRL_GSO_MAX_SEGMENTS] = e->gso ? MSOCK__GSO_MAX_SEGMENTS : 1;

  if (napi_create_reference(env, argv[2], 1, &e->callback) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &e->control_ref) != napi_ok ||
      napi_create_string_utf8(env, "mediasock:batch", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &e->async_context) != napi_ok ||
      napi_create_external_arraybuffer(env, e->mem->base, e->mem->bytes, msock__mem_finalize,
                                       e->mem, &memory) != napi_ok)
    goto napi_fail;
  __atomic_add_fetch(&e->mem->refs, 1, __ATOMIC_ACQ_REL); /* the ArrayBuffer's finalizer's */
  if (napi_create_reference(env, memory, 1, &e->memory_ref) != napi_ok ||
      napi_create_typedarray(env, napi_int32_array, meta_rows * RX_STRIDE, memory, 0, &meta_v) !=
          napi_ok ||
      napi_create_typedarray(env, napi_uint8_array, e->slots * e->slot_bytes, memory,
                             e->mem->meta_bytes, &arena_v) != napi_ok)
    goto napi_fail;

  rc = uv_poll_init(loop, &e->poll, fd);
  if (rc != 0) {
    msock_throw_errno(env, rc, "uv_poll_init", NULL, NULL, -1);
    goto fail_free;
  }
  e->poll.data = e;
  e->events = UV_READABLE;
  rc = uv_poll_start(&e->poll, e->events, msock__batch_on_poll);
  if (rc != 0) {
    msock_throw_errno(env, rc, "uv_poll_start", NULL, NULL, -1);
    goto fail_close;
  }
  if (napi_add_async_cleanup_hook(env, msock__batch_on_teardown, e, &e->cleanup) != napi_ok) {
    e->cleanup = NULL;
    msock_throw_napi(env);
    goto fail_close;
  }
  box->engine = e;
  e->box = box;
  rc = msock_handle_new(env, box, msock__batch_box_finalize, &msock_tag_batch, &handle);
  if (rc == -2) box = NULL; /* the external owns it now */
  if (rc != 0) goto fail_close;
  box = NULL;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_set_named_property(env, result, "handle", handle) != napi_ok ||
      napi_set_named_property(env, result, "meta", meta_v) != napi_ok ||
      napi_set_named_property(env, result, "arena", arena_v) != napi_ok) {
    msock_throw_napi(env);
    goto fail_close;
  }
  return result;

nomem:
  msock_throw_errno(env, ENOMEM, "malloc", NULL, NULL, -1);
  goto fail_free;
napi_fail:
  msock_throw_napi(env);
fail_free:
  /* The poll handle was never initialised: free directly. An ArrayBuffer already made over the
   * memory keeps its own reference; its finalizer unmaps. */
  if (e != NULL) {
    msock__batch_release(e);
    msock__batch_free(e);
  }
  free(box);
  return NULL;
fail_close:
  /* The poll handle is initialised: it must be closed through the loop. The fd stays with JS; no
   * events go to JS for an engine it never got. */
  if (e->box != NULL) e->box->engine = NULL;
  e->box = NULL;
  e->fd = -1;
  msock__batch_release(e);
  e->teardown = 1;
  msock__batch_begin_close(e);
  free(box);
  return NULL;
#endif
}

/* msock_batch_close(handle) -> 0 or -errno of close(2): stops polling (uv_poll_stop takes the fd
 * out of epoll at once), closes the fd now so the port is free when this returns, gives the receive
 * memory back (detach + munmap) and uv_close()s the handle; its memory and the JS references go
 * from the close callback. A second call is a no-op returning 0. */
static napi_value msock_batch_close(napi_env env, napi_callback_info cbinfo) {
  napi_value argv[1], result;
  msock_batch_t* e;
  int rc = 0;
  if (msock_args(env, cbinfo, 1, argv) != 0) return NULL;
  e = msock__batch_get(env, argv[0], 1);
  if (e == NULL) return NULL;
  if (!e->closing) {
    e->events = 0;
    (void)uv_poll_stop(&e->poll); /* always 0 for an initialised poll handle */
    if (e->fd >= 0) rc = msock__close(e->fd);
    e->fd = -1;
    msock__batch_release_memory(e);
    msock__batch_begin_close(e);
  }
  NAPI_CALL(env, napi_create_int32(env, rc, &result));
  return result;
}

/* msock_batch_ref(handle, on): uv_ref / uv_unref of the poll handle. */
static napi_value msock_batch_ref(napi_env env, napi_callback_info cbinfo) {
  napi_value argv[2], result;
  msock_batch_t* e;
  int on = 1;
  if (msock_args(env, cbinfo, 2, argv) != 0) return NULL;
  e = msock__batch_get(env, argv[0], 0);
  if (e == NULL || msock_arg_bool(env, argv[1], "on", &on) != 0) return NULL;
  if (on)
    uv_ref((uv_handle_t*)&e->poll);
  else
    uv_unref((uv_handle_t*)&e->poll);
  NAPI_CALL(env, napi_get_undefined(env, &result));
  return result;
}

/* Polls for `events` now; throws (and keeps the previous set) when libuv refuses. */
static int msock__batch_poll_set(napi_env env, msock_batch_t* e, int events) {
  int rc;
  if (events == e->events) return 0;
  rc = events != 0 ? uv_poll_start(&e->poll, events, msock__batch_on_poll) : uv_poll_stop(&e->poll);
  if (rc != 0) {
    msock_throw_errno(env, rc, "uv_poll_start", NULL, NULL, -1);
    return -1;
  }
  e->events = events;
  return 0;
}

/* msock_batch_poll_writable(handle): one 'writable' event once the send queue has room. */
static napi_value msock_batch_poll_writable(napi_env env, napi_callback_info cbinfo) {
  napi_value argv[1], result;
  msock_batch_t* e;
  if (msock_args(env, cbinfo, 1, argv) != 0) return NULL;
  e = msock__batch_get(env, argv[0], 0);
  if (e == NULL || msock__batch_poll_set(env, e, e->events | UV_WRITABLE) != 0) return NULL;
  NAPI_CALL(env, napi_get_undefined(env, &result));
  return result;
}

/* msock_batch_read(handle, on): starts or stops reading (the kernel queue holds what arrives
 * meanwhile); used for backpressure while JS holds a batch. */
static napi_value msock_batch_read(napi_env env, napi_callback_info cbinfo) {
  napi_value argv[2], result;
  msock_batch_t* e;
  int on = 1;
  if (msock_args(env, cbinfo, 2, argv) != 0) return NULL;
  e = msock__batch_get(env, argv[0], 0);
  if (e == NULL || msock_arg_bool(env, argv[1], "on", &on) != 0 ||
      msock__batch_poll_set(env, e, on ? (e->events | UV_READABLE) : (e->events & ~UV_READABLE)) !=
          0)
    return NULL;
  NAPI_CALL(env, napi_get_undefined(env, &result));
  return result;
}

/* Reads a sockaddr from a send row (16 address bytes + family + port + scope); 0 for family 0. */
static int msock__batch_sockaddr(const int32_t* row, struct sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof(*ss));
  if (row[TX_FAMILY] == 4) {
    struct sockaddr_in* sin = (struct sockaddr_in*)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)row[TX_PORT]);
    memcpy(&sin->sin_addr, &row[TX_ADDR], 4);
    *len = sizeof(*sin);
    return 1;
  }
  if (row[TX_FAMILY] == 6) {
    struct sockaddr_in6* sin6 = (struct sockaddr_in6*)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)row[TX_PORT]);
    sin6->sin6_scope_id = (uint32_t)row[TX_SCOPE];
    memcpy(&sin6->sin6_addr, &row[TX_ADDR], 16);
    *len = sizeof(*sin6);
    return 1;
  }
  *len = 0;
  return 0;
}

/* msock_batch_connect(handle, row: Int32Array) connects to the send-row destination in `row`
 * (family 0 dissolves the association with AF_UNSPEC). */
static napi_value msock_batch_connect(napi_env env, napi_callback_info cbinfo) {
  size_t len = 0;
  napi_value argv[2], result;
  int32_t* row = NULL;
  struct sockaddr_storage ss;
  socklen_t sslen = 0;
  msock_batch_t* e;
  int rc;
  if (msock_args(env, cbinfo, 2, argv) != 0) return NULL;
  e = msock__batch_get(env, argv[0], 0);
  if (e == NULL || msock_arg_int32s(env, argv[1], "row", &row, &len) != 0) return NULL;
  if (len < TX_STRIDE || (row[TX_FAMILY] != 0 && row[TX_FAMILY] != 4 && row[TX_FAMILY] != 6) ||
      row[TX_PORT] < 0 || row[TX_PORT] > 65535) {
    msock_throw_invalid(env, "row", argv[1], "must be one send row (family 0, 4 or 6)");
    return NULL;
  }
  if (!msock__batch_sockaddr(row, &ss, &sslen)) {
    ss.ss_family = AF_UNSPEC;
    sslen = sizeof(struct sockaddr);
  }
  rc = MSOCK_RETRY_EINTR(connect(e->fd, (struct sockaddr*)&ss, sslen));
  /* Dissolving an association may report EAFNOSUPPORT on some kernels; it still dissolves. */
  if (rc == -1 && !(ss.ss_family == AF_UNSPEC && errno == EAFNOSUPPORT)) {
    msock_throw_errno(env, errno, "connect", NULL, NULL, -1);
    return NULL;
  }
  NAPI_CALL(env, napi_get_undefined(env, &result));
  return result;
}

/* Datagrams in a send row counting from datagram `skip`. */
static int msock__batch_row_datagrams(const int32_t* row, int skip) {
  int len = row[TX_LENGTH], seg = row[TX_SEGMENT];
  if (seg <= 0 || len <= seg) return 1 - skip;
  return (len + seg - 1) / seg - skip;
}

/* Whether a send row goes out over IPv4: an IPv4 or v4-mapped destination, or the connected peer
 * of an AF_INET socket. (A connected AF_INET6 socket may have either kind of peer.) */
static int msock__batch_row_v4(const msock_batch_t* e, const int32_t* row) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (row[TX_FAMILY] == 4) return 1;
  if (row[TX_FAMILY] == 6) return memcmp(&row[TX_ADDR], mapped, sizeof(mapped)) == 0;
  return e->family == AF_INET;
}

#ifdef MSOCK__BATCH_LINUX
static int msock__batch_would_block(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

/* Where a send call stands: the next datagram is datagram `seg` of row `row`. */
typedef struct msock__tx_cursor_s {
  int64_t row;
  int seg;
} msock__tx_cursor_t;

/*
 * The TTL control message of one row, if it has its own TTL: IP_TTL when the datagram leaves over
 * IPv4, IPV6_HOPLIMIT over IPv6. For the peer of a connected AF_INET6 socket, which may be either,
 * both: the IPv4 path ignores SOL_IPV6 messages and the IPv6 path SOL_IP ones.
 */
static void msock__tx_ttl(const msock_batch_t* e, const int32_t* row, msock_cmsg_encoder_t* enc) {
  int ttl = row[TX_TTL], v4, v6;
  if (ttl < 0) return;
  if (row[TX_FAMILY] == 0 && e->family == AF_INET6) {
    v4 = v6 = 1;
  } else {
    v4 = msock__batch_row_v4(e, row);
    v6 = !v4;
  }
  /* The buffer holds UDP_SEGMENT and both TTL messages: these cannot run out of room. */
  if (v4 && ttl > 0) (void)msock__cmsg_encode(enc, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
  if (v6) (void)msock__cmsg_encode(enc, IPPROTO_IPV6, IPV6_HOPLIMIT, &ttl, sizeof(ttl));
}

/*
 * Builds up to TX_MAX messages from the cursor: one GSO super-packet for the rest of a row when
 * GSO is on and more than one datagram is left, else one datagram per message. Returns how many.
 */
static int msock__tx_build(msock_batch_t* e,
                           const uint8_t* payload,
                           const int32_t* rows,
                           int64_t end,
                           msock__tx_cursor_t cur,
                           int gso_fits) {
  int k = 0;
  while (cur.row < end && k < MSOCK__TX_MAX) {
    const int32_t* row = &rows[cur.row * TX_STRIDE];
    struct msghdr* h = &e->tx_msgs[k].msg_hdr;
    int len = row[TX_LENGTH], seg = row[TX_SEGMENT];
    int split = seg > 0 && len > seg;
    int total = split ? (len + seg - 1) / seg : 1;
    int start = split ? cur.seg * seg : 0;
    socklen_t namelen = 0;
    msock_cmsg_encoder_t enc;

    memset(h, 0, sizeof(*h));
    if (msock__batch_sockaddr(row, &e->tx_names[k], &namelen)) {
      h->msg_name = &e->tx_names[k];
      h->msg_namelen = namelen;
    }
    msock__cmsg_encode_begin(&enc, h, e->tx_control[k].buf, sizeof(e->tx_control[k].buf));
    e->tx_iov[k].iov_base = (void*)(payload + row[TX_OFFSET] + start);
    if (split && e->gso && gso_fits && total - cur.seg > 1) {
      uint16_t size = (uint16_t)seg;
      e->tx_iov[k].iov_len = (size_t)(len - start);
      e->tx_datagrams[k] = total - cur.seg;
      e->tx_gso[k] = 1;
      (void)msock__cmsg_encode(&enc, SOL_UDP, UDP_SEGMENT, &size, sizeof(size));
    } else {
      int end_byte = split ? (start + seg < len ? start + seg : len) : len;
      e->tx_iov[k].iov_len = (size_t)(end_byte - start);
      e->tx_datagrams[k] = 1;
      e->tx_gso[k] = 0;
    }
    msock__tx_ttl(e, row, &enc);
    msock__cmsg_encode_end(&enc);
    h->msg_iov = &e->tx_iov[k];
    h->msg_iovlen = 1;
    cur.seg += e->tx_datagrams[k];
    k++;
    if (cur.seg >= total) {
      cur.row++;
      cur.seg = 0;
    }
  }
  return k;
}

/* Sends messages 0..k-1: how many went (>= 1), or -1 with errno. sendmmsg, or one sendmsg per
 * message once the kernel said ENOSYS. */
static int msock__tx_submit(msock_batch_t* e, int k) {
  int n;
  if (e->use_sendmmsg) {
    n = MSOCK_RETRY_EINTR(sendmmsg(e->fd, e->tx_msgs, (unsigned int)k, MSG_DONTWAIT));
    if (n != -1 || errno != ENOSYS) return n;
    e->use_sendmmsg = 0;
    e->control[CTRL_CAP_SENDMMSG] = 0;
  }
  for (n = 0; n < k; n++) {
    if (MSOCK_RETRY_EINTR(sendmsg(e->fd, &e->tx_msgs[n].msg_hdr, MSG_DONTWAIT)) == -1) break;
  }
  return n > 0 ? n : -1;
}

/* Moves the cursor past the n messages sent; returns the datagrams they carried. */
static double msock__tx_advance(const msock_batch_t* e,
                                const int32_t* rows,
                                int n,
                                msock__tx_cursor_t* cur) {
  double sent = 0;
  int j;
  for (j = 0; j < n; j++) {
    int total = msock__batch_row_datagrams(&rows[cur->row * TX_STRIDE], 0);
    sent += e->tx_datagrams[j];
    cur->seg += e->tx_datagrams[j];
    if (cur->seg >= total) {
      cur->row++;
      cur->seg = 0;
    }
  }
  return sent;
}
#endif

/* Checks rows [first, first + count) against the payload; 0, or -1 with a TypeError pending. */
static int msock__batch_check_rows(napi_env env,
                                   const msock_batch_t* e,
                                   napi_value rows_v,
                                   const int32_t* rows,
                                   int64_t first,
                                   int64_t count,
                                   size_t payload_len) {
  int64_t r;
  for (r = first; r < first + count; r++) {
    const int32_t* row = &rows[r * TX_STRIDE];
    if (row[TX_OFFSET] < 0 || row[TX_LENGTH] < 0 ||
        (size_t)row[TX_OFFSET] + (size_t)row[TX_LENGTH] > payload_len || row[TX_SEGMENT] < 0 ||
        row[TX_SEGMENT] > 65535 ||
        (row[TX_FAMILY] != 0 && row[TX_FAMILY] != 4 && row[TX_FAMILY] != 6) ||
        row[TX_PORT] < 0 || row[TX_PORT] > 65535) {
      msock_throw_invalid(env, "rows", rows_v, "must describe datagrams inside the payload buffer");
      return -1;
    }
    if (row[TX_TTL] < -1 || row[TX_TTL] > 255) {
      msock_throw_invalid(env, "rows", rows_v, "must have a TTL of -1 (the socket's) or 0..255");
      return -1;
    }
    /* Linux rejects IP_TTL 0 with EINVAL, which would read as "no GSO here" below. */
    if (row[TX_TTL] == 0 && msock__batch_row_v4(e, row)) {
      msock_throw_invalid(env, "rows", rows_v,
                          "must not have a TTL of 0 for IPv4 (IP_TTL takes 1..255)");
      return -1;
    }
  }
  return 0;
}

/* msock_batch_send(handle, payload: Uint8Array, rows: Int32Array, first, count, skip) -> datagrams
 * sent. Starts at row `first`, datagram `skip` of it. Stops early on a full queue (control
 * SEND_BLOCKED = 1) or on an error after at least one datagram (control SEND_ERRNO); throws when
 * the very first datagram fails. */
static napi_value msock_batch_send(napi_env env, napi_callback_info cbinfo) {
  size_t payload_len = 0, rows_len = 0;
  napi_value argv[6], result;
  uint8_t* payload = NULL;
  int32_t* rows = NULL;
  int64_t first, count, skip;
  msock_batch_t* e;
  if (msock_args(env, cbinfo, 6, argv) != 0) return NULL;
  e = msock__batch_get(env, argv[0], 0);
  if (e == NULL || msock_arg_bytes(env, argv[1], "payload", &payload, &payload_len) != 0 ||
      msock_arg_int32s(env, argv[2], "rows", &rows, &rows_len) != 0 ||
      msock_arg_int(env, argv[3], "first", 0, INT32_MAX, &first) != 0 ||
      msock_arg_int(env, argv[4], "count", 0, INT32_MAX, &count) != 0 ||
      msock_arg_int(env, argv[5], "skip", 0, 0xffff, &skip) != 0)
    return NULL;
  if ((size_t)(first + count) * TX_STRIDE > rows_len) {
    msock_throw_invalid(env, "rows", argv[2], "must hold first + count send rows");
    return NULL;
  }
  if (msock__batch_check_rows(env, e, argv[2], rows, first, count, payload_len) != 0) return NULL;
  if (count > 0 && skip >= msock__batch_row_datagrams(&rows[first * TX_STRIDE], 0)) {
    msock_throw_invalid(env, "skip", argv[5], "must be below the first row's datagrams");
    return NULL;
  }
  e->control[CTRL_SEND_ERRNO] = 0;
  e->control[CTRL_SEND_BLOCKED] = 0;

#ifdef MSOCK__BATCH_LINUX
  {
    msock__tx_cursor_t cur = {first, (int)skip};
    int64_t end = first + count;
    double sent = 0;
    int err = 0;
    /* Cleared for the rest of this call when a GSO segment does not fit the route's MTU. */
    int gso_fits = 1;

    while (cur.row < end) {
      int k = msock__tx_build(e, payload, rows, end, cur, gso_fits);
      int n = msock__tx_submit(e, k);
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
      sent += msock__tx_advance(e, rows, n, &cur);
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
  (void)result;
  msock_throw_errno(env, ENOSYS, "sendmmsg", NULL, NULL, -1);
  return NULL;
#endif
}

/* msock_batch_layout() -> the word offsets and flags shared with JS. */
static napi_value msock_batch_layout(napi_env env, napi_callback_info cbinfo) {
#define MSOCK__L(name) {#name, name}
  static const struct {
    const char* name;
    int value;
  } entries[] = {
      MSOCK__L(RX_OFFSET),         MSOCK__L(RX_LENGTH),          MSOCK__L(RX_FLAGS),
      MSOCK__L(RX_PORT),           MSOCK__L(RX_FAMILY),          MSOCK__L(RX_SCOPE),
      MSOCK__L(RX_ADDR),           MSOCK__L(RX_IFINDEX),         MSOCK__L(RX_LOCAL),
      MSOCK__L(RX_LOCAL_FAMILY),   MSOCK__L(RX_TS_SEC),          MSOCK__L(RX_TS_NSEC),
      MSOCK__L(RX_TOS),            MSOCK__L(RX_SEGMENT),         MSOCK__L(RX_STRIDE),
      MSOCK__L(RX_F_TRUNC),        MSOCK__L(RX_F_CTRUNC),        MSOCK__L(RX_F_LOCAL),
      MSOCK__L(RX_F_TIMESTAMP),    MSOCK__L(RX_F_TOS),           MSOCK__L(RX_F_GRO),
      MSOCK__L(TX_OFFSET),         MSOCK__L(TX_LENGTH),          MSOCK__L(TX_SEGMENT),
      MSOCK__L(TX_PORT),           MSOCK__L(TX_FAMILY),          MSOCK__L(TX_SCOPE),
      MSOCK__L(TX_ADDR),           MSOCK__L(TX_TTL),             MSOCK__L(TX_STRIDE),
      MSOCK__L(CTRL_COUNT),        MSOCK__L(CTRL_DROPS),         MSOCK__L(CTRL_TRUNCATED),
      MSOCK__L(CTRL_SEND_ERRNO),   MSOCK__L(CTRL_SEND_BLOCKED),  MSOCK__L(CTRL_CAP_GSO),
      MSOCK__L(CTRL_CAP_GRO),      MSOCK__L(CTRL_CAP_RECVMMSG),  MSOCK__L(CTRL_CAP_SENDMMSG),
      MSOCK__L(CTRL_GSO_MAX_SEGMENTS),
      MSOCK__L(CTRL_LENGTH),       MSOCK__L(EV_BATCH),           MSOCK__L(EV_WRITABLE),
      MSOCK__L(EV_ERROR),          MSOCK__L(EV_POLL_ERROR),
      {"GRO_MAX_SEGMENTS", MSOCK__GRO_MAX_SEGMENTS},
      {"GSO_MAX_SEGMENTS", MSOCK__GSO_MAX_SEGMENTS},
  };
#undef MSOCK__L
  napi_value result;
  size_t i;
  (void)cbinfo;
  NAPI_CALL(env, napi_create_object(env, &result));
  for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
    if (msock_set_num(env, result, entries[i].name, entries[i].value) != 0) return NULL;
  }
  return result;
}

int msock_batch_init(napi_env env, napi_value exports) {
  static const msock_export_t fns[] = {
      {"msock_batch_open", msock_batch_open},
      {"msock_batch_close", msock_batch_close},
      {"msock_batch_ref", msock_batch_ref},
      {"msock_batch_poll_writable", msock_batch_poll_writable},
      {"msock_batch_read", msock_batch_read},
      {"msock_batch_connect", msock_batch_connect},
      {"msock_batch_send", msock_batch_send},
      {"msock_batch_layout", msock_batch_layout},
  };
  return msock_export_functions(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
