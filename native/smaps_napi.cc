// smaps text -> the flat form src/native/smaps.ts builds VMA objects from. The parsing is
// smaps.cc's; this file reads /proc through a fixed buffer and packs what passes the filter
// into JS values as it parses. Invariant: what JS receives is exactly what the parser found in
// the VMAs that pass the filter (in the fields asked for), or an error naming the line; memory
// is the read buffer plus what is handed over, never the text.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "errors.h"
#include "smaps.h"

namespace hugespan {

// Read a whole small /proc file (status, stat) into `buf`. /proc files report size 0: read
// until EOF.
static size_t ReadProcFile(Napi::Env env, const std::string& path, std::string& buf) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  SysContext ctx;
  ctx.path = path.c_str();
  if (fd < 0) ThrowSystemError(env, errno, "open", ctx);
  if (buf.size() < 4096) buf.resize(4096);
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

// A vector's memory as a JS typed array's buffer, freed when JS collects it; a copy where the
// runtime allows no external buffers (builds with the V8 sandbox).
template <typename Array, typename T>
static Array HandOver(Napi::Env env, std::vector<T>& v) {
  size_t n = v.size();
  if (n) {
    auto* held = new std::vector<T>(std::move(v));
    try {
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
          env, held->data(), n * sizeof(T), [](Napi::Env, void*, std::vector<T>* h) { delete h; }, held);
      return Array::New(env, n, ab, 0);
    } catch (const Napi::Error&) {
      v = std::move(*held);
      delete held;
    }
  }
  Array a = Array::New(env, n);
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

// Which VMAs and fields are handed over. Only VMAs with at least `minAnonymous` Anonymous
// bytes and `minSize` bytes of address space (most VMAs of a large process are file mappings
// with no anonymous memory); of those, only the `fields` named (every field when empty). The
// sums still cover every field of every VMA, for totals such as Rss.
struct SmapsFilter {
  uint64_t minAnonymous = 0, minSize = 0;
  std::vector<std::string> fields;
};

// The flat form, written while parsing:
//   keys:  each field name once (every name met, kept or only summed);
//   shape: per VMA, its kept field count n, n key ids, then thpEligible (0 absent, 1 false, 2 true);
//   nums:  per VMA, start, end, offset, inode, then its n field values;
//   strs:  per VMA, perms \0 dev \0 path \0 space-separated VmFlags \0 (the parser refuses NULs);
//   total: how many VMAs the text held; sums: per key id, the field summed over all of them.
// A VMA is written as it is parsed and taken back at its end if the filter drops it, so the
// buffers hold the kept VMAs only.
class FlatSink : public SmapsSink {
 public:
  explicit FlatSink(const SmapsFilter& filter) : filter_(filter) {}

  void BeginVma(const VmaHeader& h) override {
    ++total_;
    marks_ = {shape_.size(), nums_.size(), strs_.size()};
    anonymous_ = 0;
    thp_ = 0;
    size_ = h.end - h.start;
    shape_.push_back(0);  // the field count, known at EndVma
    nums_.insert(nums_.end(), {static_cast<double>(h.start), static_cast<double>(h.end), static_cast<double>(h.offset), static_cast<double>(h.inode)});
    strs_.append(h.perms, 4).push_back('\0');
    strs_.append(h.dev, h.devLen).push_back('\0');
    strs_.append(h.path, h.pathLen).push_back('\0');
    flags_ = 0;
  }
  void Field(const SmapsParser& parser, int key, uint64_t value) override {
    if (static_cast<size_t>(key) >= flat_.size()) flat_.resize(static_cast<size_t>(parser.KeyCount()), -1);
    int32_t& id = flat_[static_cast<size_t>(key)];
    if (id < 0) {  // first time this name is met: give it an id, decide once whether it is kept
      id = static_cast<int32_t>(names_.size());
      names_.push_back(parser.KeyName(key));
      sums_.push_back(0);
      keep_.push_back(filter_.fields.empty() || std::find(filter_.fields.begin(), filter_.fields.end(), names_.back()) != filter_.fields.end());
    }
    sums_[static_cast<size_t>(id)] += static_cast<double>(value);
    if (key == SmapsParser::AnonymousKey()) anonymous_ = value;
    if (!keep_[static_cast<size_t>(id)]) return;
    shape_.push_back(static_cast<uint32_t>(id));
    nums_.push_back(static_cast<double>(value));
  }
  void ThpEligible(bool eligible) override { thp_ = eligible ? 2 : 1; }
  void VmFlag(const char* f, size_t n) override {
    if (flags_++) strs_.push_back(' ');
    strs_.append(f, n);
  }
  void EndVma() override {
    if ((filter_.minAnonymous && anonymous_ < filter_.minAnonymous) || size_ < filter_.minSize) {
      shape_.resize(marks_.shape);
      nums_.resize(marks_.nums);
      strs_.resize(marks_.strs);
      return;
    }
    shape_[marks_.shape] = static_cast<uint32_t>(shape_.size() - marks_.shape - 1);
    shape_.push_back(thp_);
    strs_.push_back('\0');
    ++count_;
  }

