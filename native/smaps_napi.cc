// smaps text -> the flat form src/native/smaps.ts builds VMA objects from. The parsing is
// smaps.cc's; this file reads /proc and packs the result into four JS values.
// Invariant: what JS receives is exactly what ParseSmaps returned, or an error naming the line.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <unordered_map>

#include "args.h"
#include "errors.h"
#include "smaps.h"

namespace hugespan {

// Read a whole /proc file into `buf`, returning its length. `buf` is reused and never shrunk,
// so after the first calls there is no allocation and no zero-filling. /proc files report
// size 0: read until EOF.
static size_t ReadProcFile(Napi::Env env, const std::string& path, std::string& buf) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  SysContext ctx;
  ctx.path = path.c_str();
  if (fd < 0) ThrowSystemError(env, errno, "open", ctx);
  if (buf.size() < 256 * 1024) buf.resize(256 * 1024);
  size_t used = 0;
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
  return used;
}

std::string ProcPath(int pid, const char* leaf) {
  return (pid == 0 ? std::string("/proc/self/") : "/proc/" + std::to_string(pid) + "/") + leaf;
}

// The parsed VMAs in four values, built into objects by src/native/smaps.ts: creating the
// objects in JS from one literal per field list is ~4× faster than one napi call per VMA.
//   keys:  each field name once;
//   shape: per VMA, its field count n, n key ids, then thpEligible (0 absent, 1 false, 2 true);
//   nums:  per VMA, start, end, offset, inode, then its n field values;
//   strs:  per VMA, perms \0 dev \0 path \0 space-separated VmFlags \0 (the parser refuses NULs);
//   total: how many VMAs the text held; sums: per key id, the field summed over all of them.
// The filter: only VMAs with at least `minAnonymous` Anonymous bytes and `minSize` bytes of
// address space are handed over (count), so nothing is built in JS for what a caller drops
// (most VMAs of a large process are file mappings with no anonymous memory); the sums still
// cover every VMA, for totals such as Rss.
struct SmapsFilter {
  uint64_t minAnonymous = 0, minSize = 0;
};

static uint64_t FieldOf(const Vma& v, const char* key) {
  for (const auto& f : v.fields)
    if (f.key == key) return f.value;
  return 0;
}

