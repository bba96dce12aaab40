// Zip package validation: our own read of the end-of-central-directory record and entry
// names, then libzip for everything else, then name, size, ratio and symlink rules.
#include "store/zip_validator.h"

#include <sys/stat.h>

#include <map>
#include <optional>
#include <utility>

namespace nimbus::store {
namespace {

constexpr std::string_view kUnzipFailed =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";
// Deflate cannot beat ~1032:1, so an entry below this size cannot expand into trouble;
// checking ratios only above it spares small, highly regular files (padding, fixtures).
constexpr uint64_t kRatioFloorBytes = 1u << 20;
constexpr size_t kMaxPathBytes = 4000;      // leaves room for the root under PATH_MAX
constexpr size_t kMaxComponentBytes = 255;  // NAME_MAX
constexpr uint64_t kMaxLinkTargetBytes = 4095;
constexpr int kMaxLinkHops = 40;  // the kernel's own ELOOP limit
constexpr size_t kReadChunk = 64 * 1024;

Error rejected(std::string why) { return makeError(ErrorCode::kInvalidParameter, std::move(why)); }

Error unzipFailed(std::string_view detail) {
  return rejected(std::string(kUnzipFailed) + " (" + std::string(detail) + ")");
}

// Entry names come from the uploader: keep them short and visibly quoted in messages.
std::string shown(std::string_view name) {
  constexpr size_t kShown = 200;
  std::string out = "\"" + std::string(name.substr(0, kShown));
  if (name.size() > kShown) out += "...";
  return out + "\"";
}

uint64_t readLe(std::string_view bytes, size_t at, int width) {
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

// Raw central directory facts, read before libzip so that an archive claiming millions
// of entries is refused before libzip allocates a record for each, and so that NUL bytes
// in names are seen (libzip quietly turns them into spaces).
struct CentralDirectory {
  std::vector<std::string_view> names;
};

Result<CentralDirectory> readCentralDirectory(std::string_view z, uint64_t max_entries) {
  constexpr size_t kEocdBytes = 22;
  constexpr size_t kMaxComment = 65535;
  if (z.size() < kEocdBytes) return unzipFailed("too short to be a zip archive");
  std::optional<size_t> eocd;
  const size_t lowest =
      z.size() - kEocdBytes > kMaxComment ? z.size() - kEocdBytes - kMaxComment : 0;
  for (size_t pos = z.size() - kEocdBytes + 1; pos-- > lowest;) {
    if (readLe(z, pos, 4) == 0x06054b50) {
      eocd = pos;
      break;
    }
  }
  if (!eocd) return unzipFailed("no end of central directory record");

  uint64_t entries = readLe(z, *eocd + 10, 2);
  uint64_t cd_size = readLe(z, *eocd + 12, 4);
  const uint64_t cd_offset = readLe(z, *eocd + 16, 4);
  size_t cd_end = *eocd;
  if (entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {
    // Zip64: a locator right before the record points at the 64-bit record.
    constexpr size_t kLocatorBytes = 20;
    constexpr size_t kZip64RecordBytes = 56;
    if (*eocd < kLocatorBytes || readLe(z, *eocd - kLocatorBytes, 4) != 0x07064b50) {
      return unzipFailed("zip64 locator missing");
    }
    const uint64_t record = readLe(z, *eocd - kLocatorBytes + 8, 8);
    if (record > *eocd - kLocatorBytes || *eocd - kLocatorBytes - record < kZip64RecordBytes ||
        readLe(z, record, 4) != 0x06064b50) {
      return unzipFailed("zip64 end of central directory record missing");
    }
    entries = readLe(z, record + 32, 8);
    cd_size = readLe(z, record + 40, 8);
    cd_end = record;
  }
  if (entries > max_entries) {
    return rejected("The package has " + std::to_string(entries) + " entries; the limit is " +
                    std::to_string(max_entries) + ".");
  }
  if (cd_size > cd_end) return unzipFailed("central directory out of bounds");

  // Located from the end rather than from the stored offset, which a prepended stub shifts.
  CentralDirectory cd;
  size_t p = cd_end - cd_size;
  for (uint64_t i = 0; i < entries; ++i) {
    constexpr size_t kHeaderBytes = 46;
    if (cd_end - p < kHeaderBytes || readLe(z, p, 4) != 0x02014b50) {
      return unzipFailed("central directory entry " + std::to_string(i) + " is damaged");
    }
    const size_t name_len = readLe(z, p + 28, 2);
    const size_t rest = name_len + readLe(z, p + 30, 2) + readLe(z, p + 32, 2);
    if (cd_end - p - kHeaderBytes < rest) {
      return unzipFailed("central directory entry " + std::to_string(i) + " is damaged");
    }
    cd.names.push_back(z.substr(p + kHeaderBytes, name_len));
    p += kHeaderBytes + rest;
  }
  return cd;
}

Result<ZipHandle> openArchive(std::string_view z) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(z.data(), z.size(), 0, &error);
  if (src == nullptr) {
    zip_error_fini(&error);
    return makeError(ErrorCode::kInternal, "cannot read the zip from memory");
  }
  // CHECKCONS compares every local header with its central directory record, so the
  // names and sizes we check are the ones the data is stored under.
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (za == nullptr) {
    zip_source_free(src);
    const int code = zip_error_code_zip(&error);
    std::string detail = zip_error_strerror(&error);
    zip_error_fini(&error);
    if (code == ZIP_ER_MEMORY)
      return makeError(ErrorCode::kInternal, "out of memory opening the zip");
    // libzip refuses byte-identical names itself; say so plainly.
    if (code == ZIP_ER_EXISTS) return rejected("The package has more than one entry for one name.");
    return unzipFailed(detail);
  }
  zip_error_fini(&error);
  return ZipHandle(za);
}

// Turns an entry name into its path inside the package ("" for the package root itself).
Result<std::string> normalizeName(std::string_view raw) {
  if (raw.empty()) return rejected("The package has an entry with an empty name.");
  if (raw.find('\0') != std::string_view::npos) {
    return rejected("Entry name " + shown(raw) + " contains a NUL byte.");
  }
  // Windows tools that write "\" separators would unpack elsewhere than they look.
  if (raw.find('\\') != std::string_view::npos) {
    return rejected("Entry name " + shown(raw) + " contains a backslash.");
  }
  if (raw.front() == '/') return rejected("Entry name " + shown(raw) + " is an absolute path.");
  if (raw.size() > kMaxPathBytes) return rejected("Entry name " + shown(raw) + " is too long.");
  std::string path;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t slash = raw.find('/', start);
    if (slash == std::string_view::npos) slash = raw.size();
    const std::string_view part = raw.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return rejected("Entry name " + shown(raw) + " contains \"..\".");
    if (part.size() > kMaxComponentBytes) {
      return rejected("Entry name " + shown(raw) + " has a component longer than 255 bytes.");
    }
    if (!path.empty()) path += '/';
    path += part;
  }
  return path;
}

std::string parentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// Walks `target` from directory `at` the way the kernel would, following the package's
// own links (so "s -> ." then "t -> s/.." is seen to leave). Returns the resolved path,
// or nullopt if the walk leaves the package, is absolute or loops.
std::optional<std::string> resolveInside(const std::map<std::string, std::string>& links,
                                         std::string at, std::string_view target, int& hops) {
  if (target.empty() || target.front() == '/') return std::nullopt;
  size_t start = 0;
  while (start <= target.size()) {
    size_t slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    const std::string_view part = target.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (at.empty()) return std::nullopt;
      at = parentOf(at);
      continue;
    }
    std::string next = at.empty() ? std::string(part) : at + "/" + std::string(part);
    const auto link = links.find(next);
    if (link == links.end()) {
      at = std::move(next);
      continue;
    }
    if (++hops > kMaxLinkHops) return std::nullopt;
    auto resolved = resolveInside(links, at, link->second, hops);
    if (!resolved) return std::nullopt;
    at = std::move(*resolved);
  }
  return at;
}

// Builds the entry for archive index i from its stat, attributes and raw name. Returns
// an entry with an empty path for a directory entry naming the package root ("./").
Result<PackageEntry> describeEntry(zip_t* za, uint64_t i, std::string_view raw_name,
                                   const ZipLimits& limits) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(za, i, ZIP_FL_ENC_RAW, &st) != 0) return unzipFailed(zip_strerror(za));
  constexpr zip_uint64_t kNeeded =
      ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_ENCRYPTION_METHOD;
  if ((st.valid & kNeeded) != kNeeded) return unzipFailed("incomplete entry header");
  if (raw_name.find('\0') == std::string_view::npos && raw_name != st.name) {
    return unzipFailed("entry names disagree");
  }
  auto path = normalizeName(raw_name);
  if (!path) return path.error();
  if (st.encryption_method != ZIP_EM_NONE) {
    return rejected("Entry " + shown(raw_name) +
                    " is encrypted; encrypted zips are not supported.");
  }

  zip_uint8_t opsys = 0;
  zip_uint32_t attributes = 0;
  if (zip_file_get_external_attributes(za, i, 0, &opsys, &attributes) != 0) {
    return unzipFailed(zip_strerror(za));
  }
  // Only Unix-made zips carry a mode (in the high 16 bits); others get the defaults.
  const uint32_t unix_mode = opsys == ZIP_OPSYS_UNIX ? attributes >> 16 : 0;
  const uint32_t type = unix_mode & S_IFMT;
  const bool slash = raw_name.back() == '/';

  PackageEntry entry{i, std::move(*path), EntryKind::kFile, 0644, st.size, {}};
  if (slash || type == S_IFDIR) {
    if (type != 0 && type != S_IFDIR) {
      return rejected("Entry " + shown(raw_name) + " is named as a directory but is not one.");
    }
    if (st.size != 0) return rejected("Directory entry " + shown(raw_name) + " carries data.");
    entry.kind = EntryKind::kDirectory;
    entry.mode = 0755;
    return entry;
  }
  if (entry.path.empty()) return rejected("Entry " + shown(raw_name) + " has no file name.");
  if (type == S_IFLNK) {
    if (st.size == 0 || st.size > kMaxLinkTargetBytes) {
      return rejected("Symbolic link " + shown(raw_name) + " has an empty or overlong target.");
    }
    entry.kind = EntryKind::kSymlink;
    entry.mode = 0777;
  } else if (type != 0 && type != S_IFREG) {
    return rejected("Entry " + shown(raw_name) + " is a device, FIFO or socket.");
  }
  // The execute bit is the one bit with meaning here (bootstrap); everything else is
  // normalised: the tree is shared read-only by instances that may run as other users,
  // and setuid/setgid/sticky never survive.
  if (entry.kind == EntryKind::kFile) entry.mode = (unix_mode & 0111) != 0 ? 0755 : 0644;

  if (st.size > kRatioFloorBytes &&
      (st.comp_size == 0 || static_cast<double>(st.size) / static_cast<double>(st.comp_size) >
                                limits.max_compression_ratio)) {
    return rejected("Entry " + shown(raw_name) + " has a compression ratio above " +
                    std::to_string(static_cast<int>(limits.max_compression_ratio)) +
                    " (possible zip bomb).");
  }
  return entry;
}

