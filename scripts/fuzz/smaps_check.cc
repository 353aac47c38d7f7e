// Standalone checks of native/smaps.cc (no Node): real /proc text, a handcrafted sample with every
// tricky header, every error case, CRLF, truncation at every byte, and parse-vs-read timing.
// Build: g++ -std=c++17 -O2 -I native native/smaps.cc scripts/fuzz/smaps_check.cc -o /tmp/smaps_check
// Prints one PASS/FAIL line per check; exits 1 if any check failed.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "smaps.h"

using hugespan::ParseSmaps;
using hugespan::Vma;

static int failures = 0;

static void Check(bool ok, const std::string& name, const std::string& detail = "") {
  std::printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
  if (!ok) ++failures;
}

static std::string ReadFile(const char* path) {
  std::string s;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return s;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return s;
}

static const hugespan::SmapsField* Field(const Vma& v, const char* key) {
  for (const auto& f : v.fields)
    if (f.key == key) return &f;
  return nullptr;
}

static bool Parse(const std::string& text, std::vector<Vma>& out, std::string& err) {
  return ParseSmaps(text.data(), text.size(), out, err);
}

// Expect failure with exactly this message.
static void ExpectError(const std::string& name, const std::string& text, const std::string& want) {
  std::vector<Vma> out;
  std::string err;
  bool ok = Parse(text, out, err);
  Check(!ok && err == want, "error: " + name, ok ? "parsed, wanted '" + want + "'" : "got '" + err + "'");
}

static bool SameVmas(const std::vector<Vma>& a, const std::vector<Vma>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const Vma &x = a[i], &y = b[i];
    if (x.start != y.start || x.end != y.end || x.offset != y.offset || x.inode != y.inode ||
        x.perms != y.perms || x.dev != y.dev || x.path != y.path || x.hasThpEligible != y.hasThpEligible ||
        x.thpEligible != y.thpEligible || x.vmFlags != y.vmFlags || x.fields.size() != y.fields.size())
      return false;
    for (size_t j = 0; j < x.fields.size(); ++j)
      if (x.fields[j].key != y.fields[j].key || x.fields[j].value != y.fields[j].value) return false;
  }
  return true;
}

static void CheckReal() {
  std::string text = ReadFile("/proc/self/smaps");
  std::vector<Vma> out;
  std::string err;
  bool ok = Parse(text, out, err);
  Check(ok && out.size() > 5, "/proc/self/smaps parses",
        std::to_string(text.size()) + " bytes, " + std::to_string(out.size()) + " VMAs" + (ok ? "" : ", " + err));
  uint64_t sumSize = 0, sumSpan = 0;
  bool each = true, flags = true, thp = true;
  for (const Vma& v : out) {
    const auto* f = Field(v, "size");
    uint64_t size = f ? f->value : 0;
    sumSize += size;
    sumSpan += v.end - v.start;
    each &= size == v.end - v.start;
    flags &= !v.vmFlags.empty() && (v.vmFlags[0] == "rd" || v.perms[0] == '-');
    thp &= v.hasThpEligible;
  }
  Check(ok && sumSize == sumSpan && each, "sum of size == sum of (end - start)",
        std::to_string(sumSize) + " vs " + std::to_string(sumSpan));
  Check(ok && flags && thp, "every VMA has VmFlags and THPeligible");
  bool heap = false;
  for (const Vma& v : out) heap |= v.path == "[stack]";
  Check(heap, "[stack] path found");

  std::string roll = ReadFile("/proc/self/smaps_rollup");
  ok = Parse(roll, out, err);
  Check(ok && out.size() == 1 && out[0].path == "[rollup]" && out[0].perms == "---p" && Field(out[0], "rss") &&
            Field(out[0], "pssAnon"),
        "/proc/self/smaps_rollup parses as one [rollup] VMA", ok ? "" : err);
}

