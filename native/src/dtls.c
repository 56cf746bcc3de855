/*
 * DTLS 1.2 over a datagram socket that JS owns, with the OpenSSL that Node itself ships.
 *
 * The addon links against no OpenSSL: Node's binary exports the OpenSSL 3 symbols and node-gyp
 * puts Node's own OpenSSL headers on the include path, so every SSL_* call below resolves to the
 * OpenSSL inside the running node process when the addon is loaded. No file descriptor ever enters
 * OpenSSL: each connection has one in-memory datagram BIO (msock__dgram_bio) that
 *   - on read, hands OpenSSL the single datagram JS fed in (then says "retry": nothing more);
 *   - on write, keeps every BIO_write as one outgoing datagram, exactly as a UDP BIO would send
 *     it, so JS sends each flight record-for-datagram as OpenSSL laid it out for the MTU.
 * The MTU is set, never queried (SSL_OP_NO_QUERY_MTU + SSL_set_mtu): it is the largest UDP
 * payload the path carries. Retransmission timers are OpenSSL's own (DTLSv1_get_timeout /
 * DTLSv1_handle_timeout, initial value set with DTLS_set_timer_cb); JS arms a setTimeout.
 *
 * Server side, HelloVerifyRequest: DTLSv1_listen with a cookie that is an HMAC-SHA256, under a
 * per-context random secret, of the source address JS names for the datagram. A spoofed first
 * datagram thus costs one stateless reply and creates no SSL state in JS or here.
 *
 * Versions: DTLS 1.2 only (min = max = DTLS1_2_VERSION). The OpenSSL 3.x that Node 20 to 24 ship
 * (3.0 .. 3.5) has no DTLS 1.3; DTLS 1.0 is obsolete (RFC 8996) and not offered.
 *
 * Errors: every failure throws an Error carrying { dtlsReason, openssl (ERR_error_string_n of each
 * queued error, joined), alert?, verifyResult? } (turned into DtlsError / MessageTooLargeError by
 * src/native/index.ts), or { argument, expected, value } for malformed input (InvalidArgumentError).
 * The OpenSSL error queue is shared with Node's crypto on this thread: it is cleared before and
 * after each call here. Nothing here asserts on input.
 *
 * Lifetime: a context and a connection are JS externals, type-tagged (msock_tag_dtls_context,
 * msock_tag_dtls_connection: any other handle throws a TypeError), with finalizers, plus an
 * explicit free. The context's C state is reference counted (the context external holds one
 * reference, each live connection one), so callbacks never see a freed context.
 */
#include "msock.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSOCK__DTLS_MAX_RECORD 16384
#define MSOCK__DTLS_MAX_QUEUED 256      /* outgoing datagrams kept between two takes */
#define MSOCK__DTLS_MAX_READS 64        /* SSL_read calls per fed datagram */
#define MSOCK__DTLS_MAX_TIMER_US 60000000u

/* ---- live object accounting (tests check it returns to its baseline) ---------------------- */

static int msock__dtls_live_contexts;
static int msock__dtls_live_connections;

static void msock__count(int* counter, int delta) {
  __atomic_add_fetch(counter, delta, __ATOMIC_RELAXED);
}

/* ---- state -------------------------------------------------------------------------------- */

typedef struct msock__dtls_ctx_s {
  SSL_CTX* ctx;
  int refs;
  int server;
  int has_ca;
  int has_fingerprint;
  unsigned char fingerprint[32];
  unsigned char cookie_secret[32];
  char* psk_identity;
  unsigned char psk[PSK_MAX_PSK_LEN];
  unsigned int psk_len;
  unsigned int retransmit_initial_us;
} msock__dtls_ctx_t;

typedef struct msock__dgram_s {
  struct msock__dgram_s* next;
  size_t len;
  unsigned char data[];
} msock__dgram_t;

typedef struct msock__dtls_conn_s {
  SSL* ssl;
  msock__dtls_ctx_t* ctx;
  const unsigned char* in; /* the datagram being fed, owned by JS for the duration of one call */
  size_t in_len;
  msock__dgram_t* out_head;
  msock__dgram_t* out_tail;
  size_t out_count;
  int out_overflow;
  char peer[128];
  const char* alert_received;
  const char* alert_sent;
  int fingerprint_mismatch;
  /* SSL_read's destination, one per connection (not one allocation per datagram). */
  unsigned char record[MSOCK__DTLS_MAX_RECORD];
} msock__dtls_conn_t;

/* ---- JS errors ---------------------------------------------------------------------------- */

/* Drains the OpenSSL error queue into buf ("" when empty), joined with "; ". */
static void msock__dtls_drain_errors(char* buf, size_t size) {
  unsigned long e;
  size_t used = 0;
  buf[0] = '\0';
  while ((e = ERR_get_error()) != 0) {
    char one[256];
    int n;
    ERR_error_string_n(e, one, sizeof(one));
    if (used + 3 >= size) continue;
    n = snprintf(buf + used, size - used, "%s%s", used > 0 ? "; " : "", one);
    if (n > 0) used += (size_t)n < size - used ? (size_t)n : size - used - 1;
  }
}

/*
 * Throws Error { dtlsReason, openssl, alert?, verifyResult? }: `what` says what was attempted,
 * the OpenSSL error queue is drained into the message. conn may be NULL.
 */
