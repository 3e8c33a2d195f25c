{
  "targets": [
    {
      "target_name": "minimal",
      "sources": ["minimal.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