  // The buffers go to JS without a copy (a 60 000-VMA report's are ~10 MiB; a copy doubled
  // them at the peak); the sink is spent after this.
  Napi::Value ToJs(Napi::Env env) {
    Napi::Uint32Array shape = HandOver<Napi::Uint32Array>(env, shape_);
    Napi::Float64Array nums = HandOver<Napi::Float64Array>(env, nums_);
    Napi::Array keys = Napi::Array::New(env, names_.size());
    for (size_t i = 0; i < names_.size(); i++) keys.Set(static_cast<uint32_t>(i), Napi::String::New(env, names_[i]));
    Napi::Float64Array sums = Napi::Float64Array::New(env, sums_.size());
    std::copy(sums_.begin(), sums_.end(), sums.Data());
    Napi::Object out = Napi::Object::New(env);
    out.Set("count", static_cast<double>(count_));
    out.Set("keys", keys);
    out.Set("shape", shape);
    out.Set("nums", nums);
    out.Set("strs", Napi::String::New(env, strs_));
    out.Set("total", static_cast<double>(total_));
    out.Set("sums", sums);
    return out;
  }

 private:
  const SmapsFilter& filter_;
  std::vector<uint32_t> shape_;
  std::vector<double> nums_;
  std::string strs_;
  std::vector<int32_t> flat_;          // parser key id -> id in keys, -1 until met
  std::vector<std::string> names_;
  std::vector<double> sums_;
  std::vector<bool> keep_;
  struct { size_t shape, nums, strs; } marks_ = {0, 0, 0};
  uint64_t anonymous_ = 0, size_ = 0, count_ = 0, total_ = 0;
  uint32_t thp_ = 0, flags_ = 0;
};

// The fixed read buffer: 256 KiB, once per thread. The kernel prints at most a page of smaps
// per read (seq_file), and a line is at most a path (PATH_MAX) and a header.
constexpr size_t kReadBuffer = 256 * 1024;

static char* ReadBuffer() {
  static thread_local std::unique_ptr<char[]> buf;
  if (!buf) buf.reset(new char[kReadBuffer]);
  return buf.get();
}

// Reads a file on its own thread, a few blocks ahead of the parser: the kernel generates smaps
// text while the text before it is parsed (they took about as long as each other at 60 000
// VMAs, one after the other). Memory: at most kBlocks blocks in flight. Invariant: read() hands
// out the file's bytes in order, exactly once, then 0 at its end or -1 with errno on failure;
// the thread has ended when this object is gone, whether or not the file was read to the end.
class ReadAhead {
 public:
  explicit ReadAhead(int fd) : fd_(fd), thread_([this] { Run(); }) {}
  ~ReadAhead() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  long read(char* dst, size_t max) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !full_.empty() || done_; });
    if (full_.empty()) {
      if (err_) errno = err_;
      return err_ ? -1 : 0;
    }
    Block& b = full_.front();
    size_t n = std::min(max, b.len - b.off);
    std::memcpy(dst, b.data.get() + b.off, n);
    b.off += n;
    if (b.off == b.len) {
      free_.push_back(std::move(b.data));
      full_.pop_front();
      cv_.notify_all();
    }
    return static_cast<long>(n);
  }

 private:
  static constexpr size_t kBlock = 64 * 1024, kBlocks = 4;
  struct Block {
    std::unique_ptr<char[]> data;
    size_t len = 0, off = 0;
  };
  void Run() {
    for (size_t i = 0; i < kBlocks; i++) free_.emplace_back(new char[kBlock]);
    for (;;) {
      std::unique_ptr<char[]> buf;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !free_.empty() || stop_; });
        if (stop_) return;
        buf = std::move(free_.back());
        free_.pop_back();
      }
      ssize_t n;
      do n = ::read(fd_, buf.get(), kBlock);
      while (n < 0 && errno == EINTR);
      int err = n < 0 ? errno : 0;
      std::lock_guard<std::mutex> lock(mu_);
      if (n > 0) {
        full_.push_back(Block{std::move(buf), static_cast<size_t>(n), 0});
      } else {
        done_ = true;
        err_ = err;
      }
      cv_.notify_all();
      if (n <= 0) return;
    }
  }
  int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Block> full_;
  std::vector<std::unique_ptr<char[]>> free_;
  bool done_ = false, stop_ = false;
  int err_ = 0;
  std::thread thread_;  // last: started once every member above exists
};

