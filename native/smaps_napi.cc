// smaps text -> the flat form src/native/smaps.ts builds VMA objects from. The parsing is
// smaps.cc's; this file reads /proc through a fixed buffer and packs what passes the filter
// into JS values as it parses. Invariant: what JS receives is exactly what the parser found in
// the VMAs that pass the filter (in the fields asked for), or an error naming the line; memory
// is the read buffer plus what is handed over, never the text.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <sys/random.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
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

// A vector's contents as a JS typed array, copied into a buffer V8 owns. Never an external
// buffer: Node 20 frees an external buffer's bookkeeping (node_buffer.cc CallbackInfo) from V8's
// concurrent ArrayBuffer sweeper while a worker's env teardown may still be reading it (a
// use-after-free, SIGSEGV, seen with worker.terminate() right after batches were collected).
template <typename Array, typename T>
static Array HandOver(Napi::Env env, std::vector<T>& v) {
  Array a = Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  std::vector<T>().swap(v);  // spent: the batch's memory goes now, not with the batch
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
//   keys:  each field name once (every name met so far, kept or only summed);
//   shape: per VMA, its kept field count n, n key ids, then thpEligible (0 absent, 1 false, 2 true);
//   nums:  per VMA, start, end, offset, inode, then its n field values;
//   strs:  per VMA, perms \0 dev \0 path \0 space-separated VmFlags \0 (the parser refuses NULs);
//   total: how many VMAs the text held; sums: per key id, the field summed over all of them.
// A VMA is written as it is parsed and taken back at its end if the filter drops it, so the
// buffers hold the kept VMAs only. A batch is `count` kept VMAs; with a batch size, each full
// batch goes to `full` (a stream hands it to JS while the rest is parsed).
struct FlatBatch {
  std::vector<uint32_t> shape;
  std::vector<double> nums;
  std::string strs;
  uint64_t count = 0;
  std::vector<std::string> keys;
};

class FlatSink : public SmapsSink {
 public:
  // `first`: the size of the first batch (smaller, so that the caller can start early).
  explicit FlatSink(const SmapsFilter& filter, uint64_t batch = UINT64_MAX, std::function<void(FlatBatch&)> full = nullptr, uint64_t first = UINT64_MAX)
      : filter_(filter), batch_(std::min(batch, first)), next_(batch), full_(std::move(full)) {}

  void BeginVma(const VmaHeader& h) override {
    ++total_;
    marks_ = {b_.shape.size(), b_.nums.size(), b_.strs.size()};
    anonymous_ = 0;
    thp_ = 0;
    size_ = h.end - h.start;
    b_.shape.push_back(0);  // the field count, known at EndVma
    b_.nums.insert(b_.nums.end(), {static_cast<double>(h.start), static_cast<double>(h.end), static_cast<double>(h.offset), static_cast<double>(h.inode)});
    b_.strs.append(h.perms, 4).push_back('\0');
    b_.strs.append(h.dev, h.devLen).push_back('\0');
    b_.strs.append(h.path, h.pathLen).push_back('\0');
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
    b_.shape.push_back(static_cast<uint32_t>(id));
    b_.nums.push_back(static_cast<double>(value));
  }
  void ThpEligible(bool eligible) override { thp_ = eligible ? 2 : 1; }
  void VmFlag(const char* f, size_t n) override {
    if (flags_++) b_.strs.push_back(' ');
    b_.strs.append(f, n);
  }
  void EndVma() override {
    if ((filter_.minAnonymous && anonymous_ < filter_.minAnonymous) || size_ < filter_.minSize) {
      b_.shape.resize(marks_.shape);
      b_.nums.resize(marks_.nums);
      b_.strs.resize(marks_.strs);
      return;
    }
    b_.shape[marks_.shape] = static_cast<uint32_t>(b_.shape.size() - marks_.shape - 1);
    b_.shape.push_back(thp_);
    b_.strs.push_back('\0');
    if (++b_.count >= batch_ && full_) {
      full_(Rest());
      b_ = FlatBatch();
      batch_ = next_;
    }
  }

  // The kept VMAs not yet handed on, with every key name met so far.
  FlatBatch& Rest() {
    b_.keys = names_;
    return b_;
  }
  uint64_t total() const { return total_; }
  const std::vector<double>& sums() const { return sums_; }

 private:
  const SmapsFilter& filter_;
  uint64_t batch_, next_;
  std::function<void(FlatBatch&)> full_;
  FlatBatch b_;
  std::vector<int32_t> flat_;          // parser key id -> id in keys, -1 until met
  std::vector<std::string> names_;
  std::vector<double> sums_;
  std::vector<bool> keep_;
  struct { size_t shape, nums, strs; } marks_ = {0, 0, 0};
  uint64_t anonymous_ = 0, size_ = 0, total_ = 0;
  uint32_t thp_ = 0, flags_ = 0;
};

static Napi::Array KeysToJs(Napi::Env env, const std::vector<std::string>& names) {
  Napi::Array keys = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); i++) keys.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  return keys;
}

