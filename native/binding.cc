// The only file that knows about Node: converts JS arguments for the portable
// core (keepalive.h) and turns its failures into Node-style errors.
//
// Plain N-API (node_api.h) rather than the node-addon-api wrappers: apply()
// and read() run once per configureKeepalive / getKeepalive, next to four or
// five syscalls, and the wrapper layers (CallbackInfo, a napi_typeof before
// each napi_get_value_double, three typed-array queries for one) made up a
// third of the instructions of a call (docs/performance.md).
#include <node_api.h>

#include <string>

#include "keepalive.h"

#ifndef TCPKA_SOURCE_HASH
#error "binding.gyp defines TCPKA_SOURCE_HASH; build through node-gyp"
#endif
#define TCPKA_STRINGIFY_(x) #x
#define TCPKA_STRINGIFY(x) TCPKA_STRINGIFY_(x)

namespace {

void SetString(napi_env env, napi_value object, const char* key, const char* value) {
  napi_value string;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &string);
  napi_set_named_property(env, object, key, string);
}

// Same shape as Node's system errors: code, errno (negative, as libuv reports
// it), syscall; plus the socket option that failed.
[[gnu::noinline, gnu::cold]] void ThrowSystemError(napi_env env, const ka_error_t& failure, int fd, const char* context) {
  std::string code = ka_errno_name(failure.err);
  std::string message = std::string(context) + ": " + failure.syscall + "(" + failure.option + ") on fd " +
                        std::to_string(fd) + " failed: " + code + " (" + ka_errno_description(failure.err) + ")";
  napi_value messageValue;
  napi_value error;
  napi_value errnoValue;
  napi_create_string_utf8(env, message.c_str(), message.size(), &messageValue);
  napi_create_error(env, nullptr, messageValue, &error);
  SetString(env, error, "code", code.c_str());
  napi_create_int32(env, -failure.err, &errnoValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  SetString(env, error, "syscall", failure.syscall);
  SetString(env, error, "option", failure.option);
  napi_throw(env, error);
}

// Error paths out of line, so the checks on the hot path stay a few instructions.
[[gnu::noinline, gnu::cold]] void ThrowNotNumber(napi_env env, const char* name) {
  napi_throw_type_error(env, nullptr, (std::string(name) + " must be a number").c_str());
}

[[gnu::noinline, gnu::cold]] void ThrowNotInteger(napi_env env, const char* name, int minimum, int maximum) {
  napi_throw_range_error(env, nullptr,
                         (std::string(name) + " must be an integer from " + std::to_string(minimum) + " to " +
                          std::to_string(maximum))
                             .c_str());
}

// The JS layer validates everything; these checks only keep a direct caller
// of the raw binding from reaching the kernel with garbage.
inline bool ReadInt(napi_env env, napi_value value, const char* name, int minimum, int maximum, int* out) {
  double number;
  if (napi_get_value_double(env, value, &number) != napi_ok) {
    ThrowNotNumber(env, name);
    return false;
  }
  if (!(number >= minimum && number <= maximum) || number != static_cast<double>(static_cast<int>(number))) {
    ThrowNotInteger(env, name, minimum, maximum);
    return false;
  }
  *out = static_cast<int>(number);
  return true;
}

constexpr int kMaxInt = 2147483647;

// Fills argv[0..count-1]; missing arguments are undefined, which ReadInt refuses.
template <size_t count>
void Arguments(napi_env env, napi_callback_info info, napi_value (&argv)[count]) {
  size_t argc = count;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
}

// checkTcp(fd): throws unless fd is a TCP socket over IPv4/IPv6.
napi_value CheckTcp(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Arguments(env, info, argv);
  int fd;
  if (!ReadInt(env, argv[0], "fd", 0, kMaxInt, &fd)) return nullptr;
  ka_error_t failure;
  if (ka_check_tcp(fd, &failure) != 0) ThrowSystemError(env, failure, fd, "not a TCP socket");
  return nullptr;
}

[[gnu::noinline, gnu::cold]] void ThrowNotFiveSlots(napi_env env, const char* name) {
  napi_throw_type_error(env, nullptr, (std::string(name) + " must be an Int32Array of at least 5 elements").c_str());
}

// The first five int32 slots of an Int32Array argument, or nullptr after
// throwing. One N-API query answers "typed array?", its type, its length and
// where its data is.
int32_t* FiveSlots(napi_env env, napi_value value, const char* name) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_int32_array || length < 5 || data == nullptr) {
    ThrowNotFiveSlots(env, name);
    return nullptr;
  }
  return static_cast<int32_t*>(data);
}

