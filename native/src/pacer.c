/*
 * Paced sender: one thread per pacer sends datagrams at given departure times from a ring that JS
 * fills (bytes + departure time), so gaps between datagrams do not depend on Node's event loop or
 * its 1 ms timers. Used by src/media/playout-sender.ts for MPEG-TS playout at the PCR rate.
 *
 * Timing: departure times are CLOCK_MONOTONIC nanoseconds counted from the pacer's open (so they
 * stay exact in a double). The thread waits for the head datagram's time with
 * clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) when it is at most 2 ms away, and with
 * pthread_cond_timedwait on CLOCK_MONOTONIC (which close interrupts) when it is further, one
 * wake-up per datagram either way (each costs tens of microseconds of CPU in a VM, the main cost
 * of the thread at high rates), and runs with a 1 ns timer slack
 * (PR_SET_TIMERSLACK) so the kernel does not round its wake-ups to the default 50 us. Asked for a
 * priority, the thread runs SCHED_FIFO (needs CAP_SYS_NICE or an RLIMIT_RTPRIO; refused, it stays
 * a normal thread and reports the errno), so CPU-bound processes do not delay its wake-ups. A datagram
 * whose time has passed goes at once; lateness (now - departure) is measured, counted when above
 * the late threshold, and never moves the schedule: the next datagram keeps its own time.
 *
 * Socket: the pacer sends with sendto(2) on its own dup(2) of the socket's fd (the same socket:
 * TTL, interface, DSCP and bound address apply), so closing the socket while the pacer runs cannot
 * make the thread write to a reused descriptor number. A full send queue (EAGAIN, ENOBUFS) is
 * waited out with poll(POLLOUT) for up to 1 s; any other error drops that datagram and is counted.
 *
 * Lifetime: msock_pacer_close stops the thread (it is woken from any wait), joins it, closes the
 * dup and frees the ring; datagrams still queued are dropped (JS drains first when it wants them
 * sent). The handle's finalizer and an environment cleanup hook (process or worker exit) do the
 * same for a pacer JS left open.
 *
 * Platforms: Linux (clock_nanosleep with TIMER_ABSTIME, PR_SET_TIMERSLACK, pthread condition
 * variables on CLOCK_MONOTONIC). Elsewhere msock_pacer_open throws ENOSYS.
 */
#include "msock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__)
# include <pthread.h>
# include <sched.h>
# include <sys/prctl.h>
# include <time.h>
# define MSOCK__PACER_LINUX 1
#endif

/* Slots of the stats array msock_pacer_stats fills (the same slots are named in src/media/playout-sender.ts). */
enum {
  ST_SENT = 0,
  ST_BYTES = 1,
  ST_LATE = 2,
  ST_MAX_LATE_NS = 3,
  ST_SUM_LATE_NS = 4,
  ST_SEND_ERRORS = 5,
  ST_LAST_ERRNO = 6,
  ST_QUEUED = 7,
  ST_FIRST_NS = 8,
  ST_LAST_NS = 9,
  ST_RUNNING = 10,
  ST_REALTIME = 11,
  ST_LENGTH = 12,
};

static atomic_int msock__pacers_live = 0;

#ifdef MSOCK__PACER_LINUX

typedef struct msock_pacer_s {
  /*
   * The ring is single-producer (JS: tail) single-consumer (the thread: head), published with
   * sequentially consistent atomics, so neither side takes a lock to queue or send: a real-time
   * thread never waits for the JS thread (no priority inversion). The mutex and condition variable
   * serve only the waits that may be interrupted: an empty ring (`waiting` set), a departure more
   * than 2 ms away, and close.
   */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  pthread_t thread;
  int thread_started;
  atomic_int stop;
  atomic_int waiting;
  int fd;
  struct sockaddr_storage dest;
  socklen_t destlen;
  uint8_t* ring;
  int64_t* times;
  uint32_t* lens;
  uint64_t slots;
  uint64_t slot_bytes;
  atomic_uint_least64_t head; /* next to send (written by the thread) */
  atomic_uint_least64_t tail; /* next free (written by JS) */
  int64_t origin_ns;
  int64_t late_ns;
  int priority;  /* SCHED_FIFO priority asked for, 0: none */
  atomic_int realtime;  /* 1: SCHED_FIFO, -errno: refused, 0: not asked */
  /* stats: written by the thread only, read by JS */
  atomic_uint_least64_t sent, bytes, late, errors;
  atomic_int_least64_t max_late, sum_late, first_ns, last_ns;
  atomic_int last_errno;
  int closed;
  int hooked;
  napi_env env;
} msock_pacer_t;

