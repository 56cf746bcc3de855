/*
 * N-API glue of the mediasock addon: socket creation, socket options, multicast membership,
 * interface names, a one-datagram recvmsg for tests and diagnostics, constants, and the module
 * init that also registers batch.c's and dtls.c's exports. Argument and error helpers are in
 * napi-args.c (shared with batch.c and dtls.c).
 *
 * Every export is named like its JS property (`msock_udp_socket` <-> binding.msock_udp_socket).
 * The TypeScript layer validates values first; what still arrives malformed here is reported as
 * an Error carrying { argument, expected } (turned into InvalidArgumentError by the TS loader),
 * and a failed system call as an Error carrying { errno (negative), syscall, option, address,
 * port } (turned into SystemCallError). Nothing here asserts on input.
 */
#include "msock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#if defined(__linux__)
#include <linux/sock_diag.h> /* SK_MEMINFO_* */
#endif

#define MSOCK__ADDRSTRLEN (INET6_ADDRSTRLEN + IFNAMSIZ + 2)

/* family (4|6) + address literal (+ optional scopeId) + port into a sockaddr. */
static int msock__parse_sockaddr(napi_env env,
                                 const char* argument,
                                 int family,
                                 const char* address,
                                 napi_value address_value,
                                 int port,
                                 int scope_id,
                                 struct sockaddr_storage* ss,
                                 socklen_t* len) {
  memset(ss, 0, sizeof(*ss));
  if (family == 4) {
    struct sockaddr_in* sin = (struct sockaddr_in*)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &sin->sin_addr) != 1) {
      msock_throw_invalid(env, argument, address_value, "must be an IPv4 address literal");
      return -1;
    }
    *len = sizeof(*sin);
  } else {
    struct sockaddr_in6* sin6 = (struct sockaddr_in6*)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    sin6->sin6_scope_id = (uint32_t)scope_id;
    if (inet_pton(AF_INET6, address, &sin6->sin6_addr) != 1) {
      msock_throw_invalid(env, argument, address_value,
                           "must be an IPv6 address literal (zone goes in scopeId)");
      return -1;
    }
    *len = sizeof(*sin6);
  }
  return 0;
}

/* Formats a sockaddr: address text (IPv6 zone as %ifname or %index), port, family name. */
static void msock__format_sockaddr(const struct sockaddr_storage* ss,
                                   char* address,
                                   int* port,
                                   const char** family) {
  address[0] = '\0';
  *port = 0;
  *family = "unknown";
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in* sin = (const struct sockaddr_in*)ss;
    inet_ntop(AF_INET, &sin->sin_addr, address, MSOCK__ADDRSTRLEN);
    *port = ntohs(sin->sin_port);
    *family = "IPv4";
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6* sin6 = (const struct sockaddr_in6*)ss;
    inet_ntop(AF_INET6, &sin6->sin6_addr, address, MSOCK__ADDRSTRLEN);
    if (sin6->sin6_scope_id != 0) {
      char name[IFNAMSIZ];
      size_t n = strlen(address);
      if (if_indextoname(sin6->sin6_scope_id, name) != NULL)
        snprintf(address + n, MSOCK__ADDRSTRLEN - n, "%%%s", name);
      else
        snprintf(address + n, MSOCK__ADDRSTRLEN - n, "%%%u", (unsigned)sin6->sin6_scope_id);
    }
    *port = ntohs(sin6->sin6_port);
    *family = "IPv6";
  }
}

/* ---- option rows (msock_setsockopt and socket creation) ------------------------------------ */

static int msock__get_kind(napi_env env, napi_value v, const char* key, msock_kind_t* kind) {
  char s[16];
  if (msock_arg_string(env, v, key, s, sizeof(s)) != 0) return -1;
  if (strcmp(s, "int") == 0) *kind = MSOCK_KIND_INT;
  else if (strcmp(s, "bool") == 0) *kind = MSOCK_KIND_BOOL;
  else if (strcmp(s, "uchar") == 0) *kind = MSOCK_KIND_UCHAR;
  else if (strcmp(s, "string") == 0) *kind = MSOCK_KIND_STRING;
  else if (strcmp(s, "mreqn") == 0) *kind = MSOCK_KIND_MREQN;
  else {
    msock_throw_invalid(env, key, v, "must be one of int, bool, uchar, string, mreqn");
    return -1;
  }
  return 0;
}

/* IP_MULTICAST_IF's { ifindex?, address? }: struct ip_mreqn on Linux (by index or address),
 * struct in_addr elsewhere (by address only: an index there fails with EOPNOTSUPP). */
static int msock__row_mreqn(napi_env env,
                            napi_value v,
                            const char* key,
                            msock_option_row_t* row) {
  napi_value av;
  char address[INET_ADDRSTRLEN] = "0.0.0.0";
  int ifindex = 0;
  int has;
  if (msock_arg_object(env, v, key) != 0) return -1;
  if (msock_opt_int(env, v, "ifindex", 0, INT32_MAX, &ifindex) < 0) return -1;
  has = msock_arg_prop(env, v, "address", &av);
  if (has < 0) return -1;
  if (has && msock_arg_string(env, av, "address", address, sizeof(address)) != 0) return -1;
#if defined(__linux__)
  row->value.mreqn.imr_ifindex = ifindex;
  if (inet_pton(AF_INET, address, &row->value.mreqn.imr_address) != 1) {
    msock_throw_invalid(env, "address", has ? av : NULL, "must be an IPv4 address literal");
    return -1;
  }
  row->len = sizeof(row->value.mreqn);
#else
  if (ifindex != 0) {
    const char* option = row->option[0] != '\0' ? row->option : NULL;
    msock_throw_errno(env, EOPNOTSUPP, "setsockopt", option, NULL, -1);
    return -1;
  }
  if (inet_pton(AF_INET, address, &row->value.in) != 1) {
    msock_throw_invalid(env, "address", has ? av : NULL, "must be an IPv4 address literal");
    return -1;
  }
  row->len = sizeof(row->value.in);
#endif
  return 0;
}

