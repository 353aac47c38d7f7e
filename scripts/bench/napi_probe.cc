// Profile probe (not part of the package, not a baseline): a minimal Node-API addon the bench
// compiles against node's own headers to find where the addon's time goes. It answers:
//  - madviseLoop: what one madvise costs inside *this* node process (its mm, its threads), with
//    no JS crossing at all — the floor any addon call can reach here;
//  - madviseNum: the thinnest possible crossing (numbers in, nothing out) around one madvise;
//  - smapsReadLoop: reading /proc/self/smaps from inside this process, C only;
//  - smapsParseLoop: the addon's parser alone.
#include <fcntl.h>
#include <node_api.h>
#include <sys/mman.h>
#include <unistd.h>
#include <time.h>

#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "../../native/smaps.h"

using hugespan::Vma;

namespace {

napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

double Num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

napi_value Double(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

// madviseLoop(address, length, n) -> ns per call; flips MADV_HUGEPAGE/MADV_NOHUGEPAGE.
napi_value MadviseLoop(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* p = reinterpret_cast<void*>(static_cast<uintptr_t>(Num(env, argv[0])));
  size_t len = static_cast<size_t>(Num(env, argv[1]));
  long n = static_cast<long>(Num(env, argv[2]));
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) madvise(p, len, (i & 1) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return Double(env, ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
}

// madviseNum(address, length, advice: number) -> undefined
napi_value MadviseNum(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t advice = 0;
  napi_get_value_int32(env, argv[2], &advice);
  madvise(reinterpret_cast<void*>(static_cast<uintptr_t>(Num(env, argv[0]))), static_cast<size_t>(Num(env, argv[1])), advice);
  return Undefined(env);
}

bool Parse(napi_env env, napi_value buf, std::vector<Vma>& vmas) {
  void* data;
  size_t len;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, buf, &type, &len, &data, &ab, &off) != napi_ok) return false;
  std::string error;
  return hugespan::ParseSmaps(static_cast<const char*>(data), len, vmas, error);
}

napi_value Str(napi_env env, const std::string& s) {
  napi_value v;
  napi_create_string_utf8(env, s.data(), s.size(), &v);
  return v;
}

// Shared by the object strategies: keys made once per call, or taken from `keyNames` (an
// object whose own keys, read back with napi_get_property_names, are internalized strings).
struct Keys {
  std::unordered_map<std::string, napi_value> map;
  napi_value Get(napi_env env, const std::string& k) {
    auto it = map.find(k);
    if (it != map.end()) return it->second;
    return map.emplace(k, Str(env, k)).first->second;
  }
};

napi_value Flags(napi_env env, const Vma& v, std::unordered_map<std::string, napi_value>& cache) {
  napi_value flags;
  napi_create_array_with_length(env, v.vmFlags.size(), &flags);
  for (size_t k = 0; k < v.vmFlags.size(); k++) {
    napi_value& s = cache[v.vmFlags[k]];
    if (!s) s = Str(env, v.vmFlags[k]);
    napi_set_element(env, flags, k, s);
  }
  return flags;
}

// mode 0: napi_define_properties per object (the addon's ToJs); mode 1: napi_set_property per field.
napi_value ToObjects(napi_env env, const std::vector<Vma>& vmas, Keys& keys, int mode) {
  std::unordered_map<std::string, napi_value> flagCache;
  napi_value arr;
  napi_create_array_with_length(env, vmas.size(), &arr);
  std::vector<napi_property_descriptor> props;
  for (size_t i = 0; i < vmas.size(); i++) {
    const Vma& v = vmas[i];
    props.clear();
    auto add = [&](const char* name, napi_value value) {
      props.push_back({nullptr, keys.Get(env, name), nullptr, nullptr, nullptr, value, napi_default_jsproperty, nullptr});
    };
    add("start", Double(env, v.start));
    add("end", Double(env, v.end));
    add("perms", Str(env, v.perms));
    add("offset", Double(env, v.offset));
    add("dev", Str(env, v.dev));
    add("inode", Double(env, v.inode));
    add("path", Str(env, v.path));
    for (const auto& f : v.fields)
      props.push_back({nullptr, keys.Get(env, f.key), nullptr, nullptr, nullptr, Double(env, f.value), napi_default_jsproperty, nullptr});
    if (v.hasThpEligible) {
      napi_value b;
      napi_get_boolean(env, v.thpEligible, &b);
      add("thpEligible", b);
    }
    add("vmFlags", Flags(env, v, flagCache));
    napi_value obj;
    napi_create_object(env, &obj);
    if (mode == 0) {
      napi_define_properties(env, obj, props.size(), props.data());
    } else {
      for (const auto& p : props) napi_set_property(env, obj, p.name, p.value);
    }
    napi_set_element(env, arr, i, obj);
  }
  return arr;
}

// smapsReadLoop(n) -> ns per read of /proc/self/smaps into one large static buffer, from inside
// this process (the C baseline does the same from its own process, on our pid).
napi_value SmapsReadLoop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  static char buf[4 << 20];
  long n = static_cast<long>(Num(env, argv[0]));
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) {
    int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Undefined(env);
    size_t used = 0;
    for (ssize_t k; (k = read(fd, buf + used, sizeof buf - used)) > 0 && (used += k) < sizeof buf;) {}
    close(fd);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return Double(env, ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
}

// smapsParseLoop(buffer, n) -> ns per parse: the C++ parser alone, no JS values made.
napi_value SmapsParseLoop(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::vector<Vma> vmas;
  long n = static_cast<long>(Num(env, argv[1]));
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) Parse(env, argv[0], vmas);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return Double(env, ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor d[] = {
      {"madviseLoop", nullptr, MadviseLoop, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"madviseNum", nullptr, MadviseNum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"smapsReadLoop", nullptr, SmapsReadLoop, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"smapsParseLoop", nullptr, SmapsParseLoop, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}
