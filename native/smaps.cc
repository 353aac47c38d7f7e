// The smaps parser: one forward pass, line by line, fed in pieces, no regex, no streams, no
// locale. Invariants: every byte read lies in what Feed was given; the parser itself keeps no
// text (the sink decides what to store), so a reader with a fixed buffer parses any size of
// smaps in bounded memory; a field's identity is its camelCase key, so two lines whose keys
// camel to the same name are a duplicate, whatever piece boundaries fell between them.
#include "smaps.h"

#include <cstring>
#include <vector>

namespace hugespan {
namespace {

inline bool IsUpper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
inline bool IsLower(unsigned char c) { return c >= 'a' && c <= 'z'; }
inline bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(unsigned char c) { return IsUpper(c) || IsLower(c); }
inline bool IsBlank(unsigned char c) { return c == ' ' || c == '\t'; }
inline char ToLower(unsigned char c) { return IsUpper(c) ? static_cast<char>(c + 32) : static_cast<char>(c); }
inline char ToUpper(unsigned char c) { return IsLower(c) ? static_cast<char>(c - 32) : static_cast<char>(c); }

// Per byte: its hex value (0-15) or kNotHex, plus kKeyChar for [A-Za-z0-9_].
constexpr unsigned char kNotHex = 0x10, kKeyChar = 0x20;
struct CharTable {
  unsigned char v[256];
  constexpr CharTable() : v() {
    for (int c = 0; c < 256; ++c) {
      unsigned char x = kNotHex;
      if (c >= '0' && c <= '9') x = static_cast<unsigned char>(c - '0');
      if (c >= 'a' && c <= 'f') x = static_cast<unsigned char>(c - 'a' + 10);
      if (c >= 'A' && c <= 'F') x = static_cast<unsigned char>(c - 'A' + 10);
      if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') x |= kKeyChar;
      v[c] = x;
    }
  }
};
constexpr CharTable kChars;
inline bool IsKeyChar(unsigned char c) { return kChars.v[c] & kKeyChar; }
// Hex digit value, or -1.
inline int HexVal(unsigned char c) {
  unsigned char x = kChars.v[c] & 0x1f;
  return x == kNotHex ? -1 : x;
}

// First byte in [p, e) that is not ' ' (or e); eight bytes at a time over the kernel's padding.
inline const char* SkipSpaceRun(const char* p, const char* e) {
  constexpr uint64_t kSpaces = 0x2020202020202020ull;
  while (e - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    uint64_t diff = w ^ kSpaces;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    if (diff) return p + (__builtin_clzll(diff) >> 3);
#else
    if (diff) return p + (__builtin_ctzll(diff) >> 3);  // the lowest set byte comes first in memory
#endif
    p += 8;
  }
  while (p < e && *p == ' ') ++p;
  return p;
}

// The general camelCase rule (see CamelKey), appending to `out`.
void CamelInto(const char* s, size_t n, std::string& out) {
  if (n == 11 && std::memcmp(s, "THPeligible", 11) == 0) {
    out.append("thpEligible", 11);
    return;
  }
  bool first = true;
  size_t i = 0;
  while (i < n) {
    if (s[i] == '_') { ++i; continue; }        // empty parts vanish
    size_t j = i;
    while (j < n && s[j] != '_') ++j;          // part is [i, j)
    if (first) {
      bool anyLower = false;
      for (size_t k = i; k < j; ++k) anyLower |= IsLower(static_cast<unsigned char>(s[k]));
      size_t lowerN;
      if (!anyLower) {
        lowerN = j - i;                        // "KSM" -> "ksm"
      } else {
        size_t u = 0;                          // leading capitals
        while (i + u < j && IsUpper(static_cast<unsigned char>(s[i + u]))) ++u;
        if (u == 0) lowerN = 0;
        else if (IsLower(static_cast<unsigned char>(s[i + u]))) lowerN = u > 1 ? u - 1 : 1;  // "MMUPage" -> "mmuPage"
        else lowerN = u;                       // "AB1c" -> "ab1c"
      }
      for (size_t k = i; k < j; ++k)
        out.push_back(k - i < lowerN ? ToLower(static_cast<unsigned char>(s[k])) : s[k]);
      first = false;
    } else {
      out.push_back(ToUpper(static_cast<unsigned char>(s[i])));
      out.append(s + i + 1, j - i - 1);
    }
    i = j;
  }
}

enum Kind : unsigned char { kNumber, kThpEligible, kVmFlags };

struct KnownKey {
  const char* raw;
  const char* camel;
  Kind kind;
  unsigned char rawLen, camelLen;
};

#define K(raw, camel) {raw, camel, kNumber, sizeof(raw) - 1, sizeof(camel) - 1}
// In the order the kernel prints smaps, so the entry after the last match is almost always the
// next match (a miss costs one scan of this table). CamelInto(raw) == camel for every entry.
const KnownKey kKnown[] = {
    K("Size", "size"),
    K("KernelPageSize", "kernelPageSize"),
    K("MMUPageSize", "mmuPageSize"),
    K("Rss", "rss"),
    K("Pss", "pss"),
    K("Pss_Dirty", "pssDirty"),
    K("Shared_Clean", "sharedClean"),
    K("Shared_Dirty", "sharedDirty"),
    K("Private_Clean", "privateClean"),
    K("Private_Dirty", "privateDirty"),
    K("Referenced", "referenced"),
    K("Anonymous", "anonymous"),
    K("KSM", "ksm"),
    K("LazyFree", "lazyFree"),
    K("AnonHugePages", "anonHugePages"),
    K("ShmemPmdMapped", "shmemPmdMapped"),
    K("FilePmdMapped", "filePmdMapped"),
    K("Shared_Hugetlb", "sharedHugetlb"),
    K("Private_Hugetlb", "privateHugetlb"),
    K("Swap", "swap"),
    K("SwapPss", "swapPss"),
    K("Locked", "locked"),
    {"THPeligible", "thpEligible", kThpEligible, 11, 11},
    {"VmFlags", "vmFlags", kVmFlags, 7, 7},
    K("ProtectionKey", "protectionKey"),  // between THPeligible and VmFlags, on CPUs with pkeys
    K("Pss_Anon", "pssAnon"),             // smaps_rollup only, after Pss_Dirty
    K("Pss_File", "pssFile"),
    K("Pss_Shmem", "pssShmem"),
};
#undef K
constexpr int kNumKnown = sizeof(kKnown) / sizeof(kKnown[0]);
static_assert(kNumKnown <= 64, "the per-VMA seen-set is a 64-bit mask");

template <typename T>
inline T Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// a[0, n) == b[0, n): for keys (n <= 16) two overlapping word compares, no loop, no call.
inline bool SameKey(const char* a, const char* b, size_t n) {
  if (n > 16) return std::memcmp(a, b, n) == 0;
  if (n >= 8) return Load<uint64_t>(a) == Load<uint64_t>(b) && Load<uint64_t>(a + n - 8) == Load<uint64_t>(b + n - 8);
  if (n >= 4) return Load<uint32_t>(a) == Load<uint32_t>(b) && Load<uint32_t>(a + n - 4) == Load<uint32_t>(b + n - 4);
  if (n >= 2) return Load<uint16_t>(a) == Load<uint16_t>(b) && a[n - 1] == b[n - 1];
  return n == 0 || a[0] == b[0];
}

// Index in kKnown of the raw key; -1 if unknown.
inline int FindRaw(const char* s, size_t n) {
  for (int i = 0; i < kNumKnown; ++i)
    if (kKnown[i].rawLen == n && SameKey(kKnown[i].raw, s, n)) return i;
  return -1;
}

inline int FindCamel(const std::string& c) {
  for (int i = 0; i < kNumKnown; ++i)
    if (kKnown[i].camelLen == c.size() && std::memcmp(kKnown[i].camel, c.data(), c.size()) == 0) return i;
  return -1;
}

constexpr int kAnonymousId = 11;  // kKnown's "Anonymous"

// A cursor over one line [p, e).
struct Cursor {
  const char* p;
  const char* e;
  bool AtEnd() const { return p == e; }
  unsigned char Peek() const { return static_cast<unsigned char>(*p); }
  size_t SkipSpaces() {                        // ' ' only: the header's separator
    const char* s = p;
    p = SkipSpaceRun(p, e);
    return static_cast<size_t>(p - s);
  }
  void SkipBlanks() {                          // ' ' and '\t'
    for (p = SkipSpaceRun(p, e); p < e && *p == '\t'; p = SkipSpaceRun(p + 1, e)) {}
  }
  // Hex run into v; false if empty or more than 64 bits.
  bool Hex(uint64_t& v) {
    const char* s = p;
    uint64_t x = 0;
    for (int d; p < e && (d = HexVal(static_cast<unsigned char>(*p))) >= 0; ++p) {
      if (x >> 60) return false;
      x = (x << 4) | static_cast<uint64_t>(d);
    }
    v = x;
    return p != s;
  }
  // Decimal run into v; false if empty or more than 64 bits.
  bool Dec(uint64_t& v) {
    const char* s = p;
    uint64_t x = 0;
    for (; p < e && IsDigit(static_cast<unsigned char>(*p)); ++p)
      if (__builtin_mul_overflow(x, 10u, &x) || __builtin_add_overflow(x, static_cast<unsigned>(*p - '0'), &x))
        return false;
    v = x;
    return p != s;
  }
  bool Eat(char c) {
    if (p < e && *p == c) { ++p; return true; }
    return false;
  }
};

bool Fail(std::string& error, size_t line, const char* what) {
  error = "line " + std::to_string(line) + ": " + what;
  return false;
}

bool Fail(std::string& error, size_t line, const char* what, const char* s, size_t n) {
  error = "line " + std::to_string(line) + ": " + what + " '";
  error.append(s, n);
  error += '\'';
  return false;
}

// Every number goes to JavaScript as a double: refuse one that a double cannot hold exactly
// rather than hand back a number that was not in the text. (Addresses such as [vsyscall]'s
// ffffffffff600000 are above 2^53 yet exact: their low bits are zero.)
constexpr uint64_t kMaxSafe = (uint64_t{1} << 53) - 1;
inline bool ExactDouble(uint64_t v) {
  return v <= kMaxSafe || (static_cast<double>(v) < 18446744073709551616.0 && static_cast<uint64_t>(static_cast<double>(v)) == v);
}

// "start-end perms offset dev inode[ spaces path]"; `c` is at the start of the line.
bool ParseHeader(Cursor c, VmaHeader& v, std::string& error, size_t line) {
  if (!c.Hex(v.start) || !c.Eat('-')) return Fail(error, line, "bad VMA start address");
  if (!c.Hex(v.end)) return Fail(error, line, "bad VMA end address");
  if (c.SkipSpaces() == 0) return Fail(error, line, "expected ' ' after the address range");
  if (c.e - c.p < 4) return Fail(error, line, "bad permissions");
  const char* perms = c.p;
  if ((perms[0] != 'r' && perms[0] != '-') || (perms[1] != 'w' && perms[1] != '-') ||
      (perms[2] != 'x' && perms[2] != '-') || (perms[3] != 'p' && perms[3] != 's'))
    return Fail(error, line, "bad permissions");
  c.p += 4;
  if (c.SkipSpaces() == 0) return Fail(error, line, "expected ' ' after the permissions");
  if (!c.Hex(v.offset)) return Fail(error, line, "bad offset");
  if (c.SkipSpaces() == 0) return Fail(error, line, "expected ' ' after the offset");
  const char* dev = c.p;
  uint64_t ignored;
  if (!c.Hex(ignored) || !c.Eat(':') || !c.Hex(ignored)) return Fail(error, line, "bad device");
  size_t devLen = static_cast<size_t>(c.p - dev);
  if (c.SkipSpaces() == 0) return Fail(error, line, "expected ' ' after the device");
  if (!c.Dec(v.inode)) return Fail(error, line, "bad inode");
  if (!c.AtEnd() && c.SkipSpaces() == 0) return Fail(error, line, "bad inode");
  if (v.start > v.end) return Fail(error, line, "VMA start is above its end");
  if (!ExactDouble(v.start) || !ExactDouble(v.end) || !ExactDouble(v.offset) || v.inode > kMaxSafe)
    return Fail(error, line, "a header number is not exact as a JavaScript number");
  v.perms = perms;
  v.dev = dev;
  v.devLen = devLen;
  v.path = c.p;
  v.pathLen = static_cast<size_t>(c.e - c.p);
  return true;
}

}  // namespace

void VectorSink::BeginVma(const VmaHeader& h) {
    size_t reserve = out_.empty() ? 24 : out_.back().fields.size();  // a kernel's smaps has ~24
    out_.emplace_back();
    Vma& v = out_.back();
    v.start = h.start;
    v.end = h.end;
    v.offset = h.offset;
    v.inode = h.inode;
    v.perms.assign(h.perms, 4);
    v.dev.assign(h.dev, h.devLen);
    v.path.assign(h.path, h.pathLen);
    v.fields.reserve(reserve);
  }
void VectorSink::Field(const SmapsParser& p, int key, uint64_t value) {
  out_.back().fields.push_back(SmapsField{p.KeyName(key), value});
}
void VectorSink::ThpEligible(bool eligible) {
  out_.back().hasThpEligible = true;
  out_.back().thpEligible = eligible;
}
void VectorSink::VmFlag(const char* f, size_t n) { out_.back().vmFlags.emplace_back(f, n); }

std::string CamelKey(const std::string& key) {
  std::string out;
  out.reserve(key.size());
  CamelInto(key.data(), key.size(), out);
  return out;
}

SmapsParser::SmapsParser(SmapsSink& sink) : sink_(sink) {}

int SmapsParser::AnonymousKey() { return kAnonymousId; }

const std::string& SmapsParser::KeyName(int key) const {
  static const std::vector<std::string> known = [] {
    std::vector<std::string> k;
    for (const KnownKey& e : kKnown) k.emplace_back(e.camel, e.camelLen);
    return k;
  }();
  return key < kNumKnown ? known[static_cast<size_t>(key)] : others_[static_cast<size_t>(key - kNumKnown)];
}

int SmapsParser::KeyCount() const { return kNumKnown + static_cast<int>(others_.size()); }

bool SmapsParser::Feed(const char* data, size_t len, bool last, size_t& used) {
  used = 0;
  if (failed_) return false;
  const char* p = data;
  const char* const end = data + len;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!nl && !last) break;                   // an unfinished line waits for the next piece
    const char* le = nl ? nl : end;
    const char* next = nl ? nl + 1 : end;
    if (!Line(p, le)) {
      failed_ = true;
      return false;
    }
    p = next;
  }
  used = static_cast<size_t>(p - data);
  if (last && inVma_) {
    inVma_ = false;
    sink_.EndVma();
  }
  return true;
}