// A batch as JS values. Each array is copied and its vector freed at once, so the peak holds
// one array twice, not the batch (a 60 000-VMA report's are ~10 MiB); the batch is spent after this.
static Napi::Object BatchToJs(Napi::Env env, FlatBatch& b) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("count", static_cast<double>(b.count));
  out.Set("keys", KeysToJs(env, b.keys));
  out.Set("shape", HandOver<Napi::Uint32Array>(env, b.shape));
  out.Set("nums", HandOver<Napi::Float64Array>(env, b.nums));
  out.Set("strs", Napi::String::New(env, b.strs));
  return out;
}

static void SetTotals(Napi::Env env, Napi::Object out, uint64_t total, const std::vector<double>& sums) {
  Napi::Float64Array a = Napi::Float64Array::New(env, sums.size());
  std::copy(sums.begin(), sums.end(), a.Data());
  out.Set("total", static_cast<double>(total));
  out.Set("sums", a);
}

// The fixed read buffer: 256 KiB, once per thread. The kernel prints at most a page of smaps
// per read (seq_file), and a line is at most a path (PATH_MAX) and a header.
constexpr size_t kReadBuffer = 256 * 1024;

static char* ReadBuffer() {
  static thread_local std::unique_ptr<char[]> buf;
  if (!buf) buf.reset(new char[kReadBuffer]);
  return buf.get();
}

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
  // A long read that should overlap the kernel's text generation with the work on it goes
  // through smapsStream; this one reads and parses in turn, with no thread to start.
  int r = ParseStream(parser, ReadBuffer(), kReadBuffer, [fd](char* dst, size_t max) -> long {
    for (;;) {
      ssize_t n = read(fd, dst, max);
      if (n >= 0 || errno != EINTR) return static_cast<long>(n);
    }
  }, error);
  int err = errno;
  close(fd);
  if (r < 0) ThrowSystemError(env, err, "read", ctx);
  if (r == 0) ThrowParse(env, path, error);
  Napi::Object out = BatchToJs(env, sink.Rest());
  SetTotals(env, out, sink.total(), sink.sums());
  return out;
}

// A read of smaps handed to JS in batches while the rest is read and parsed on a thread of its
// own, so a caller measures and writes one batch while the kernel prints the next. Invariants:
// batches come in file order, each VMA in exactly one; at most two wait, so memory is two
// batches and the read buffer whatever the file's size; the thread has ended (and the fd is
// closed) when Close() returns or the object is destroyed, whether or not it was read through.
class SmapsStream {
 public:
  static constexpr uint64_t kBatch = 1024;  // VMAs a batch
  static constexpr uint64_t kFirst = 128;   // the first: JS starts on it while the rest is read

  SmapsStream(int fd, SmapsFilter filter, std::string path)
      : fd_(fd), filter_(std::move(filter)), path_(std::move(path)), buf_(new char[kReadBuffer]), thread_([this] { Run(); }) {}
  ~SmapsStream() { Close(); }

