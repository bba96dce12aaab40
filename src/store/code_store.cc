// Content-addressed code store: validate, unpack into a private temp dir, publish it
// with one atomic rename under the zip's SHA-256; and collection of unreferenced trees.
#include "store/code_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <unordered_set>
#include <utility>

#include "base/encoding.h"
#include "base/log.h"
#include "store/zip_validator.h"

namespace nimbus::store {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kComponent = "code_store";
constexpr std::string_view kTmpPrefix = ".tmp-";
// Trees younger than this survive collection even when unreferenced: a tree is stored
// before the function row that names it, and a collection in between must not take it.
constexpr auto kGracePeriod = std::chrono::hours(1);

bool isDigest(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Error ioError(const std::string& what, const fs::path& path, int err) {
  return makeError(ErrorCode::kInternal, what + " " + path.string() + ": " + std::strerror(err),
                   err);
}

Result<void> writeAll(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// Unpacks a validated package below `dir`, a fresh directory only we know about.
// Validation guarantees no path passes through a file or a link, so plain paths are
// safe; O_EXCL|O_NOFOLLOW still refuse to write through anything unexpected.
class Extractor {
 public:
  Extractor(zip_t* archive, fs::path dir, uint64_t budget)
      : archive_(archive), dir_(std::move(dir)), budget_(budget) {}

  Result<void> run(const std::vector<PackageEntry>& entries) {
    // Links last, so that nothing is ever written after a link exists.
    for (const PackageEntry& e : entries) {
      Result<void> r = e.kind == EntryKind::kDirectory ? makeDirs(e.path)
                       : e.kind == EntryKind::kFile    ? writeFile(e)
                                                       : Result<void>();
      if (!r) return r;
    }
    for (const PackageEntry& e : entries) {
      if (e.kind != EntryKind::kSymlink) continue;
      if (auto r = makeDirs(parentOf(e.path)); !r) return r;
      const fs::path target = dir_ / e.path;
      if (::symlink(e.link_target.c_str(), target.c_str()) != 0) {
        return ioError("cannot create link", target, errno);
      }
    }
    return {};
  }

 private:
  static std::string parentOf(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash);
  }

  // Creates `rel` and its parents (0755 whatever the umask).
  Result<void> makeDirs(const std::string& rel) {
    if (rel.empty() || made_.contains(rel)) return {};
    if (auto r = makeDirs(parentOf(rel)); !r) return r;
    const fs::path path = dir_ / rel;
    if (::mkdir(path.c_str(), 0700) != 0) return ioError("cannot create directory", path, errno);
    if (::chmod(path.c_str(), 0755) != 0) return ioError("cannot chmod", path, errno);
    made_.insert(rel);
    return {};
  }

  Result<void> writeFile(const PackageEntry& e) {
    if (auto r = makeDirs(parentOf(e.path)); !r) return r;
    const fs::path path = dir_ / e.path;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return ioError("cannot create", path, errno);
    auto r = streamEntry(archive_, e, [&](std::string_view chunk) -> Result<void> {
      // Redundant with the per-entry cap (declared sizes sum within the limit), and
      // kept so the unpacked limit holds even if that reasoning ever breaks.
      if (chunk.size() > budget_) {
        return makeError(ErrorCode::kInvalidParameter, "Unzipped size exceeds the limit.");
      }
      budget_ -= chunk.size();
      return writeAll(fd, chunk, path);
    });
    if (r && ::fchmod(fd, e.mode) != 0) r = ioError("cannot chmod", path, errno);
    if (::close(fd) != 0 && r) r = ioError("cannot close", path, errno);
    return r;
  }

  zip_t* archive_;
  fs::path dir_;
  uint64_t budget_;
  std::unordered_set<std::string> made_;
};

// Makes the unpacked tree durable, then moves it to its content address. Returns false
// when another ingest of the same zip got there first (same bytes, so same tree).
Result<bool> publish(const fs::path& tmp, const fs::path& final_dir) {
  // Flush before the rename: a crash must never leave a truncated tree under a digest,
  // since nothing would ever rewrite it. One syncfs beats an fsync per file.
  const int fd = ::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ioError("cannot open", tmp, errno);
  const int synced = ::syncfs(fd);
  const int sync_errno = errno;
  ::close(fd);
  if (synced != 0) return ioError("cannot sync", tmp, sync_errno);
  if (::chmod(tmp.c_str(), 0755) != 0) return ioError("cannot chmod", tmp, errno);

  int rc = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && errno == EINVAL) {
    // A file system without RENAME_NOREPLACE: rename() fails on a non-empty target, and
    // replacing an empty one (an empty package) with an identical one is harmless.
    rc = ::rename(tmp.c_str(), final_dir.c_str());
  }
  if (rc != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) return false;
    return ioError("cannot rename to", final_dir, errno);
  }
  const int root_fd = ::open(final_dir.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd >= 0) {
    ::fsync(root_fd);  // best effort: the rename itself is what makes the tree visible
    ::close(root_fd);
  }
  return true;
}