/* Marshals a row's value (row->kind set) into row->value / row->len; `key` names it in errors. */
static int msock__row_value(napi_env env,
                            napi_value v,
                            const char* key,
                            msock_option_row_t* row) {
  int64_t n;
  switch (row->kind) {
    case MSOCK_KIND_INT:
      if (msock_arg_int(env, v, key, -2147483647 - 1, 2147483647, &n) != 0) return -1;
      row->value.i = (int)n;
      row->len = sizeof(row->value.i);
      return 0;
    case MSOCK_KIND_BOOL:
      if (msock_arg_bool(env, v, key, &row->value.i) != 0) return -1;
      row->len = sizeof(row->value.i);
      return 0;
    case MSOCK_KIND_UCHAR:
      if (msock_arg_int(env, v, key, 0, 255, &n) != 0) return -1;
      row->value.c = (unsigned char)n;
      row->len = sizeof(row->value.c);
      return 0;
    case MSOCK_KIND_STRING:
      if (msock_arg_string(env, v, key, row->value.s, sizeof(row->value.s)) != 0) return -1;
      row->len = (socklen_t)strlen(row->value.s);
      return 0;
    case MSOCK_KIND_MREQN:
      return msock__row_mreqn(env, v, key, row);
  }
  msock_throw_invalid(env, "kind", NULL, "must be one of int, bool, uchar, string, mreqn");
  return -1;
}

static void msock__row_init(msock_option_row_t* row) {
  memset(row, 0, sizeof(*row));
  row->fallback_name = -1;
}

/* row.<field> of row number `index`, for error messages: "options[2].value". */
static const char* msock__row_key(char* buf, size_t size, size_t index, const char* field) {
  if (field[0] == '\0')
    snprintf(buf, size, "options[%zu]", index);
  else
    snprintf(buf, size, "options[%zu].%s", index, field);
  return buf;
}

/* obj[prop] of row `index` (a level or option number): an integer in 0..INT32_MAX; `field` names
 * it in errors. */
static int msock__row_number(napi_env env,
                             napi_value obj,
                             const char* prop,
                             size_t index,
                             const char* field,
                             int* out) {
  char key[48];
  napi_value v;
  int64_t n;
  if (msock_arg_prop(env, obj, prop, &v) < 0) return -1;
  if (msock_arg_int(env, v, msock__row_key(key, sizeof(key), index, field), 0, INT32_MAX, &n) != 0)
    return -1;
  *out = (int)n;
  return 0;
}

/* The optional policies of a row: fallback { name, option } (clamp) and ipv4Side. */
static int msock__row_policies(napi_env env,
                               napi_value obj,
                               size_t index,
                               msock_option_row_t* row) {
  char key[48];
  napi_value v, fv;
  int has = msock_arg_prop(env, obj, "fallback", &v);
  if (has < 0) return -1;
  if (has) {
    if (msock_arg_object(env, v, msock__row_key(key, sizeof(key), index, "fallback")) != 0)
      return -1;
    if (msock__row_number(env, v, "name", index, "fallback.name", &row->fallback_name) != 0)
      return -1;
    if (msock_arg_prop(env, v, "option", &fv) < 0) return -1;
    if (msock_arg_string(env, fv, msock__row_key(key, sizeof(key), index, "fallback.option"),
                         row->fallback_option, sizeof(row->fallback_option)) != 0)
      return -1;
  }
  has = msock_arg_prop(env, obj, "ipv4Side", &v);
  if (has <= 0) return has;
  return msock_arg_bool(env, v, msock__row_key(key, sizeof(key), index, "ipv4Side"),
                        &row->ipv4_side);
}

/* One row object { level, name, kind, value, option, fallback?, ipv4Side? } of a creation list. */
static int msock__row_parse(napi_env env,
                            napi_value obj,
                            size_t index,
                            msock_option_row_t* row) {
  char key[48];
  napi_value v;
  msock__row_init(row);
  if (msock_arg_object(env, obj, msock__row_key(key, sizeof(key), index, "")) != 0) return -1;
  if (msock_arg_prop(env, obj, "option", &v) < 0) return -1;
  if (msock_arg_string(env, v, msock__row_key(key, sizeof(key), index, "option"), row->option,
                       sizeof(row->option)) != 0)
    return -1;
  if (msock__row_number(env, obj, "level", index, "level", &row->level) != 0) return -1;
  if (msock__row_number(env, obj, "name", index, "name", &row->name) != 0) return -1;
  if (msock_arg_prop(env, obj, "kind", &v) < 0) return -1;
  if (msock__get_kind(env, v, msock__row_key(key, sizeof(key), index, "kind"), &row->kind) != 0)
    return -1;
  if (msock_arg_prop(env, obj, "value", &v) < 0) return -1;
  if (msock__row_value(env, v, msock__row_key(key, sizeof(key), index, "value"), row) != 0)
    return -1;
  return msock__row_policies(env, obj, index, row);
}

