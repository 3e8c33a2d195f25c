/*
 * The least an addon can do to configure keepalive from Node: one N-API
 * function, apply(fd, idleSeconds, intervalSeconds, count, userTimeoutMs),
 * making the same setsockopt calls as tcp-keepalive's addon in the same order
 * (tuning first, SO_KEEPALIVE last; a negative value is left unchanged), and
 * nothing else: no validation beyond reading five int32s, no ownership check,
 * no policy kept. bench/benchmarks/first-configure.js times it against
 * configureKeepalive on fresh sockets. Built by node-gyp into .bench-tmp at
 * bench time; never shipped.
 *
 * tcpInfo(fd) is the least an addon can do to read TCP_INFO: one getsockopt
 * into a struct on the C stack, nothing decoded, nothing returned (undefined).
 * bench/benchmarks/health.js shows it beside tcpInfo(socket): the part of the
 * TCP_INFO floor ratio that is the N-API call itself.
 *
 * measured(callback) only calls callback(): run under
 * `valgrind --tool=callgrind --toggle-collect=tcpka_bench_measured`, callgrind
 * counts the instructions inside it and nothing else (not the connects that
 * made the sockets), which is how bench/benchmarks/instructions.js counts the
 * first configure of fresh sockets.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <string.h>
#include <sys/socket.h>

static int set_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

static napi_value Apply(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t fd, idle, interval, count, user_timeout;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &idle) != napi_ok ||
      napi_get_value_int32(env, argv[2], &interval) != napi_ok ||
      napi_get_value_int32(env, argv[3], &count) != napi_ok ||
      napi_get_value_int32(env, argv[4], &user_timeout) != napi_ok) {
    napi_throw_type_error(env, NULL, "apply(fd, idleSeconds, intervalSeconds, count, userTimeoutMs): five integers");
    return NULL;
  }
  if ((idle >= 0 && set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle) != 0) ||
      (interval >= 0 && set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, interval) != 0) ||
      (count >= 0 && set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, count) != 0) ||
      (user_timeout >= 0 && set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, user_timeout) != 0) ||
      set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1) != 0) {
    napi_throw_error(env, NULL, strerror(errno));
  }
  return NULL;
}

static napi_value TcpInfo(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  struct tcp_info tcp;
  socklen_t length = sizeof tcp;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "tcpInfo(fd): an integer");
    return NULL;
  }
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &tcp, &length) != 0) napi_throw_error(env, NULL, strerror(errno));
  return NULL;
}

/* Not static, and not inlined: callgrind's --toggle-collect finds it by this name. */
__attribute__((noinline)) napi_value tcpka_bench_measured(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value callback, receiver, result;
  if (napi_get_cb_info(env, info, &argc, &callback, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_undefined(env, &receiver) != napi_ok)
    return NULL;
  napi_call_function(env, receiver, callback, 0, NULL, &result);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value apply, tcp_info, measured;
  if (napi_create_function(env, "apply", NAPI_AUTO_LENGTH, Apply, NULL, &apply) != napi_ok ||
      napi_set_named_property(env, exports, "apply", apply) != napi_ok ||
      napi_create_function(env, "tcpInfo", NAPI_AUTO_LENGTH, TcpInfo, NULL, &tcp_info) != napi_ok ||
      napi_set_named_property(env, exports, "tcpInfo", tcp_info) != napi_ok ||
      napi_create_function(env, "measured", NAPI_AUTO_LENGTH, tcpka_bench_measured, NULL, &measured) != napi_ok ||
      napi_set_named_property(env, exports, "measured", measured) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
