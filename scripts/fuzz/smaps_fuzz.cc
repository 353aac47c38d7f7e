// libFuzzer target over hugespan::ParseSmaps (built and run by scripts/fuzz/run.sh).
// Beyond "no crash, no sanitizer report" it aborts when the parser breaks its contract:
//   - every number it returns is written in the input: start/end/offset in hex, the inode in
//     decimal, a field's value in decimal either as is or divided by 1024 (a "kB" field);
//   - every string it returns (perms, dev, path, each VmFlags entry) is a piece of the input,
//     and every key is camelCase letters and digits;
//   - a failure names a line that exists: "line N: ..." with 1 <= N <= number of lines;
//   - CRLF line ends parse exactly like LF ones (same VMAs, same error).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "smaps.h"

using hugespan::Vma;

namespace {

[[noreturn]] void Violation(const char* what, const std::string& detail) {
  std::fprintf(stderr, "contract violation: %s: %s\n", what, detail.c_str());
  std::abort();
}

std::string Hex(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
  return b;
}

std::string Dec(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "%llu", static_cast<unsigned long long>(v));
  return b;
}

bool Has(std::string_view hay, const std::string& needle) { return hay.find(needle) != std::string_view::npos; }

bool SameVmas(const std::vector<Vma>& a, const std::vector<Vma>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const Vma &x = a[i], &y = b[i];
    if (x.start != y.start || x.end != y.end || x.offset != y.offset || x.inode != y.inode || x.perms != y.perms ||
        x.dev != y.dev || x.path != y.path || x.hasThpEligible != y.hasThpEligible || x.thpEligible != y.thpEligible ||
        x.vmFlags != y.vmFlags || x.fields.size() != y.fields.size())
      return false;
    for (size_t j = 0; j < x.fields.size(); ++j)
      if (x.fields[j].key != y.fields[j].key || x.fields[j].value != y.fields[j].value) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  std::string_view in(text, size);
  std::vector<Vma> out;
  std::string err;
  bool ok = hugespan::ParseSmaps(text, size, out, err);

  size_t lines = 0;
  for (size_t i = 0; i < size; ++i) lines += text[i] == '\n';
  if (size && text[size - 1] != '\n') ++lines;

  if (!ok) {
    unsigned long n = 0;
    if (err.compare(0, 5, "line ") != 0 || std::sscanf(err.c_str() + 5, "%lu", &n) != 1 || n < 1 || n > lines)
      Violation("error does not name an existing line", err);
  } else {
    std::string lower(in);
    for (char& ch : lower)
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    for (const Vma& v : out) {
      if (!Has(lower, Hex(v.start)) || !Has(lower, Hex(v.end)) || !Has(lower, Hex(v.offset)))
        Violation("address or offset not in the input", Hex(v.start) + "-" + Hex(v.end) + " " + Hex(v.offset));
      if (v.start > v.end) Violation("start > end", Hex(v.start));
      if (!Has(in, Dec(v.inode))) Violation("inode not in the input", Dec(v.inode));
      if (v.perms.size() != 4 || !Has(in, v.perms)) Violation("perms not in the input", v.perms);
      if (v.dev.empty() || !Has(in, v.dev)) Violation("dev not in the input", v.dev);
      if (!Has(in, v.path)) Violation("path not in the input", v.path);
      for (const std::string& f : v.vmFlags)
        if (f.empty() || !Has(in, f)) Violation("VmFlags entry not in the input", f);
      for (const auto& f : v.fields) {
        if (f.key.empty()) Violation("empty key", "");
        for (char ch : f.key)
          if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
            Violation("key is not camelCase", f.key);
        if (f.key[0] < 'a' || f.key[0] > 'z') Violation("key does not start lower-case", f.key);
        if (f.key == "thpEligible" || f.key == "vmFlags") Violation("reserved key in fields", f.key);
        bool plain = Has(in, Dec(f.value));
        bool kb = f.value % 1024 == 0 && Has(in, Dec(f.value / 1024));
        if (!plain && !kb) Violation("field value not in the input", f.key + "=" + Dec(f.value));
      }
      for (size_t i = 0; i < v.fields.size(); ++i)
        for (size_t j = i + 1; j < v.fields.size(); ++j)
          if (v.fields[i].key == v.fields[j].key) Violation("duplicate key returned", v.fields[i].key);
    }
  }

  // CRLF must not change the answer (only for inputs without CR of their own).
  if (!std::memchr(text, '\r', size)) {
    std::string crlf;
    crlf.reserve(size + lines);
    for (size_t i = 0; i < size; ++i) {
      if (text[i] == '\n') crlf += '\r';
      crlf += text[i];
    }
    std::vector<Vma> out2;
    std::string err2;
    bool ok2 = hugespan::ParseSmaps(crlf.data(), crlf.size(), out2, err2);
    if (ok2 != ok || (ok && !SameVmas(out, out2)) || (!ok && err != err2))
      Violation("CRLF changed the result", err + " | " + err2);
  }
  return 0;
}