/* options.options: an array of at most MSOCK_MAX_OPTION_ROWS rows (absent: none). */
static int msock__rows_parse(napi_env env,
                             napi_value opts,
                             msock_option_row_t* rows,
                             size_t* count) {
  napi_value list, item;
  bool is_array = false;
  uint32_t length = 0, i;
  int has = msock_arg_prop(env, opts, "options", &list);
  *count = 0;
  if (has <= 0) return has;
  NAPI_CALL_INT(env, napi_is_array(env, list, &is_array));
  if (is_array) NAPI_CALL_INT(env, napi_get_array_length(env, list, &length));
  if (!is_array || length > MSOCK_MAX_OPTION_ROWS) {
    msock_throw_invalid(env, "options", list, "must be an array of at most 64 option rows");
    return -1;
  }
  for (i = 0; i < length; i++) {
    NAPI_CALL_INT(env, napi_get_element(env, list, i, &item));
    if (msock__row_parse(env, item, i, &rows[i]) != 0) return -1;
  }
  *count = length;
  return 0;
}

/* ---- msock_udp_socket / msock_tcp_socket -------------------------------------------------- */

/* family, address, port and scopeId of a creation request into o->family / o->addr. */
static int msock__socket_address(napi_env env,
                                 napi_value opts_v,
                                 msock_socket_opts_t* o,
                                 char* address,
                                 int* port) {
  napi_value v;
  int family = 0, scope_id = 0;
  if (msock_opt_int(env, opts_v, "family", 4, 6, &family) < 0) return -1;
  if (family != 4 && family != 6) {
    if (msock_arg_prop(env, opts_v, "family", &v) < 0) return -1;
    msock_throw_invalid(env, "family", v, "must be 4 or 6");
    return -1;
  }
  o->family = family == 4 ? AF_INET : AF_INET6;
  if (msock_arg_prop(env, opts_v, "address", &v) < 0) return -1;
  if (msock_arg_string(env, v, "address", address, INET6_ADDRSTRLEN) != 0) return -1;
  if (msock_opt_int(env, opts_v, "port", 0, 65535, port) < 0) return -1;
  if (msock_opt_int(env, opts_v, "scopeId", 0, INT32_MAX, &scope_id) < 0) return -1;
  return msock__parse_sockaddr(env, "address", family, address, v, *port, scope_id, &o->addr,
                               &o->addrlen);
}

/* The creation result: { fd, address, port, family, recvBufferBytes, sendBufferBytes }. */
static napi_value msock__socket_result(napi_env env, const msock_socket_result_t* r) {
  napi_value result;
  char out_address[MSOCK__ADDRSTRLEN];
  const char* out_family;
  int out_port;
  msock__format_sockaddr(&r->addr, out_address, &out_port, &out_family);
  if (napi_create_object(env, &result) != napi_ok || msock_set_num(env, result, "fd", r->fd) != 0 ||
      msock_set_str(env, result, "address", out_address) != 0 ||
      msock_set_num(env, result, "port", out_port) != 0 ||
      msock_set_str(env, result, "family", out_family) != 0 ||
      msock_set_num(env, result, "recvBufferBytes", r->recv_buffer_bytes) != 0 ||
      msock_set_num(env, result, "sendBufferBytes", r->send_buffer_bytes) != 0) {
    (void)msock__close(r->fd);
    msock_throw_napi(env);
    return NULL;
  }
  return result;
}

/* { family, address, port, scopeId?, options?: rows[], listen?, backlog? } -> a bound socket. */
static napi_value msock__socket(napi_env env, napi_callback_info cbinfo, int type) {
  size_t argc = 1, count = 0;
  napi_value argv[1];
  msock_socket_opts_t o;
  msock_socket_result_t r;
  msock_failure_t failure = {NULL, NULL};
  msock_option_row_t rows[MSOCK_MAX_OPTION_ROWS];
  char address[MSOCK__ADDRSTRLEN];
  int port = 0, err;

  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 1) {
    msock_throw_invalid(env, "options", NULL, "must be an object");
    return NULL;
  }
  if (msock_arg_object(env, argv[0], "options") != 0) return NULL;
  memset(&o, 0, sizeof(o));
  o.type = type;
  o.backlog = 511;
  if (msock__socket_address(env, argv[0], &o, address, &port) != 0) return NULL;
  if (msock__rows_parse(env, argv[0], rows, &count) != 0) return NULL;
  if (type == SOCK_STREAM) {
    if (msock_opt_bool(env, argv[0], "listen", &o.listen) < 0 ||
        msock_opt_int(env, argv[0], "backlog", 0, INT32_MAX, &o.backlog) < 0)
      return NULL;
  }

  err = msock__socket_create(&o, rows, count, &r, &failure);
  if (err != 0) {
    msock_throw_errno(env, -err, failure.syscall, failure.option, address, port);
    return NULL;
  }
  return msock__socket_result(env, &r);
}

static napi_value msock_udp_socket(napi_env env, napi_callback_info cbinfo) {
  return msock__socket(env, cbinfo, SOCK_DGRAM);
}

static napi_value msock_tcp_socket(napi_env env, napi_callback_info cbinfo) {
  return msock__socket(env, cbinfo, SOCK_STREAM);
}

/* ---- msock_udp_adopt ---------------------------------------------------------------------- */

