/*
 * The one N-API layer of the addon: JS errors, result-object setters, argument unpacking and
 * type-tagged handles, used by addon.c, batch.c and dtls.c (which call nothing of each other's).
 *
 * Conventions: every function returns 0 (or 1/0 for "present/absent" in the msock_opt_* family)
 * and -1 with a JS exception pending; N-API statuses go through NAPI_CALL_INT. Out of memory is
 * always msock_throw_errno(ENOMEM, "malloc"), which the TS loader turns into a SystemCallError.
 * Malformed input is always msock_throw_invalid: a TypeError carrying { argument, expected, value },
 * which the TS loader turns into an InvalidArgumentError.
 */
#ifndef NAPI_VERSION
# define NAPI_VERSION 8
#endif
#include <node_api.h>

#include "msock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------------------------- */

void msock_throw_napi(napi_env env) {
  bool pending = false;
  const napi_extended_error_info* info = NULL;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  if (napi_get_last_error_info(env, &info) != napi_ok) info = NULL;
  napi_throw_error(env, NULL,
                   info != NULL && info->error_message != NULL ? info->error_message
                                                                : "N-API call failed");
}

void msock_throw_errno(napi_env env,
                       int err,
                       const char* syscall,
                       const char* option,
                       const char* address,
                       int port) {
  char message[256];
  napi_value msg, error;
  if (err < 0) err = -err;
  snprintf(message, sizeof(message), "%s %s%s%s", syscall, strerror(err),
           option != NULL ? " option " : "", option != NULL ? option : "");
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(env, NULL, msg, &error) != napi_ok) {
    msock_throw_napi(env);
    return;
  }
  if (msock_set_num(env, error, "errno", -(double)err) != 0 ||
      msock_set_str(env, error, "syscall", syscall) != 0)
    return;
  if (option != NULL && msock_set_str(env, error, "option", option) != 0) return;
  if (address != NULL && msock_set_str(env, error, "address", address) != 0) return;
  if (port >= 0 && msock_set_num(env, error, "port", port) != 0) return;
  if (napi_throw(env, error) != napi_ok) msock_throw_napi(env);
}

void msock_throw_invalid(napi_env env,
                         const char* argument,
                         napi_value value,
                         const char* expected) {
  char message[256];
  napi_value msg, error;
  snprintf(message, sizeof(message), "%s %s", argument, expected);
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_type_error(env, NULL, msg, &error) != napi_ok) {
    msock_throw_napi(env);
    return;
  }
  if (msock_set_str(env, error, "argument", argument) != 0 ||
      msock_set_str(env, error, "expected", expected) != 0)
    return;
  if (value == NULL && napi_get_undefined(env, &value) != napi_ok) {
    msock_throw_napi(env);
    return;
  }
  if (napi_set_named_property(env, error, "value", value) != napi_ok ||
      napi_throw(env, error) != napi_ok)
    msock_throw_napi(env);
}

/* ---- result objects ----------------------------------------------------------------------- */

int msock_set_str(napi_env env, napi_value obj, const char* key, const char* value) {
  napi_value v;
  NAPI_CALL_INT(env, napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v));
  NAPI_CALL_INT(env, napi_set_named_property(env, obj, key, v));
  return 0;
}

int msock_set_num(napi_env env, napi_value obj, const char* key, double value) {
  napi_value v;
  NAPI_CALL_INT(env, napi_create_double(env, value, &v));
  NAPI_CALL_INT(env, napi_set_named_property(env, obj, key, v));
  return 0;
}

int msock_set_bool(napi_env env, napi_value obj, const char* key, int value) {
  napi_value v;
  NAPI_CALL_INT(env, napi_get_boolean(env, value != 0, &v));
  NAPI_CALL_INT(env, napi_set_named_property(env, obj, key, v));
  return 0;
}

int msock_export_functions(napi_env env,
                           napi_value exports,
                           const msock_export_t* fns,
                           size_t count) {
  size_t i;
  for (i = 0; i < count; i++) {
    napi_value fn;
    NAPI_CALL_INT(env,
                  napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn));
    NAPI_CALL_INT(env, napi_set_named_property(env, exports, fns[i].name, fn));
  }
  return 0;
}

/* ---- arguments ---------------------------------------------------------------------------- */