static void msock__dtls_throw(napi_env env,
                              const char* reason,
                              const char* what,
                              msock__dtls_conn_t* conn,
                              const char* verify_result) {
  char openssl[768];
  char message[1280];
  char alert[96] = "";
  napi_value msg, error;
  msock__dtls_drain_errors(openssl, sizeof(openssl));
  if (conn != NULL && conn->alert_received != NULL)
    snprintf(alert, sizeof(alert), "received %s", conn->alert_received);
  else if (conn != NULL && conn->alert_sent != NULL)
    snprintf(alert, sizeof(alert), "sent %s", conn->alert_sent);
  snprintf(message, sizeof(message), "%s%s%s%s%s%s", what,
           verify_result != NULL ? ": certificate verification failed: " : "",
           verify_result != NULL ? verify_result : "", alert[0] != '\0' ? " (alert " : "",
           alert, alert[0] != '\0' ? ")" : "");
  if (openssl[0] != '\0') {
    size_t len = strlen(message);
    snprintf(message + len, sizeof(message) - len, " [OpenSSL: %s]", openssl);
  }
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(env, NULL, msg, &error) != napi_ok) {
    msock_throw_napi(env);
    return;
  }
  if (msock_set_str(env, error, "dtlsReason", reason) != 0 ||
      msock_set_str(env, error, "openssl", openssl) != 0)
    return;
  if (alert[0] != '\0' && msock_set_str(env, error, "alert", alert) != 0) return;
  if (verify_result != NULL && msock_set_str(env, error, "verifyResult", verify_result) != 0)
    return;
  if (napi_throw(env, error) != napi_ok) msock_throw_napi(env);
}

/* ---- handles ------------------------------------------------------------------------------ */

/* A live connection (not freed); NULL with an exception pending otherwise. */
static msock__dtls_conn_t* msock__dtls_conn_arg(napi_env env, napi_value v) {
  msock__dtls_conn_t* conn = msock_arg_handle(env, v, &msock_tag_dtls_connection, "connection",
                                              "must be a DTLS connection handle");
  if (conn == NULL) return NULL;
  if (conn->ssl == NULL) {
    msock__dtls_throw(env, "state", "the DTLS connection was freed", NULL, NULL);
    return NULL;
  }
  return conn;
}

/* ---- the datagram BIO --------------------------------------------------------------------- */

static BIO_METHOD* msock__dgram_method;
static pthread_once_t msock__dgram_once = PTHREAD_ONCE_INIT;

static void msock__out_clear(msock__dtls_conn_t* conn) {
  msock__dgram_t* d = conn->out_head;
  while (d != NULL) {
    msock__dgram_t* next = d->next;
    free(d);
    d = next;
  }
  conn->out_head = conn->out_tail = NULL;
  conn->out_count = 0;
}

static int msock__dgram_write(BIO* bio, const char* data, int len) {
  msock__dtls_conn_t* conn = BIO_get_data(bio);
  msock__dgram_t* d;
  BIO_clear_retry_flags(bio);
  if (conn == NULL || len < 0) return -1;
  if (conn->out_count >= MSOCK__DTLS_MAX_QUEUED) {
    conn->out_overflow = 1;
    return -1;
  }
  d = malloc(sizeof(*d) + (size_t)len);
  if (d == NULL) return -1;
  d->next = NULL;
  d->len = (size_t)len;
  if (len > 0) memcpy(d->data, data, (size_t)len);
  if (conn->out_tail != NULL)
    conn->out_tail->next = d;
  else
    conn->out_head = d;
  conn->out_tail = d;
  conn->out_count++;
  return len;
}

static int msock__dgram_read(BIO* bio, char* buf, int size) {
  msock__dtls_conn_t* conn = BIO_get_data(bio);
  size_t n;
  BIO_clear_retry_flags(bio);
  if (conn == NULL || conn->in == NULL) {
    BIO_set_retry_read(bio);
    return -1;
  }
  if (size < 0) return -1;
  /* A datagram longer than OpenSSL's buffer is truncated, as recvfrom would truncate it. */
  n = conn->in_len < (size_t)size ? conn->in_len : (size_t)size;
  if (n > 0) memcpy(buf, conn->in, n);
  conn->in = NULL;
  conn->in_len = 0;
  return (int)n;
}

static int msock__dgram_puts(BIO* bio, const char* str) {
  return msock__dgram_write(bio, str, (int)strlen(str));
}

static long msock__dgram_ctrl(BIO* bio, int cmd, long num, void* ptr) {
  msock__dtls_conn_t* conn = BIO_get_data(bio);
  (void)num;
  (void)ptr;
  switch (cmd) {
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
      return 1;
    case BIO_CTRL_PENDING:
      return conn != NULL && conn->in != NULL ? (long)conn->in_len : 0;
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_DGRAM_QUERY_MTU:       /* never asked: SSL_OP_NO_QUERY_MTU */
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD: /* the MTU set is already the UDP payload size */
    case BIO_CTRL_DGRAM_MTU_EXCEEDED:
    case BIO_CTRL_DGRAM_GET_PEER:        /* JS knows the peer; cookies bind conn->peer */
    default:
      return 0;
  }
}

static int msock__dgram_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

static int msock__dgram_destroy(BIO* bio) {
  if (bio == NULL) return 0;
  BIO_set_data(bio, NULL);
  BIO_set_init(bio, 0);
  return 1;
}

static void msock__dgram_method_init(void) {
  BIO_METHOD* m =
      BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mediasock datagram");
  if (m == NULL) return;
  if (!BIO_meth_set_write(m, msock__dgram_write) || !BIO_meth_set_read(m, msock__dgram_read) ||
      !BIO_meth_set_puts(m, msock__dgram_puts) || !BIO_meth_set_ctrl(m, msock__dgram_ctrl) ||
      !BIO_meth_set_create(m, msock__dgram_create) ||
      !BIO_meth_set_destroy(m, msock__dgram_destroy)) {
    BIO_meth_free(m);
    return;
  }
  /* Lives as long as the process: one method shared by every environment (worker). */
  msock__dgram_method = m;
}

/* ---- context ------------------------------------------------------------------------------ */