void removeQuietly(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) {
    log::error(kComponent, "cannot remove temporary tree",
               {{"path", path.string()}, {"error", ec.message()}});
  }
}

}  // namespace

CodeStore::CodeStore(fs::path root, ZipLimits limits) : root_(std::move(root)), limits_(limits) {}

fs::path CodeStore::pathFor(const std::string& sha256_hex) const { return root_ / sha256_hex; }

bool CodeStore::contains(const std::string& sha256_hex) const {
  if (!isDigest(sha256_hex)) return false;  // never let a caller's string leave root_
  std::error_code ec;
  return fs::is_directory(pathFor(sha256_hex), ec);
}

Result<CodeInfo> CodeStore::ingest(std::string_view zip_bytes) {
  auto reject = [&](Error error, std::string_view digest) -> Error {
    log::warn(kComponent, "code package rejected",
              {{"reason", error.message},
               {"code_sha256", std::string(digest)},
               {"code_size", std::to_string(zip_bytes.size())}});
    return error;
  };
  if (zip_bytes.size() > limits_.max_zipped_bytes) {
    return reject(
        makeError(ErrorCode::kTooLarge, "Zipped size must be smaller than " +
                                            std::to_string(limits_.max_zipped_bytes) + " bytes"),
        "");
  }
  if (zip_bytes.empty()) {
    return reject(makeError(ErrorCode::kInvalidParameter, "Uploaded file must be a non-empty zip"),
                  "");
  }

  const std::string digest = sha256(zip_bytes);
  CodeInfo info;
  info.sha256_b64 = base64Encode(digest);
  info.sha256_hex = hexEncode(digest);
  info.size = static_cast<int64_t>(zip_bytes.size());
  info.dir = pathFor(info.sha256_hex);
  if (contains(info.sha256_hex)) {
    // Same bytes, same tree: it was validated when first stored. Refresh its mtime so
    // the collection grace period also covers this new reference.
    ::utimensat(AT_FDCWD, info.dir.c_str(), nullptr, 0);
    return info;
  }

  auto zip = validateZip(zip_bytes, limits_);
  if (!zip) {
    if (zip.error().code != ErrorCode::kInvalidParameter) {
      log::error(kComponent, "cannot validate code package", {{"error", zip.error().message}});
      return zip.error();
    }
    return reject(zip.error(), info.sha256_hex);
  }

  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) return ioError("cannot create", root_, ec.value());
  const fs::path tmp = root_ / (std::string(kTmpPrefix) + hexEncode(randomBytes(8)));
  if (::mkdir(tmp.c_str(), 0700) != 0) return ioError("cannot create", tmp, errno);

  Extractor extractor(zip->archive.get(), tmp, limits_.max_unpacked_bytes);
  if (auto r = extractor.run(zip->entries); !r) {
    removeQuietly(tmp);
    if (r.error().code == ErrorCode::kInvalidParameter) return reject(r.error(), info.sha256_hex);
    log::error(kComponent, "cannot unpack code package", {{"error", r.error().message}});
    return r.error();
  }
  auto published = publish(tmp, info.dir);
  if (!published || !*published) removeQuietly(tmp);
  if (!published) {
    log::error(kComponent, "cannot store code package", {{"error", published.error().message}});
    return published.error();
  }
  if (*published) {
    log::info(kComponent, "code package stored",
              {{"code_sha256", info.sha256_hex},
               {"code_size", std::to_string(info.size)},
               {"entries", std::to_string(zip->entries.size())},
               {"unpacked_bytes", std::to_string(zip->unpacked_bytes)}});
  }
  return info;
}

void CodeStore::collectGarbage(const std::vector<std::string>& keep) {
  const std::unordered_set<std::string> kept(keep.begin(), keep.end());
  const auto now = fs::file_time_type::clock::now();
  std::error_code ec;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const bool digest = isDigest(name);
    if (!digest && !name.starts_with(kTmpPrefix)) continue;  // not ours: leave it alone
    if (digest && kept.contains(name)) continue;
    std::error_code stat_ec;
    const auto mtime = fs::last_write_time(it->path(), stat_ec);
    if (stat_ec || now - mtime < kGracePeriod) continue;
    std::error_code rm_ec;
    fs::remove_all(it->path(), rm_ec);
    if (rm_ec) {
      log::warn(kComponent, "cannot remove code tree",
                {{"path", it->path().string()}, {"error", rm_ec.message()}});
    } else {
      log::info(kComponent, "code tree removed", {{"path", it->path().string()}});
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    log::warn(kComponent, "cannot list code store",
              {{"path", root_.string()}, {"error", ec.message()}});
  }
}

}  // namespace nimbus::store