typedef struct msock_pacer_box_s {
  msock_pacer_t* pacer;
} msock_pacer_box_t;

static int64_t msock__mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec msock__ts(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ns / 1000000000LL);
  ts.tv_nsec = (long)(ns % 1000000000LL);
  return ts;
}

/* Sends one datagram, waiting out a full queue for up to 1 s; 0 or -errno. */
static int msock__pacer_send(msock_pacer_t* p, const uint8_t* data, size_t len) {
  int tries;
  for (tries = 0; tries < 100; tries++) {
    ssize_t n = MSOCK_RETRY_EINTR(
        sendto(p->fd, data, len, 0, (struct sockaddr*)&p->dest, p->destlen));
    if (n >= 0) return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) return -errno;
    if (atomic_load(&p->stop)) return -ECANCELED;
    {
      struct pollfd pfd = {p->fd, POLLOUT, 0};
      (void)poll(&pfd, 1, 10);
    }
  }
  return -EAGAIN;
}

static void* msock__pacer_thread(void* arg) {
  msock_pacer_t* p = (msock_pacer_t*)arg;
  int rt = 0;
  (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  if (p->priority > 0) {
    struct sched_param sp;
    memset(&sp, 0, sizeof(sp));
    sp.sched_priority = p->priority;
    rt = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    rt = rt == 0 ? 1 : -rt;
  }
  atomic_store(&p->realtime, rt);
  for (;;) {
    int64_t due, now, late;
    uint64_t head, slot;
    int rc;
    if (atomic_load(&p->stop)) break;
    head = atomic_load(&p->head);
    if (head == atomic_load(&p->tail)) {
      /* Empty: wait for a push (which signals when it sees `waiting`) or close. */
      pthread_mutex_lock(&p->mu);
      atomic_store(&p->waiting, 1);
      while (!atomic_load(&p->stop) && head == atomic_load(&p->tail))
        pthread_cond_wait(&p->cond, &p->mu);
      atomic_store(&p->waiting, 0);
      pthread_mutex_unlock(&p->mu);
      continue;
    }
    slot = head % p->slots;
    due = p->origin_ns + p->times[slot];
    now = msock__mono_ns();
    if (due - now > 2000000LL) {
      /*
       * A long wait: on the condition variable until the time itself (one wake-up, as precise as
       * clock_nanosleep: both are hrtimers with this thread's slack), so that close wakes it.
       */
      struct timespec until = msock__ts(due);
      pthread_mutex_lock(&p->mu);
      if (!atomic_load(&p->stop)) (void)pthread_cond_timedwait(&p->cond, &p->mu, &until);
      pthread_mutex_unlock(&p->mu);
      continue;
    }
    if (due > now) {
      struct timespec until = msock__ts(due);
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {
      }
    }
    now = msock__mono_ns();
    rc = msock__pacer_send(p, p->ring + slot * p->slot_bytes, p->lens[slot]);
    if (rc == -ECANCELED) break;
    late = now - due;
    if (late < 0) late = 0;
    if (rc == 0) {
      if (atomic_load(&p->sent) == 0) atomic_store(&p->first_ns, now - p->origin_ns);
      atomic_store(&p->last_ns, now - p->origin_ns);
      atomic_fetch_add(&p->bytes, p->lens[slot]);
      atomic_fetch_add(&p->sent, 1);
    } else {
      atomic_store(&p->last_errno, -rc);
      atomic_fetch_add(&p->errors, 1);
    }
    if (late > atomic_load(&p->max_late)) atomic_store(&p->max_late, late);
    atomic_fetch_add(&p->sum_late, late);
    if (late > p->late_ns) atomic_fetch_add(&p->late, 1);
    atomic_store(&p->head, head + 1);
  }
  return NULL;
}

/* Stops and joins the thread, closes the dup, frees the ring. Idempotent. */
static void msock__pacer_shutdown(msock_pacer_t* p) {
  if (p->closed) return;
  p->closed = 1;
  if (p->thread_started) {
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    p->thread_started = 0;
    atomic_fetch_sub(&msock__pacers_live, 1);
  }
  if (p->fd >= 0) (void)msock__close(p->fd);
  p->fd = -1;
  free(p->ring);
  free(p->times);
  free(p->lens);
  p->ring = NULL;
  p->times = NULL;
  p->lens = NULL;
}

static void msock__pacer_free(msock_pacer_t* p) {
  msock__pacer_shutdown(p);
  pthread_cond_destroy(&p->cond);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

/* Environment teardown (process or worker exit) with the pacer still open. */
static void msock__pacer_on_teardown(void* arg) {
  msock_pacer_t* p = (msock_pacer_t*)arg;
  p->hooked = 0;
  msock__pacer_shutdown(p);
}

static void msock__pacer_box_finalize(napi_env env, void* data, void* hint) {
  msock_pacer_box_t* box = (msock_pacer_box_t*)data;
  (void)hint;
  if (box->pacer != NULL) {
    if (box->pacer->hooked) {
      (void)napi_remove_env_cleanup_hook(env, msock__pacer_on_teardown, box->pacer);
      box->pacer->hooked = 0;
    }
    msock__pacer_free(box->pacer);
  }
  free(box);
}

static msock_pacer_t* msock__pacer_get(napi_env env, napi_value v) {
  msock_pacer_box_t* box =
      msock_arg_handle(env, v, &msock_tag_pacer, "handle", "must be a pacer handle from msock_pacer_open");
  if (box == NULL) return NULL;
  if (box->pacer == NULL || box->pacer->closed) {
    msock_throw_errno(env, EBADF, "msock_pacer", NULL, NULL, -1);
    return NULL;
  }
  return box->pacer;
}

/* The destination as the socket's family wants it (IPv4 on an AF_INET6 socket: v4-mapped). */
static int msock__pacer_dest(int fd,
                             const char* address,
                             int port,
                             int scope,
                             struct sockaddr_storage* ss,
                             socklen_t* len) {
  struct sockaddr_storage local;
  socklen_t locallen = sizeof(local);
  struct in_addr v4;
  struct in6_addr v6;
  int family;
  if (getsockname(fd, (struct sockaddr*)&local, &locallen) != 0) return -errno;
  family = local.ss_family;
  memset(ss, 0, sizeof(*ss));
  if (inet_pton(AF_INET, address, &v4) == 1) {
    if (family == AF_INET) {
      struct sockaddr_in* sin = (struct sockaddr_in*)ss;
      sin->sin_family = AF_INET;
      sin->sin_port = htons((uint16_t)port);
      sin->sin_addr = v4;
      *len = sizeof(*sin);
      return 0;
    }
    memset(&v6, 0, sizeof(v6));
    v6.s6_addr[10] = 0xff;
    v6.s6_addr[11] = 0xff;
    memcpy(&v6.s6_addr[12], &v4, 4);
  } else if (inet_pton(AF_INET6, address, &v6) != 1) {
    return -EINVAL;
  } else if (family != AF_INET6) {
    return -EAFNOSUPPORT;
  }
  {
    struct sockaddr_in6* sin6 = (struct sockaddr_in6*)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    sin6->sin6_addr = v6;
    sin6->sin6_scope_id = (uint32_t)scope;
    *len = sizeof(*sin6);
  }
  return 0;
}

#endif /* MSOCK__PACER_LINUX */

/*
 * msock_pacer_open(fd, { address, port, scopeId?, slots, slotBytes, lateNs }) -> handle
 * Starts the sender thread on a dup of fd, sending to address:port.
 */
static napi_value msock_pacer_open(napi_env env, napi_callback_info cbinfo) {
#ifndef MSOCK__PACER_LINUX
  (void)cbinfo;
  msock_throw_errno(env, ENOSYS, "clock_nanosleep", NULL, NULL, -1);
  return NULL;
#else
  napi_value argv[2], handle;
  char address[INET6_ADDRSTRLEN + 1];
  int fd, port, scope = 0, priority = 0, slots, slot_bytes, late_us, rc;
  pthread_condattr_t attr;
  msock_pacer_t* p = NULL;
  msock_pacer_box_t* box = NULL;

  if (msock_args(env, cbinfo, 2, argv) != 0) return NULL;
  if (msock_arg_fd(env, argv[0], &fd) != 0 || msock_arg_object(env, argv[1], "options") != 0)
    return NULL;
  if (msock_opt_string(env, argv[1], "address", address, sizeof(address)) != 1 ||
      msock_opt_int(env, argv[1], "port", 1, 65535, &port) != 1 ||
      msock_opt_int(env, argv[1], "slots", 2, 1 << 20, &slots) != 1 ||
      msock_opt_int(env, argv[1], "slotBytes", 1, 65535, &slot_bytes) != 1 ||
      msock_opt_int(env, argv[1], "lateUs", 0, 60000000, &late_us) != 1 ||
      msock_opt_int(env, argv[1], "scopeId", 0, INT32_MAX, &scope) < 0 ||
      msock_opt_int(env, argv[1], "priority", 0, 99, &priority) < 0) {
    napi_value none;
    bool pending = false;
    (void)napi_is_exception_pending(env, &pending);
    if (!pending) {
      (void)napi_get_undefined(env, &none);
      msock_throw_invalid(env, "options", none,
                          "must hold address, port, slots, slotBytes and lateUs");
    }
    return NULL;
  }
  p = calloc(1, sizeof(*p));
  if (p == NULL) {
    msock_throw_errno(env, ENOMEM, "malloc", NULL, NULL, -1);
    return NULL;
  }
  p->fd = -1;
  p->env = env;
  pthread_mutex_init(&p->mu, NULL);
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&p->cond, &attr);
  pthread_condattr_destroy(&attr);
  p->slots = (uint64_t)slots;
  p->slot_bytes = (uint64_t)slot_bytes;
  p->late_ns = (int64_t)late_us * 1000;
  p->priority = priority;
  p->ring = malloc((size_t)slots * (size_t)slot_bytes);
  p->times = calloc((size_t)slots, sizeof(*p->times));
  p->lens = calloc((size_t)slots, sizeof(*p->lens));
  if (p->ring == NULL || p->times == NULL || p->lens == NULL) {
    msock__pacer_free(p);
    msock_throw_errno(env, ENOMEM, "malloc", NULL, NULL, -1);
    return NULL;
  }
  rc = msock__pacer_dest(fd, address, port, scope, &p->dest, &p->destlen);
  if (rc != 0) {
    msock__pacer_free(p);
    msock_throw_errno(env, rc, rc == -EINVAL ? "inet_pton" : "getsockname", NULL, address, port);
    return NULL;
  }
  p->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (p->fd < 0) {
    rc = errno;
    msock__pacer_free(p);
    msock_throw_errno(env, rc, "dup", NULL, NULL, -1);
    return NULL;
  }
  p->origin_ns = msock__mono_ns();
  rc = pthread_create(&p->thread, NULL, msock__pacer_thread, p);
  if (rc != 0) {
    msock__pacer_free(p);
    msock_throw_errno(env, rc, "pthread_create", NULL, NULL, -1);
    return NULL;
  }
  p->thread_started = 1;
  atomic_fetch_add(&msock__pacers_live, 1);
  box = calloc(1, sizeof(*box));
  if (box == NULL) {
    msock__pacer_free(p);
    msock_throw_errno(env, ENOMEM, "malloc", NULL, NULL, -1);
    return NULL;
  }
  box->pacer = p;
  rc = msock_handle_new(env, box, msock__pacer_box_finalize, &msock_tag_pacer, &handle);
  if (rc == -1) {
    msock__pacer_free(p);
    free(box);
    return NULL;
  }
  if (rc == -2) return NULL; /* the finalizer owns box and pacer */
  if (napi_add_env_cleanup_hook(env, msock__pacer_on_teardown, p) == napi_ok) p->hooked = 1;
  return handle;
#endif
}

/* msock_pacer_now(handle) -> ns since the pacer's open (CLOCK_MONOTONIC). */
static napi_value msock_pacer_now(napi_env env, napi_callback_info cbinfo) {
#ifndef MSOCK__PACER_LINUX
  (void)cbinfo;
  msock_throw_errno(env, ENOSYS, "clock_gettime", NULL, NULL, -1);
  return NULL;
#else
  napi_value argv[1], result;
  msock_pacer_t* p;
  if (msock_args(env, cbinfo, 1, argv) != 0) return NULL;
  if ((p = msock__pacer_get(env, argv[0])) == NULL) return NULL;
  NAPI_CALL(env, napi_create_double(env, (double)(msock__mono_ns() - p->origin_ns), &result));
  return result;
#endif
}

/*
 * msock_pacer_push(handle, payload: Uint8Array, departureNs) -> boolean
 * Queues a copy of payload to leave at departureNs (ns since open); false when the ring is full.
 */
static napi_value msock_pacer_push(napi_env env, napi_callback_info cbinfo) {
#ifndef MSOCK__PACER_LINUX
  (void)cbinfo;
  msock_throw_errno(env, ENOSYS, "msock_pacer", NULL, NULL, -1);
  return NULL;
#else
  napi_value argv[3], result;
  msock_pacer_t* p;
  uint8_t* data;
  size_t len;
  double when;
  int ok = 0;
  if (msock_args(env, cbinfo, 3, argv) != 0) return NULL;
  if ((p = msock__pacer_get(env, argv[0])) == NULL) return NULL;
  if (msock_arg_bytes(env, argv[1], "payload", &data, &len) != 0) return NULL;
  if (napi_get_value_double(env, argv[2], &when) != napi_ok || !(when >= 0) || when > 9e15) {
    msock_throw_invalid(env, "departureNs", argv[2], "must be a number of ns >= 0");
    return NULL;
  }
  if (len == 0 || len > p->slot_bytes) {
    msock_throw_invalid(env, "payload", argv[1], "must hold 1..slotBytes bytes");
    return NULL;
  }
  {
    uint64_t tail = atomic_load(&p->tail);
    if (tail - atomic_load(&p->head) < p->slots) {
      uint64_t slot = tail % p->slots;
      memcpy(p->ring + slot * p->slot_bytes, data, len);
      p->lens[slot] = (uint32_t)len;
      p->times[slot] = (int64_t)when;
      atomic_store(&p->tail, tail + 1);
      if (atomic_load(&p->waiting)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->mu);
      }
      ok = 1;
    }
  }
  NAPI_CALL(env, napi_get_boolean(env, ok, &result));
  return result;
#endif
}

