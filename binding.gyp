{
  "targets": [
    {
      "target_name": "tcp_keepalive",
      "sources": ["native/binding.cc", "native/tcp_info_names.c"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_ENABLE_MAYBE",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "TCPKA_SOURCE_HASH=<!(node native/source-hash.js)"
      ],
      "cflags": ["-Wall", "-Wextra"],
      "cflags_cc": ["-Wall", "-Wextra"],
      "conditions": [
        ["OS=='win'", { "sources": ["native/keepalive_win32.c"] }, { "sources": ["native/keepalive_posix.c", "native/tcp_info.c", "native/process_fd.c"] }],
        ["OS=='mac'", { "xcode_settings": { "MACOSX_DEPLOYMENT_TARGET": "11.0" } }]
      ]
    }
  ]
}