/*
 * (fd) -> { fd, address, port, family, recvBufferBytes, sendBufferBytes, kind, peerAddress?,
 * peerPort? }: what an existing descriptor is (the peer of a connected socket). kind is 'dgram', 'stream' or 'other'; only a 'dgram' of family IPv4/IPv6 is
 * made non-blocking and close-on-exec (fd is then the descriptor, else -1). Never closes it.
 */
static napi_value msock_udp_adopt(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1], result;
  msock_socket_result_t r;
  struct sockaddr_storage peer;
  msock_failure_t failure = {NULL, NULL};
  char out_address[MSOCK__ADDRSTRLEN], peer_address[MSOCK__ADDRSTRLEN];
  const char *out_family, *peer_family;
  int out_port, peer_port, fd, type = 0, err;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 1) {
    msock_throw_invalid(env, "fd", NULL, "must be an integer in 0..2147483647");
    return NULL;
  }
  if (msock_arg_fd(env, argv[0], &fd) != 0) return NULL;
  err = msock__socket_adopt(fd, &r, &type, &peer, &failure);
  if (err != 0) {
    msock_throw_errno(env, -err, failure.syscall, failure.option, NULL, -1);
    return NULL;
  }
  msock__format_sockaddr(&r.addr, out_address, &out_port, &out_family);
  if (napi_create_object(env, &result) != napi_ok || msock_set_num(env, result, "fd", r.fd) != 0 ||
      msock_set_str(env, result, "address", out_address) != 0 ||
      msock_set_num(env, result, "port", out_port) != 0 ||
      msock_set_str(env, result, "family", out_family) != 0 ||
      msock_set_num(env, result, "recvBufferBytes", r.recv_buffer_bytes) != 0 ||
      msock_set_num(env, result, "sendBufferBytes", r.send_buffer_bytes) != 0 ||
      msock_set_str(env, result, "kind",
                    type == SOCK_DGRAM ? "dgram" : type == SOCK_STREAM ? "stream" : "other") != 0) {
    msock_throw_napi(env);
    return NULL;
  }
  if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6) {
    msock__format_sockaddr(&peer, peer_address, &peer_port, &peer_family);
    if (msock_set_str(env, result, "peerAddress", peer_address) != 0 ||
        msock_set_num(env, result, "peerPort", peer_port) != 0) {
      msock_throw_napi(env);
      return NULL;
    }
  }
  return result;
}

/* ---- msock_close -------------------------------------------------------------------------- */

static napi_value msock_close(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1];
  int fd, err;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 1) {
    msock_throw_invalid(env, "fd", NULL, "must be an integer in 0..2147483647");
    return NULL;
  }
  if (msock_arg_fd(env, argv[0], &fd) != 0) return NULL;
  err = msock__close(fd);
  if (err != 0) msock_throw_errno(env, -err, "close", NULL, NULL, -1);
  return NULL;
}

/* ---- msock_setsockopt / msock_getsockopt -------------------------------------------------- */

/* Common head of set/getsockopt: fd, level, name, kind. */
static int msock__sockopt_args(napi_env env,
                               napi_value* argv,
                               int* fd,
                               int* level,
                               int* name,
                               msock_kind_t* kind) {
  int64_t n;
  if (msock_arg_fd(env, argv[0], fd) != 0) return -1;
  if (msock_arg_int(env, argv[1], "level", 0, INT32_MAX, &n) != 0) return -1;
  *level = (int)n;
  if (msock_arg_int(env, argv[2], "name", 0, INT32_MAX, &n) != 0) return -1;
  *name = (int)n;
  return msock__get_kind(env, argv[3], "kind", kind);
}

/* The optional trailing option name (argv[at]) into buf; NULL when absent. */
static int msock__sockopt_name(napi_env env,
                               size_t argc,
                               napi_value* argv,
                               size_t at,
                               char* buf,
                               size_t size,
                               const char** out) {
  napi_valuetype t;
  *out = NULL;
  if (argc <= at) return 0;
  NAPI_CALL_INT(env, napi_typeof(env, argv[at], &t));
  if (t == napi_undefined) return 0;
  if (msock_arg_string(env, argv[at], "option", buf, size) != 0) return -1;
  *out = buf;
  return 0;
}

/* (fd, level, name, kind, value[, option]): one row, through msock__option_apply. */
static napi_value msock_setsockopt(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 6;
  napi_value argv[6];
  int fd, err;
  msock_option_row_t row;
  msock_failure_t failure = {NULL, NULL};
  const char* option_name;

  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 5) {
    msock_throw_invalid(env, "arguments", NULL, "must be (fd, level, name, kind, value[, option])");
    return NULL;
  }
  msock__row_init(&row);
  if (msock__sockopt_args(env, argv, &fd, &row.level, &row.name, &row.kind) != 0) return NULL;
  if (msock__sockopt_name(env, argc, argv, 5, row.option, sizeof(row.option), &option_name) != 0)
    return NULL;
  if (msock__row_value(env, argv[4], "value", &row) != 0) return NULL;
  err = msock__option_apply(fd, AF_UNSPEC, &row, &failure);
  if (err != 0) msock_throw_errno(env, -err, failure.syscall, option_name, NULL, -1);
  return NULL;
}

