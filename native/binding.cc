// The only file that knows about Node: reads plain JS arguments for the
// portable core (keepalive.h) and reports its failures as data.
//
// Every function returns undefined on success, or a failure object
// { errno, syscall, option } that src/core/errors.ts turns into the one
// Node-style error (code from util.getSystemErrorName). Errors thrown from
// here are only for a direct caller of the raw binding who passes the wrong
// types: the JS layer validates everything before calling.
//
// Plain N-API (node_api.h), not node-addon-api's wrappers: their failure paths
// end in a fatal error (Napi::Error::New), which aborted Workers terminated
// while the addon loads (test/reliability/workers.test.ts), and
// Napi::CallbackInfo copies six argument slots a call where apply() runs next to
// five syscalls. docs/platforms.md ("The native addon") has the layout.
#include <node_api.h>
#include <stdlib.h>

#include "keepalive.h"

#ifndef TCPKA_SOURCE_HASH
#error "binding.gyp defines TCPKA_SOURCE_HASH; build through node-gyp"
#endif
#define TCPKA_STRINGIFY_(x) #x
#define TCPKA_STRINGIFY(x) TCPKA_STRINGIFY_(x)

namespace {

napi_status SetString(napi_env env, napi_value object, const char* key, const char* value) {
  napi_value string;
  napi_status status = napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &string);
  return status == napi_ok ? napi_set_named_property(env, object, key, string) : status;
}

// { errno, syscall, option } for a failed syscall; errno is positive, as the C
// library reports it. Out of line: only failures come here. If the object
// cannot be built (a terminating environment), an Error is thrown instead, so
// a failure never reads as success.
[[gnu::cold, gnu::noinline]] napi_value Failure(napi_env env, const ka_error_t& failure) {
  napi_value object, number;
  if (napi_create_object(env, &object) == napi_ok && napi_create_int32(env, failure.err, &number) == napi_ok &&
      napi_set_named_property(env, object, "errno", number) == napi_ok &&
      SetString(env, object, "syscall", failure.syscall) == napi_ok &&
      SetString(env, object, "option", failure.option) == napi_ok)
    return object;
  napi_throw_error(env, nullptr, "tcp-keepalive: a system call failed and its failure could not be reported");
  return nullptr;
}

// The call's first N arguments as int32 (a TypeError naming the first that is
// not a number). Ranges are
// checked by each function in one expression; only a failure goes to the cold
// path that names the argument.
template <size_t N>
bool ReadInts(napi_env env, napi_callback_info info, const char* const (&names)[N], int32_t (&out)[N]) {
  size_t argc = N;
  napi_value argv[N];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
  for (size_t i = 0; i < N; i++) {
    if (i >= argc || napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", names[i]);
      return false;
    }
  }
  return true;
}

[[gnu::cold, gnu::noinline]] napi_value OutOfRange(napi_env env, const char* message) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
  return nullptr;
}

// What read() and tcpInfo() write into: two typed arrays per environment (each
// Worker has its own), made once at load and exported as keepaliveValues and
// tcpInfoValues; JavaScript reads them right after the call. They were
// arguments, but napi_get_typedarray_info on every call (a chain of type tests,
// then the buffer and its length) was ~470 of a tcpInfo()'s ~2760 instructions
// (docs/performance.md). The references keep both arrays alive as long as the
// environment, whatever JavaScript drops. Allocated with calloc (all null),
// not new: the glue then needs no C++ runtime library at all.
struct Outputs {
  int32_t* keepalive;
  double* tcp_info;
  napi_ref keepalive_array;
  napi_ref tcp_info_array;
};

// The environment's outputs, or nullptr (and a thrown Error) where the addon never finished loading.
Outputs* OutputsOf(napi_env env) {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) == napi_ok && data != nullptr &&
      static_cast<Outputs*>(data)->tcp_info != nullptr)
    return static_cast<Outputs*>(data);
  napi_throw_error(env, nullptr, "the tcp-keepalive addon did not finish loading in this environment");
  return nullptr;
}

constexpr const char kFdMessage[] = "fd must be an integer from 0 to 2147483647";
constexpr const char* const kFdOnly[] = {kFdMessage};