static const char kSample[] =
    "00400000-00452000 r-xp 00000000 fd:01 1234                               /usr/bin/my prog (deleted)\n"
    "Size:                328 kB\n"
    "Pss_Dirty:             0 kB\n"
    "KSM:                   0 kB\n"
    "MMUPageSize:           4 kB\n"
    "Dead:                  7 kB\n"
    "New_Future__field:    12\n"
    "THPeligible:           1\n"
    "ProtectionKey:         0\n"
    "VmFlags: rd ex mr mw me dw \n"
    "7f0000000000-7f0000200000 rw-p 00000000 00:00 0 \n"
    "Size:               2048 kB\n"
    "AnonHugePages:      2048 kB\n"
    "THPeligible:    0\n"
    "VmFlags: rd wr mr mw me ac hg\n"
    "7f0000200000-7f0000400000 rw-s 00001000 103:0a 9007199254740991 [anon:x y]\n"
    "7f0000400000-7f0000401000 ---p 00000000 00:00 0\n"
    "7ffc0000-7ffc1000 rw-p 00000000 00:00 0                          [heap]\n"
    "Size:                 4 kB\n"
    "Rss:\t0 kB\n"
    "00400000-7ffc00f1a000 ---p 00000000 00:00 0                          [rollup]\n"
    "Rss:                1608 kB\n"
    "Size:   8796093022207 kB\n"
    "Weird:  9007199254740991\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  /path/\xff\xfe with  two  spaces \n"
    "Size:                  4 kB";  // no final newline

static void CheckSample() {
  std::vector<Vma> out;
  std::string err;
  std::string text(kSample);
  bool ok = Parse(text, out, err);
  Check(ok && out.size() == 7, "handcrafted sample parses", ok ? std::to_string(out.size()) + " VMAs" : err);
  if (!ok || out.size() != 7) return;
  const Vma& a = out[0];
  Check(a.start == 0x400000 && a.end == 0x452000 && a.offset == 0 && a.dev == "fd:01" && a.inode == 1234 &&
            a.perms == "r-xp" && a.path == "/usr/bin/my prog (deleted)",
        "header: spaces in path, (deleted)", "'" + a.path + "'");
  Check(a.fields.size() == 7 && a.fields[0].key == "size" && a.fields[0].value == 328 * 1024 &&
            a.fields[1].key == "pssDirty" && a.fields[2].key == "ksm" && a.fields[3].key == "mmuPageSize" &&
            a.fields[3].value == 4096 && a.fields[4].key == "dead" && a.fields[4].value == 7 * 1024 &&
            a.fields[5].key == "newFutureField" && a.fields[5].value == 12,
        "fields: camel keys, kB, unknown keys kept (Dead: is not a header)");
  Check(a.fields.size() == 7 && a.fields[6].key == "protectionKey" && a.fields[6].value == 0,
        "ProtectionKey: 0 is a plain field");
  Check(a.hasThpEligible && a.thpEligible && !Field(a, "thpEligible"), "THPeligible: 1 -> thpEligible, not a field");
  Check((a.vmFlags == std::vector<std::string>{"rd", "ex", "mr", "mw", "me", "dw"}), "VmFlags with trailing space");
  const Vma& b = out[1];
  Check(b.path.empty() && b.hasThpEligible && !b.thpEligible && b.vmFlags.back() == "hg" &&
            Field(b, "anonHugePages") && Field(b, "anonHugePages")->value == 2u << 20,
        "header: empty path after trailing space, THPeligible: 0");
  const Vma& c = out[2];
  Check(c.path == "[anon:x y]" && c.perms == "rw-s" && c.dev == "103:0a" && c.inode == (uint64_t{1} << 53) - 1 &&
            c.offset == 0x1000 && c.fields.empty() && !c.hasThpEligible,
        "header: [anon:x y], max inode, VMA with no fields");
  Check(out[3].path.empty() && out[3].perms == "---p", "header: no space at all after inode");
  Check(out[4].path == "[heap]" && out[4].fields.size() == 2 && out[4].fields[1].key == "rss", "header: [heap], tab before value");
  const Vma& r = out[5];
  Check(r.path == "[rollup]" && r.start == 0x400000 && r.end == 0x7ffc00f1a000 && r.fields.size() == 3 &&
            r.fields[1].value == uint64_t{8796093022207} * 1024 && r.fields[2].value == (uint64_t{1} << 53) - 1,
        "rollup header, largest kB and plain values");
  Check(out[6].path == "/path/\xff\xfe with  two  spaces " && out[6].fields.size() == 1 && out[6].fields[0].value == 4096,
        "non-UTF-8 path bytes and spaces kept, no final newline");

  // ProtectionKey as a plain number.
  ok = Parse("0-1000 rw-p 0 0:0 0\nProtectionKey:   3\n", out, err);
  Check(ok && out.size() == 1 && out[0].fields.size() == 1 && out[0].fields[0].key == "protectionKey" &&
            out[0].fields[0].value == 3,
        "ProtectionKey: 3 -> 3");

  // CRLF gives the same result as LF.
  std::string crlf;
  for (char ch : text) {
    if (ch == '\n') crlf += '\r';
    crlf += ch;
  }
  std::vector<Vma> out2;
  ok = Parse(text, out, err) && Parse(crlf, out2, err);
  Check(ok && SameVmas(out, out2), "CRLF sample == LF sample", ok ? "" : err);
  std::string crlfEnd = crlf + "\r\n";
  crlfEnd.resize(crlfEnd.size() - 2);
  crlfEnd += "\r";
  ok = Parse(crlfEnd, out2, err);
  Check(ok && SameVmas(out, out2), "CRLF sample with a final lone CR", ok ? "" : err);

  ok = ParseSmaps("", 0, out, err);
  Check(ok && out.empty(), "empty input -> zero VMAs");
  ok = ParseSmaps(nullptr, 0, out, err);
  Check(ok && out.empty(), "null, 0 -> zero VMAs");
}

