// Round-trip tests for the deployment zip: names, contents, Unix modes and skipped
// folders, read back with libzip the way a server would unpack them.
#include "cli/zip_builder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <chrono>
#include <fstream>
#include <map>

namespace nimbus::cli {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "nimbus-zip-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

  void write(const std::string& relative, const std::string& content, mode_t mode = 0644) {
    fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    ::chmod(file.c_str(), mode);
  }

 private:
  fs::path path_;
};

struct ReadEntry {
  std::string content;
  mode_t mode = 0;
  bool unix_attributes = false;
};

// Opens zip bytes and returns every entry by name.
std::map<std::string, ReadEntry> readZip(const std::string& bytes) {
  std::map<std::string, ReadEntry> entries;
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  EXPECT_NE(source, nullptr);
  zip_t* archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  EXPECT_NE(archive, nullptr) << zip_error_strerror(&error);
  if (archive == nullptr) {
    zip_source_free(source);
    return entries;
  }
  for (zip_int64_t i = 0; i < zip_get_num_entries(archive, 0); ++i) {
    auto index = static_cast<zip_uint64_t>(i);
    ReadEntry entry;
    zip_uint8_t opsys = 0;
    zip_uint32_t attributes = 0;
    zip_file_get_external_attributes(archive, index, 0, &opsys, &attributes);
    entry.unix_attributes = opsys == ZIP_OPSYS_UNIX;
    entry.mode = static_cast<mode_t>(attributes >> 16);
    zip_stat_t stat;
    zip_stat_index(archive, index, 0, &stat);
    if (zip_file_t* file = zip_fopen_index(archive, index, 0)) {
      entry.content.resize(stat.size);
      zip_fread(file, entry.content.data(), stat.size);
      zip_fclose(file);
    }
    entries[zip_get_name(archive, index, 0)] = entry;
  }
  zip_close(archive);
  return entries;
}

TEST(ZipDirectory, KeepsRelativePathsContentsAndModes) {
  TempDir dir;
  dir.write("bootstrap", "#!/bin/sh\necho hi\n", 0755);
  dir.write("app.py", "def handler(e, c):\n    return e\n", 0644);
  dir.write("lib/util/helpers.py", "X = 1\n", 0600);
  fs::create_directories(dir.path() / "empty");

  auto zip = zipDirectory(dir.path());
  ASSERT_TRUE(zip.ok()) << zip.error().message;
  EXPECT_TRUE(looksLikeZip(*zip));
  auto entries = readZip(*zip);

  ASSERT_TRUE(entries.count("bootstrap"));
  EXPECT_EQ(entries["bootstrap"].content, "#!/bin/sh\necho hi\n");
  EXPECT_TRUE(entries["bootstrap"].unix_attributes);
  EXPECT_TRUE(S_ISREG(entries["bootstrap"].mode));
  EXPECT_EQ(entries["bootstrap"].mode & 07777, 0755u);

  EXPECT_EQ(entries["app.py"].mode & 07777, 0644u);
  ASSERT_TRUE(entries.count("lib/util/helpers.py"));
  EXPECT_EQ(entries["lib/util/helpers.py"].content, "X = 1\n");
  EXPECT_EQ(entries["lib/util/helpers.py"].mode & 07777, 0600u);

  ASSERT_TRUE(entries.count("lib/"));
  EXPECT_TRUE(S_ISDIR(entries["lib/"].mode));
  EXPECT_TRUE(entries.count("empty/"));
  for (const auto& [name, entry] : entries) {
    EXPECT_NE(name.front(), '/') << name;
    EXPECT_EQ(name.find(dir.path().string()), std::string::npos) << name;
  }
}

TEST(ZipDirectory, SkipsPycacheAndGitAnywhere) {
  TempDir dir;
  dir.write("app.py", "x");
  dir.write("__pycache__/app.cpython-311.pyc", "junk");
  dir.write(".git/config", "[core]");
  dir.write("pkg/__pycache__/mod.pyc", "junk");
  dir.write("pkg/.git", "gitdir: elsewhere");
  dir.write("pkg/mod.py", "y");
  dir.write(".gitignore", "kept on purpose");

  auto zip = zipDirectory(dir.path());
  ASSERT_TRUE(zip.ok()) << zip.error().message;
  auto entries = readZip(*zip);
  for (const auto& [name, entry] : entries) {
    EXPECT_EQ(name.find("__pycache__"), std::string::npos) << name;
    EXPECT_TRUE(name.find(".git/") == std::string::npos && name != "pkg/.git") << name;
  }
  EXPECT_TRUE(entries.count("app.py"));
  EXPECT_TRUE(entries.count("pkg/mod.py"));
  EXPECT_TRUE(entries.count(".gitignore"));
}

TEST(ZipDirectory, SameTreeGivesSameBytes) {
  TempDir dir;
  dir.write("b.txt", "b");
  dir.write("a.txt", "a");
  auto first = zipDirectory(dir.path());
  // A different mtime (a fresh checkout, a touched file) must not change the archive.
  fs::last_write_time(dir.path() / "a.txt",
                      fs::last_write_time(dir.path() / "a.txt") - std::chrono::hours(5));
  auto second = zipDirectory(dir.path());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
}

TEST(ZipDirectory, FollowsFileSymlinksAndRejectsFolderSymlinks) {
  TempDir dir;
  dir.write("real.txt", "content", 0755);
  fs::create_symlink("real.txt", dir.path() / "link.txt");
  auto zip = zipDirectory(dir.path());
  ASSERT_TRUE(zip.ok()) << zip.error().message;
  auto entries = readZip(*zip);
  EXPECT_EQ(entries["link.txt"].content, "content");
  EXPECT_EQ(entries["link.txt"].mode & 07777, 0755u);

  fs::create_directories(dir.path() / "sub");
  fs::create_directory_symlink("sub", dir.path() / "loop");
  auto rejected = zipDirectory(dir.path());
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.error().message.find("loop"), std::string::npos);
}

TEST(ZipDirectory, RejectsEmptyAndMissingFolders) {
  TempDir dir;
  fs::create_directories(dir.path() / "only/folders");
  auto empty = zipDirectory(dir.path());
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("nothing to deploy"), std::string::npos);
  EXPECT_FALSE(zipDirectory(dir.path() / "missing").ok());
}

TEST(ReadZipFile, AcceptsZipsAndRejectsOtherFiles) {
  TempDir dir;
  dir.write("src/index.js", "exports.handler = async () => 1;\n");
  auto zip = zipDirectory(dir.path() / "src");
  ASSERT_TRUE(zip.ok());
  dir.write("code.zip", *zip);
  auto read = readZipFile(dir.path() / "code.zip");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(*read, *zip);

  dir.write("notes.txt", "hello");
  auto rejected = readZipFile(dir.path() / "notes.txt");
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.error().message.find("not a zip"), std::string::npos);
}

}  // namespace
}  // namespace nimbus::cli