bool SmapsParser::Line(const char* p, const char* le) {
  ++line_;
  if (le > p && le[-1] == '\r') --le;
  // The kernel never writes a NUL; refusing one keeps every string we hand out NUL-free.
  if (le > p && std::memchr(p, '\0', static_cast<size_t>(le - p))) return Fail(error_, line_, "NUL byte in the line");
  Cursor c{p, le};

  // A header is a hex run followed by '-'; checked before keys, since "Dead:" starts hex-ish.
  const char* q = c.p;
  while (q < le && HexVal(static_cast<unsigned char>(*q)) >= 0) ++q;
  if (q > c.p && q < le && *q == '-') {
    VmaHeader h;
    if (!ParseHeader(c, h, error_, line_)) return false;
    if (inVma_) sink_.EndVma();
    inVma_ = true;
    ++vmaCount_;
    seen_ = 0;
    hint_ = 0;
    sink_.BeginVma(h);
    return true;
  }

  // Otherwise "Key: value".
  if (c.AtEnd() || !IsAlpha(c.Peek())) return Fail(error_, line_, "expected a VMA header or 'Key: value'");
  const char* key = c.p;
  size_t keyLen;
  int id;
  if (hint_ < kNumKnown && static_cast<size_t>(le - key) > kKnown[hint_].rawLen &&
      key[kKnown[hint_].rawLen] == ':' && SameKey(kKnown[hint_].raw, key, kKnown[hint_].rawLen)) {
    id = hint_;                                // the kernel's order predicted this line's key
    keyLen = kKnown[hint_].rawLen;
    c.p += keyLen + 1;
  } else {
    while (c.p < le && IsKeyChar(c.Peek())) ++c.p;
    keyLen = static_cast<size_t>(c.p - key);
    if (!c.Eat(':')) return Fail(error_, line_, "expected a VMA header or 'Key: value'");
    id = FindRaw(key, keyLen);
  }
  if (!inVma_) return Fail(error_, line_, "field before the first VMA header");

  if (id >= 0) {
    hint_ = id + 1;
    if (seen_ >> id & 1) return Fail(error_, line_, "duplicate key", key, keyLen);
    seen_ |= uint64_t{1} << id;
  } else {
    camel_.clear();
    CamelInto(key, keyLen, camel_);
    id = FindCamel(camel_);                    // "Pss_dirty" is "pssDirty" all the same
    // A field may not take the name of a header part: a VMA's `path` is always its path.
    static const char* const kHeaderNames[] = {"start", "end", "perms", "offset", "dev", "inode", "path"};
    for (const char* h : kHeaderNames)
      if (camel_ == h) return Fail(error_, line_, "field name clashes with a VMA header part:", key, keyLen);
    if (id >= 0) {
      if (seen_ >> id & 1) return Fail(error_, line_, "duplicate key", key, keyLen);
      seen_ |= uint64_t{1} << id;
    } else {
      // Keys outside kKnown are interned once per parse; a VMA marks the ones it met with its
      // number, so a duplicate is found without a set per VMA.
      size_t k = 0;
      while (k < others_.size() && others_[k] != camel_) ++k;
      if (k == others_.size()) {
        if (others_.size() >= kMaxOtherKeys) return Fail(error_, line_, "too many distinct field names, at", key, keyLen);
        others_.push_back(camel_);
        otherSeenIn_.push_back(0);
      }
      if (otherSeenIn_[k] == vmaCount_) return Fail(error_, line_, "duplicate key", key, keyLen);
      otherSeenIn_[k] = vmaCount_;
      id = kNumKnown + static_cast<int>(k);
    }
  }

  Kind kind = id < kNumKnown ? kKnown[id].kind : kNumber;
  if (kind == kVmFlags) {
    for (;;) {
      c.SkipBlanks();
      if (c.AtEnd()) break;
      const char* f = c.p;
      while (c.p < le && !IsBlank(c.Peek())) {
        if (c.Peek() < 0x21 || c.Peek() > 0x7e) return Fail(error_, line_, "bad VmFlags entry");
        ++c.p;
      }
      sink_.VmFlag(f, static_cast<size_t>(c.p - f));
    }
    return true;
  }

  c.SkipBlanks();
  uint64_t value;
  const char* digits = c.p;
  if (!c.Dec(value)) {
    if (c.p != digits) return Fail(error_, line_, "number overflows 64 bits for", key, keyLen);
    return Fail(error_, line_, "expected a decimal number after", key, keyLen + 1);
  }
  bool kb = false;
  if (c.e - c.p == 3 && c.p[0] == ' ' && c.p[1] == 'k' && c.p[2] == 'B') {
    kb = true;                                 // the common " kB" end, checked first
  } else if (!c.AtEnd()) {
    if (!IsBlank(c.Peek())) return Fail(error_, line_, "bad number for", key, keyLen);
    c.SkipBlanks();
    if (c.e - c.p >= 2 && c.p[0] == 'k' && c.p[1] == 'B') {
      c.p += 2;
      kb = true;
      c.SkipBlanks();
    }
    if (!c.AtEnd()) return Fail(error_, line_, "expected 'kB' or the end of the line after the number for", key, keyLen);
  }
  if (kind == kThpEligible) {
    if (kb || value > 1) return Fail(error_, line_, "THPeligible must be 0 or 1");
    sink_.ThpEligible(value == 1);
    return true;
  }
  if (kb) {
    if (value > UINT64_MAX / 1024) return Fail(error_, line_, "value overflows 64 bits in bytes for", key, keyLen);
    value *= 1024;
  }
  if (value > kMaxSafe) return Fail(error_, line_, "value above 2^53 - 1 (not exact as a JavaScript number) for", key, keyLen);
  sink_.Field(*this, id, value);
  return true;
}

bool ParseSmaps(const char* data, size_t len, std::vector<Vma>& out, std::string& error) {
  out.clear();
  error.clear();
  if (len == 0) return true;
  out.reserve(len / 600 + 1);                  // node's smaps: ~750 bytes per VMA
  VectorSink sink(out);
  SmapsParser parser(sink);
  size_t used;
  if (parser.Feed(data, len, true, used)) return true;
  error = parser.error();
  return false;
}

}  // namespace hugespan
