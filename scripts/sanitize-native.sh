#!/usr/bin/env bash
# Builds the native addon with AddressSanitizer + UndefinedBehaviorSanitizer into a separate
# directory (.tmp/sanitize; build/Release, which the rest of the suite uses, is left alone) and
# runs the native and option tests against that build. Fails on any sanitizer report.
#
# Usage: scripts/sanitize-native.sh            (from anywhere; needs gcc with libasan/libubsan)
# Env:   SANITIZE_TESTS="test/x.test.ts ..."   to run other test files under the sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/.tmp/sanitize

cc=${CC:-gcc}
libasan=$("$cc" -print-file-name=libasan.so)
if [ ! -e "$libasan" ] || [ "$libasan" = libasan.so ]; then
  echo "sanitize-native: $cc has no libasan.so; install gcc's sanitizer runtime" >&2
  exit 1
fi

node_gyp=${npm_config_node_gyp:-}
if [ -z "$node_gyp" ]; then
  prefix=$(dirname "$(dirname "$(command -v node)")")
  for c in "$prefix/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js" \
           /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js; do
    if [ -f "$c" ]; then node_gyp=$c; break; fi
  done
fi
[ -n "$node_gyp" ] || { echo "sanitize-native: node-gyp (bundled with npm) not found" >&2; exit 1; }
nodedir=${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}
[ -f "$nodedir/include/node/node_api.h" ] || nodedir=/usr

echo "=== sanitize-native: building with -fsanitize=address,undefined in $out"
rm -rf "$out"
mkdir -p "$out"
cp binding.gyp "$out/"
cp -r native "$out/"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
(
  cd "$out"
  CC="$cc" CFLAGS="$san -Werror" LDFLAGS="$san" \
    node "$node_gyp" rebuild --nodedir="$nodedir" --loglevel=warn
)
addon=$out/build/Release/mediasock.node
[ -f "$addon" ] || { echo "sanitize-native: build produced no $addon" >&2; exit 1; }

tests=${SANITIZE_TESTS:-"test/options.test.ts $(ls test/native/*.test.ts | tr '\n' ' ') test/rist/dtls.test.ts test/rist/dtls-interop.test.ts test/udp/udp-socket.test.ts test/udp/batch-engine.test.ts"}
log=$out/test.log
echo "=== sanitize-native: running $tests"
set +e
# detect_leaks=0: Node itself leaks at exit. Every UBSan finding aborts (halt_on_error).
# shellcheck disable=SC2086
MEDIASOCK_NATIVE_PATH=$addon \
LD_PRELOAD=$libasan \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_odr_violation=0 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  node --import tsx --test --test-concurrency=1 --test-timeout=120000 $tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

if grep -qE 'ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$log"; then
  echo "sanitize-native: sanitizer reports found (see $log)" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "sanitize-native: tests failed under the sanitizers (exit $status)" >&2
  exit "$status"
fi
# The suite must really have used the sanitized build, not skipped everything.
if ! grep -qE '^# pass [1-9]' "$log" || grep -qE 'native addon not loaded' "$log"; then
  echo "sanitize-native: the sanitized addon was not loaded by the tests" >&2
  exit 1
fi
echo "=== sanitize-native: clean"