static napi_value msock_getsockopt(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 5;
  napi_value argv[5], result = NULL;
  int fd, level, name, rc;
  msock_kind_t kind;
  char option[64] = "";
  const char* option_name = NULL;

  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 4) {
    msock_throw_invalid(env, "arguments", NULL, "must be (fd, level, name, kind[, option])");
    return NULL;
  }
  if (msock__sockopt_args(env, argv, &fd, &level, &name, &kind) != 0) return NULL;
  if (msock__sockopt_name(env, argc, argv, 4, option, sizeof(option), &option_name) != 0)
    return NULL;

  switch (kind) {
    case MSOCK_KIND_INT:
    case MSOCK_KIND_BOOL: {
      int value;
      rc = msock__getsockopt_int(fd, level, name, &value);
      if (rc == 0) {
        if (kind == MSOCK_KIND_BOOL)
          NAPI_CALL(env, napi_get_boolean(env, value != 0, &result));
        else
          NAPI_CALL(env, napi_create_int32(env, value, &result));
      }
      break;
    }
    case MSOCK_KIND_UCHAR: {
      /* Linux answers an int-sized read of these options; BSDs store one byte. */
      int value = 0;
      socklen_t len = sizeof(value);
      rc = MSOCK_RETRY_EINTR(getsockopt(fd, level, name, &value, &len)) == 0 ? 0 : -errno;
      if (rc == 0) {
        int n = len == 1 ? (int)*(unsigned char*)&value : value;
        NAPI_CALL(env, napi_create_int32(env, n, &result));
      }
      break;
    }
    case MSOCK_KIND_STRING: {
      char s[IFNAMSIZ + 1];
      socklen_t len = IFNAMSIZ;
      memset(s, 0, sizeof(s));
      rc = MSOCK_RETRY_EINTR(getsockopt(fd, level, name, s, &len)) == 0 ? 0 : -errno;
      if (rc == 0) {
        s[len < IFNAMSIZ ? len : IFNAMSIZ] = '\0';
        NAPI_CALL(env, napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &result));
      }
      break;
    }
    case MSOCK_KIND_MREQN: {
      /* The kernel reports the address only (Linux: inet->mc_addr), never the index. */
      struct in_addr in;
      char text[INET_ADDRSTRLEN];
      socklen_t len = sizeof(in);
      memset(&in, 0, sizeof(in));
      rc = MSOCK_RETRY_EINTR(getsockopt(fd, level, name, &in, &len)) == 0 ? 0 : -errno;
      if (rc == 0) {
        inet_ntop(AF_INET, &in, text, sizeof(text));
        NAPI_CALL(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &result));
      }
      break;
    }
    default:
      rc = -EINVAL;
  }
  if (rc != 0) {
    msock_throw_errno(env, -rc, "getsockopt", option_name, NULL, -1);
    return NULL;
  }
  return result;
}

/* ---- msock_kernel_drops -------------------------------------------------------------------- */

/* (fd): the socket's kernel drop counter (sk_drops: datagrams discarded because the receive buffer
 * was full, or dropped by a socket filter), read on demand with SO_MEMINFO (Linux 4.6+). It costs
 * nothing per datagram, where SO_RXQ_OVFL has the kernel add a control message to every datagram
 * once drops begin, and it counts drops after the last datagram read too. Elsewhere it throws
 * ENOPROTOOPT, and the caller falls back. */
static napi_value msock_kernel_drops(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1], result;
  int fd;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 1) {
    msock_throw_invalid(env, "fd", NULL, "must be an integer in 0..2147483647");
    return NULL;
  }
  if (msock_arg_fd(env, argv[0], &fd) != 0) return NULL;
#if defined(__linux__) && defined(SO_MEMINFO)
  {
    uint32_t info[SK_MEMINFO_VARS];
    socklen_t len = sizeof(info);
    memset(info, 0, sizeof(info));
    if (MSOCK_RETRY_EINTR(getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &len)) != 0) {
      msock_throw_errno(env, errno, "getsockopt", "SO_MEMINFO", NULL, -1);
      return NULL;
    }
    if (len < (socklen_t)((SK_MEMINFO_DROPS + 1) * sizeof(uint32_t))) {
      msock_throw_errno(env, ENOPROTOOPT, "getsockopt", "SO_MEMINFO", NULL, -1);
      return NULL;
    }
    NAPI_CALL(env, napi_create_uint32(env, info[SK_MEMINFO_DROPS], &result));
    return result;
  }
#else
  (void)result;
  msock_throw_errno(env, ENOPROTOOPT, "getsockopt", "SO_MEMINFO", NULL, -1);
  return NULL;
#endif
}

/* ---- interface names ---------------------------------------------------------------------- */

static napi_value msock_if_nametoindex(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1], result;
  char name[IFNAMSIZ];
  unsigned int index;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 1) {
    msock_throw_invalid(env, "name", NULL, "must be a string");
    return NULL;
  }
  if (msock_arg_string(env, argv[0], "name", name, sizeof(name)) != 0) return NULL;
  errno = 0;
  index = if_nametoindex(name);
  if (index == 0) {
    msock_throw_errno(env, errno != 0 ? errno : ENODEV, "if_nametoindex", NULL, name, -1);
    return NULL;
  }
  NAPI_CALL(env, napi_create_uint32(env, index, &result));
  return result;
}

