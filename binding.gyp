{
  "targets": [
    {
      "target_name": "nasnet",
      "sources": ["<!@(node scripts/gyp-sources.cjs core addon cpu_fallback)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NASNET_VERSION=\"<!(node -p \"require('./package.json').version\")\""
      ],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "ldflags": ["-fopenmp", "-Wl,-z,nodelete"],
      "libraries": ["-ldl"]
    }
  ]
}