/* msock_pacer_stats(handle, out: Float64Array(ST_LENGTH)) fills out (see the ST_ slots). */
static napi_value msock_pacer_stats(napi_env env, napi_callback_info cbinfo) {
#ifndef MSOCK__PACER_LINUX
  (void)cbinfo;
  msock_throw_errno(env, ENOSYS, "msock_pacer", NULL, NULL, -1);
  return NULL;
#else
  napi_value argv[2];
  msock_pacer_t* p;
  napi_typedarray_type type;
  size_t length;
  void* raw;
  double* out;
  if (msock_args(env, cbinfo, 2, argv) != 0) return NULL;
  if ((p = msock__pacer_get(env, argv[0])) == NULL) return NULL;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &raw, NULL, NULL) != napi_ok ||
      type != napi_float64_array || length < ST_LENGTH) {
    msock_throw_invalid(env, "out", argv[1], "must be a Float64Array of 12");
    return NULL;
  }
  out = (double*)raw;
  out[ST_SENT] = (double)atomic_load(&p->sent);
  out[ST_BYTES] = (double)atomic_load(&p->bytes);
  out[ST_LATE] = (double)atomic_load(&p->late);
  out[ST_MAX_LATE_NS] = (double)atomic_load(&p->max_late);
  out[ST_SUM_LATE_NS] = (double)atomic_load(&p->sum_late);
  out[ST_SEND_ERRORS] = (double)atomic_load(&p->errors);
  out[ST_LAST_ERRNO] = atomic_load(&p->last_errno);
  out[ST_QUEUED] = (double)(atomic_load(&p->tail) - atomic_load(&p->head));
  out[ST_FIRST_NS] = (double)atomic_load(&p->first_ns);
  out[ST_LAST_NS] = (double)atomic_load(&p->last_ns);
  out[ST_RUNNING] = p->thread_started && !atomic_load(&p->stop) ? 1 : 0;
  out[ST_REALTIME] = atomic_load(&p->realtime);
  return NULL;