static void msock__ctx_unref(msock__dtls_ctx_t* c) {
  if (c == NULL || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  /* Counted from SSL_CTX_new on: a configuration rejected before it was never counted. */
  if (c->ctx != NULL) {
    SSL_CTX_free(c->ctx);
    msock__count(&msock__dtls_live_contexts, -1);
  }
  OPENSSL_cleanse(c->psk, sizeof(c->psk));
  OPENSSL_cleanse(c->cookie_secret, sizeof(c->cookie_secret));
  if (c->psk_identity != NULL) {
    OPENSSL_cleanse(c->psk_identity, strlen(c->psk_identity));
    free(c->psk_identity);
  }
  free(c);
}

static msock__dtls_ctx_t* msock__ctx_of(SSL* ssl) {
  return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

/* Fingerprint pinning replaces the CA chain unless a CA was given too (then both must hold). */
static int msock__verify_cb(int ok, X509_STORE_CTX* store) {
  SSL* ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
  msock__dtls_conn_t* conn;
  msock__dtls_ctx_t* c;
  X509* cert;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (ssl == NULL) return ok;
  conn = SSL_get_app_data(ssl);
  c = msock__ctx_of(ssl);
  if (c == NULL || conn == NULL || !c->has_fingerprint) return ok;
  if (X509_STORE_CTX_get_error_depth(store) > 0) {
    if (c->has_ca) return ok;
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  cert = X509_STORE_CTX_get_current_cert(store);
  if (cert == NULL || !X509_digest(cert, EVP_sha256(), md, &n) || n != 32 ||
      CRYPTO_memcmp(md, c->fingerprint, 32) != 0) {
    conn->fingerprint_mismatch = 1;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  if (c->has_ca) return ok;
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}

static int msock__cookie_hmac(SSL* ssl, unsigned char* out, unsigned int* len) {
  msock__dtls_conn_t* conn = SSL_get_app_data(ssl);
  msock__dtls_ctx_t* c = msock__ctx_of(ssl);
  if (conn == NULL || c == NULL) return 0;
  return HMAC(EVP_sha256(), c->cookie_secret, (int)sizeof(c->cookie_secret),
              (const unsigned char*)conn->peer, strlen(conn->peer), out, len) != NULL;
}

static int msock__cookie_generate(SSL* ssl, unsigned char* cookie, unsigned int* len) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!msock__cookie_hmac(ssl, md, &n) || n > DTLS1_COOKIE_LENGTH) return 0;
  memcpy(cookie, md, n);
  *len = n;
  return 1;
}

static int msock__cookie_verify(SSL* ssl, const unsigned char* cookie, unsigned int len) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!msock__cookie_hmac(ssl, md, &n)) return 0;
  return len == n && CRYPTO_memcmp(md, cookie, n) == 0;
}

static unsigned int msock__psk_client(SSL* ssl,
                                      const char* hint,
                                      char* identity,
                                      unsigned int max_identity_len,
                                      unsigned char* psk,
                                      unsigned int max_psk_len) {
  msock__dtls_ctx_t* c = msock__ctx_of(ssl);
  size_t id_len;
  (void)hint;
  if (c == NULL || c->psk_identity == NULL) return 0;
  id_len = strlen(c->psk_identity);
  if (id_len + 1 > max_identity_len || c->psk_len > max_psk_len) return 0;
  memcpy(identity, c->psk_identity, id_len + 1);
  memcpy(psk, c->psk, c->psk_len);
  return c->psk_len;
}

static unsigned int msock__psk_server(SSL* ssl,
                                      const char* identity,
                                      unsigned char* psk,
                                      unsigned int max_psk_len) {
  msock__dtls_ctx_t* c = msock__ctx_of(ssl);
  if (c == NULL || c->psk_identity == NULL || identity == NULL) return 0;
  if (strcmp(identity, c->psk_identity) != 0 || c->psk_len > max_psk_len) return 0;
  memcpy(psk, c->psk, c->psk_len);
  return c->psk_len;
}

static void msock__ctx_finalize(napi_env env, void* data, void* hint) {
  msock__dtls_ctx_t** slot = data;
  (void)env;
  (void)hint;
  if (slot == NULL) return;
  msock__ctx_unref(*slot);
  free(slot);
}

/* Loads every PEM certificate of `pem`: the first is ours, the rest its chain. */
static int msock__load_cert_chain(SSL_CTX* ctx, const char* pem) {
  BIO* bio = BIO_new_mem_buf(pem, -1);
  X509* x;
  int first = 1, ok = 0;
  if (bio == NULL) return 0;
  while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    if (first) {
      ok = SSL_CTX_use_certificate(ctx, x);
      X509_free(x);
      if (!ok) goto done;
      first = 0;
    } else if (!SSL_CTX_add0_chain_cert(ctx, x)) {
      X509_free(x);
      ok = 0;
      goto done;
    }
  }
  /* The loop ends on PEM_R_NO_START_LINE: expected after the last certificate. */
  if (!first && ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE) ERR_clear_error();
  if (first) ok = 0;
done:
  BIO_free(bio);
  return ok;
}

static int msock__load_key(SSL_CTX* ctx, const char* pem) {
  BIO* bio = BIO_new_mem_buf(pem, -1);
  EVP_PKEY* key;
  int ok;
  if (bio == NULL) return 0;
  key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (key == NULL) return 0;
  ok = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  return ok && SSL_CTX_check_private_key(ctx);
}

static int msock__load_ca(SSL_CTX* ctx, const char* pem, int server) {
  BIO* bio = BIO_new_mem_buf(pem, -1);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  X509* x;
  int count = 0;
  if (bio == NULL || store == NULL) {
    BIO_free(bio);
    return 0;
  }
  while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    int ok = X509_STORE_add_cert(store, x);
    if (ok && server) ok = SSL_CTX_add_client_CA(ctx, x);
    X509_free(x);
    if (!ok) {
      BIO_free(bio);
      return 0;
    }
    count++;
  }
  BIO_free(bio);
  if (count > 0 && ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE) ERR_clear_error();
  return count > 0;
}

/*
 * msock_dtls_context({ role, cert?, key?, ca?, verifyPeer?, fingerprint?, pskIdentity?, psk?,
 *   ciphers?, retransmitInitialMs? }) -> external
 */