  // Stops and joins the thread and frees what it buffered; true the first time (the stream
  // then holds nothing and no longer counts as live).
  bool Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    queue_.clear();
    buf_.reset();
    bool first = !closed_;
    closed_ = true;
    return first;
  }

  // The next batch into `out` (true), or false at the end of the file or on a failure (then
  // err()/parseError() say which; both empty at the end).
  bool Take(FlatBatch& out) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !queue_.empty() || done_; });
    if (queue_.empty()) return false;
    out = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return true;
  }
  int err() const { return err_; }
  const std::string& parseError() const { return parseError_; }
  const std::string& path() const { return path_; }
  uint64_t total() const { return total_; }
  const std::vector<double>& sums() const { return sums_; }
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  void Push(FlatBatch& b) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return queue_.size() < 2 || stop_; });
    if (stop_) return;  // nobody will take it; the next read ends the parse
    queue_.push_back(std::move(b));
    cv_.notify_all();
  }
  void Run() {
    FlatSink sink(filter_, kBatch, [this](FlatBatch& b) { Push(b); }, kFirst);
    SmapsParser parser(sink);
    std::string error;
    int r = ParseStream(parser, buf_.get(), kReadBuffer, [this](char* dst, size_t max) -> long {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) {
          errno = ECANCELED;
          return -1;
        }
      }
      for (;;) {
        ssize_t n = ::read(fd_, dst, max);
        if (n >= 0 || errno != EINTR) return static_cast<long>(n);
      }
    }, error);
    int err = r < 0 ? errno : 0;
    if (r == 1) {
      FlatBatch& rest = sink.Rest();
      if (rest.count) Push(rest);
    }
    std::lock_guard<std::mutex> lock(mu_);
    err_ = err;
    if (r == 0) parseError_ = error;
    total_ = sink.total();
    sums_ = sink.sums();
    keys_ = sink.Rest().keys;
    done_ = true;
    cv_.notify_all();
  }

  int fd_;
  const SmapsFilter filter_;
  const std::string path_;
  std::unique_ptr<char[]> buf_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<FlatBatch> queue_;
  bool done_ = false, stop_ = false, closed_ = false;
  int err_ = 0;
  std::string parseError_;
  uint64_t total_ = 0;
  std::vector<double> sums_;
  std::vector<std::string> keys_;
  std::thread thread_;  // last: started once every member above exists
};

// The tag that proves an object is one of this copy's streams (not something a caller made up,
// nor a stream of another copy of the addon, whose SmapsStream may be another version): random
// per load, as a copy's handles are its own.
static const napi_type_tag& StreamTag() {
  static const napi_type_tag tag = [] {
    napi_type_tag t{0x6875676573706e31ull, 0x736d617073747265ull};
    uint64_t r[2] = {0, 0};
    if (getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {  // no entropy: still per copy
      r[0] = reinterpret_cast<uintptr_t>(&t) ^ static_cast<uint64_t>(getpid());
      r[1] = reinterpret_cast<uintptr_t>(&StreamTag);
    }
    t.lower ^= r[0];
    t.upper ^= r[1];
    return t;
  }();
  return tag;
}

// Streams whose thread and buffers exist (opened, not yet closed or collected), process-wide.
// Each holds a thread, the read buffer and up to two batches that V8 cannot see: the count is
// bounded, and each is reported to V8 as external memory so that dropped ones are collected
// (and so closed) soon.
static constexpr uint64_t kMaxStreams = 64;
static constexpr int64_t kStreamCharge = static_cast<int64_t>(kReadBuffer) + (2 << 20);  // buffer + two batches
static std::atomic<uint64_t> g_liveStreams{0};

uint64_t MaxSmapsStreams() { return kMaxStreams; }

// Close once: the thread joined, its memory freed, the count and V8's external memory told.
static void CloseStream(napi_env env, SmapsStream* s) {
  if (!s->Close()) return;
  g_liveStreams--;
  int64_t now;
  napi_adjust_external_memory(env, -kStreamCharge, &now);
}

static SmapsStream* StreamArg(const Napi::CallbackInfo& info) {
  bool ours = false;
  if (info[0].IsExternal()) napi_check_object_type_tag(info.Env(), info[0], &StreamTag(), &ours);
  if (!ours) ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", "The \"stream\" argument must be a stream from smapsStream()");
  return info[0].As<Napi::External<SmapsStream>>().Data();
}

