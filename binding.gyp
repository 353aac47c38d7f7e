{
  "targets": [{
    "target_name": "hugespan",
    "sources": [
      "native/addon.cc",
      "native/errors.cc",
      "native/args.cc",
      "native/mapping.cc",
      "native/smaps.cc",
      "native/smaps_napi.cc",
      "native/pagemap.cc",
      "native/pageflags.cc",
      "native/host.cc",
      "native/io.cc",
      "native/process.cc",
      "native/bloat.cc"
    ],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fexceptions"],
    "conditions": [
      ["OS!='linux'", { "type": "none" }],
      ["'<!(echo $HUGESPAN_SANITIZE)'=='1'", {
        "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-O1", "-g"],
        "ldflags": ["-fsanitize=address,undefined"]
      }]
    ]
  }]
}