static napi_value msock_if_indextoname(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1], result;
  char name[IFNAMSIZ];
  int64_t index;
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 1) {
    msock_throw_invalid(env, "index", NULL, "must be an integer in 1..2147483647");
    return NULL;
  }
  if (msock_arg_int(env, argv[0], "index", 1, INT32_MAX, &index) != 0) return NULL;
  errno = 0;
  if (if_indextoname((unsigned int)index, name) == NULL) {
    msock_throw_errno(env, errno != 0 ? errno : ENXIO, "if_indextoname", NULL, NULL, -1);
    return NULL;
  }
  NAPI_CALL(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &result));
  return result;
}

/* ---- msock_mcast_membership --------------------------------------------------------------- */

static napi_value msock_mcast_membership(napi_env env, napi_callback_info cbinfo) {
#if defined(MCAST_JOIN_GROUP) && defined(MCAST_JOIN_SOURCE_GROUP)
  size_t argc = 2;
  napi_value argv[2], opts, v, gv, sv = NULL;
  int fd, family = 0, ifindex = 0, has_source, join, level, name, rc;
  char op[8], group[INET6_ADDRSTRLEN], source[INET6_ADDRSTRLEN];
  const char* option;
  struct sockaddr_storage gss, sss;
  socklen_t glen, slen;

  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 2) {
    msock_throw_invalid(env, "arguments", NULL, "must be (fd, options)");
    return NULL;
  }
  if (msock_arg_fd(env, argv[0], &fd) != 0) return NULL;
  opts = argv[1];
  if (msock_arg_object(env, opts, "options") != 0) return NULL;
  if (msock_opt_int(env, opts, "family", 4, 6, &family) < 0) return NULL;
  if (family != 4 && family != 6) {
    if (msock_arg_prop(env, opts, "family", &v) < 0) return NULL;
    msock_throw_invalid(env, "family", v, "must be 4 or 6");
    return NULL;
  }
  if (msock_arg_prop(env, opts, "op", &v) < 0) return NULL;
  if (msock_arg_string(env, v, "op", op, sizeof(op)) != 0) return NULL;
  /* join 1, leave 0, block 2, unblock 3 (exclude-mode filters: MCAST_BLOCK_SOURCE, RFC 3678). */
  if (strcmp(op, "join") == 0) join = 1;
  else if (strcmp(op, "leave") == 0) join = 0;
  else if (strcmp(op, "block") == 0) join = 2;
  else if (strcmp(op, "unblock") == 0) join = 3;
  else {
    msock_throw_invalid(env, "op", v, "must be 'join', 'leave', 'block' or 'unblock'");
    return NULL;
  }
  if (msock_arg_prop(env, opts, "group", &gv) < 0) return NULL;
  if (msock_arg_string(env, gv, "group", group, sizeof(group)) != 0) return NULL;
  has_source = msock_arg_prop(env, opts, "source", &sv);
  if (has_source < 0) return NULL;
  if (has_source && msock_arg_string(env, sv, "source", source, sizeof(source)) != 0) return NULL;
  if (msock_opt_int(env, opts, "ifindex", 0, INT32_MAX, &ifindex) < 0) return NULL;

  if (msock__parse_sockaddr(env, "group", family, group, gv, 0, 0, &gss, &glen) != 0) return NULL;
  if (has_source && msock__parse_sockaddr(env, "source", family, source, sv, 0, 0, &sss, &slen) != 0)
    return NULL;
  (void)slen;
  level = family == 4 ? IPPROTO_IP : IPPROTO_IPV6;

  if (join >= 2 && !has_source) {
    msock_throw_invalid(env, "source", NULL, "must be given to block or unblock a source");
    return NULL;
  }
  if (join >= 2) {
#if defined(MCAST_BLOCK_SOURCE) && defined(MCAST_UNBLOCK_SOURCE)
    struct group_source_req req;
    memset(&req, 0, sizeof(req));
    req.gsr_interface = (uint32_t)ifindex;
    memcpy(&req.gsr_group, &gss, sizeof(gss));
    memcpy(&req.gsr_source, &sss, sizeof(sss));
    name = join == 2 ? MCAST_BLOCK_SOURCE : MCAST_UNBLOCK_SOURCE;
    option = join == 2 ? "MCAST_BLOCK_SOURCE" : "MCAST_UNBLOCK_SOURCE";
    rc = msock__setsockopt(fd, level, name, &req, sizeof(req));
#else
    msock_throw_errno(env, ENOPROTOOPT, "setsockopt", "MCAST_BLOCK_SOURCE", group, -1);
    return NULL;
#endif
  } else if (has_source) {
    struct group_source_req req;
    memset(&req, 0, sizeof(req));
    req.gsr_interface = (uint32_t)ifindex;
    memcpy(&req.gsr_group, &gss, sizeof(gss));
    memcpy(&req.gsr_source, &sss, sizeof(sss));
    name = join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP;
    option = join ? "MCAST_JOIN_SOURCE_GROUP" : "MCAST_LEAVE_SOURCE_GROUP";
    rc = msock__setsockopt(fd, level, name, &req, sizeof(req));
  } else {
    struct group_req req;
    memset(&req, 0, sizeof(req));
    req.gr_interface = (uint32_t)ifindex;
    memcpy(&req.gr_group, &gss, sizeof(gss));
    name = join ? MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP;
    option = join ? "MCAST_JOIN_GROUP" : "MCAST_LEAVE_GROUP";
    rc = msock__setsockopt(fd, level, name, &req, sizeof(req));
  }
  if (rc != 0) msock_throw_errno(env, rc, "setsockopt", option, group, -1);
  return NULL;
#else
  (void)cbinfo;
  msock_throw_errno(env, ENOPROTOOPT, "setsockopt", "MCAST_JOIN_GROUP", NULL, -1);
  return NULL;