// Refuses duplicates and paths that would pass through a file or a symlink; the latter
// is what keeps every write inside the package without following links at write time.
Result<void> checkLayout(const std::vector<PackageEntry>& entries) {
  std::map<std::string, EntryKind> kinds;
  for (const PackageEntry& e : entries) {
    if (!kinds.emplace(e.path, e.kind).second) {
      return rejected("The package has more than one entry for " + shown(e.path) + ".");
    }
  }
  for (const PackageEntry& e : entries) {
    for (std::string dir = parentOf(e.path); !dir.empty(); dir = parentOf(dir)) {
      const auto it = kinds.find(dir);
      if (it != kinds.end() && it->second != EntryKind::kDirectory) {
        return rejected("Entry " + shown(e.path) + " lies under " + shown(dir) +
                        ", which is not a directory.");
      }
    }
  }
  return {};
}

Result<void> readLinkTargets(zip_t* za, std::vector<PackageEntry>& entries) {
  std::map<std::string, std::string> links;
  for (PackageEntry& e : entries) {
    if (e.kind != EntryKind::kSymlink) continue;
    auto read = streamEntry(za, e, [&](std::string_view chunk) -> Result<void> {
      e.link_target.append(chunk);
      return {};
    });
    if (!read) return read.error();
    if (e.link_target.find('\0') != std::string::npos) {
      return rejected("Symbolic link " + shown(e.path) + " has a NUL byte in its target.");
    }
    links.emplace(e.path, e.link_target);
  }
  for (const PackageEntry& e : entries) {
    if (e.kind != EntryKind::kSymlink) continue;
    int hops = 0;
    if (!resolveInside(links, parentOf(e.path), e.link_target, hops)) {
      return rejected("Symbolic link " + shown(e.path) + " -> " + shown(e.link_target) +
                      " points outside the package (or loops).");
    }
  }
  return {};
}

}  // namespace