// checkTcp(fd): undefined when fd is a TCP socket over IPv4/IPv6, else the failure.
napi_value CheckTcp(napi_env env, napi_callback_info info) {
  int32_t args[1];
  if (!ReadInts(env, info, kFdOnly, args)) return nullptr;
  if (args[0] < 0) return OutOfRange(env, kFdMessage);
  ka_error_t failure;
  return ka_check_tcp(args[0], &failure) == 0 ? nullptr : Failure(env, failure);
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
      if (args[i] < (i == 0 ? 0 : KA_UNCHANGED) || (i == 1 && args[i] > 1)) return OutOfRange(env, kNames[i]);
    }
  }
  ka_config_t config = {args[1], args[2], args[3], args[4], args[5]};
  ka_error_t failure;
  return ka_apply(args[0], &config, &failure) == 0 ? nullptr : Failure(env, failure);
}

// read(fd): keepaliveValues receives enable, idleSeconds, intervalSeconds,
// count, userTimeoutMs; -1 where the platform has no such option.
napi_value Read(napi_env env, napi_callback_info info) {
  int32_t args[1];
  if (!ReadInts(env, info, kFdOnly, args)) return nullptr;
  if (args[0] < 0) return OutOfRange(env, kFdMessage);
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
  if (args[0] < 0) return OutOfRange(env, kFdMessage);
  Outputs* outputs = OutputsOf(env);
  if (outputs == nullptr) return nullptr;
  ka_error_t failure;
  return ka_tcp_info(args[0], outputs->tcp_info, &failure) == 0 ? nullptr : Failure(env, failure);
}

// duplicateFd(pid, fd): a new fd in this process for another process's fd, or the failure.
napi_value DuplicateFd(napi_env env, napi_callback_info info) {
  static constexpr const char* kNames[] = {"pid must be an integer from 1 to 2147483647", kFdMessage};
  int32_t args[2];
  if (!ReadInts(env, info, kNames, args)) return nullptr;
  if (args[0] < 1) return OutOfRange(env, kNames[0]);
  if (args[1] < 0) return OutOfRange(env, kFdMessage);
  int fd;
  ka_error_t failure;
  if (ka_duplicate_fd(args[0], args[1], &fd, &failure) != 0) return Failure(env, failure);
  napi_value result;
  return napi_create_int32(env, fd, &result) == napi_ok ? result : nullptr;
}

// closeFd(fd): closes an fd that duplicateFd made.
napi_value CloseFd(napi_env env, napi_callback_info info) {
  int32_t args[1];
  if (!ReadInts(env, info, kFdOnly, args)) return nullptr;
  if (args[0] < 0) return OutOfRange(env, kFdMessage);
  ka_error_t failure;
  return ka_close_fd(args[0], &failure) == 0 ? nullptr : Failure(env, failure);
}

// When a Worker is terminated while the addon loads, every N-API call fails;
// the first failure returns quietly and the dying environment never uses the addon.
#define RETURN_IF_FAILED(call) \
  if ((call) != napi_ok) return nullptr

napi_status SetBoolean(napi_env env, napi_value object, const char* key, bool value) {
  napi_value boolean;
  napi_status status = napi_get_boolean(env, value, &boolean);
  return status == napi_ok ? napi_set_named_property(env, object, key, boolean) : status;
}

napi_status SetFunction(napi_env env, napi_value object, const char* name, napi_callback callback) {
  napi_value function;
  napi_status status = napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, nullptr, &function);
  return status == napi_ok ? napi_set_named_property(env, object, name, function) : status;
}

// A typed array of `length` elements over a new ArrayBuffer, exported as `name`;
// its memory in *data and a strong reference in *ref.
napi_status ExportOutput(napi_env env, napi_value exports, const char* name, napi_typedarray_type type, size_t length,
                         size_t element_size, void** data, napi_ref* ref) {
  napi_value buffer, array;
  napi_status status = napi_create_arraybuffer(env, length * element_size, data, &buffer);
  if (status == napi_ok) status = napi_create_typedarray(env, type, length, buffer, 0, &array);
  if (status == napi_ok) status = napi_create_reference(env, array, 1, ref);
  if (status == napi_ok) status = napi_set_named_property(env, exports, name, array);
  return status;
}