static napi_value msock_dtls_context(napi_env env, napi_callback_info info) {
  napi_value argv[1], v, result = NULL;
  msock__dtls_ctx_t* c = NULL;
  msock__dtls_ctx_t** slot = NULL;
  char *role = NULL, *cert = NULL, *key = NULL, *ca = NULL, *ciphers = NULL;
  const char* failed = NULL;
  int verify_peer = 0, rc, retransmit_ms = 1000;

  ERR_clear_error();
  if (msock_args(env, info, 1, argv) != 0) return NULL;
  if (msock_arg_object(env, argv[0], "options") != 0) return NULL;
  /* Unconditionally: pthread_once is what orders the write of msock__dgram_method (made by
   * whichever thread came first) before this read, across worker threads. */
  if (pthread_once(&msock__dgram_once, msock__dgram_method_init) != 0 ||
      msock__dgram_method == NULL) {
    msock__dtls_throw(env, "config", "cannot create the datagram BIO method", NULL, NULL);
    return NULL;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL) {
    msock_throw_errno(env, ENOMEM, "malloc", NULL, NULL, -1);
    return NULL;
  }
  c->refs = 1;

  rc = msock_opt_string_dup(env, argv[0], "role", &role);
  if (rc < 0) goto fail;
  if (rc == 0) {
    msock_throw_invalid(env, "role", NULL, "must be 'client' or 'server'");
    goto fail;
  }
  if (strcmp(role, "server") == 0)
    c->server = 1;
  else if (strcmp(role, "client") != 0) {
    msock_throw_invalid(env, "role", NULL, "must be 'client' or 'server'");
    goto fail;
  }
  if (msock_opt_string_dup(env, argv[0], "cert", &cert) < 0 ||
      msock_opt_string_dup(env, argv[0], "key", &key) < 0 ||
      msock_opt_string_dup(env, argv[0], "ca", &ca) < 0 ||
      msock_opt_string_dup(env, argv[0], "ciphers", &ciphers) < 0 ||
      msock_opt_string_dup(env, argv[0], "pskIdentity", &c->psk_identity) < 0 ||
      msock_opt_bool(env, argv[0], "verifyPeer", &verify_peer) < 0 ||
      msock_opt_int(env, argv[0], "retransmitInitialMs", 1, 60000, &retransmit_ms) < 0)
    goto fail;
  c->retransmit_initial_us = (unsigned int)retransmit_ms * 1000u;
  if ((cert == NULL) != (key == NULL)) {
    msock_throw_invalid(env, cert == NULL ? "cert" : "key", NULL,
                              "must be given together with the other (PEM certificate + key)");
    goto fail;
  }
  rc = msock_arg_prop(env, argv[0], "fingerprint", &v);
  if (rc < 0) goto fail;
  if (rc > 0) {
    uint8_t* fp;
    size_t fp_len;
    if (msock_arg_bytes(env, v, "fingerprint", &fp, &fp_len) != 0) goto fail;
    if (fp_len != 32) {
      msock_throw_invalid(env, "fingerprint", v, "must be a SHA-256 digest (32 bytes)");
      goto fail;
    }
    memcpy(c->fingerprint, fp, 32);
    c->has_fingerprint = 1;
  }
  rc = msock_arg_prop(env, argv[0], "psk", &v);
  if (rc < 0) goto fail;
  if (rc > 0) {
    uint8_t* psk;
    size_t psk_len;
    if (msock_arg_bytes(env, v, "psk", &psk, &psk_len) != 0) goto fail;
    if (psk_len == 0 || psk_len > PSK_MAX_PSK_LEN) {
      msock_throw_invalid(env, "psk", v, "must be 1..256 bytes");
      goto fail;
    }
    memcpy(c->psk, psk, psk_len);
    c->psk_len = (unsigned int)psk_len;
  }
  if ((c->psk_len > 0) != (c->psk_identity != NULL)) {
    msock_throw_invalid(env, "pskIdentity", NULL, "must be given together with psk");
    goto fail;
  }
  if (c->psk_identity != NULL && strlen(c->psk_identity) > PSK_MAX_IDENTITY_LEN) {
    msock_throw_invalid(env, "pskIdentity", NULL, "must be at most 128 bytes");
    goto fail;
  }

  c->ctx = SSL_CTX_new(DTLS_method());
  if (c->ctx == NULL) {
    failed = "SSL_CTX_new(DTLS_method()) failed";
    goto ssl_fail;
  }
  msock__count(&msock__dtls_live_contexts, 1);
  if (!SSL_CTX_set_app_data(c->ctx, c) ||
      !SSL_CTX_set_min_proto_version(c->ctx, DTLS1_2_VERSION) ||
      !SSL_CTX_set_max_proto_version(c->ctx, DTLS1_2_VERSION)) {
    failed = "cannot restrict the context to DTLS 1.2";
    goto ssl_fail;
  }
  SSL_CTX_set_options(c->ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_RENEGOTIATION);
  if (ciphers != NULL && !SSL_CTX_set_cipher_list(c->ctx, ciphers)) {
    failed = "the cipher list selects no cipher (SSL_CTX_set_cipher_list)";
    goto ssl_fail;
  }
  if (cert != NULL && !msock__load_cert_chain(c->ctx, cert)) {
    failed = "cannot load the PEM certificate";
    goto ssl_fail;
  }
  if (key != NULL && !msock__load_key(c->ctx, key)) {
    failed = "cannot load the PEM private key, or it does not match the certificate";
    goto ssl_fail;
  }
  if (ca != NULL) {
    if (!msock__load_ca(c->ctx, ca, c->server)) {
      failed = "cannot load the PEM CA certificates";
      goto ssl_fail;
    }
    c->has_ca = 1;
  }
  if (c->psk_len > 0) {
    if (c->server)
      SSL_CTX_set_psk_server_callback(c->ctx, msock__psk_server);
    else
      SSL_CTX_set_psk_client_callback(c->ctx, msock__psk_client);
  }
  if (c->server) {
    if (RAND_bytes(c->cookie_secret, (int)sizeof(c->cookie_secret)) != 1) {
      failed = "RAND_bytes for the cookie secret failed";
      goto ssl_fail;
    }
    SSL_CTX_set_cookie_generate_cb(c->ctx, msock__cookie_generate);
    SSL_CTX_set_cookie_verify_cb(c->ctx, msock__cookie_verify);
    SSL_CTX_set_verify(c->ctx,
                       verify_peer || c->has_fingerprint
                           ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                           : SSL_VERIFY_NONE,
                       msock__verify_cb);
  } else {
    SSL_CTX_set_verify(c->ctx,
                       verify_peer || c->has_fingerprint ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       msock__verify_cb);
  }

  slot = malloc(sizeof(*slot));
  if (slot == NULL) {
    msock_throw_errno(env, ENOMEM, "malloc", NULL, NULL, -1);
    goto fail;
  }
  *slot = c;
  rc = msock_handle_new(env, slot, msock__ctx_finalize, &msock_tag_dtls_context, &result);
  if (rc == -1) {
    free(slot);
    goto fail;
  }
  /* From here the finalizer owns slot and c. */
  c = NULL;
  if (rc != 0) result = NULL;
  goto done;

ssl_fail:
  msock__dtls_throw(env, "config", failed, NULL, NULL);
fail:
  msock__ctx_unref(c);
  result = NULL;
done:
  free(role);
  if (key != NULL) {
    OPENSSL_cleanse(key, strlen(key));
    free(key);
  }
  free(cert);
  free(ca);
  free(ciphers);
  ERR_clear_error();
  return result;
}

