// The only file that knows about Node: reads plain JS arguments for the
// portable core (keepalive.h) and reports its failures as data. Written with
// node-addon-api (napi.h), built with NAPI_DISABLE_CPP_EXCEPTIONS,
// NODE_ADDON_API_ENABLE_MAYBE and NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
// (binding.gyp; docs/platforms.md, "The native addon", says why).
//
// Every function returns undefined on success, or a failure object
// { errno, syscall, option } that src/core/errors.ts turns into the one
// Node-style error (code from util.getSystemErrorName). Errors thrown from
// here are only for a direct caller of the raw binding who passes the wrong
// types: the JS layer validates everything before calling.
#include <napi.h>

#include "keepalive.h"

#ifndef TCPKA_SOURCE_HASH
#error "binding.gyp defines TCPKA_SOURCE_HASH; build through node-gyp"
#endif
#define TCPKA_STRINGIFY_(x) #x
#define TCPKA_STRINGIFY(x) TCPKA_STRINGIFY_(x)

namespace {

// The calls that may fail while a Worker is being terminated (defining and
// freezing properties, throwing), made with their status checked: with the
// raw argument reader below, the only Node-API calls outside node-addon-api.
// node-addon-api's own wrappers for them (Object::Set, Object::Freeze,
// Function::New, ...) report a failed call through Napi::Error::New(env),
// which ends in a fatal error when the failure was the termination itself: a
// Worker terminated while the addon loaded aborted the whole process
// (test/reliability/workers.test.ts). Creating values (Object::New,
// String::New, Number::New, TypedArrayOf::New, ...) cannot fail that way.
// The throws carry a Node-style `code`, which node-addon-api's errors cannot.
bool DefineAll(Napi::Object object, const std::initializer_list<Napi::PropertyDescriptor>& properties) {
  return napi_define_properties(object.Env(), object, properties.size(),
                                reinterpret_cast<const napi_property_descriptor*>(properties.begin())) == napi_ok;
}

bool SetElement(Napi::Array array, uint32_t index, Napi::Value value) {
  return napi_set_element(array.Env(), array, index, value) == napi_ok;
}

bool Freeze(Napi::Object object) {
  return napi_object_freeze(object.Env(), object) == napi_ok;
}

[[gnu::cold, gnu::noinline]] Napi::Value ThrowTypeError(Napi::Env env, const char* message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return Napi::Value();
}

[[gnu::cold, gnu::noinline]] Napi::Value ThrowRangeError(Napi::Env env, const char* message) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
  return Napi::Value();
}

[[gnu::cold, gnu::noinline]] Napi::Value ThrowError(Napi::Env env, const char* message) {
  napi_throw_error(env, nullptr, message);
  return Napi::Value();
}

// A property of a JS object made by this file: enumerable, writable and
// configurable until the object is frozen.
constexpr napi_property_attributes kPlain = napi_default_jsproperty;

// { errno, syscall, option } for a failed syscall; errno is positive, as the C
// library reports it. Out of line: only failures come here. If the object
// cannot be built (a terminating environment), an Error is thrown instead, so
// a failure never reads as success.
[[gnu::cold, gnu::noinline]] Napi::Value Failure(Napi::Env env, const ka_error_t& failure) {
  Napi::Object object = Napi::Object::New(env);
  if (DefineAll(object, {
                            Napi::PropertyDescriptor::Value("errno", Napi::Number::New(env, failure.err), kPlain),
                            Napi::PropertyDescriptor::Value("syscall", Napi::String::New(env, failure.syscall), kPlain),
                            Napi::PropertyDescriptor::Value("option", Napi::String::New(env, failure.option), kPlain),
                        }))
    return object;
  return ThrowError(env, "tcp-keepalive: a system call failed and its failure could not be reported");
}

// The call's first N arguments as int32 (a TypeError naming the first that is
// not a number). Ranges are checked by each function in one expression; only
// a failure goes to the cold path that names the argument.
template <size_t N>
bool ReadInts(const Napi::CallbackInfo& info, const char* const (&names)[N], int32_t (&out)[N]) {
  for (size_t i = 0; i < N; i++) {
    Napi::Value value = info[i];
    if (!value.IsNumber()) {
      ThrowTypeError(info.Env(), names[i]);
      return false;
    }
    out[i] = value.As<Napi::Number>().Int32Value();
  }
  return true;
}

// The same for apply(), read() and tcpInfo(), the functions called for every
// socket operation: the one place that stays on plain Node-API for speed. A
// Napi::CallbackInfo copies six argument slots and the receiver on every call,
// and Value::IsNumber + Number::Int32Value are two Node-API calls per argument
// where napi_get_value_int32 alone refuses a non-number; together they made a
// raw apply() call markedly dearer (docs/performance.md, "The native glue").
template <size_t N>
bool ReadInts(napi_env env, napi_callback_info info, const char* const (&names)[N], int32_t (&out)[N]) {
  size_t argc = N;
  napi_value argv[N];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
  for (size_t i = 0; i < N; i++) {
    if (i >= argc || napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) {
      ThrowTypeError(env, names[i]);
      return false;
    }
  }
  return true;
}

