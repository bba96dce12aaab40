// Content-addressed storage of function code: a zip package is validated, then
// unpacked once under <root>/<sha256-hex>/ and shared read-only by every instance.
// Thread-safe; two ingests of the same zip at once are harmless (atomic rename).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace nimbus::store {

struct ZipLimits {
  uint64_t max_zipped_bytes = 50ull * 1024 * 1024;     // Lambda: 50 MB zipped (direct upload)
  uint64_t max_unpacked_bytes = 250ull * 1024 * 1024;  // Lambda: 250 MB unpacked
  uint64_t max_entries = 20000;
  double max_compression_ratio = 200.0;  // per entry and overall: zip-bomb guard
};

struct CodeInfo {
  std::string sha256_b64;  // Lambda's CodeSha256
  std::string sha256_hex;  // the content address (directory name)
  int64_t size = 0;        // bytes of the zip (Lambda's CodeSize)
  std::filesystem::path dir;
};

class CodeStore {
 public:
  CodeStore(std::filesystem::path root, ZipLimits limits = {});

  // Validates the zip (size, entry names, symlinks, bomb ratios, CRCs) before writing
  // anything; then unpacks it (unless that digest is already there) keeping Unix modes
  // (the executable bit of `bootstrap`). kInvalidParameter for a bad package,
  // kTooLarge (RequestTooLargeException) beyond the zipped limit, kInternal on I/O errors.
  Result<CodeInfo> ingest(std::string_view zip_bytes);

  std::filesystem::path pathFor(const std::string& sha256_hex) const;
  bool contains(const std::string& sha256_hex) const;
  // Removes unpacked trees whose digest is not in `keep`, and abandoned temporary trees.
  // Trees stored or re-ingested within the last hour are kept even when unreferenced,
  // so a collection racing a CreateFunction between ingest() and its store write is safe.
  // Errors are logged, not returned: the next collection retries.
  void collectGarbage(const std::vector<std::string>& keep);

 private:
  std::filesystem::path root_;
  ZipLimits limits_;
};

}  // namespace nimbus::store