// smapsStream(pid | "self", minAnonymous = 0, minSize = 0, fields?) -> a stream: the file is
// opened here (so a missing or forbidden process fails now, before anything is read), then
// read and parsed on the stream's thread. Collecting the stream stops and joins it.
Napi::Value SmapsStreamOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0);
  SmapsFilter filter;
  filter.minAnonymous = ArgOptionalUint(info, 1, "minAnonymous");
  filter.minSize = ArgOptionalUint(info, 2, "minSize");
  filter.fields = ArgFields(info, 3);
  std::string path = ProcPath(pid, "smaps");
  if (++g_liveStreams > kMaxStreams) {
    g_liveStreams--;
    ThrowError(env, "ERR_HUGESPAN_TOO_MANY_STREAMS",
               "At most " + std::to_string(kMaxStreams) +
                   " smaps streams may be open at once; close (smapsClose) the ones read through");
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    g_liveStreams--;
    SysContext ctx;
    ctx.path = path.c_str();
    ThrowSystemError(env, err, "open", ctx);
  }
  SmapsStream* stream;
  try {
    stream = new SmapsStream(fd, std::move(filter), path);
  } catch (...) {
    close(fd);
    g_liveStreams--;
    throw;
  }
  int64_t now;
  napi_adjust_external_memory(env, kStreamCharge, &now);
  napi_value ext;
  if (napi_create_external(env, stream, [](napi_env e, void* d, void*) {
        auto* st = static_cast<SmapsStream*>(d);
        CloseStream(e, st);
        delete st;
      }, nullptr, &ext) != napi_ok) {
    CloseStream(env, stream);
    delete stream;
    ThrowError(env, "ERR_HUGESPAN_INTERNAL", "napi_create_external failed");
  }
  napi_type_tag_object(env, ext, &StreamTag());
  return Napi::Value(env, ext);
}

// smapsNext(stream) -> the next batch in the flat form ({ count, keys, shape, nums, strs }), or
// at the end { count: 0, done: true, keys, total, sums }; a failed read or parse throws, as
// smaps() would, and so does every later call.
Napi::Value SmapsStreamNext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SmapsStream* s = StreamArg(info);
  FlatBatch b;
  if (s->Take(b)) return BatchToJs(env, b);
  if (s->err()) {
    SysContext ctx;
    ctx.path = s->path().c_str();
    ThrowSystemError(env, s->err(), "read", ctx);
  }
  if (!s->parseError().empty()) ThrowParse(env, s->path(), s->parseError());
  Napi::Object out = Napi::Object::New(env);
  out.Set("count", 0.0);
  out.Set("done", true);
  out.Set("keys", KeysToJs(env, s->keys()));
  SetTotals(env, out, s->total(), s->sums());
  return out;
}

// smapsClose(stream): stop and join now rather than when the stream is collected. Later
// smapsNext calls end (or throw ECANCELED if it was stopped in the middle).
Napi::Value SmapsStreamClose(const Napi::CallbackInfo& info) {
  CloseStream(info.Env(), StreamArg(info));
  return info.Env().Undefined();
}

// parseSmaps(text: string | Uint8Array, piece = whole) -> the flat form (see FlatSink), every
// VMA. `piece`: feed the text through the same fixed-buffer loop at most this many bytes a
// read, so tests can put piece boundaries anywhere.
Napi::Value ParseSmapsText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string owned;
  const char* data = nullptr;
  size_t len = 0;
  if (info[0].IsString()) {
    owned = info[0].As<Napi::String>().Utf8Value();
    data = owned.data();
    len = owned.size();
  } else if (info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
  } else {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"text\" argument must be a string or a Uint8Array");
  }
  uint64_t piece = info[1].IsUndefined() ? 0 : ArgUint(info, 1, "piece");
  if (info.Length() > 1 && !info[1].IsUndefined() && piece == 0) ThrowRangeError(env, "ERR_OUT_OF_RANGE", "The \"piece\" argument must be at least 1");
  if (!info[0].IsString()) {  // copied: the parse reads our own bytes, whatever the array's buffer is
    Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
    owned.assign(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
    data = owned.data();
    len = owned.size();
  }
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
  Napi::Object out = BatchToJs(env, sink.Rest());
  SetTotals(env, out, sink.total(), sink.sums());
  return out;
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