/* msock_dtls_context_free(context): drops the context's own reference; connections keep theirs. */
static napi_value msock_dtls_context_free(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  msock__dtls_ctx_t** slot;
  if (msock_args(env, info, 1, argv) != 0) return NULL;
  slot = msock_arg_handle(env, argv[0], &msock_tag_dtls_context, "context",
                          "must be a DTLS context handle");
  if (slot == NULL) return NULL;
  msock__ctx_unref(*slot);
  *slot = NULL;
  return NULL;
}

/* ---- connection --------------------------------------------------------------------------- */

static void msock__conn_release(msock__dtls_conn_t* conn) {
  if (conn->ssl != NULL) {
    SSL_free(conn->ssl); /* frees the BIO too */
    conn->ssl = NULL;
    msock__count(&msock__dtls_live_connections, -1);
  }
  msock__out_clear(conn);
  conn->in = NULL;
  conn->in_len = 0;
  msock__ctx_unref(conn->ctx);
  conn->ctx = NULL;
}

static void msock__conn_finalize(napi_env env, void* data, void* hint) {
  msock__dtls_conn_t* conn = data;
  (void)env;
  (void)hint;
  if (conn == NULL) return;
  msock__conn_release(conn);
  free(conn);
}

static unsigned int msock__timer_cb(SSL* ssl, unsigned int timer_us) {
  msock__dtls_ctx_t* c = msock__ctx_of(ssl);
  unsigned int initial = c != NULL ? c->retransmit_initial_us : 1000000u;
  if (timer_us == 0) return initial;
  return timer_us >= MSOCK__DTLS_MAX_TIMER_US / 2 ? MSOCK__DTLS_MAX_TIMER_US : timer_us * 2;
}

static void msock__info_cb(const SSL* ssl, int where, int ret) {
  msock__dtls_conn_t* conn = SSL_get_app_data(ssl);
  if (conn == NULL || !(where & SSL_CB_ALERT)) return;
  /* Only fatal alerts are kept: close_notify and warnings are not failures. */
  if (((ret >> 8) & 0xff) != SSL3_AL_FATAL) return;
  if (where & SSL_CB_READ)
    conn->alert_received = SSL_alert_desc_string_long(ret);
  else
    conn->alert_sent = SSL_alert_desc_string_long(ret);
}

/* msock_dtls_connection(context, { mtu, hostname? }) -> external */
static napi_value msock_dtls_connection(napi_env env, napi_callback_info info) {
  napi_value argv[2], result = NULL;
  msock__dtls_ctx_t** slot;
  msock__dtls_conn_t* conn = NULL;
  BIO* bio = NULL;
  char* hostname = NULL;
  int mtu = 1472, rc;

  ERR_clear_error();
  if (msock_args(env, info, 2, argv) != 0) return NULL;
  slot = msock_arg_handle(env, argv[0], &msock_tag_dtls_context, "context",
                          "must be a DTLS context handle");
  if (slot == NULL) return NULL;
  if (*slot == NULL) {
    msock__dtls_throw(env, "state", "the DTLS context was freed", NULL, NULL);
    return NULL;
  }
  if (msock_arg_object(env, argv[1], "options") != 0) return NULL;
  if (msock_opt_int(env, argv[1], "mtu", 256, 65507, &mtu) < 0 ||
      msock_opt_string_dup(env, argv[1], "hostname", &hostname) < 0)
    goto fail;

  conn = calloc(1, sizeof(*conn));
  if (conn == NULL) {
    msock_throw_errno(env, ENOMEM, "malloc", NULL, NULL, -1);
    goto fail;
  }
  conn->ssl = SSL_new((*slot)->ctx);
  if (conn->ssl == NULL) {
    msock__dtls_throw(env, "config", "SSL_new failed", NULL, NULL);
    goto fail;
  }
  msock__count(&msock__dtls_live_connections, 1);
  conn->ctx = *slot;
  __atomic_add_fetch(&conn->ctx->refs, 1, __ATOMIC_ACQ_REL);
  bio = BIO_new(msock__dgram_method);
  if (bio == NULL) {
    msock__dtls_throw(env, "config", "BIO_new failed", NULL, NULL);
    goto fail;
  }
  BIO_set_data(bio, conn);
  SSL_set_bio(conn->ssl, bio, bio); /* the SSL owns the BIO from here */
  SSL_set_app_data(conn->ssl, conn);
  SSL_set_options(conn->ssl, SSL_OP_NO_QUERY_MTU);
  if (!SSL_set_mtu(conn->ssl, (long)mtu)) {
    msock_throw_invalid(env, "mtu", argv[1], "is below what DTLS can work with");
    goto fail;
  }
  DTLS_set_timer_cb(conn->ssl, msock__timer_cb);
  SSL_set_info_callback(conn->ssl, msock__info_cb);
  if (conn->ctx->server) {
    SSL_set_accept_state(conn->ssl);
  } else {
    SSL_set_connect_state(conn->ssl);
    if (hostname != NULL &&
        (!SSL_set_tlsext_host_name(conn->ssl, hostname) || !SSL_set1_host(conn->ssl, hostname))) {
      msock__dtls_throw(env, "config", "cannot set the expected host name", NULL, NULL);
      goto fail;
    }
  }
  rc = msock_handle_new(env, conn, msock__conn_finalize, &msock_tag_dtls_connection, &result);
  if (rc == -1) goto fail;
  conn = NULL; /* owned by the finalizer */
  if (rc != 0) result = NULL;
  free(hostname);
  ERR_clear_error();
  return result;

fail:
  if (conn != NULL) {
    msock__conn_release(conn);
    free(conn);
  }
  free(hostname);
  ERR_clear_error();
  return NULL;
}