Result<ValidatedZip> validateZip(std::string_view zip_bytes, const ZipLimits& limits) {
  auto cd = readCentralDirectory(zip_bytes, limits.max_entries);
  if (!cd) return cd.error();
  auto archive = openArchive(zip_bytes);
  if (!archive) return archive.error();
  zip_t* za = archive->get();
  const zip_int64_t count = zip_get_num_entries(za, 0);
  if (count < 0 || static_cast<uint64_t>(count) != cd->names.size()) {
    return unzipFailed("entry counts disagree");
  }

  ValidatedZip out{std::move(*archive), {}, 0};
  for (uint64_t i = 0; i < cd->names.size(); ++i) {
    auto entry = describeEntry(za, i, cd->names[i], limits);
    if (!entry) return entry.error();
    if (entry->path.empty()) continue;  // "./": the root, which exists anyway
    out.unpacked_bytes += entry->size;
    if (out.unpacked_bytes > limits.max_unpacked_bytes) {
      return rejected("Unzipped size must be smaller than " +
                      std::to_string(limits.max_unpacked_bytes) + " bytes");
    }
    out.entries.push_back(std::move(*entry));
  }
  // Many small entries can each stay under the per-entry floor; judge the whole too.
  if (out.unpacked_bytes > kRatioFloorBytes &&
      static_cast<double>(out.unpacked_bytes) >
          limits.max_compression_ratio * static_cast<double>(zip_bytes.size())) {
    return rejected("The package has an overall compression ratio above " +
                    std::to_string(static_cast<int>(limits.max_compression_ratio)) +
                    " (possible zip bomb).");
  }
  if (auto layout = checkLayout(out.entries); !layout) return layout.error();
  if (auto links = readLinkTargets(za, out.entries); !links) return links.error();
  return out;
}