void DeleteOutputs(napi_env env, void* data, void* /* hint */) {
  Outputs* outputs = static_cast<Outputs*>(data);
  if (outputs->keepalive_array != nullptr) napi_delete_reference(env, outputs->keepalive_array);
  if (outputs->tcp_info_array != nullptr) napi_delete_reference(env, outputs->tcp_info_array);
  free(outputs);
}

napi_value Init(napi_env env, napi_value exports) {
  static const struct {
    const char* name;
    unsigned bit;
  } kCapabilities[] = {
      {"idle", KA_CAP_IDLE},
      {"interval", KA_CAP_INTERVAL},
      {"count", KA_CAP_COUNT},
      {"userTimeout", KA_CAP_USER_TIMEOUT},
      {"readBack", KA_CAP_READ_BACK},
      {"tcpInfo", KA_CAP_TCP_INFO},
      {"duplicateFd", KA_CAP_DUPLICATE_FD},
  };
  unsigned capabilities = ka_capabilities();
  napi_value capability_object;
  RETURN_IF_FAILED(napi_create_object(env, &capability_object));
  for (const auto& capability : kCapabilities) {
    RETURN_IF_FAILED(SetBoolean(env, capability_object, capability.name, (capabilities & capability.bit) != 0));
  }
  RETURN_IF_FAILED(napi_object_freeze(env, capability_object));

  napi_value field_names;
  RETURN_IF_FAILED(napi_create_array_with_length(env, KA_TCP_INFO_FIELD_COUNT, &field_names));
  for (uint32_t i = 0; i < KA_TCP_INFO_FIELD_COUNT; i++) {
    napi_value name;
    RETURN_IF_FAILED(napi_create_string_utf8(env, ka_tcp_info_names[i], NAPI_AUTO_LENGTH, &name));
    RETURN_IF_FAILED(napi_set_element(env, field_names, i, name));
  }
  RETURN_IF_FAILED(napi_object_freeze(env, field_names));

  napi_value source_hash;
  RETURN_IF_FAILED(napi_create_string_utf8(env, TCPKA_STRINGIFY(TCPKA_SOURCE_HASH), NAPI_AUTO_LENGTH, &source_hash));
  RETURN_IF_FAILED(SetFunction(env, exports, "checkTcp", CheckTcp));
  RETURN_IF_FAILED(SetFunction(env, exports, "apply", Apply));
  RETURN_IF_FAILED(SetFunction(env, exports, "read", Read));
  RETURN_IF_FAILED(SetFunction(env, exports, "tcpInfo", TcpInfo));
  RETURN_IF_FAILED(SetFunction(env, exports, "duplicateFd", DuplicateFd));
  RETURN_IF_FAILED(SetFunction(env, exports, "closeFd", CloseFd));
  RETURN_IF_FAILED(napi_set_named_property(env, exports, "tcpInfoFields", field_names));
  Outputs* outputs = static_cast<Outputs*>(calloc(1, sizeof(Outputs)));
  if (outputs == nullptr) {
    napi_throw_error(env, nullptr, "tcp-keepalive: out of memory while loading the addon");
    return nullptr;
  }
  if (napi_set_instance_data(env, outputs, DeleteOutputs, nullptr) != napi_ok) {
    free(outputs);
    return nullptr;
  }
  void* keepalive = nullptr;
  void* tcp_info = nullptr;
  RETURN_IF_FAILED(ExportOutput(env, exports, "keepaliveValues", napi_int32_array, 5, sizeof(int32_t), &keepalive,
                                &outputs->keepalive_array));
  RETURN_IF_FAILED(ExportOutput(env, exports, "tcpInfoValues", napi_float64_array, KA_TCP_INFO_FIELD_COUNT,
                                sizeof(double), &tcp_info, &outputs->tcp_info_array));
  outputs->keepalive = static_cast<int32_t*>(keepalive);
  outputs->tcp_info = static_cast<double*>(tcp_info);
  RETURN_IF_FAILED(napi_set_named_property(env, exports, "capabilities", capability_object));
  RETURN_IF_FAILED(napi_set_named_property(env, exports, "sourceHash", source_hash));
  RETURN_IF_FAILED(napi_object_freeze(env, exports));
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