/* Feeds one datagram (argv[i], may be undefined/null) into the read slot. */
static int msock__feed(napi_env env, msock__dtls_conn_t* conn, napi_value v) {
  napi_valuetype t;
  uint8_t* data;
  size_t len;
  conn->in = NULL;
  conn->in_len = 0;
  NAPI_CALL_INT(env, napi_typeof(env, v, &t));
  if (t == napi_undefined || t == napi_null) return 0;
  if (msock_arg_bytes(env, v, "datagram", &data, &len) != 0) return -1;
  conn->in = data;
  conn->in_len = len;
  return 0;
}

/* Throws the error of a failed handshake step, classified. */
static void msock__throw_handshake(napi_env env, msock__dtls_conn_t* conn, const char* what) {
  long verify = SSL_get_verify_result(conn->ssl);
  if (conn->fingerprint_mismatch) {
    msock__dtls_throw(env, "fingerprint",
                      "the peer certificate's SHA-256 fingerprint is not the expected one", conn,
                      NULL);
  } else if (verify != X509_V_OK) {
    msock__dtls_throw(env, "verify", what, conn, X509_verify_cert_error_string(verify));
  } else if (conn->alert_received != NULL || conn->alert_sent != NULL) {
    msock__dtls_throw(env, "alert", what, conn, NULL);
  } else {
    msock__dtls_throw(env, "handshake", what, conn, NULL);
  }
}

/*
 * msock_dtls_listen(connection, datagram, peer) -> boolean: DTLSv1_listen on a server
 * connection. true: the datagram was a ClientHello with a valid cookie for `peer` (a string JS
 * derives from the source address); the connection continues with msock_dtls_handshake.
 * false: answered with a HelloVerifyRequest (see msock_dtls_take_output) or dropped.
 */
static napi_value msock_dtls_listen(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  msock__dtls_conn_t* conn;
  BIO_ADDR* addr;
  char* peer = NULL;
  int r;

  ERR_clear_error();
  if (msock_args(env, info, 3, argv) != 0) return NULL;
  conn = msock__dtls_conn_arg(env, argv[0]);
  if (conn == NULL) return NULL;
  if (!conn->ctx->server) {
    msock__dtls_throw(env, "state", "DTLSv1_listen needs a server connection", NULL, NULL);
    return NULL;
  }
  if (msock_arg_string_dup(env, argv[2], "peer", &peer) != 0) return NULL;
  if (strlen(peer) >= sizeof(conn->peer)) {
    free(peer);
    msock_throw_invalid(env, "peer", argv[2], "must be shorter than 128 bytes");
    return NULL;
  }
  memcpy(conn->peer, peer, strlen(peer) + 1);
  free(peer);
  if (msock__feed(env, conn, argv[1]) != 0) return NULL;
  addr = BIO_ADDR_new();
  if (addr == NULL) {
    msock__dtls_throw(env, "config", "BIO_ADDR_new failed", conn, NULL);
    return NULL;
  }
  r = DTLSv1_listen(conn->ssl, addr);
  BIO_ADDR_free(addr);
  conn->in = NULL;
  conn->in_len = 0;
  if (r < 0) {
    msock__dtls_throw(env, "handshake", "DTLSv1_listen failed", conn, NULL);
    return NULL;
  }
  ERR_clear_error();
  NAPI_CALL(env, napi_get_boolean(env, r > 0, &result));
  return result;
}

/*
 * msock_dtls_handshake(connection, datagram?) -> boolean: feeds the datagram and runs
 * SSL_do_handshake; true once the handshake is complete. Throws on a failed handshake.
 */
static napi_value msock_dtls_handshake(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  msock__dtls_conn_t* conn;
  int r, err;

  ERR_clear_error();
  if (msock_args(env, info, 2, argv) != 0) return NULL;
  conn = msock__dtls_conn_arg(env, argv[0]);
  if (conn == NULL) return NULL;
  if (msock__feed(env, conn, argv[1]) != 0) return NULL;
  r = SSL_do_handshake(conn->ssl);
  conn->in = NULL;
  conn->in_len = 0;
  if (r <= 0) {
    err = SSL_get_error(conn->ssl, r);
    if (conn->out_overflow) {
      msock__dtls_throw(env, "handshake", "too many outgoing datagrams queued", conn, NULL);
      return NULL;
    }
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      msock__throw_handshake(env, conn, "the DTLS handshake failed");
      return NULL;
    }
  }
  ERR_clear_error();
  NAPI_CALL(env, napi_get_boolean(env, r == 1, &result));
  return result;
}

