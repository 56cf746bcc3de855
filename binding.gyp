{
  # The optional native addon of mediasock (C, N-API 8). Built by `npm run build:native`
  # (scripts/build-native.mjs); shipped prebuilt by `npm run prebuilds` (prebuildify --napi --strip).
  # Sits at the repository root so node-gyp-build finds build/Release from the package root.
  "targets": [
    {
      "target_name": "mediasock",
      "sources": [
        "native/src/addon.c",
        "native/src/napi-args.c",
        "native/src/socket.c",
        "native/src/cmsg.c",
        "native/src/batch.c",
        "native/src/dtls.c",
        "native/src/pacer.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-pthread"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-std=gnu11", "-Wall", "-Wextra"]
      }
    }
  ]
}