static void CheckErrors() {
  const std::string h = "00400000-00452000 r-xp 00000000 fd:01 1234 /bin/x\n";
  ExpectError("field before header", "Size: 4 kB\n", "line 1: field before the first VMA header");
  ExpectError("start > end", "00500000-00400000 r-xp 00000000 fd:01 1234 /bin/x\n", "line 1: VMA start is above its end");
  ExpectError("bad end", "00400000-zz r-xp 0 0:0 0\n", "line 1: bad VMA end address");
  ExpectError("start overflows", "10000000000000000-2 r-xp 0 0:0 0\n", "line 1: bad VMA start address");
  ExpectError("end overflows", "1-10000000000000000 r-xp 0 0:0 0\n", "line 1: bad VMA end address");
  ExpectError("bad perms", "0-1 rwxq 0 0:0 0\n", "line 1: bad permissions");
  ExpectError("short perms", "0-1 rw", "line 1: bad permissions");
  ExpectError("bad offset", "0-1 rw-p g 0:0 0\n", "line 1: bad offset");
  ExpectError("bad dev", "0-1 rw-p 0 00-00 0\n", "line 1: bad device");
  ExpectError("bad inode", "0-1 rw-p 0 0:0 x\n", "line 1: bad inode");
  ExpectError("inode glued to path", "0-1 rw-p 0 0:0 12abc\n", "line 1: bad inode");
  ExpectError("inode overflows", "0-1 rw-p 0 0:0 18446744073709551616\n", "line 1: bad inode");
  ExpectError("inode beyond 2^53", "0-1 rw-p 0 0:0 9007199254740992\n", "line 1: a header number is not exact as a JavaScript number");
  ExpectError("value beyond 2^53", std::string("0-1000 rw-p 0 0:0 0\n") + "Weird: 9007199254740992\n", "line 2: value above 2^53 - 1 (not exact as a JavaScript number) for 'Weird'");
  ExpectError("truncated header", "0-1 rw-p 0\n", "line 1: expected ' ' after the offset");
  ExpectError("bad number", h + "Size: abc kB\n", "line 2: expected a decimal number after 'Size:'");
  ExpectError("negative number", h + "Size: -4 kB\n", "line 2: expected a decimal number after 'Size:'");
  ExpectError("number then junk", h + "Size: 4x kB\n", "line 2: bad number for 'Size'");
  ExpectError("wrong unit", h + "Size: 4 MB\n", "line 2: expected 'kB' or the end of the line after the number for 'Size'");
  ExpectError("number overflows", h + "Size: 18446744073709551616\n", "line 2: number overflows 64 bits for 'Size'");
  ExpectError("kB overflows", h + "Size: 18014398509481984 kB\n", "line 2: value overflows 64 bits in bytes for 'Size'");
  ExpectError("duplicate key", h + "Rss: 4 kB\nSize: 4 kB\nRss: 4 kB\n", "line 4: duplicate key 'Rss'");
  ExpectError("duplicate by camel", h + "Pss_Dirty: 4 kB\nPss_dirty: 4 kB\n", "line 3: duplicate key 'Pss_dirty'");
  ExpectError("duplicate unknown key", h + "Foo_Bar: 1\nFooBar: 2\n", "line 3: duplicate key 'FooBar'");
  ExpectError("duplicate THPeligible", h + "THPeligible: 1\nTHPeligible: 1\n", "line 3: duplicate key 'THPeligible'");
  ExpectError("duplicate VmFlags", h + "VmFlags: rd\nVmFlags: wr\n", "line 3: duplicate key 'VmFlags'");
  ExpectError("THPeligible 2", h + "THPeligible: 2\n", "line 2: THPeligible must be 0 or 1");
  ExpectError("neither header nor field", h + "Size: 4 kB\n   \n", "line 3: expected a VMA header or 'Key: value'");
  ExpectError("empty line", h + "\nSize: 4 kB\n", "line 2: expected a VMA header or 'Key: value'");
  ExpectError("key without colon", h + "Size 4 kB\n", "line 2: expected a VMA header or 'Key: value'");
  ExpectError("key with space before colon", h + "Si ze: 4 kB\n", "line 2: expected a VMA header or 'Key: value'");
  ExpectError("hex-then-dash key", h + "Dead-beef: 4\n", "line 2: expected ' ' after the address range");
  ExpectError("control byte in VmFlags", h + "VmFlags: rd \x01w\n", "line 2: bad VmFlags entry");
  ExpectError("error on CRLF line 3", "0-1 rw-p 0 0:0 0\r\nSize: 4 kB\r\nSize: 4 kB\r\n", "line 3: duplicate key 'Size'");
  // Duplicates are per VMA: the same key in the next VMA is fine.
  std::vector<Vma> out;
  std::string err;
  bool ok = Parse(h + "Size: 4 kB\nFoo: 1\n" + h + "Size: 4 kB\nFoo: 2\n", out, err);
  Check(ok && out.size() == 2 && out[1].fields.size() == 2, "same keys in two VMAs are fine", err);
}

