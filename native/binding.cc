// The only file that knows about Node: converts JS arguments for the portable
// core (keepalive.h) and turns its failures into Node-style errors.
//
// node-addon-api for the functions' arguments and errors (registration is
// plain N-API, see Init). On the
// per-call path (apply, read) nothing is converted at all: the fd and the
// values travel in a small Int32Array ("slots") that each environment gets
// at load, reached through the function's data pointer, so a call costs the
// N-API trampoline and nothing more. It sits next to four or five syscalls,
// so what we add must stay small (docs/performance.md has the counts).
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

// Per environment (each Worker loads its own): the slots shared with JS.
// Instance data owns a reference to their ArrayBuffer, so the memory lives as
// long as the environment, whatever JS keeps of the exports.
struct Slots {
  napi_ref buffer;
  int32_t* values;  // [0] fd, [1..5] enable, idleSeconds, intervalSeconds, count, userTimeoutMs
};
constexpr size_t kSlotCount = 6;


// checkTcp(fd): throws unless fd is a TCP socket over IPv4/IPv6.
void CheckTcp(const Napi::CallbackInfo& info) {
  int fd;
  if (!ReadInt(info, 0, "fd", 0, kMaxInt, &fd)) return;
  ka_error_t failure;
  if (ka_check_tcp(fd, &failure) != 0) ThrowSystemError(info.Env(), failure, fd, "not a TCP socket");
}

// apply(): slots[0] = fd, slots[1..5] = enable, idleSeconds, intervalSeconds,
// count, userTimeoutMs; -1 leaves a value unchanged.
void Apply(Napi::Env env, int32_t* slots) {
  int fd = slots[0];
  ka_config_t config = {slots[1], slots[2], slots[3], slots[4], slots[5]};
  // The JS layer validates everything; these checks only keep a direct caller
  // of the raw binding from reaching the kernel with garbage.
  if (fd < 0) return ThrowNotInteger(env, "slots[0] (fd)", 0, kMaxInt);
  if (config.enable < KA_UNCHANGED || config.enable > 1) return ThrowNotInteger(env, "slots[1] (enable)", KA_UNCHANGED, 1);
  if (config.idle_s < KA_UNCHANGED || config.interval_s < KA_UNCHANGED || config.count < KA_UNCHANGED ||
      config.user_timeout_ms < KA_UNCHANGED) {
    return ThrowNotInteger(env, "slots[2..5]", KA_UNCHANGED, kMaxInt);
  }
  ka_error_t failure;
  if (ka_apply(fd, &config, &failure) != 0) ThrowSystemError(env, failure, fd, "cannot configure keepalive");
}

// read(): reads the socket slots[0] names into slots[1..5] (enabled,
// idleSeconds, intervalSeconds, count, userTimeoutMs; -1 where the platform
// has no such option).
void Read(Napi::Env env, int32_t* slots) {
  int fd = slots[0];
  if (fd < 0) return ThrowNotInteger(env, "slots[0] (fd)", 0, kMaxInt);
  ka_state_t state;
  ka_error_t failure;
  if (ka_read(fd, &state, &failure) != 0) return ThrowSystemError(env, failure, fd, "cannot read keepalive");
  slots[1] = state.enable;
  slots[2] = state.idle_s;
  slots[3] = state.interval_s;
  slots[4] = state.count;
  slots[5] = state.user_timeout_ms;
}

// Registration is plain N-API. When a Worker is terminated while the addon
// loads, every N-API call fails, and node-addon-api's wrappers turn a failed
// call into Napi::Error::New(env), which is fatal in a terminating
// environment (SIGABRT, seen in test/reliability/workers.test.ts). Here the
// first failure returns quietly and the dying environment never uses the addon.
#define RETURN_IF_FAILED(call) \
  if ((call) != napi_ok) return nullptr

// What Napi::Function::New<cb> generates, without its fatal error path.
template <void (*Callback)(const Napi::CallbackInfo&)>
napi_value Trampoline(napi_env env, napi_callback_info info) {
  Napi::CallbackInfo callbackInfo(env, info);
  Callback(callbackInfo);
  return nullptr;
}

