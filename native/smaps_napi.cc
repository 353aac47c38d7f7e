// smaps text -> JS objects. The parsing is smaps.cc's; this file reads /proc and builds one
// plain object per VMA with a single napi_define_properties call (one boundary crossing per
// VMA rather than one per field), every key string created once per call.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <unordered_map>

#include "args.h"
#include "errors.h"
#include "smaps.h"

namespace hugespan {

// Read a whole /proc file. /proc files report size 0, so read until EOF.
std::string ReadProcFile(Napi::Env env, const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  SysContext ctx;
  ctx.path = path.c_str();
  if (fd < 0) ThrowSystemError(env, errno, "open", ctx);
  std::string buf;
  size_t used = 0;
  buf.resize(256 * 1024);
  for (;;) {
    if (used == buf.size()) buf.resize(buf.size() * 2);
    ssize_t n = read(fd, &buf[used], buf.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      ThrowSystemError(env, err, "read", ctx);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  close(fd);
  buf.resize(used);
  return buf;
}

std::string ProcPath(int pid, const char* leaf) {
  return (pid == 0 ? std::string("/proc/self/") : "/proc/" + std::to_string(pid) + "/") + leaf;
}

static Napi::Value ToJs(Napi::Env env, const std::vector<Vma>& vmas) {
  std::unordered_map<std::string, napi_value> keys;
  auto key = [&](const std::string& k) {
    auto it = keys.find(k);
    if (it != keys.end()) return it->second;
    napi_value v;
    napi_create_string_utf8(env, k.data(), k.size(), &v);
    return keys.emplace(k, v).first->second;
  };
  auto num = [&](double d) {
    napi_value v;
    napi_create_double(env, d, &v);
    return v;
  };
  auto str = [&](const std::string& s) {
    napi_value v;
    napi_create_string_utf8(env, s.data(), s.size(), &v);
    return v;
  };
  napi_value kStart = key("start"), kEnd = key("end"), kPerms = key("perms"), kOffset = key("offset"),
             kDev = key("dev"), kInode = key("inode"), kPath = key("path"), kElig = key("thpEligible"),
             kFlags = key("vmFlags");
  std::unordered_map<std::string, napi_value> flagStrings;

  napi_value arr;
  napi_create_array_with_length(env, vmas.size(), &arr);
  std::vector<napi_property_descriptor> props;
  for (size_t i = 0; i < vmas.size(); i++) {
    const Vma& v = vmas[i];
    props.clear();
    auto add = [&](napi_value name, napi_value value) {
      props.push_back({nullptr, name, nullptr, nullptr, nullptr, value, napi_default_jsproperty, nullptr});
    };
    add(kStart, num(static_cast<double>(v.start)));
    add(kEnd, num(static_cast<double>(v.end)));
    add(kPerms, str(v.perms));
    add(kOffset, num(static_cast<double>(v.offset)));
    add(kDev, str(v.dev));
    add(kInode, num(static_cast<double>(v.inode)));
    add(kPath, str(v.path));
    for (const auto& f : v.fields) add(key(f.key), num(static_cast<double>(f.value)));
    if (v.hasThpEligible) {
      napi_value b;
      napi_get_boolean(env, v.thpEligible, &b);
      add(kElig, b);
    }
    napi_value flags;
    napi_create_array_with_length(env, v.vmFlags.size(), &flags);
    for (size_t k = 0; k < v.vmFlags.size(); k++) {
      napi_value& s = flagStrings[v.vmFlags[k]];
      if (!s) s = str(v.vmFlags[k]);
      napi_set_element(env, flags, k, s);
    }
    add(kFlags, flags);
    napi_value obj;
    napi_create_object(env, &obj);
    napi_define_properties(env, obj, props.size(), props.data());
    napi_set_element(env, arr, i, obj);
  }
  return Napi::Value(env, arr);
}

static Napi::Value ParseOrThrow(Napi::Env env, const char* data, size_t len, const std::string& source) {
  std::vector<Vma> vmas;
  std::string error;
  if (!ParseSmaps(data, len, vmas, error))
    ThrowError(env, "ERR_HUGESPAN_SMAPS_PARSE", "cannot parse " + source + ": " + error);
  return ToJs(env, vmas);
}

// smaps(pid | "self", rollup = false) -> VMA objects
Napi::Value Smaps(const Napi::CallbackInfo& info) {
  int pid = ArgPid(info, 0);
  bool rollup = ArgBool(info, 1, "rollup", false);
  std::string path = ProcPath(pid, rollup ? "smaps_rollup" : "smaps");
  std::string text = ReadProcFile(info.Env(), path);
  return ParseOrThrow(info.Env(), text.data(), text.size(), path);
}

// parseSmaps(text: string | Uint8Array) -> VMA objects
Napi::Value ParseSmapsText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info[0].IsString()) {
    std::string s = info[0].As<Napi::String>().Utf8Value();
    return ParseOrThrow(env, s.data(), s.size(), "smaps text");
  }
  if (info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
    return ParseOrThrow(env, reinterpret_cast<const char*>(a.Data()), a.ByteLength(), "smaps text");
  }
  ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"text\" argument must be a string or a Uint8Array");
}

// readProcText(pid | "self", leaf) -> string: for small /proc files (status, stat).
Napi::Value ReadProc(const Napi::CallbackInfo& info) {
  int pid = ArgPid(info, 0);
  std::string leaf = ArgString(info, 1, "file");
  if (leaf != "status" && leaf != "stat" && leaf != "cmdline" && leaf != "comm")
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_VALUE", "The \"file\" argument must be status, stat, cmdline or comm");
  std::string text = ReadProcFile(info.Env(), ProcPath(pid, leaf.c_str()));
  return Napi::String::New(info.Env(), text);
}

}  // namespace hugespan