static void CheckCamel() {
  struct { const char* in; const char* want; } cases[] = {
      {"Size", "size"}, {"KernelPageSize", "kernelPageSize"}, {"MMUPageSize", "mmuPageSize"},
      {"Rss", "rss"}, {"Pss", "pss"}, {"Pss_Dirty", "pssDirty"}, {"Pss_Anon", "pssAnon"},
      {"Pss_File", "pssFile"}, {"Pss_Shmem", "pssShmem"}, {"Shared_Clean", "sharedClean"},
      {"Shared_Dirty", "sharedDirty"}, {"Private_Clean", "privateClean"}, {"Private_Dirty", "privateDirty"},
      {"Referenced", "referenced"}, {"Anonymous", "anonymous"}, {"KSM", "ksm"}, {"LazyFree", "lazyFree"},
      {"AnonHugePages", "anonHugePages"}, {"ShmemPmdMapped", "shmemPmdMapped"}, {"FilePmdMapped", "filePmdMapped"},
      {"Shared_Hugetlb", "sharedHugetlb"}, {"Private_Hugetlb", "privateHugetlb"}, {"Swap", "swap"},
      {"SwapPss", "swapPss"}, {"Locked", "locked"}, {"THPeligible", "thpEligible"},
      {"ProtectionKey", "protectionKey"}, {"VmFlags", "vmFlags"},
      {"New__Future_field", "newFutureField"}, {"_x_", "x"}, {"", ""}, {"___", ""}, {"A", "a"},
      {"AB_CD", "abCD"}, {"X2_y", "x2Y"}, {"already", "already"}, {"Pss_dirty", "pssDirty"},
  };
  for (const auto& c : cases) {
    std::string got = hugespan::CamelKey(c.in);
    Check(got == c.want, std::string("CamelKey(\"") + c.in + "\") == \"" + c.want + "\"", got);
  }
}