// What read() and tcpInfo() write into: two typed arrays per environment (each
// Worker has its own), made once at load and exported as keepaliveValues and
// tcpInfoValues; JavaScript reads them right after the call. They were
// arguments, but reading a typed array argument on every call (a chain of type
// tests, then the buffer and its length) was a large share of a tcpInfo() call
// (docs/performance.md). The references keep both arrays alive as long as the
// environment, whatever JavaScript drops.
struct Outputs {
  int32_t* keepalive = nullptr;
  double* tcp_info = nullptr;
  Napi::Reference<Napi::Int32Array> keepalive_array;
  Napi::Reference<Napi::Float64Array> tcp_info_array;
};

// The environment's outputs, or nullptr (and a thrown Error) where the addon never finished loading.
Outputs* OutputsOf(Napi::Env env) {
  Outputs* outputs = env.GetInstanceData<Outputs>();
  if (outputs != nullptr && outputs->tcp_info != nullptr) return outputs;
  ThrowError(env, "the tcp-keepalive addon did not finish loading in this environment");
  return nullptr;
}

constexpr const char kFdMessage[] = "fd must be an integer from 0 to 2147483647";
constexpr const char* const kFdOnly[] = {kFdMessage};

// checkTcp(fd): undefined when fd is a TCP socket over IPv4/IPv6, else the failure.
Napi::Value CheckTcp(const Napi::CallbackInfo& info) {
  int32_t args[1];
  if (!ReadInts(info, kFdOnly, args)) return Napi::Value();
  if (args[0] < 0) return ThrowRangeError(info.Env(), kFdMessage);
  ka_error_t failure;
  return ka_check_tcp(args[0], &failure) == 0 ? Napi::Value() : Failure(info.Env(), failure);
}

// apply(fd, enable, idleSeconds, intervalSeconds, count, userTimeoutMs); -1 leaves a value unchanged.
napi_value Apply(napi_env env, napi_callback_info info) {
  static constexpr const char* kNames[] = {
      kFdMessage,
      "enable must be -1, 0 or 1",
      "idleSeconds must be an integer from -1 to 2147483647",
      "intervalSeconds must be an integer from -1 to 2147483647",
      "count must be an integer from -1 to 2147483647",
      "userTimeoutMs must be an integer from -1 to 2147483647",
  };
  int32_t args[6];
  if (!ReadInts(env, info, kNames, args)) return nullptr;
  if (args[0] < 0 || args[1] < KA_UNCHANGED || args[1] > 1 || args[2] < KA_UNCHANGED || args[3] < KA_UNCHANGED ||
      args[4] < KA_UNCHANGED || args[5] < KA_UNCHANGED) {
    for (size_t i = 0; i < 6; i++) {
      if (args[i] < (i == 0 ? 0 : KA_UNCHANGED) || (i == 1 && args[i] > 1)) return ThrowRangeError(env, kNames[i]);
    }
  }
  ka_config_t config = {args[1], args[2], args[3], args[4], args[5]};
  ka_error_t failure;
  if (ka_apply(args[0], &config, &failure) == 0) return nullptr;
  return Failure(env, failure);
}

// read(fd): keepaliveValues receives enable, idleSeconds, intervalSeconds,
// count, userTimeoutMs; -1 where the platform has no such option.
napi_value Read(napi_env env, napi_callback_info info) {
  int32_t args[1];
  if (!ReadInts(env, info, kFdOnly, args)) return nullptr;
  if (args[0] < 0) return ThrowRangeError(env, kFdMessage);
  Outputs* outputs = OutputsOf(env);
  if (outputs == nullptr) return nullptr;
  int32_t* out = outputs->keepalive;
  ka_state_t state;
  ka_error_t failure;
  if (ka_read(args[0], &state, &failure) != 0) return Failure(env, failure);
  out[0] = state.enable;
  out[1] = state.idle_s;
  out[2] = state.interval_s;
  out[3] = state.count;
  out[4] = state.user_timeout_ms;
  return nullptr;
}

// tcpInfo(fd): tcpInfoValues (tcpInfoFields.length slots) receives TCP_INFO in
// the library's units; NaN where the kernel reported nothing.
napi_value TcpInfo(napi_env env, napi_callback_info info) {
  int32_t args[1];
  if (!ReadInts(env, info, kFdOnly, args)) return nullptr;
  if (args[0] < 0) return ThrowRangeError(env, kFdMessage);
  Outputs* outputs = OutputsOf(env);
  if (outputs == nullptr) return nullptr;
  ka_error_t failure;
  if (ka_tcp_info(args[0], outputs->tcp_info, &failure) == 0) return nullptr;
  return Failure(env, failure);
}

