// The smaps parser: text of /proc/<pid>/smaps (or smaps_rollup) in, VMA records out.
// Pure C++ with no Node-API, so it can be fuzzed on its own. Invariant: it reads only
// [data, data+len), never allocates without bound on hostile input, and either fills `out`
// with exactly what the text says or returns false with a message naming the line.
#pragma once
#include <cstddef>
#include <cstdint>
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

// smaps_rollup has a header like "00400000-7ffc [rollup]"; it parses as one Vma.
// Strings stored never hold a NUL (a line with one is an error).
// Returns false and sets `error` (e.g. "line 12: expected 'Key: value'") on malformed text;
// `out` is then unspecified. Duplicate keys within a VMA are an error.
bool ParseSmaps(const char* data, size_t len, std::vector<Vma>& out, std::string& error);

// "Pss_Dirty" -> "pssDirty", "KSM" -> "ksm", "AnonHugePages" -> "anonHugePages",
// "THPeligible" -> "thpEligible". Exposed for tests.
std::string CamelKey(const std::string& key);

}  // namespace hugespan