#endif
}

/* ---- msock_recvmsg ------------------------------------------------------------------------ */

static napi_value msock_recvmsg(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 2;
  napi_value argv[2], result, v;
  bool is_buffer = false;
  void* data = NULL;
  size_t length = 0;
  int fd;
  ssize_t n;
  struct iovec iov;
  struct msghdr msg;
  struct sockaddr_storage from;
  union {
    struct cmsghdr align;
    char buf[MSOCK_CMSG_SPACE];
  } control;
  msock_cmsg_info_t info;
  char address[MSOCK__ADDRSTRLEN];
  const char* family;
  int port;

  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 2) {
    msock_throw_invalid(env, "arguments", NULL, "must be (fd, buffer)");
    return NULL;
  }
  if (msock_arg_fd(env, argv[0], &fd) != 0) return NULL;
  NAPI_CALL(env, napi_is_buffer(env, argv[1], &is_buffer));
  if (!is_buffer) {
    bool is_typed = false;
    NAPI_CALL(env, napi_is_typedarray(env, argv[1], &is_typed));
    if (!is_typed) {
      msock_throw_invalid(env, "buffer", argv[1], "must be a Buffer or Uint8Array");
      return NULL;
    }
  }
  NAPI_CALL(env, napi_get_buffer_info(env, argv[1], &data, &length));

  memset(&msg, 0, sizeof(msg));
  memset(&from, 0, sizeof(from));
  iov.iov_base = data;
  iov.iov_len = length;
  msg.msg_name = &from;
  msg.msg_namelen = sizeof(from);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof(control.buf);

  n = MSOCK_RETRY_EINTR(recvmsg(fd, &msg, MSG_DONTWAIT));
  if (n == -1) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      NAPI_CALL(env, napi_get_null(env, &result));
      return result;
    }
    msock_throw_errno(env, errno, "recvmsg", NULL, NULL, -1);
    return NULL;
  }

  msock__cmsg_parse(&msg, &info);
  msock__format_sockaddr(&from, address, &port, &family);

  NAPI_CALL(env, napi_create_object(env, &result));
  if (msock_set_num(env, result, "bytes", (double)n) != 0 ||
      msock_set_bool(env, result, "truncated", (msg.msg_flags & MSG_TRUNC) != 0) != 0 ||
      msock_set_str(env, result, "address", address) != 0 ||
      msock_set_num(env, result, "port", port) != 0 ||
      msock_set_str(env, result, "family", family) != 0)
    return NULL;
  if (msg.msg_flags & MSG_CTRUNC) {
    if (msock_set_bool(env, result, "controlTruncated", true) != 0) return NULL;
  }
  if (info.has_local) {
    char local[MSOCK__ADDRSTRLEN];
    const char* lfamily;
    int lport;
    msock__format_sockaddr(&info.local, local, &lport, &lfamily);
    if (msock_set_str(env, result, "localAddress", local) != 0 ||
        msock_set_num(env, result, "ifindex", info.ifindex) != 0)
      return NULL;
  }
  if (info.has_tos && msock_set_num(env, result, "tos", info.tos) != 0) return NULL;
  if (info.has_ttl && msock_set_num(env, result, "ttl", info.ttl) != 0) return NULL;
  if (info.has_timestamp) {
    NAPI_CALL(env, napi_create_bigint_int64(
                       env, info.timestamp_sec * INT64_C(1000000000) + info.timestamp_nsec, &v));
    NAPI_CALL(env, napi_set_named_property(env, result, "timestampNs", v));
  }
  if (info.has_drops && msock_set_num(env, result, "drops", info.drops) != 0) return NULL;
  return result;
}

/* ---- constants ---------------------------------------------------------------------------- */

#define MSOCK__C(name) {#name, name},

