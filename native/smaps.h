// The smaps parser: text of /proc/<pid>/smaps (or smaps_rollup) in, VMA records out.
// Pure C++ with no Node-API, so it can be fuzzed on its own. Invariant: it reads only what it
// is given, keeps no text of its own (what is stored is the sink's choice, so a fixed read
// buffer parses any size in bounded memory), and either hands the sink exactly what the text
// says, the same whatever pieces the text arrives in, or stops with a message naming the line.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace hugespan {

struct SmapsField {
  std::string key;    // camelCase: "anonHugePages", "pssDirty", "ksm", "thpEligible" ...
  uint64_t value;     // bytes for "kB" fields, the plain number otherwise
};

struct Vma {
  uint64_t start = 0, end = 0, offset = 0, inode = 0;
  std::string perms;  // "rw-p"
  std::string dev;    // "fd:01"
  std::string path;   // may be empty, hold spaces, end in " (deleted)", be "[heap]" ...
  bool hasThpEligible = false;
  bool thpEligible = false;
  std::vector<SmapsField> fields;     // every "Key: N [kB]" line except THPeligible/VmFlags, in order
  std::vector<std::string> vmFlags;   // two-letter flags, in order
};

// One VMA's header line; the pointers are into the piece being fed, valid during BeginVma only.
struct VmaHeader {
  uint64_t start = 0, end = 0, offset = 0, inode = 0;
  const char* perms = nullptr;  // 4 bytes: "rw-p"
  const char* dev = nullptr;
  size_t devLen = 0;
  const char* path = nullptr;   // may be empty, hold spaces, end in " (deleted)" ...
  size_t pathLen = 0;
};

class SmapsParser;

// What the parser finds, in text order: BeginVma, then its fields, THPeligible and flags, then
// EndVma. `key` is a parser-wide id (SmapsParser::KeyName), the same for every VMA.
class SmapsSink {
 public:
  virtual ~SmapsSink() = default;
  virtual void BeginVma(const VmaHeader& h) = 0;
  virtual void Field(const SmapsParser& parser, int key, uint64_t value) = 0;
  virtual void ThpEligible(bool eligible) = 0;
  virtual void VmFlag(const char* flag, size_t len) = 0;
  virtual void EndVma() = 0;
};

// Feed the text in pieces of any size: each call parses every complete line of the piece and
// says how many bytes it used; the caller keeps the rest (an unfinished line) in front of the
// next piece. `last`: the piece ends the text (its final line needs no '\n').
class SmapsParser {
 public:
  explicit SmapsParser(SmapsSink& sink);
  bool Feed(const char* data, size_t len, bool last, size_t& used);
  const std::string& error() const { return error_; }
  // camelCase name of a key id; ids below KeyCount() are valid.
  const std::string& KeyName(int key) const;
  int KeyCount() const;
  static int AnonymousKey();                    // the id of "anonymous"
  static constexpr size_t kMaxOtherKeys = 256;  // distinct names outside the kernel's list

 private:
  bool Line(const char* p, const char* le);
  SmapsSink& sink_;
  std::string error_;
  std::string camel_;
  std::vector<std::string> others_;             // interned keys outside the known list
  std::vector<uint64_t> otherSeenIn_;           // per other key: the VMA number that last had it
  uint64_t vmaCount_ = 0;
  uint64_t seen_ = 0;                           // known keys met in this VMA
  size_t line_ = 0;
  int hint_ = 0;
  bool inVma_ = false;
  bool failed_ = false;
};

// The read loop over a fixed buffer [buf, buf + capacity): `read(dst, max)` returns the bytes
// it put at dst (0 at the end, < 0 on failure, errno kept); each piece is parsed as far as its
// last whole line and the rest moved to the front. Memory: the buffer, whatever the text's size.
// Returns 1 when the whole text parsed, 0 on a parse error or a line longer than the buffer
// (`error` says which), -1 when `read` failed.
template <typename Read>
int ParseStream(SmapsParser& parser, char* buf, size_t capacity, Read read, std::string& error) {
  size_t carry = 0;
  for (;;) {
    if (carry == capacity) {
      error = "a line is longer than the " + std::to_string(capacity) + "-byte read buffer";
      return 0;
    }
    long n = read(buf + carry, capacity - carry);
    if (n < 0) return -1;
    size_t have = carry + static_cast<size_t>(n), used;
    if (!parser.Feed(buf, have, n == 0, used)) {
      error = parser.error();
      return 0;
    }
    if (n == 0) return 1;
    carry = have - used;
    if (carry && used) std::memmove(buf, buf + used, carry);
  }
}

// Builds std::vector<Vma>: ParseSmaps, the checks and the fuzzer.
class VectorSink : public SmapsSink {
 public:
  explicit VectorSink(std::vector<Vma>& out) : out_(out) {}
  void BeginVma(const VmaHeader& h) override;
  void Field(const SmapsParser& parser, int key, uint64_t value) override;
  void ThpEligible(bool eligible) override;
  void VmFlag(const char* flag, size_t len) override;
  void EndVma() override {}

 private:
  std::vector<Vma>& out_;
};

// smaps_rollup has a header like "00400000-7ffc [rollup]"; it parses as one Vma.
// Strings stored never hold a NUL (a line with one is an error).
// Returns false and sets `error` (e.g. "line 12: expected 'Key: value'") on malformed text;
// `out` is then unspecified. Duplicate keys within a VMA are an error.
bool ParseSmaps(const char* data, size_t len, std::vector<Vma>& out, std::string& error);

// "Pss_Dirty" -> "pssDirty", "KSM" -> "ksm", "AnonHugePages" -> "anonHugePages",
// "THPeligible" -> "thpEligible". Exposed for tests.
std::string CamelKey(const std::string& key);

}  // namespace hugespan