#endif
}

/* msock_pacer_close(handle): stops and joins the thread, closes its fd, frees the ring. */
static napi_value msock_pacer_close(napi_env env, napi_callback_info cbinfo) {
  napi_value argv[1];
  msock_pacer_box_t* box;
  if (msock_args(env, cbinfo, 1, argv) != 0) return NULL;
  box = msock_arg_handle(env, argv[0], &msock_tag_pacer, "handle",
                         "must be a pacer handle from msock_pacer_open");
  if (box == NULL) return NULL;
#ifdef MSOCK__PACER_LINUX
  if (box->pacer != NULL) {
    if (box->pacer->hooked) {
      (void)napi_remove_env_cleanup_hook(env, msock__pacer_on_teardown, box->pacer);
      box->pacer->hooked = 0;
    }
    msock__pacer_free(box->pacer);
    box->pacer = NULL;
  }
#endif
  return NULL;
}

/* msock_pacer_live() -> sender threads running in this process (leak checks). */
static napi_value msock_pacer_live(napi_env env, napi_callback_info cbinfo) {
  napi_value result;
  (void)cbinfo;
  NAPI_CALL(env, napi_create_int32(env, atomic_load(&msock__pacers_live), &result));
  return result;
}

int msock_pacer_init(napi_env env, napi_value exports) {
  static const msock_export_t fns[] = {
      {"msock_pacer_open", msock_pacer_open},
      {"msock_pacer_now", msock_pacer_now},
      {"msock_pacer_push", msock_pacer_push},
      {"msock_pacer_stats", msock_pacer_stats},
      {"msock_pacer_close", msock_pacer_close},
      {"msock_pacer_live", msock_pacer_live},
  };
  return msock_export_functions(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