/*
 * msock_dtls_read(connection, datagram) -> Buffer[] | null: feeds the datagram and returns the
 * application records it carried (possibly none: a retransmitted handshake record, a record that
 * failed its MAC and was discarded); null once the peer sent close_notify.
 */
static napi_value msock_dtls_read(napi_env env, napi_callback_info info) {
  napi_value argv[2], result = NULL, buffer;
  msock__dtls_conn_t* conn;
  uint32_t count = 0;
  int i, r, err, closed = 0;

  ERR_clear_error();
  if (msock_args(env, info, 2, argv) != 0) return NULL;
  conn = msock__dtls_conn_arg(env, argv[0]);
  if (conn == NULL) return NULL;
  if (!SSL_is_init_finished(conn->ssl)) {
    msock__dtls_throw(env, "state", "the DTLS handshake is not complete", NULL, NULL);
    return NULL;
  }
  NAPI_CALL_GOTO(env, fail, napi_create_array(env, &result));
  if (msock__feed(env, conn, argv[1]) != 0) goto fail;
  for (i = 0; i < MSOCK__DTLS_MAX_READS; i++) {
    r = SSL_read(conn->ssl, conn->record, (int)sizeof(conn->record));
    if (r > 0) {
      NAPI_CALL_GOTO(env, fail, napi_create_buffer_copy(env, (size_t)r, conn->record, NULL, &buffer));
      NAPI_CALL_GOTO(env, fail, napi_set_element(env, result, count++, buffer));
      continue;
    }
    err = SSL_get_error(conn->ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
    if (err == SSL_ERROR_ZERO_RETURN) {
      closed = 1;
      break;
    }
    conn->in = NULL;
    msock__throw_handshake(env, conn, "reading a DTLS record failed");
    goto fail;
  }
  conn->in = NULL;
  conn->in_len = 0;
  ERR_clear_error();
  if (closed && count == 0) NAPI_CALL(env, napi_get_null(env, &result));
  return result;
fail:
  conn->in = NULL;
  conn->in_len = 0;
  ERR_clear_error();
  return NULL;
}

/*
 * msock_dtls_write(connection, data) -> number: encrypts one application record (SSL_write); the
 * datagram is in msock_dtls_take_output. A record whose datagram would exceed the MTU is refused
 * with dtlsReason 'too-large' and { size, maxBytes }.
 */
static napi_value msock_dtls_write(napi_env env, napi_callback_info info) {
  napi_value argv[2], result, error;
  msock__dtls_conn_t* conn;
  uint8_t* data;
  size_t len, max;
  int r;

  ERR_clear_error();
  if (msock_args(env, info, 2, argv) != 0) return NULL;
  conn = msock__dtls_conn_arg(env, argv[0]);
  if (conn == NULL) return NULL;
  if (msock_arg_bytes(env, argv[1], "data", &data, &len) != 0) return NULL;
  if (!SSL_is_init_finished(conn->ssl)) {
    msock__dtls_throw(env, "state", "the DTLS handshake is not complete", NULL, NULL);
    return NULL;
  }
  max = DTLS_get_data_mtu(conn->ssl);
  if (len == 0 || len > max) {
    char message[160];
    napi_value msg;
    snprintf(message, sizeof(message),
             "a DTLS record of %zu bytes does not fit: at most %zu bytes of data per datagram",
             len, max);
    ERR_clear_error();
    if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
        napi_create_error(env, NULL, msg, &error) != napi_ok ||
        msock_set_str(env, error, "dtlsReason", "too-large") != 0 ||
        msock_set_num(env, error, "size", (double)len) != 0 ||
        msock_set_num(env, error, "maxBytes", (double)max) != 0) {
      msock_throw_napi(env);
      return NULL;
    }
    NAPI_CALL(env, napi_throw(env, error));
    return NULL;
  }
  r = SSL_write(conn->ssl, data, (int)len);
  if (r <= 0 || (size_t)r != len) {
    msock__throw_handshake(env, conn, "SSL_write failed");
    return NULL;
  }
  ERR_clear_error();
  NAPI_CALL(env, napi_create_uint32(env, (uint32_t)r, &result));
  return result;
}

/* msock_dtls_take_output(connection) -> Buffer[]: the datagrams to send, in order. */
static napi_value msock_dtls_take_output(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, buffer;
  msock__dtls_conn_t* conn;
  msock__dgram_t* d;
  uint32_t i = 0;

  if (msock_args(env, info, 1, argv) != 0) return NULL;
  conn = msock__dtls_conn_arg(env, argv[0]);
  if (conn == NULL) return NULL;
  NAPI_CALL(env, napi_create_array_with_length(env, conn->out_count, &result));
  for (d = conn->out_head; d != NULL; d = d->next) {
    NAPI_CALL(env, napi_create_buffer_copy(env, d->len, d->data, NULL, &buffer));
    NAPI_CALL(env, napi_set_element(env, result, i++, buffer));
  }
  msock__out_clear(conn);
  conn->out_overflow = 0;
  return result;
}

/* msock_dtls_timeout(connection) -> number: ms until DTLSv1_handle_timeout is due, -1 if none. */
static napi_value msock_dtls_timeout(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  msock__dtls_conn_t* conn;
  struct timeval tv;
  double ms = -1;

  if (msock_args(env, info, 1, argv) != 0) return NULL;
  conn = msock__dtls_conn_arg(env, argv[0]);
  if (conn == NULL) return NULL;
  if (DTLSv1_get_timeout(conn->ssl, &tv))
    ms = (double)tv.tv_sec * 1000.0 + (double)((tv.tv_usec + 999) / 1000);
  NAPI_CALL(env, napi_create_double(env, ms, &result));
  return result;
}

/*
 * msock_dtls_handle_timeout(connection) -> boolean: DTLSv1_handle_timeout; true when a flight was
 * retransmitted (see msock_dtls_take_output). Throws dtlsReason 'timeout' when OpenSSL gives up.
 */