Result<void> streamEntry(zip_t* archive, const PackageEntry& entry,
                         const std::function<Result<void>(std::string_view)>& sink) {
  zip_file_t* file = zip_fopen_index(archive, entry.index, 0);
  if (file == nullptr) return unzipFailed(shown(entry.path) + ": " + zip_strerror(archive));
  const std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> closer(file, zip_fclose);
  std::string buffer(kReadChunk, '\0');
  uint64_t seen = 0;
  for (;;) {
    const zip_int64_t n = zip_fread(file, buffer.data(), buffer.size());
    if (n < 0) {
      zip_error_t* error = zip_file_get_error(file);
      if (zip_error_code_zip(error) == ZIP_ER_CRC) {
        return rejected("Entry " + shown(entry.path) + " failed its CRC check.");
      }
      return unzipFailed(shown(entry.path) + ": " + zip_error_strerror(error));
    }
    if (n == 0) break;
    seen += static_cast<uint64_t>(n);
    // Headers are the uploader's claims; the bytes are the truth. Stop at the first
    // byte beyond the claim instead of trusting the claim to bound the output.
    if (seen > entry.size) {
      return rejected("Entry " + shown(entry.path) + " holds more data than its header declares.");
    }
    if (auto r = sink(std::string_view(buffer.data(), static_cast<size_t>(n))); !r) return r;
  }
  if (seen != entry.size) {
    return rejected("Entry " + shown(entry.path) + " holds less data than its header declares.");
  }
  return {};
}

}  // namespace nimbus::store