[[noreturn]] static void ThrowParse(Napi::Env env, const std::string& source, const std::string& error) {
  ThrowError(env, "ERR_HUGESPAN_SMAPS_PARSE", "cannot parse " + source + ": " + error);
}

// An optional byte bound: undefined is 0 (no bound), else what ArgUint accepts.
static uint64_t ArgOptionalUint(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return info[i].IsUndefined() ? 0 : ArgUint(info, i, name);
}

// A list of field names, or undefined for every field.
static std::vector<std::string> ArgFields(const Napi::CallbackInfo& info, size_t i) {
  std::vector<std::string> out;
  if (info[i].IsUndefined()) return out;
  if (!info[i].IsArray()) ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", "The \"fields\" argument must be an array of strings");
  Napi::Array a = info[i].As<Napi::Array>();
  if (a.Length() == 0 || a.Length() > 64) ThrowRangeError(info.Env(), "ERR_OUT_OF_RANGE", "The \"fields\" argument must list 1 to 64 names");
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (!v.IsString()) ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", "The \"fields\" argument must be an array of strings");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

// smaps(pid | "self", rollup = false, minAnonymous = 0, minSize = 0, fields?) -> the flat form
// (see FlatSink), holding only the VMAs that pass the filter. Every argument is checked before
// the file is opened; the file is read through the fixed buffer and parsed as it comes.
Napi::Value Smaps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0);
  bool rollup = ArgBool(info, 1, "rollup", false);
  SmapsFilter filter;
  filter.minAnonymous = ArgOptionalUint(info, 2, "minAnonymous");
  filter.minSize = ArgOptionalUint(info, 3, "minSize");
  filter.fields = ArgFields(info, 4);
  std::string path = ProcPath(pid, rollup ? "smaps_rollup" : "smaps");
  SysContext ctx;
  ctx.path = path.c_str();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowSystemError(env, errno, "open", ctx);
  FlatSink sink(filter);
  SmapsParser parser(sink);
  std::string error;
  // The first kReadBuffer bytes are read here; only a longer file gets a reader thread (a
  // thread for our own 100 KiB smaps cost more than the overlap saves), and smaps_rollup never.
  std::unique_ptr<ReadAhead> ahead;
  size_t direct = 0;
  int r = ParseStream(parser, ReadBuffer(), kReadBuffer, [&](char* dst, size_t max) -> long {
    if (ahead) return ahead->read(dst, max);
    if (direct >= kReadBuffer && !rollup) {
      ahead.reset(new ReadAhead(fd));
      return ahead->read(dst, max);
    }
    for (;;) {
      ssize_t n = read(fd, dst, max);
      if (n >= 0 || errno != EINTR) {
        if (n > 0) direct += static_cast<size_t>(n);
        return static_cast<long>(n);
      }
    }
  }, error);
  int err = errno;
  ahead.reset();  // the reader thread ends before the fd is closed
  close(fd);
  if (r < 0) ThrowSystemError(env, err, "read", ctx);
  if (r == 0) ThrowParse(env, path, error);
  return sink.ToJs(env);
}

// parseSmaps(text: string | Uint8Array, piece = whole) -> the flat form (see FlatSink), every
// VMA. `piece`: feed the text through the same fixed-buffer loop at most this many bytes a
// read, so tests can put piece boundaries anywhere.
Napi::Value ParseSmapsText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string owned;
  const char* data;
  size_t len;
  if (info[0].IsString()) {
    owned = info[0].As<Napi::String>().Utf8Value();
    data = owned.data();
    len = owned.size();
  } else if (info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
    data = reinterpret_cast<const char*>(a.Data());
    len = a.ByteLength();
  } else {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"text\" argument must be a string or a Uint8Array");
  }
  uint64_t piece = info[1].IsUndefined() ? 0 : ArgUint(info, 1, "piece");
  if (info.Length() > 1 && !info[1].IsUndefined() && piece == 0) ThrowRangeError(env, "ERR_OUT_OF_RANGE", "The \"piece\" argument must be at least 1");
  SmapsFilter all;
  FlatSink sink(all);
  SmapsParser parser(sink);
  std::string error;
  size_t at = 0;
  size_t step = piece ? static_cast<size_t>(piece) : len;
  int r = ParseStream(parser, ReadBuffer(), kReadBuffer, [&](char* dst, size_t max) -> long {
    size_t n = std::min({max, step, len - at});
    std::memcpy(dst, data + at, n);
    at += n;
    return static_cast<long>(n);
  }, error);
  if (r != 1) ThrowParse(env, "smaps text", error);
  return sink.ToJs(env);
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
