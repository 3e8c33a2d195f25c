// The only file that knows about Node: converts JS arguments for the portable
// core (keepalive.h) and turns its failures into Node-style errors.
//
// node-addon-api for the module, its functions and its errors; on the per-call
// path (apply, read) the arguments are read with one N-API call each
// (napi_get_value_double, napi_get_typedarray_info) rather than through
// Value::IsNumber()/As<>() pairs, and error building is out of line: the call
// sits next to four or five syscalls, so what we add must stay small
// (docs/performance.md has the instruction counts).
#include <napi.h>

#include <string>

#include "keepalive.h"

#ifndef TCPKA_SOURCE_HASH
#error "binding.gyp defines TCPKA_SOURCE_HASH; build through node-gyp"
#endif
#define TCPKA_STRINGIFY_(x) #x
#define TCPKA_STRINGIFY(x) TCPKA_STRINGIFY_(x)

namespace {

constexpr int kMaxInt = 2147483647;

// Same shape as Node's system errors: code, errno (negative, as libuv reports
// it), syscall; plus the socket option that failed.
[[gnu::noinline, gnu::cold]] void ThrowSystemError(Napi::Env env, const ka_error_t& failure, int fd, const char* context) {
  std::string code = ka_errno_name(failure.err);
  Napi::Error error = Napi::Error::New(
      env, std::string(context) + ": " + failure.syscall + "(" + failure.option + ") on fd " + std::to_string(fd) +
               " failed: " + code + " (" + ka_errno_description(failure.err) + ")");
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -failure.err));
  error.Set("syscall", Napi::String::New(env, failure.syscall));
  error.Set("option", Napi::String::New(env, failure.option));
  error.ThrowAsJavaScriptException();
}

[[gnu::noinline, gnu::cold]] void ThrowNotNumber(Napi::Env env, const char* name) {
  Napi::TypeError::New(env, std::string(name) + " must be a number").ThrowAsJavaScriptException();
}

[[gnu::noinline, gnu::cold]] void ThrowNotInteger(Napi::Env env, const char* name, int minimum, int maximum) {
  Napi::RangeError::New(env, std::string(name) + " must be an integer from " + std::to_string(minimum) + " to " +
                                 std::to_string(maximum))
      .ThrowAsJavaScriptException();
}

[[gnu::noinline, gnu::cold]] void ThrowNotFiveSlots(Napi::Env env, const char* name) {
  Napi::TypeError::New(env, std::string(name) + " must be an Int32Array of at least 5 elements")
      .ThrowAsJavaScriptException();
}

// The JS layer validates everything; these checks only keep a direct caller
// of the raw binding from reaching the kernel with garbage. A missing
// argument is undefined, which napi_get_value_double refuses.
inline bool ReadInt(const Napi::CallbackInfo& info, size_t index, const char* name, int minimum, int maximum, int* out) {
  double number;
  if (napi_get_value_double(info.Env(), info[index], &number) != napi_ok) {
    ThrowNotNumber(info.Env(), name);
    return false;
  }
  if (!(number >= minimum && number <= maximum) || number != static_cast<double>(static_cast<int>(number))) {
    ThrowNotInteger(info.Env(), name, minimum, maximum);
    return false;
  }
  *out = static_cast<int>(number);
  return true;
}

// The first five slots of an Int32Array argument, or nullptr after throwing:
// one query answers "typed array?", its type, its length and where its data is.
int32_t* FiveSlots(const Napi::CallbackInfo& info, size_t index, const char* name) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(info.Env(), info[index], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_int32_array || length < 5 || data == nullptr) {
    ThrowNotFiveSlots(info.Env(), name);
    return nullptr;
  }
  return static_cast<int32_t*>(data);
}

// checkTcp(fd): throws unless fd is a TCP socket over IPv4/IPv6.
void CheckTcp(const Napi::CallbackInfo& info) {
  int fd;
  if (!ReadInt(info, 0, "fd", 0, kMaxInt, &fd)) return;
  ka_error_t failure;
  if (ka_check_tcp(fd, &failure) != 0) ThrowSystemError(info.Env(), failure, fd, "not a TCP socket");
}

// apply(fd, config): config is an Int32Array of 5 — enable, idleSeconds,
// intervalSeconds, count, userTimeoutMs — where -1 leaves a value unchanged.
// One typed array instead of five numbers: one N-API call instead of five.
void Apply(const Napi::CallbackInfo& info) {
  int fd;
  if (!ReadInt(info, 0, "fd", 0, kMaxInt, &fd)) return;
  const int32_t* values = FiveSlots(info, 1, "config");
  if (values == nullptr) return;
  ka_config_t config = {values[0], values[1], values[2], values[3], values[4]};
  if (config.enable < KA_UNCHANGED || config.enable > 1) return ThrowNotInteger(info.Env(), "config[0] (enable)", KA_UNCHANGED, 1);
  if (config.idle_s < KA_UNCHANGED || config.interval_s < KA_UNCHANGED || config.count < KA_UNCHANGED ||
      config.user_timeout_ms < KA_UNCHANGED) {
    return ThrowNotInteger(info.Env(), "config[1..4]", KA_UNCHANGED, kMaxInt);
  }
  ka_error_t failure;
  if (ka_apply(fd, &config, &failure) != 0) ThrowSystemError(info.Env(), failure, fd, "cannot configure keepalive");
}

// read(fd, out): fills out (an Int32Array of 5) with enabled, idleSeconds,
// intervalSeconds, count, userTimeoutMs; -1 where the platform has no such option.
void Read(const Napi::CallbackInfo& info) {
  int fd;
  if (!ReadInt(info, 0, "fd", 0, kMaxInt, &fd)) return;
  int32_t* out = FiveSlots(info, 1, "out");
  if (out == nullptr) return;
  ka_state_t state;
  ka_error_t failure;
  if (ka_read(fd, &state, &failure) != 0) {
    ThrowSystemError(info.Env(), failure, fd, "cannot read keepalive");
    return;
  }
  out[0] = state.enable;
  out[1] = state.idle_s;
  out[2] = state.interval_s;
  out[3] = state.count;
  out[4] = state.user_timeout_ms;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  unsigned capabilities = ka_capabilities();
  Napi::Object capabilityObject = Napi::Object::New(env);
  capabilityObject.Set("idle", Napi::Boolean::New(env, (capabilities & KA_CAP_IDLE) != 0));
  capabilityObject.Set("interval", Napi::Boolean::New(env, (capabilities & KA_CAP_INTERVAL) != 0));
  capabilityObject.Set("count", Napi::Boolean::New(env, (capabilities & KA_CAP_COUNT) != 0));
  capabilityObject.Set("userTimeout", Napi::Boolean::New(env, (capabilities & KA_CAP_USER_TIMEOUT) != 0));
  capabilityObject.Set("readBack", Napi::Boolean::New(env, (capabilities & KA_CAP_READ_BACK) != 0));
  capabilityObject.Freeze();

  // Templated Function::New: the callback is a compile-time constant, no per-function heap data.
  exports.Set("checkTcp", Napi::Function::New<CheckTcp>(env, "checkTcp"));
  exports.Set("apply", Napi::Function::New<Apply>(env, "apply"));
  exports.Set("read", Napi::Function::New<Read>(env, "read"));
  exports.Set("capabilities", capabilityObject);
  exports.Set("sourceHash", Napi::String::New(env, TCPKA_STRINGIFY(TCPKA_SOURCE_HASH)));
  exports.Freeze();
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
