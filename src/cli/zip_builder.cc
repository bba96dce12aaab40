// Building deployment zips with libzip: an in-memory archive whose entries carry the
// Unix mode in the high 16 bits of external_attr, the way Info-ZIP and Lambda read them.
#include "cli/zip_builder.h"

#include <sys/stat.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace nimbus::cli {
namespace {

namespace fs = std::filesystem;

// 1980-01-02 UTC: the DOS time field starts at 1980 and libzip converts through local
// time, so a day of margin keeps the stamp valid in every time zone.
constexpr time_t kFixedMtime = 315619200;

struct Entry {
  std::string name;  // relative, '/'-separated; folders end in '/'
  fs::path path;
  mode_t mode = 0;
};

bool isSkipped(const fs::path& name) { return name == "__pycache__" || name == ".git"; }

Error ioError(const std::string& what, const fs::path& path, int err) {
  return makeError(ErrorCode::kInternal, what + " " + path.string() + ": " + std::strerror(err),
                   err);
}

// Walks `dir` depth-first, pruning skipped folders before descending into them.
Result<std::vector<Entry>> collectEntries(const fs::path& dir) {
  std::vector<Entry> entries;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return ioError("cannot list", dir, ec.value());
  for (; it != end; it.increment(ec)) {
    if (ec) return ioError("cannot list", it->path(), ec.value());
    const fs::path& path = it->path();
    if (isSkipped(path.filename())) {
      it.disable_recursion_pending();
      continue;
    }
    struct stat link_info {};
    if (::lstat(path.c_str(), &link_info) != 0) return ioError("cannot stat", path, errno);
    struct stat info = link_info;
    if (S_ISLNK(link_info.st_mode) && ::stat(path.c_str(), &info) != 0) {
      return ioError("broken symlink", path, errno);
    }
    // Lexically: fs::relative() resolves symlinks and would name a link by its target.
    std::string name = path.lexically_relative(dir).generic_string();
    if (S_ISDIR(info.st_mode)) {
      if (S_ISLNK(link_info.st_mode)) {
        return makeError(ErrorCode::kInvalidParameter,
                         "symlinked folders are not supported: " + path.string());
      }
      entries.push_back({name + "/", path, info.st_mode});
    } else if (S_ISREG(info.st_mode)) {
      entries.push_back({name, path, info.st_mode});
    }
    // Sockets, fifos and devices have no meaning inside a function package; leave them.
  }
  if (ec) return ioError("cannot list", dir, ec.value());
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return entries;
}

struct ArchiveCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
struct SourceFreer {
  void operator()(zip_source_t* source) const { zip_source_free(source); }
};

Error zipError(const std::string& what, const std::string& detail) {
  return makeError(ErrorCode::kInternal, what + ": " + detail);
}

Result<void> addEntry(zip_t* archive, const Entry& entry) {
  zip_int64_t index = -1;
  if (entry.name.back() == '/') {
    index = zip_dir_add(archive, entry.name.c_str(), ZIP_FL_ENC_UTF_8);
  } else {
    // libzip reads the file when the archive is written, so large trees are not held
    // in memory twice.
    zip_source_t* source = zip_source_file(archive, entry.path.c_str(), 0, -1);
    if (source == nullptr)
      return zipError("cannot read " + entry.path.string(), zip_strerror(archive));
    index = zip_file_add(archive, entry.name.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) zip_source_free(source);
  }
  if (index < 0) return zipError("cannot add " + entry.name, zip_strerror(archive));
  auto at = static_cast<zip_uint64_t>(index);
  zip_uint32_t attributes = static_cast<zip_uint32_t>(entry.mode & 0xFFFF) << 16;
  if (zip_file_set_external_attributes(archive, at, 0, ZIP_OPSYS_UNIX, attributes) != 0 ||
      zip_file_set_mtime(archive, at, kFixedMtime, 0) != 0) {
    return zipError("cannot set attributes of " + entry.name, zip_strerror(archive));
  }
  return {};
}

// Copies the whole content of a (closed) buffer source out.
Result<std::string> readSource(zip_source_t* source) {
  if (zip_source_open(source) != 0) {
    return zipError("cannot read archive", zip_error_strerror(zip_source_error(source)));
  }
  std::string bytes;
  char chunk[64 * 1024];
  zip_int64_t n = 0;
  while ((n = zip_source_read(source, chunk, sizeof chunk)) > 0) {
    bytes.append(chunk, static_cast<size_t>(n));
  }
  zip_source_close(source);
  if (n < 0) return zipError("cannot read archive", zip_error_strerror(zip_source_error(source)));
  return bytes;
}

}  // namespace

Result<std::string> zipDirectory(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return makeError(ErrorCode::kInvalidParameter, dir.string() + " is not a folder");
  }
  auto entries = collectEntries(dir);
  if (!entries.ok()) return entries.error();
  bool has_file = std::any_of(entries->begin(), entries->end(),
                              [](const Entry& e) { return e.name.back() != '/'; });
  if (!has_file) {
    return makeError(ErrorCode::kInvalidParameter,
                     "nothing to deploy: " + dir.string() + " holds no files");
  }

  zip_error_t error;
  zip_error_init(&error);
  std::unique_ptr<zip_source_t, SourceFreer> buffer(
      zip_source_buffer_create(nullptr, 0, 0, &error));
  if (!buffer) return zipError("cannot create archive", zip_error_strerror(&error));
  std::unique_ptr<zip_t, ArchiveCloser> archive(
      zip_open_from_source(buffer.get(), ZIP_TRUNCATE, &error));
  if (!archive) return zipError("cannot create archive", zip_error_strerror(&error));
  // The archive takes a reference to the buffer and drops it on close; keep ours so the
  // written bytes can still be read afterwards.
  zip_source_keep(buffer.get());

  for (const Entry& entry : *entries) {
    auto added = addEntry(archive.get(), entry);
    if (!added.ok()) return added.error();
  }
  if (zip_close(archive.get()) != 0) {
    return zipError("cannot write archive", zip_strerror(archive.get()));
  }
  archive.release();  // zip_close freed it
  return readSource(buffer.get());
}

bool looksLikeZip(std::string_view bytes) {
  return bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4) ||
         bytes.substr(0, 4) == std::string_view("PK\x05\x06", 4);
}

Result<std::string> readZipFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ioError("cannot open", path, errno);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in.good() && !in.eof()) return ioError("cannot read", path, errno);
  std::string data = std::move(bytes).str();
  if (!looksLikeZip(data)) {
    return makeError(ErrorCode::kInvalidParameter, path.string() + " is not a zip archive");
  }
  return data;
}

}  // namespace nimbus::cli
