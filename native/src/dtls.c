/*
 * DTLS over a datagram socket with the OpenSSL that Node ships. Registered on the addon's exports
 * by msock_dtls_init.
 */
#include <node_api.h>

#include "msock.h"

int msock_dtls_init(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
  return 0;
}