int msock_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want, i;
  napi_value undef;
  NAPI_CALL_INT(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  NAPI_CALL_INT(env, napi_get_undefined(env, &undef));
  for (i = argc; i < want; i++) argv[i] = undef;
  return 0;
}

int msock_arg_prop(napi_env env, napi_value obj, const char* key, napi_value* out) {
  napi_valuetype t;
  NAPI_CALL_INT(env, napi_get_named_property(env, obj, key, out));
  NAPI_CALL_INT(env, napi_typeof(env, *out, &t));
  return t == napi_undefined ? 0 : 1;
}

int msock_arg_int(napi_env env,
                  napi_value v,
                  const char* key,
                  int64_t min,
                  int64_t max,
                  int64_t* out) {
  napi_valuetype t;
  double d = 0;
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

int msock_arg_fd(napi_env env, napi_value v, int* fd) {
  int64_t n;
  if (msock_arg_int(env, v, "fd", 0, INT32_MAX, &n) != 0) return -1;
  *fd = (int)n;
  return 0;
}

int msock_arg_bool(napi_env env, napi_value v, const char* key, int* out) {
  napi_valuetype t;
  bool b = false;
  NAPI_CALL_INT(env, napi_typeof(env, v, &t));
  if (t != napi_boolean) {
    msock_throw_invalid(env, key, v, "must be a boolean");
    return -1;
  }
  NAPI_CALL_INT(env, napi_get_value_bool(env, v, &b));
  *out = b ? 1 : 0;
  return 0;
}

int msock_arg_object(napi_env env, napi_value v, const char* key) {
  napi_valuetype t;
  NAPI_CALL_INT(env, napi_typeof(env, v, &t));
  if (t != napi_object) {
    msock_throw_invalid(env, key, v, "must be an object");
    return -1;
  }
  return 0;
}

int msock_arg_function(napi_env env, napi_value v, const char* key) {
  napi_valuetype t;
  NAPI_CALL_INT(env, napi_typeof(env, v, &t));
  if (t != napi_function) {
    msock_throw_invalid(env, key, v, "must be a function");
    return -1;
  }
  return 0;
}

/* The UTF-8 length of a string argument; throws for a non-string. */
static int msock__string_length(napi_env env, napi_value v, const char* key, size_t* len) {
  napi_valuetype t;
  NAPI_CALL_INT(env, napi_typeof(env, v, &t));
  if (t != napi_string) {
    msock_throw_invalid(env, key, v, "must be a string");
    return -1;
  }
  NAPI_CALL_INT(env, napi_get_value_string_utf8(env, v, NULL, 0, len));
  return 0;
}

/* Copies the string into buf (size >= len + 1) and refuses embedded NULs. */
static int msock__string_copy(napi_env env, napi_value v, const char* key, char* buf, size_t size) {
  size_t got = 0;
  NAPI_CALL_INT(env, napi_get_value_string_utf8(env, v, buf, size, &got));
  if (strlen(buf) != got) {
    msock_throw_invalid(env, key, v, "must not contain NUL characters");
    return -1;
  }
  return 0;
}

int msock_arg_string(napi_env env, napi_value v, const char* key, char* buf, size_t size) {
  size_t len = 0;
  if (msock__string_length(env, v, key, &len) != 0) return -1;
  if (len + 1 > size) {
    char expected[64];
    snprintf(expected, sizeof(expected), "must be at most %zu bytes long", size - 1);
    msock_throw_invalid(env, key, v, expected);
    return -1;
  }
  return msock__string_copy(env, v, key, buf, size);
}

int msock_arg_string_dup(napi_env env, napi_value v, const char* key, char** out) {
  size_t len = 0;
  char* buf;
  if (msock__string_length(env, v, key, &len) != 0) return -1;
  buf = malloc(len + 1);
  if (buf == NULL) {
    msock_throw_errno(env, ENOMEM, "malloc", NULL, NULL, -1);
    return -1;
  }
  if (msock__string_copy(env, v, key, buf, len + 1) != 0) {
    free(buf);
    return -1;
  }
  *out = buf;
  return 0;
}

/* A typed array of `want` type: its data and element count; throws `expected` otherwise. */
static int msock__typed(napi_env env,
                        napi_value v,
                        const char* key,
                        napi_typedarray_type want,
                        const char* expected,
                        void** data,
                        size_t* length) {
  bool is_typed = false;
  napi_typedarray_type type;
  void* p = NULL;
  NAPI_CALL_INT(env, napi_is_typedarray(env, v, &is_typed));
  if (is_typed) {
    NAPI_CALL_INT(env, napi_get_typedarray_info(env, v, &type, length, &p, NULL, NULL));
    if (type == want) {
      *data = p;
      return 0;
    }
  }
  msock_throw_invalid(env, key, v, expected);
  return -1;
}

int msock_arg_bytes(napi_env env, napi_value v, const char* key, uint8_t** data, size_t* length) {
  void* p = NULL;
  static uint8_t empty[1];
  if (msock__typed(env, v, key, napi_uint8_array, "must be a Uint8Array or Buffer", &p, length) !=
      0)
    return -1;
  /* A detached or zero-length array may report no data pointer. */
  *data = p != NULL ? (uint8_t*)p : empty;
  return 0;
}

int msock_arg_int32s(napi_env env, napi_value v, const char* key, int32_t** data, size_t* length) {
  void* p = NULL;
  if (msock__typed(env, v, key, napi_int32_array, "must be an Int32Array", &p, length) != 0)
    return -1;
  *data = (int32_t*)p;
  return 0;
}

int msock_opt_int(napi_env env,
                  napi_value obj,
                  const char* key,
                  int64_t min,
                  int64_t max,
                  int* out) {
  napi_value v;
  int64_t n;
  int rc = msock_arg_prop(env, obj, key, &v);
  if (rc <= 0) return rc;
  if (msock_arg_int(env, v, key, min, max, &n) != 0) return -1;
  *out = (int)n;
  return 1;
}

int msock_opt_bool(napi_env env, napi_value obj, const char* key, int* out) {
  napi_value v;
  int rc = msock_arg_prop(env, obj, key, &v);
  if (rc <= 0) return rc;
  return msock_arg_bool(env, v, key, out) == 0 ? 1 : -1;
}

int msock_opt_string(napi_env env, napi_value obj, const char* key, char* buf, size_t size) {
  napi_value v;
  int rc = msock_arg_prop(env, obj, key, &v);
  if (rc <= 0) return rc;
  return msock_arg_string(env, v, key, buf, size) == 0 ? 1 : -1;
}

int msock_opt_string_dup(napi_env env, napi_value obj, const char* key, char** out) {
  napi_value v;
  int rc = msock_arg_prop(env, obj, key, &v);
  if (rc <= 0) return rc;
  return msock_arg_string_dup(env, v, key, out) == 0 ? 1 : -1;
}

/* ---- handles ------------------------------------------------------------------------------ */

/* "mediasock" in the high word; the kind in the low word. */
const napi_type_tag msock_tag_batch = {0x6d656469610a736bULL, 0x6261746368000001ULL};
const napi_type_tag msock_tag_dtls_context = {0x6d656469610a736bULL, 0x64746c7363740002ULL};
const napi_type_tag msock_tag_dtls_connection = {0x6d656469610a736bULL, 0x64746c73636e0003ULL};
const napi_type_tag msock_tag_pacer = {0x6d656469610a736bULL, 0x7061636572000004ULL};

int msock_handle_new(napi_env env,
                     void* data,
                     napi_finalize finalize,
                     const napi_type_tag* tag,
                     napi_value* out) {
  NAPI_CALL_INT(env, napi_create_external(env, data, finalize, NULL, out));
  if (napi_type_tag_object(env, *out, tag) != napi_ok) {
    msock_throw_napi(env);
    return -2;
  }
  return 0;
}

void* msock_arg_handle(napi_env env,
                       napi_value v,
                       const napi_type_tag* tag,
                       const char* key,
                       const char* expected) {
  napi_valuetype t;
  bool ok = false;
  void* data = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) {
    msock_throw_napi(env);
    return NULL;
  }
  if (t == napi_external && napi_check_object_type_tag(env, v, tag, &ok) != napi_ok) {
    msock_throw_napi(env);
    return NULL;
  }
  if (!ok) {
    msock_throw_invalid(env, key, v, expected);
    return NULL;
  }
  if (napi_get_value_external(env, v, &data) != napi_ok) {
    msock_throw_napi(env);
    return NULL;
  }
  if (data == NULL) msock_throw_invalid(env, key, v, expected);
  return data;
}