static Napi::Value ToFlat(Napi::Env env, const std::vector<Vma>& all, const SmapsFilter& filter = {}) {
  std::unordered_map<std::string, uint32_t> ids;
  std::vector<const std::string*> keyList;
  std::vector<double> sums;
  std::vector<const Vma*> vmas;
  vmas.reserve(all.size());
  std::vector<uint32_t> seen;  // the previous VMA's key ids, as below: a compare, not a hash
  for (const Vma& v : all) {
    for (size_t k = 0; k < v.fields.size(); k++) {
      const SmapsField& f = v.fields[k];
      uint32_t id;
      if (k < seen.size() && *keyList[seen[k]] == f.key) {
        id = seen[k];
      } else {
        auto it = ids.find(f.key);
        if (it == ids.end()) {
          it = ids.emplace(f.key, static_cast<uint32_t>(keyList.size())).first;
          keyList.push_back(&f.key);
          sums.push_back(0);
        }
        id = it->second;
        if (k < seen.size()) seen[k] = id;
        else seen.push_back(id);
      }
      sums[id] += static_cast<double>(f.value);
    }
    if ((filter.minAnonymous == 0 || FieldOf(v, "anonymous") >= filter.minAnonymous) && v.end - v.start >= filter.minSize)
      vmas.push_back(&v);
  }
  size_t nShape = 0, nNums = 0, nStrs = 0;
  for (const Vma* vp : vmas) {
    const Vma& v = *vp;
    nShape += v.fields.size() + 2;
    nNums += v.fields.size() + 4;
    nStrs += v.perms.size() + v.dev.size() + v.path.size() + v.vmFlags.size() * 3 + 4;
  }
  Napi::Uint32Array shape = Napi::Uint32Array::New(env, nShape);
  Napi::Float64Array nums = Napi::Float64Array::New(env, nNums);
  uint32_t* sh = shape.Data();
  double* nu = nums.Data();
  std::string strs;
  strs.reserve(nStrs);
  std::vector<uint32_t> prev;  // the previous VMA's key ids: nearly every VMA repeats them
  for (const Vma* vp : vmas) {
    const Vma& v = *vp;
    *sh++ = static_cast<uint32_t>(v.fields.size());
    for (size_t k = 0; k < v.fields.size(); k++) {
      const std::string& key = v.fields[k].key;
      uint32_t id;
      if (k < prev.size() && *keyList[prev[k]] == key) {
        id = prev[k];
      } else {
        id = ids.find(key)->second;  // every key was interned in the first pass
        if (k < prev.size()) prev[k] = id;
        else prev.push_back(id);
      }
      *sh++ = id;
    }
    *sh++ = v.hasThpEligible ? (v.thpEligible ? 2 : 1) : 0;
    *nu++ = static_cast<double>(v.start);
    *nu++ = static_cast<double>(v.end);
    *nu++ = static_cast<double>(v.offset);
    *nu++ = static_cast<double>(v.inode);
    for (const auto& f : v.fields) *nu++ = static_cast<double>(f.value);
    strs.append(v.perms).push_back('\0');
    strs.append(v.dev).push_back('\0');
    strs.append(v.path).push_back('\0');
    for (size_t k = 0; k < v.vmFlags.size(); k++) {
      if (k) strs.push_back(' ');
      strs.append(v.vmFlags[k]);
    }
    strs.push_back('\0');
  }
  Napi::Array keys = Napi::Array::New(env, keyList.size());
  for (size_t i = 0; i < keyList.size(); i++) keys.Set(static_cast<uint32_t>(i), Napi::String::New(env, *keyList[i]));
  Napi::Object out = Napi::Object::New(env);
  out.Set("count", static_cast<double>(vmas.size()));
  out.Set("keys", keys);
  out.Set("shape", shape);
  out.Set("nums", nums);
  out.Set("strs", Napi::String::New(env, strs));
  out.Set("total", static_cast<double>(all.size()));
  Napi::Float64Array sumArray = Napi::Float64Array::New(env, sums.size());
  std::copy(sums.begin(), sums.end(), sumArray.Data());
  out.Set("sums", sumArray);
  return out;
}

static Napi::Value ParseOrThrow(Napi::Env env, const char* data, size_t len, const std::string& source,
                                const SmapsFilter& filter = {}) {
  std::vector<Vma> vmas;
  std::string error;
  if (!ParseSmaps(data, len, vmas, error))
    ThrowError(env, "ERR_HUGESPAN_SMAPS_PARSE", "cannot parse " + source + ": " + error);
  return ToFlat(env, vmas, filter);
}

// An optional byte bound: undefined is 0 (no bound), else what ArgUint accepts.
static uint64_t ArgOptionalUint(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return info[i].IsUndefined() ? 0 : ArgUint(info, i, name);
}

// smaps(pid | "self", rollup = false, minAnonymous = 0, minSize = 0) -> the flat form (see
// ToFlat), holding only the VMAs that pass the filter. Every argument is checked before the
// file is opened.
Napi::Value Smaps(const Napi::CallbackInfo& info) {
  int pid = ArgPid(info, 0);
  bool rollup = ArgBool(info, 1, "rollup", false);
  SmapsFilter filter;
  filter.minAnonymous = ArgOptionalUint(info, 2, "minAnonymous");
  filter.minSize = ArgOptionalUint(info, 3, "minSize");
  std::string path = ProcPath(pid, rollup ? "smaps_rollup" : "smaps");
  static thread_local std::string text;
  size_t len = ReadProcFile(info.Env(), path, text);
  return ParseOrThrow(info.Env(), text.data(), len, path, filter);
}

// parseSmaps(text: string | Uint8Array) -> the flat form (see ToFlat)
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
  std::string text;
  size_t len = ReadProcFile(info.Env(), ProcPath(pid, leaf.c_str()), text);
  return Napi::String::New(info.Env(), text.data(), len);
}

}  // namespace hugespan