static napi_value msock_dtls_handle_timeout(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  msock__dtls_conn_t* conn;
  int r;

  ERR_clear_error();
  if (msock_args(env, info, 1, argv) != 0) return NULL;
  conn = msock__dtls_conn_arg(env, argv[0]);
  if (conn == NULL) return NULL;
  r = DTLSv1_handle_timeout(conn->ssl);
  if (r < 0) {
    msock__dtls_throw(env, "timeout", "the DTLS peer did not answer the retransmissions", conn,
                      NULL);
    return NULL;
  }
  ERR_clear_error();
  NAPI_CALL(env, napi_get_boolean(env, r > 0, &result));
  return result;
}

/* msock_dtls_shutdown(connection): queues close_notify (SSL_shutdown); never throws on state. */
static napi_value msock_dtls_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  msock__dtls_conn_t* conn;
  ERR_clear_error();
  if (msock_args(env, info, 1, argv) != 0) return NULL;
  conn = msock__dtls_conn_arg(env, argv[0]);
  if (conn == NULL) return NULL;
  if (SSL_is_init_finished(conn->ssl)) (void)SSL_shutdown(conn->ssl);
  ERR_clear_error();
  return NULL;
}

/*
 * msock_dtls_info(connection) -> { established, version, cipher?, maxDataBytes?,
 *   peerFingerprint?, pskIdentity? }
 */
static napi_value msock_dtls_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, established;
  msock__dtls_conn_t* conn;
  X509* cert;
  const char* cipher;
  const char* identity;
  int finished;

  if (msock_args(env, info, 1, argv) != 0) return NULL;
  conn = msock__dtls_conn_arg(env, argv[0]);
  if (conn == NULL) return NULL;
  finished = SSL_is_init_finished(conn->ssl);
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_get_boolean(env, finished, &established));
  NAPI_CALL(env, napi_set_named_property(env, result, "established", established));
  if (msock_set_str(env, result, "version", SSL_get_version(conn->ssl)) != 0) return NULL;
  if (!finished) return result;
  cipher = SSL_get_cipher_name(conn->ssl);
  if (cipher != NULL && msock_set_str(env, result, "cipher", cipher) != 0) return NULL;
  if (msock_set_num(env, result, "maxDataBytes", (double)DTLS_get_data_mtu(conn->ssl)) != 0)
    return NULL;
  cert = SSL_get0_peer_certificate(conn->ssl);
  if (cert != NULL) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;
    char hex[3 * EVP_MAX_MD_SIZE + 1];
    static const char digits[] = "0123456789ABCDEF";
    if (X509_digest(cert, EVP_sha256(), md, &n) && n > 0) {
      for (i = 0; i < n; i++) {
        hex[3 * i] = digits[md[i] >> 4];
        hex[3 * i + 1] = digits[md[i] & 15];
        hex[3 * i + 2] = i + 1 < n ? ':' : '\0';
      }
      if (msock_set_str(env, result, "peerFingerprint", hex) != 0) return NULL;
    }
  }
  identity = conn->ctx->server ? SSL_get_psk_identity(conn->ssl) : conn->ctx->psk_identity;
  if (identity != NULL && SSL_get_current_cipher(conn->ssl) != NULL &&
      (SSL_CIPHER_get_auth_nid(SSL_get_current_cipher(conn->ssl)) == NID_auth_psk) &&
      msock_set_str(env, result, "pskIdentity", identity) != 0)
    return NULL;
  ERR_clear_error();
  return result;
}

/* msock_dtls_free(connection): frees the SSL and its BIO now; idempotent. */
static napi_value msock_dtls_free(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  msock__dtls_conn_t* conn;
  if (msock_args(env, info, 1, argv) != 0) return NULL;
  conn = msock_arg_handle(env, argv[0], &msock_tag_dtls_connection, "connection",
                          "must be a DTLS connection handle");
  if (conn == NULL) return NULL;
  msock__conn_release(conn);
  return NULL;
}

/* msock_dtls_live() -> { contexts, connections }: live SSL_CTX / SSL objects in this process. */
static napi_value msock_dtls_live(napi_env env, napi_callback_info info) {
  napi_value result;
  (void)info;
  NAPI_CALL(env, napi_create_object(env, &result));
  if (msock_set_num(env, result, "contexts",
                          __atomic_load_n(&msock__dtls_live_contexts, __ATOMIC_RELAXED)) != 0 ||
      msock_set_num(env, result, "connections",
                          __atomic_load_n(&msock__dtls_live_connections, __ATOMIC_RELAXED)) != 0)
    return NULL;
  return result;
}

int msock_dtls_init(napi_env env, napi_value exports) {
  napi_value version;
  static const msock_export_t fns[] = {
      {"msock_dtls_context", msock_dtls_context},
      {"msock_dtls_context_free", msock_dtls_context_free},
      {"msock_dtls_connection", msock_dtls_connection},
      {"msock_dtls_listen", msock_dtls_listen},
      {"msock_dtls_handshake", msock_dtls_handshake},
      {"msock_dtls_read", msock_dtls_read},
      {"msock_dtls_write", msock_dtls_write},
      {"msock_dtls_take_output", msock_dtls_take_output},
      {"msock_dtls_timeout", msock_dtls_timeout},
      {"msock_dtls_handle_timeout", msock_dtls_handle_timeout},
      {"msock_dtls_shutdown", msock_dtls_shutdown},
      {"msock_dtls_info", msock_dtls_info},
      {"msock_dtls_free", msock_dtls_free},
      {"msock_dtls_live", msock_dtls_live},
  };
  if (msock_export_functions(env, exports, fns, sizeof(fns) / sizeof(fns[0])) != 0) return -1;
  /* The OpenSSL the addon runs on: Node's own (OpenSSL_version of the running process). */
  NAPI_CALL_INT(env, napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION),
                                             NAPI_AUTO_LENGTH, &version));
  NAPI_CALL_INT(env, napi_set_named_property(env, exports, "dtlsOpenssl", version));
  return 0;
}
