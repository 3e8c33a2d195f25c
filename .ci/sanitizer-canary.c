/*
 * A deliberately broken shared object that .ci/sanitizers.sh loads into Node
 * before the real run: if its heap overflow (or signed overflow) is not
 * reported, the sanitizer set-up is blind and a clean run would prove nothing.
 * The bug runs in a constructor, so process.dlopen triggers it without N-API.
 */
#include <stdlib.h>
#include <string.h>

volatile int canary_sink;

__attribute__((constructor)) static void misbehave(void) {
#if defined(CANARY_ADDRESS)
  char *buffer = malloc(8);
  memset(buffer, 0, 9); /* one byte past the end: heap-buffer-overflow */
  canary_sink = buffer[0];
  free(buffer);
#elif defined(CANARY_UNDEFINED)
  volatile int largest = 2147483647;
  canary_sink = largest + 1; /* signed integer overflow */
#else
#error "build with -DCANARY_ADDRESS or -DCANARY_UNDEFINED"
#endif
}
