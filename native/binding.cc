// The only file that knows about Node: converts JS arguments for the portable
// core (keepalive.h) and turns its failures into Node-style errors.
#include <napi.h>

#include <string>

#include "keepalive.h"

#ifndef TCPKA_SOURCE_HASH
#error "binding.gyp defines TCPKA_SOURCE_HASH; build through node-gyp"
#endif
#define TCPKA_STRINGIFY_(x) #x
#define TCPKA_STRINGIFY(x) TCPKA_STRINGIFY_(x)

namespace {

// Same shape as Node's system errors: code, errno (negative, as libuv reports
// it), syscall; plus the socket option that failed.
Napi::Error SystemError(Napi::Env env, const ka_error_t& failure, int fd, const char* context) {
  std::string code = ka_errno_name(failure.err);
  std::string message = std::string(context) + ": " + failure.syscall + "(" + failure.option + ") on fd " +
                        std::to_string(fd) + " failed: " + code + " (" + ka_errno_description(failure.err) + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -failure.err));
  error.Set("syscall", Napi::String::New(env, failure.syscall));
  error.Set("option", Napi::String::New(env, failure.option));
  return error;
}

// The JS layer validates everything; these checks only keep a direct caller
// of the raw binding from reaching the kernel with garbage.
bool ReadInt(const Napi::CallbackInfo& info, size_t index, const char* name, int minimum, int maximum, int* out) {
  Napi::Env env = info.Env();
  if (!info[index].IsNumber()) {
    Napi::TypeError::New(env, std::string(name) + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= minimum && value <= maximum) || value != static_cast<double>(static_cast<int>(value))) {
    Napi::RangeError::New(env, std::string(name) + " must be an integer from " + std::to_string(minimum) + " to " +
                                   std::to_string(maximum))
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int>(value);
  return true;
}

constexpr int kMaxInt = 2147483647;

// checkTcp(fd): throws unless fd is a TCP socket over IPv4/IPv6.
Napi::Value CheckTcp(const Napi::CallbackInfo& info) {
  int fd;
  if (!ReadInt(info, 0, "fd", 0, kMaxInt, &fd)) return Napi::Value();
  ka_error_t failure;
  if (ka_check_tcp(fd, &failure) != 0) {
    SystemError(info.Env(), failure, fd, "not a TCP socket").ThrowAsJavaScriptException();
  }
  return Napi::Value();
}

// apply(fd, enable, idleSeconds, intervalSeconds, count, userTimeoutMs); -1 leaves a value unchanged.
Napi::Value Apply(const Napi::CallbackInfo& info) {
  int fd;
  ka_config_t config;
  if (!ReadInt(info, 0, "fd", 0, kMaxInt, &fd) || !ReadInt(info, 1, "enable", KA_UNCHANGED, 1, &config.enable) ||
      !ReadInt(info, 2, "idleSeconds", KA_UNCHANGED, kMaxInt, &config.idle_s) ||
      !ReadInt(info, 3, "intervalSeconds", KA_UNCHANGED, kMaxInt, &config.interval_s) ||
      !ReadInt(info, 4, "count", KA_UNCHANGED, kMaxInt, &config.count) ||
      !ReadInt(info, 5, "userTimeoutMs", KA_UNCHANGED, kMaxInt, &config.user_timeout_ms)) {
    return Napi::Value();
  }
  ka_error_t failure;
  if (ka_apply(fd, &config, &failure) != 0) {
    SystemError(info.Env(), failure, fd, "cannot configure keepalive").ThrowAsJavaScriptException();
  }
  return Napi::Value();
}

// read(fd, out): fills out (an Int32Array of 5) with enabled, idleSeconds,
// intervalSeconds, count, userTimeoutMs; -1 where the platform has no such option.
Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd;
  if (!ReadInt(info, 0, "fd", 0, kMaxInt, &fd)) return Napi::Value();
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[1].As<Napi::TypedArray>().ElementLength() < 5) {
    Napi::TypeError::New(info.Env(), "out must be an Int32Array of at least 5 elements").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  ka_state_t state;
  ka_error_t failure;
  if (ka_read(fd, &state, &failure) != 0) {
    SystemError(info.Env(), failure, fd, "cannot read keepalive").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  int32_t* out = info[1].As<Napi::Int32Array>().Data();
  out[0] = state.enable;
  out[1] = state.idle_s;
  out[2] = state.interval_s;
  out[3] = state.count;
  out[4] = state.user_timeout_ms;
  return Napi::Value();
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

  exports.Set("checkTcp", Napi::Function::New(env, CheckTcp, "checkTcp"));
  exports.Set("apply", Napi::Function::New(env, Apply, "apply"));
  exports.Set("read", Napi::Function::New(env, Read, "read"));
  exports.Set("capabilities", capabilityObject);
  exports.Set("sourceHash", Napi::String::New(env, TCPKA_STRINGIFY(TCPKA_SOURCE_HASH)));
  exports.Freeze();
  return exports;
}

}  // namespace

NODE_API_MODULE(tcp_keepalive, Init)