// duplicateFd(pid, fd): a new fd in this process for another process's fd, or the failure.
Napi::Value DuplicateFd(const Napi::CallbackInfo& info) {
  static constexpr const char* kNames[] = {"pid must be an integer from 1 to 2147483647", kFdMessage};
  int32_t args[2];
  if (!ReadInts(info, kNames, args)) return Napi::Value();
  if (args[0] < 1) return ThrowRangeError(info.Env(), kNames[0]);
  if (args[1] < 0) return ThrowRangeError(info.Env(), kFdMessage);
  int fd;
  ka_error_t failure;
  if (ka_duplicate_fd(args[0], args[1], &fd, &failure) != 0) return Failure(info.Env(), failure);
  return Napi::Number::New(info.Env(), fd);
}

// closeFd(fd): closes an fd that duplicateFd made.
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int32_t args[1];
  if (!ReadInts(info, kFdOnly, args)) return Napi::Value();
  if (args[0] < 0) return ThrowRangeError(info.Env(), kFdMessage);
  ka_error_t failure;
  return ka_close_fd(args[0], &failure) == 0 ? Napi::Value() : Failure(info.Env(), failure);
}

// An exported function. The functions are made by the one checked
// napi_define_properties call that defines the exports, not one by one with
// Napi::Function::New, which reports a failure through Napi::Error::New.
Napi::PropertyDescriptor Method(const char* name, napi_callback callback) {
  return Napi::PropertyDescriptor({name, nullptr, callback, nullptr, nullptr, nullptr, kPlain, nullptr});
}

// A function written against node-addon-api, called with Node-API's arguments wrapped in a Napi::CallbackInfo.
template <Napi::Value (*Function)(const Napi::CallbackInfo&)>
napi_value WithCallbackInfo(napi_env env, napi_callback_info info) {
  Napi::CallbackInfo callback_info(env, info);
  return Function(callback_info);
}

// When a Worker is terminated while the addon loads, the first checked call
// that fails returns quietly (an empty exports object) and the dying
// environment never uses the addon.
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  unsigned capabilities = ka_capabilities();
  auto capability = [&](const char* name, unsigned bit) {
    return Napi::PropertyDescriptor::Value(name, Napi::Boolean::New(env, (capabilities & bit) != 0), kPlain);
  };
  Napi::Object capability_object = Napi::Object::New(env);
  if (!DefineAll(capability_object,
                 {
                     capability("idle", KA_CAP_IDLE),
                     capability("interval", KA_CAP_INTERVAL),
                     capability("count", KA_CAP_COUNT),
                     capability("userTimeout", KA_CAP_USER_TIMEOUT),
                     capability("readBack", KA_CAP_READ_BACK),
                     capability("tcpInfo", KA_CAP_TCP_INFO),
                     capability("duplicateFd", KA_CAP_DUPLICATE_FD),
                 }) ||
      !Freeze(capability_object))
    return Napi::Object();

  Napi::Array field_names = Napi::Array::New(env, KA_TCP_INFO_FIELD_COUNT);
  for (uint32_t i = 0; i < KA_TCP_INFO_FIELD_COUNT; i++) {
    if (!SetElement(field_names, i, Napi::String::New(env, ka_tcp_info_names[i]))) return Napi::Object();
  }
  if (!Freeze(field_names)) return Napi::Object();

  // Instance data before the arrays: a call in an environment whose load
  // stopped in between finds no arrays and throws (OutputsOf).
  Outputs* outputs = new Outputs();
  env.SetInstanceData(outputs);
  Napi::Int32Array keepalive = Napi::Int32Array::New(env, 5);
  Napi::Float64Array tcp_info = Napi::Float64Array::New(env, KA_TCP_INFO_FIELD_COUNT);
  if (keepalive.IsEmpty() || tcp_info.IsEmpty()) return Napi::Object();
  outputs->keepalive_array = Napi::Persistent(keepalive);
  outputs->tcp_info_array = Napi::Persistent(tcp_info);
  outputs->keepalive = keepalive.Data();
  outputs->tcp_info = tcp_info.Data();

  using Napi::PropertyDescriptor;
  if (!DefineAll(exports,
                 {
                     Method("checkTcp", WithCallbackInfo<CheckTcp>),
                     Method("apply", Apply),
                     Method("read", Read),
                     Method("tcpInfo", TcpInfo),
                     Method("duplicateFd", WithCallbackInfo<DuplicateFd>),
                     Method("closeFd", WithCallbackInfo<CloseFd>),
                     PropertyDescriptor::Value("tcpInfoFields", field_names, kPlain),
                     PropertyDescriptor::Value("keepaliveValues", keepalive, kPlain),
                     PropertyDescriptor::Value("tcpInfoValues", tcp_info, kPlain),
                     PropertyDescriptor::Value("capabilities", capability_object, kPlain),
                     PropertyDescriptor::Value("sourceHash", Napi::String::New(env, TCPKA_STRINGIFY(TCPKA_SOURCE_HASH)),
                                               kPlain),
                 }) ||
      !Freeze(exports))
    return Napi::Object();
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