// apply(fd, enable, idleSeconds, intervalSeconds, count, userTimeoutMs); -1 leaves a value unchanged.
napi_value Apply(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  Arguments(env, info, argv);
  int fd;
  ka_config_t config;
  if (!ReadInt(env, argv[0], "fd", 0, kMaxInt, &fd) || !ReadInt(env, argv[1], "enable", KA_UNCHANGED, 1, &config.enable) ||
      !ReadInt(env, argv[2], "idleSeconds", KA_UNCHANGED, kMaxInt, &config.idle_s) ||
      !ReadInt(env, argv[3], "intervalSeconds", KA_UNCHANGED, kMaxInt, &config.interval_s) ||
      !ReadInt(env, argv[4], "count", KA_UNCHANGED, kMaxInt, &config.count) ||
      !ReadInt(env, argv[5], "userTimeoutMs", KA_UNCHANGED, kMaxInt, &config.user_timeout_ms)) {
    return nullptr;
  }
  ka_error_t failure;
  if (ka_apply(fd, &config, &failure) != 0) ThrowSystemError(env, failure, fd, "cannot configure keepalive");
  return nullptr;
}

// read(fd, out): fills out (an Int32Array of 5) with enabled, idleSeconds,
// intervalSeconds, count, userTimeoutMs; -1 where the platform has no such option.
napi_value Read(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Arguments(env, info, argv);
  int fd;
  if (!ReadInt(env, argv[0], "fd", 0, kMaxInt, &fd)) return nullptr;
  int32_t* out = FiveSlots(env, argv[1], "out");
  if (out == nullptr) return nullptr;
  ka_state_t state;
  ka_error_t failure;
  if (ka_read(fd, &state, &failure) != 0) {
    ThrowSystemError(env, failure, fd, "cannot read keepalive");
    return nullptr;
  }
  out[0] = state.enable;
  out[1] = state.idle_s;
  out[2] = state.interval_s;
  out[3] = state.count;
  out[4] = state.user_timeout_ms;
  return nullptr;
}

void SetBoolean(napi_env env, napi_value object, const char* key, bool value) {
  napi_value boolean;
  napi_get_boolean(env, value, &boolean);
  napi_set_named_property(env, object, key, boolean);
}

void SetFunction(napi_env env, napi_value object, const char* name, napi_callback callback) {
  napi_value function;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, nullptr, &function);
  napi_set_named_property(env, object, name, function);
}

napi_value Init(napi_env env, napi_value exports) {
  unsigned capabilities = ka_capabilities();
  napi_value capabilityObject;
  napi_create_object(env, &capabilityObject);
  SetBoolean(env, capabilityObject, "idle", (capabilities & KA_CAP_IDLE) != 0);
  SetBoolean(env, capabilityObject, "interval", (capabilities & KA_CAP_INTERVAL) != 0);
  SetBoolean(env, capabilityObject, "count", (capabilities & KA_CAP_COUNT) != 0);
  SetBoolean(env, capabilityObject, "userTimeout", (capabilities & KA_CAP_USER_TIMEOUT) != 0);
  SetBoolean(env, capabilityObject, "readBack", (capabilities & KA_CAP_READ_BACK) != 0);
  napi_object_freeze(env, capabilityObject);

  SetFunction(env, exports, "checkTcp", CheckTcp);
  SetFunction(env, exports, "apply", Apply);
  SetFunction(env, exports, "read", Read);
  napi_set_named_property(env, exports, "capabilities", capabilityObject);
  SetString(env, exports, "sourceHash", TCPKA_STRINGIFY(TCPKA_SOURCE_HASH));
  napi_object_freeze(env, exports);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
