// meshgate's one native function: give the C library's free heap pages back to the operating system.
//
// A burst of requests leaves glibc's malloc heaps full of free chunks between live ones; glibc returns only the top
// of a heap by itself (MALLOC_TRIM_THRESHOLD_), so an idle node kept ~20 MB of freed memory resident after the
// bench's load. malloc_trim(0) releases every whole free page inside the heaps too (madvise). The node calls it once
// at the start of an idle spell (src/gateway/idle-memory.ts). Built at install by native/build.mjs; a node
// without it (no C compiler, or a C library without malloc_trim) skips the step.
#include <node_api.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// trim(): true when memory was given back, false when there was none to give (or this C library cannot).
static napi_value Trim(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#if defined(__GLIBC__)
  released = malloc_trim(0);
#endif
  napi_value result;
  napi_get_boolean(env, released != 0, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, Trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  return exports;
}