// apply() and read() take no arguments, so they ask N-API for the data
// pointer alone: Napi::CallbackInfo would copy six argument slots a call,
// about a sixth of what the call costs in user space (docs/performance.md).
template <void (*Callback)(Napi::Env, int32_t*)>
napi_value SlotsTrampoline(napi_env env, napi_callback_info info) {
  void* data;
  if (napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data) != napi_ok) return nullptr;
  Callback(Napi::Env(env), static_cast<Slots*>(data)->values);
  return nullptr;
}

void DeleteSlots(napi_env env, void* data, void* /*hint*/) {
  Slots* slots = static_cast<Slots*>(data);
  napi_delete_reference(env, slots->buffer);
  delete slots;
}

napi_status SetBoolean(napi_env env, napi_value object, const char* key, bool value) {
  napi_value boolean;
  napi_status status = napi_get_boolean(env, value, &boolean);
  return status == napi_ok ? napi_set_named_property(env, object, key, boolean) : status;
}

napi_status SetFunction(napi_env env, napi_value object, const char* name, napi_callback callback, void* data) {
  napi_value function;
  napi_status status = napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, data, &function);
  return status == napi_ok ? napi_set_named_property(env, object, name, function) : status;
}

napi_value Init(napi_env env, napi_value exports) {
  unsigned capabilities = ka_capabilities();
  napi_value capabilityObject;
  RETURN_IF_FAILED(napi_create_object(env, &capabilityObject));
  RETURN_IF_FAILED(SetBoolean(env, capabilityObject, "idle", (capabilities & KA_CAP_IDLE) != 0));
  RETURN_IF_FAILED(SetBoolean(env, capabilityObject, "interval", (capabilities & KA_CAP_INTERVAL) != 0));
  RETURN_IF_FAILED(SetBoolean(env, capabilityObject, "count", (capabilities & KA_CAP_COUNT) != 0));
  RETURN_IF_FAILED(SetBoolean(env, capabilityObject, "userTimeout", (capabilities & KA_CAP_USER_TIMEOUT) != 0));
  RETURN_IF_FAILED(SetBoolean(env, capabilityObject, "readBack", (capabilities & KA_CAP_READ_BACK) != 0));
  RETURN_IF_FAILED(napi_object_freeze(env, capabilityObject));

  void* data = nullptr;
  napi_value buffer;
  napi_value slotArray;
  napi_ref reference;
  RETURN_IF_FAILED(napi_create_arraybuffer(env, kSlotCount * sizeof(int32_t), &data, &buffer));
  RETURN_IF_FAILED(napi_create_typedarray(env, napi_int32_array, kSlotCount, buffer, 0, &slotArray));
  RETURN_IF_FAILED(napi_create_reference(env, buffer, 1, &reference));
  Slots* slots = new Slots{reference, static_cast<int32_t*>(data)};
  if (napi_set_instance_data(env, slots, DeleteSlots, nullptr) != napi_ok) {
    DeleteSlots(env, slots, nullptr);
    return nullptr;
  }

  napi_value sourceHash;
  RETURN_IF_FAILED(SetFunction(env, exports, "checkTcp", Trampoline<CheckTcp>, nullptr));
  RETURN_IF_FAILED(SetFunction(env, exports, "apply", SlotsTrampoline<Apply>, slots));
  RETURN_IF_FAILED(SetFunction(env, exports, "read", SlotsTrampoline<Read>, slots));
  RETURN_IF_FAILED(napi_set_named_property(env, exports, "slots", slotArray));
  RETURN_IF_FAILED(napi_set_named_property(env, exports, "capabilities", capabilityObject));
  RETURN_IF_FAILED(napi_create_string_utf8(env, TCPKA_STRINGIFY(TCPKA_SOURCE_HASH), NAPI_AUTO_LENGTH, &sourceHash));
  RETURN_IF_FAILED(napi_set_named_property(env, exports, "sourceHash", sourceHash));
  RETURN_IF_FAILED(napi_object_freeze(env, exports));
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