static const struct {
  const char* name;
  int value;
} msock__constants[] = {
    MSOCK__C(AF_INET) MSOCK__C(AF_INET6) MSOCK__C(SOL_SOCKET) MSOCK__C(IPPROTO_IP)
    MSOCK__C(IPPROTO_IPV6) MSOCK__C(IPPROTO_TCP) MSOCK__C(IPPROTO_UDP)
    MSOCK__C(SO_REUSEADDR) MSOCK__C(SO_RCVBUF) MSOCK__C(SO_SNDBUF) MSOCK__C(SO_BROADCAST)
    MSOCK__C(SO_KEEPALIVE) MSOCK__C(IP_TOS) MSOCK__C(IP_TTL) MSOCK__C(IP_MULTICAST_TTL)
    MSOCK__C(IP_MULTICAST_IF) MSOCK__C(IP_MULTICAST_LOOP) MSOCK__C(IPV6_UNICAST_HOPS)
    MSOCK__C(IPV6_MULTICAST_HOPS) MSOCK__C(IPV6_MULTICAST_IF) MSOCK__C(IPV6_MULTICAST_LOOP)
    MSOCK__C(IPV6_V6ONLY) MSOCK__C(TCP_NODELAY)
#ifdef SO_REUSEPORT
    MSOCK__C(SO_REUSEPORT)
#endif
#ifdef SO_RCVBUFFORCE
    MSOCK__C(SO_RCVBUFFORCE)
#endif
#ifdef SO_SNDBUFFORCE
    MSOCK__C(SO_SNDBUFFORCE)
#endif
#ifdef SO_BINDTODEVICE
    MSOCK__C(SO_BINDTODEVICE)
#endif
#ifdef SO_PRIORITY
    MSOCK__C(SO_PRIORITY)
#endif
#ifdef SO_TIMESTAMPNS
    MSOCK__C(SO_TIMESTAMPNS)
#endif
#ifdef SO_RXQ_OVFL
    MSOCK__C(SO_RXQ_OVFL)
#endif
#ifdef IP_MULTICAST_ALL
    MSOCK__C(IP_MULTICAST_ALL)
#endif
#ifdef IPV6_MULTICAST_ALL
    MSOCK__C(IPV6_MULTICAST_ALL)
#endif
#ifdef IP_MTU_DISCOVER
    MSOCK__C(IP_MTU_DISCOVER) MSOCK__C(IP_PMTUDISC_DONT) MSOCK__C(IP_PMTUDISC_WANT)
    MSOCK__C(IP_PMTUDISC_DO)
#endif
#ifdef IP_PMTUDISC_PROBE
    MSOCK__C(IP_PMTUDISC_PROBE)
#endif
#ifdef IP_PMTUDISC_INTERFACE
    MSOCK__C(IP_PMTUDISC_INTERFACE)
#endif
#ifdef IP_PMTUDISC_OMIT
    MSOCK__C(IP_PMTUDISC_OMIT)
#endif
#ifdef IPV6_DONTFRAG
    MSOCK__C(IPV6_DONTFRAG)
#endif
#ifdef IPV6_TCLASS
    MSOCK__C(IPV6_TCLASS)
#endif
#ifdef IP_PKTINFO
    MSOCK__C(IP_PKTINFO)
#endif
#ifdef IP_RECVTOS
    MSOCK__C(IP_RECVTOS)
#endif
#ifdef IPV6_RECVPKTINFO
    MSOCK__C(IPV6_RECVPKTINFO)
#endif
#ifdef IPV6_RECVTCLASS
    MSOCK__C(IPV6_RECVTCLASS)
#endif
#ifdef IP_RECVTTL
    MSOCK__C(IP_RECVTTL)
#endif
#ifdef IPV6_RECVHOPLIMIT
    MSOCK__C(IPV6_RECVHOPLIMIT)
#endif
#ifdef TCP_KEEPIDLE
    MSOCK__C(TCP_KEEPIDLE)
#elif defined(TCP_KEEPALIVE) && defined(__APPLE__)
    {"TCP_KEEPIDLE", TCP_KEEPALIVE}, /* macOS names the idle time TCP_KEEPALIVE */
#endif
#ifdef TCP_KEEPINTVL
    MSOCK__C(TCP_KEEPINTVL)
#endif
#ifdef TCP_KEEPCNT
    MSOCK__C(TCP_KEEPCNT)
#endif
#ifdef TCP_USER_TIMEOUT
    MSOCK__C(TCP_USER_TIMEOUT)
#endif
#ifdef MCAST_JOIN_GROUP
    MSOCK__C(MCAST_JOIN_GROUP) MSOCK__C(MCAST_LEAVE_GROUP)
#endif
#ifdef MCAST_JOIN_SOURCE_GROUP
    MSOCK__C(MCAST_JOIN_SOURCE_GROUP) MSOCK__C(MCAST_LEAVE_SOURCE_GROUP)
#endif
#ifdef MCAST_BLOCK_SOURCE
    MSOCK__C(MCAST_BLOCK_SOURCE) MSOCK__C(MCAST_UNBLOCK_SOURCE)
#endif
};

static napi_value msock__init(napi_env env, napi_value exports) {
  napi_value constants;
  size_t i;
  static const msock_export_t fns[] = {
      {"msock_udp_socket", msock_udp_socket},
      {"msock_tcp_socket", msock_tcp_socket},
      {"msock_close", msock_close},
      {"msock_udp_adopt", msock_udp_adopt},
      {"msock_setsockopt", msock_setsockopt},
      {"msock_getsockopt", msock_getsockopt},
      {"msock_if_nametoindex", msock_if_nametoindex},
      {"msock_if_indextoname", msock_if_indextoname},
      {"msock_mcast_membership", msock_mcast_membership},
      {"msock_recvmsg", msock_recvmsg},
      {"msock_kernel_drops", msock_kernel_drops},
  };

  if (msock_export_functions(env, exports, fns, sizeof(fns) / sizeof(fns[0])) != 0) return NULL;
  NAPI_CALL(env, napi_create_object(env, &constants));
  for (i = 0; i < sizeof(msock__constants) / sizeof(msock__constants[0]); i++) {
    if (msock_set_num(env, constants, msock__constants[i].name, msock__constants[i].value) != 0)
      return NULL;
  }
  NAPI_CALL(env, napi_object_freeze(env, constants));
  NAPI_CALL(env, napi_set_named_property(env, exports, "constants", constants));
  if (msock_batch_init(env, exports) != 0) return NULL;
  if (msock_dtls_init(env, exports) != 0) return NULL;
  if (msock_pacer_init(env, exports) != 0) return NULL;
  if (msock_set_str(env, exports, "platform",
#if defined(__linux__)
                     "linux"
#elif defined(__APPLE__)
                     "darwin"
#elif defined(__FreeBSD__)
                     "freebsd"
#else
                     "posix"
#endif
                     ) != 0)
    return NULL;
  return exports;
}

NAPI_MODULE_INIT() {
  return msock__init(env, exports);
}