// Fed through ParseStream in pieces of every small size, and with a buffer just longer than
// the longest line, real text parses to exactly what one whole-text parse gives.
static void CheckPieces() {
  std::string text = ReadFile("/proc/self/smaps");
  std::vector<Vma> whole, pieces;
  std::string err;
  Parse(text, whole, err);
  size_t longest = 0;
  for (size_t at = 0, nl; at < text.size(); at = nl + 1) {
    nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    longest = std::max(longest, nl - at + 1);
  }
  bool same = true;
  for (size_t step : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, size_t{4093}, text.size()}) {
    for (size_t capacity : {longest, longest + 5, size_t{1} << 16}) {
      pieces.clear();
      hugespan::VectorSink sink(pieces);
      hugespan::SmapsParser parser(sink);
      std::vector<char> buf(capacity);
      size_t at = 0;
      int r = hugespan::ParseStream(parser, buf.data(), buf.size(), [&](char* dst, size_t max) -> long {
        size_t n = std::min({max, step, text.size() - at});
        std::memcpy(dst, text.data() + at, n);
        at += n;
        return static_cast<long>(n);
      }, err);
      if (r != 1 || !SameVmas(whole, pieces)) {
        same = false;
        Check(false, "pieces", "step " + std::to_string(step) + " capacity " + std::to_string(capacity) + ": " + err);
      }
    }
  }
  Check(same, "streamed in pieces of 1, 2, 3, 7, 64, 4093 bytes and whole, through buffers of the longest line and more: same VMAs",
        std::to_string(whole.size()) + " VMAs, longest line " + std::to_string(longest));
  std::vector<char> tiny(longest - 1);
  hugespan::VectorSink sink(pieces);
  hugespan::SmapsParser parser(sink);
  size_t at = 0;
  int r = hugespan::ParseStream(parser, tiny.data(), tiny.size(), [&](char* dst, size_t max) -> long {
    size_t n = std::min(max, text.size() - at);
    std::memcpy(dst, text.data() + at, n);
    at += n;
    return static_cast<long>(n);
  }, err);
  Check(r == 0 && err.find("longer than") != std::string::npos, "a line longer than the buffer is an error", err);
}

// Truncating real text at every byte never crashes; a cut at a line end parses.
static void CheckTruncation() {
  std::string text = ReadFile("/proc/self/smaps");
  if (text.size() > 65536) text.resize(text.rfind('\n', 65536) + 1);  // an ASan build's smaps is ~200 KB
  std::vector<Vma> out;
  std::string err;
  size_t okCuts = 0, lineCutsOk = 0, lineCuts = 0;
  for (size_t n = 0; n <= text.size(); ++n) {
    // Copy into an exact-size heap buffer so ASan sees any read past the end.
    std::vector<char> buf(text.begin(), text.begin() + static_cast<long>(n));
    bool ok = ParseSmaps(buf.data(), buf.size(), out, err);
    okCuts += ok;
    if (n == 0 || text[n - 1] == '\n') {
      ++lineCuts;
      lineCutsOk += ok;
    }
  }
  Check(lineCutsOk == lineCuts, "truncation at every byte: no crash, every cut at a line end parses",
        std::to_string(text.size() + 1) + " cuts, " + std::to_string(okCuts) + " parsed, " + std::to_string(lineCutsOk) +
            "/" + std::to_string(lineCuts) + " line-end cuts parsed");
}

#if defined(__SANITIZE_ADDRESS__)
constexpr int kTimedRuns = 20;  // an ASan process's smaps is ~200 KB and slow to generate
#else
constexpr int kTimedRuns = 1000;
#endif

static void Time() {
  const int n = kTimedRuns;
  std::vector<Vma> out;
  std::string err;
  std::string text;
  text.reserve(1 << 20);
  auto now = [] { return std::chrono::steady_clock::now(); };
  auto us = [](auto d) { return std::chrono::duration<double, std::micro>(d).count(); };
  auto readInto = [&text] {
    text.clear();
    int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    char buf[65536];
    for (ssize_t k; (k = read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(k));
    close(fd);
  };
  bool ok = true;
  for (int round = 0; round < 2; ++round) {  // the first round warms up
    auto t0 = now();
    for (int i = 0; i < n; ++i) readInto();
    auto t1 = now();
    for (int i = 0; i < n; ++i) {
      readInto();
      ok &= ParseSmaps(text.data(), text.size(), out, err);
    }
    auto t2 = now();
    for (int i = 0; i < n; ++i) ok &= ParseSmaps(text.data(), text.size(), out, err);
    auto t3 = now();
    if (round == 1) {
      double r = us(t1 - t0) / n, rp = us(t2 - t1) / n, p = us(t3 - t2) / n;
      std::printf("TIME %dx /proc/self/smaps %zu bytes, %zu VMAs: read %.1f us, read+parse %.1f us (%.2fx), parse alone %.1f us\n",
                  n, text.size(), out.size(), r, rp, rp / r, p);
    }
  }
  Check(ok, "timed parses all succeeded");
}

int main() {
  CheckReal();
  CheckSample();
  CheckErrors();
  CheckCamel();
  CheckTruncation();
  CheckPieces();
  Time();
  std::printf("%s: %d failure%s\n", failures ? "FAILED" : "ALL PASSED", failures, failures == 1 ? "" : "s");
  return failures ? 1 : 0;
}
