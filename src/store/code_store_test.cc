// Tests of CodeStore: zips are built here with libzip (and patched byte-wise to lie or
// break), ingested into a temporary root, and the tree or the refusal is checked.
#include "store/code_store.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <zip.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include "gtest/gtest.h"

namespace nimbus::store {
namespace {

namespace fs = std::filesystem;

struct TestEntry {
  std::string name;  // a trailing '/' makes a directory entry
  std::string data;
  std::optional<uint32_t> mode;  // full st_mode; sets opsys UNIX when present
  zip_int32_t method = ZIP_CM_DEFLATE;
};

std::string drain(zip_source_t* src) {
  EXPECT_EQ(zip_source_open(src), 0);
  EXPECT_EQ(zip_source_seek(src, 0, SEEK_END), 0);
  const zip_int64_t size = zip_source_tell(src);
  EXPECT_EQ(zip_source_seek(src, 0, SEEK_SET), 0);
  std::string bytes(static_cast<size_t>(size), '\0');
  EXPECT_EQ(zip_source_read(src, bytes.data(), bytes.size()), size);
  zip_source_close(src);
  return bytes;
}

// Writes a zip in memory. `add` may add further entries (such as streamed ones).
std::string buildZip(const std::vector<TestEntry>& entries,
                     const std::function<void(zip_t*)>& add = {}) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_source_keep(out);
  zip_t* za = zip_open_from_source(out, ZIP_TRUNCATE, &error);
  EXPECT_NE(za, nullptr);
  for (const TestEntry& e : entries) {
    zip_int64_t index;
    if (!e.name.empty() && e.name.back() == '/') {
      index = zip_dir_add(za, e.name.c_str(), 0);
    } else {
      zip_source_t* data = zip_source_buffer(za, e.data.data(), e.data.size(), 0);
      index = zip_file_add(za, e.name.c_str(), data, 0);
      if (index >= 0) zip_set_file_compression(za, index, e.method, 0);
    }
    EXPECT_GE(index, 0) << e.name << ": " << zip_strerror(za);
    if (index >= 0 && e.mode) {
      EXPECT_EQ(zip_file_set_external_attributes(za, index, 0, ZIP_OPSYS_UNIX, *e.mode << 16), 0);
    }
  }
  if (add) add(za);
  EXPECT_EQ(zip_close(za), 0);
  std::string bytes = drain(out);
  zip_source_free(out);
  zip_error_fini(&error);
  return bytes;
}

// A libzip source of `size` zero bytes that never holds them in memory.
struct Zeros {
  uint64_t size = 0;
  uint64_t pos = 0;
  zip_error_t error{};
};

zip_int64_t zerosCallback(void* user, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
  auto* z = static_cast<Zeros*>(user);
  switch (cmd) {
    case ZIP_SOURCE_OPEN:
      z->pos = 0;
      return 0;
    case ZIP_SOURCE_READ: {
      const uint64_t n = std::min<uint64_t>(len, z->size - z->pos);
      std::memset(data, 0, n);
      z->pos += n;
      return static_cast<zip_int64_t>(n);
    }
    case ZIP_SOURCE_STAT: {
      auto* st = static_cast<zip_stat_t*>(data);
      zip_stat_init(st);
      st->size = z->size;
      st->valid |= ZIP_STAT_SIZE;
      return sizeof(*st);
    }
    case ZIP_SOURCE_ERROR:
      return zip_error_to_data(&z->error, data, len);
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_FREE:
      return 0;
    case ZIP_SOURCE_SUPPORTS:
      return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                            ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
    default:
      return -1;
  }
}

// Replaces every occurrence of `from` (at least one) with the same-length `to`.
void patchAll(std::string& bytes, std::string_view from, std::string_view to) {
  ASSERT_EQ(from.size(), to.size());
  size_t hits = 0;
  for (size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + 1)) {
    bytes.replace(at, to.size(), to);
    ++hits;
  }
  ASSERT_GT(hits, 0u) << from;
}

uint32_t le32(const std::string& b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

void putLe32(std::string& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

mode_t permsOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class CodeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "nimbus-code-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    root_ = base_ / "code";
  }
  void TearDown() override { fs::remove_all(base_); }

  std::vector<std::string> rootEntries() const {
    std::vector<std::string> names;
    if (!fs::exists(root_)) return names;
    for (const auto& e : fs::directory_iterator(root_)) names.push_back(e.path().filename());
    return names;
  }

  // Ingests `zip`, expects a refusal with `code` whose message mentions `words`, and
  // that nothing at all was left behind in the root.
  void expectRejected(const std::string& zip, ErrorCode code, std::string_view words,
                      ZipLimits limits = {}) {
    CodeStore store(root_, limits);
    auto r = store.ingest(zip);
    ASSERT_FALSE(r.ok()) << "accepted; dir " << r->dir;
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
    EXPECT_TRUE(rootEntries().empty()) << rootEntries().front();
  }

  fs::path base_;
  fs::path root_;
};

TEST_F(CodeStoreTest, UnpacksNestedTreeAndKeepsExecutableBits) {
  const std::string zip = buildZip({
      {"bootstrap", "#!/bin/sh\necho hi\n", S_IFREG | 0755},
      {"lib/", "", S_IFDIR | 0700},
      {"lib/util.py", "def f(): pass\n", S_IFREG | 0644},
      {"a/b/c/deep.txt", "deep", std::nullopt},  // no Unix mode, no directory entries
      {"suid", "x", S_IFREG | 04755},
      {"private", "y", S_IFREG | 0600},
      {"empty/", "", std::nullopt},
      {"stored.txt", "kept as is", S_IFREG | 0644, ZIP_CM_STORE},
  });
  CodeStore store(root_);
  auto r = store.ingest(zip);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const fs::path dir = r->dir;
  EXPECT_EQ(dir, root_ / r->sha256_hex);
  EXPECT_TRUE(store.contains(r->sha256_hex));

  EXPECT_EQ(readFile(dir / "bootstrap"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(readFile(dir / "lib/util.py"), "def f(): pass\n");
  EXPECT_EQ(readFile(dir / "a/b/c/deep.txt"), "deep");
  EXPECT_EQ(readFile(dir / "stored.txt"), "kept as is");
  EXPECT_TRUE(fs::is_directory(dir / "empty"));

  EXPECT_EQ(permsOf(dir / "bootstrap"), 0755u);
  EXPECT_EQ(permsOf(dir / "lib/util.py"), 0644u);
  EXPECT_EQ(permsOf(dir / "a/b/c/deep.txt"), 0644u);
  EXPECT_EQ(permsOf(dir / "suid"), 0755u);  // setuid dropped
  EXPECT_EQ(permsOf(dir / "private"), 0644u);
  for (const char* d : {"", "lib", "a", "a/b", "a/b/c", "empty"}) {
    EXPECT_EQ(permsOf(dir / d), 0755u) << d;
  }
  EXPECT_EQ(rootEntries(), std::vector<std::string>{r->sha256_hex});  // no temp dir left
}

TEST_F(CodeStoreTest, CodeSha256IsBase64OfSha256OfTheZipBytes) {
  const std::string zip = buildZip({{"index.py", "print(1)\n", S_IFREG | 0644}});
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(zip.data()), zip.size(), digest);
  unsigned char b64[64] = {};
  EVP_EncodeBlock(b64, digest, SHA256_DIGEST_LENGTH);
  std::string hex;
  for (unsigned char c : digest) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", c);
    hex += two;
  }

  auto r = CodeStore(root_).ingest(zip);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->sha256_b64, reinterpret_cast<const char*>(b64));
  EXPECT_EQ(r->sha256_hex, hex);
  EXPECT_EQ(r->size, static_cast<int64_t>(zip.size()));
}

TEST_F(CodeStoreTest, SameZipTwiceGivesTheSameDirectory) {
  const std::string zip = buildZip({{"bootstrap", "#!/bin/sh\n", S_IFREG | 0755}});
  CodeStore store(root_);
  auto first = store.ingest(zip);
  auto second = store.ingest(zip);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->dir, second->dir);
  EXPECT_EQ(first->sha256_b64, second->sha256_b64);
  EXPECT_EQ(rootEntries().size(), 1u);
}

TEST_F(CodeStoreTest, ConcurrentIngestsOfOneZipBothSucceed) {
  std::string big(2 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 3);
  const std::string zip = buildZip({{"data.bin", big, S_IFREG | 0644}});
  CodeStore store(root_);
  std::optional<Result<CodeInfo>> a, b;
  std::thread t1([&] { a.emplace(store.ingest(zip)); });
  std::thread t2([&] { b.emplace(store.ingest(zip)); });
  t1.join();
  t2.join();
  ASSERT_TRUE(a->ok() && b->ok());
  EXPECT_EQ((*a)->dir, (*b)->dir);
  EXPECT_EQ(readFile((*a)->dir / "data.bin"), big);
  EXPECT_EQ(rootEntries().size(), 1u);
}

TEST_F(CodeStoreTest, RefusesPathTraversal) {
  for (const char* name : {"../evil", "/abs", "a/../../b", "a/./../x", "a\\..\\..\\b"}) {
    SCOPED_TRACE(name);
    expectRejected(buildZip({{"ok.txt", "ok"}, {name, "bad"}}), ErrorCode::kInvalidParameter,
                   "Entry name");
  }
}

TEST_F(CodeStoreTest, RefusesNulInAName) {
  std::string zip = buildZip({{"abXcd.txt", "x"}});
  patchAll(zip, "abXcd.txt", std::string("ab\0cd.txt", 9));
  expectRejected(zip, ErrorCode::kInvalidParameter, "NUL");
}

TEST_F(CodeStoreTest, RefusesDuplicateEntries) {
  expectRejected(buildZip({{"a.txt", "1"}, {"./a.txt", "2"}}), ErrorCode::kInvalidParameter,
                 "more than one entry");
  std::string zip = buildZip(
      {{"a.txt", "1", std::nullopt, ZIP_CM_STORE}, {"b.txt", "2", std::nullopt, ZIP_CM_STORE}});
  patchAll(zip, "b.txt", "a.txt");  // libzip will not write a duplicate itself
  expectRejected(zip, ErrorCode::kInvalidParameter, "more than one entry");
  // A file and a directory of the same name would clash on disk as well.
  expectRejected(buildZip({{"a", "file"}, {"a/b", "under a file"}}), ErrorCode::kInvalidParameter,
                 "not a directory");
}

TEST_F(CodeStoreTest, RefusesSymlinksLeavingThePackage) {
  const uint32_t kLink = S_IFLNK | 0777;
  expectRejected(buildZip({{"passwd", "/etc/passwd", kLink}}), ErrorCode::kInvalidParameter,
                 "points outside");
  expectRejected(buildZip({{"lib/x", "../../x", kLink}}), ErrorCode::kInvalidParameter,
                 "points outside");
  // Lexically "s/.." is the root, but s is a link to the root, so it is the root's parent.
  expectRejected(buildZip({{"s", ".", kLink}, {"t", "s/..", kLink}}), ErrorCode::kInvalidParameter,
                 "points outside");
  expectRejected(buildZip({{"a", "b", kLink}, {"b", "a", kLink}}), ErrorCode::kInvalidParameter,
                 "loops");
  // Writing a file through a link in the package would land wherever the link points.
  expectRejected(buildZip({{"lib", "real", kLink}, {"lib/x", "data"}}),
                 ErrorCode::kInvalidParameter, "not a directory");
}

TEST_F(CodeStoreTest, KeepsSymlinksThatStayInside) {
  const uint32_t kLink = S_IFLNK | 0777;
  auto r = CodeStore(root_).ingest(buildZip({
      {"y", "target data", S_IFREG | 0644},
      {"lib/x", "../y", kLink},
      {"lib/self", ".", kLink},
  }));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(fs::read_symlink(r->dir / "lib/x"), "../y");
  EXPECT_EQ(readFile(r->dir / "lib/x"), "target data");
  EXPECT_TRUE(fs::is_symlink(r->dir / "lib/self"));
}

TEST_F(CodeStoreTest, RefusesSpecialFiles) {
  expectRejected(buildZip({{"fifo", "", S_IFIFO | 0644}}), ErrorCode::kInvalidParameter,
                 "device, FIFO or socket");
}

TEST_F(CodeStoreTest, RefusesAZipBombWithoutWritingIt) {
  Zeros zeros{300ull << 20};
  const std::string zip = buildZip({}, [&](zip_t* za) {
    zip_source_t* src = zip_source_function(za, zerosCallback, &zeros);
    ASSERT_NE(src, nullptr);
    ASSERT_GE(zip_file_add(za, "bomb.bin", src, 0), 0);
  });
  ASSERT_LT(zip.size(), 1u << 20);
  expectRejected(zip, ErrorCode::kInvalidParameter, "");
}

TEST_F(CodeStoreTest, RefusesAnEntryAboveTheCompressionRatio) {
  const std::string zeros(20 << 20, '\0');  // within the unpacked limit, ratio ~1000
  expectRejected(buildZip({{"zeros.bin", zeros}}), ErrorCode::kInvalidParameter,
                 "compression ratio");
}

TEST_F(CodeStoreTest, RefusesManySmallEntriesAboveTheOverallRatio) {
  const std::string zeros(512 << 10, '\0');  // each below the per-entry floor
  std::vector<TestEntry> entries;
  for (int i = 0; i < 8; ++i) entries.push_back({"z" + std::to_string(i), zeros});
  expectRejected(buildZip(entries), ErrorCode::kInvalidParameter, "overall compression ratio");
}

TEST_F(CodeStoreTest, RefusesMoreUnpackedBytesThanTheLimit) {
  ZipLimits limits;
  limits.max_unpacked_bytes = 1000;
  expectRejected(buildZip({{"a", std::string(600, 'a')}, {"b", std::string(600, 'b')}}),
                 ErrorCode::kInvalidParameter, "Unzipped size must be smaller than 1000 bytes",
                 limits);
}

TEST_F(CodeStoreTest, StopsAtTheDeclaredSizeWhenHeadersLie) {
  std::string zip = buildZip({{"big.bin", std::string(4 << 20, '\0')}});
  // Claim 1000 bytes in both the local header and the central directory.
  ASSERT_EQ(zip.compare(0, 4, "PK\3\4"), 0);
  const size_t central = zip.find("PK\1\2");
  ASSERT_NE(central, std::string::npos);
  ASSERT_EQ(le32(zip, 22), 4u << 20);
  ASSERT_EQ(le32(zip, central + 24), 4u << 20);
  putLe32(zip, 22, 1000);
  putLe32(zip, central + 24, 1000);
  expectRejected(zip, ErrorCode::kInvalidParameter, "big.bin");
}

TEST_F(CodeStoreTest, RefusesACrcMismatch) {
  std::string zip = buildZip({{"hello.txt", "hello, world", S_IFREG | 0644, ZIP_CM_STORE}});
  patchAll(zip, "hello, world", "HELLO, world");
  expectRejected(zip, ErrorCode::kInvalidParameter, "CRC");
}

TEST_F(CodeStoreTest, RefusesBytesThatAreNotAZip) {
  expectRejected("", ErrorCode::kInvalidParameter, "non-empty zip");
  std::string garbage(4096, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 131 + 17);
  expectRejected(garbage, ErrorCode::kInvalidParameter, "Could not unzip uploaded file");

  std::string noise(5000, '\0');
  for (size_t i = 0; i < noise.size(); ++i)
    noise[i] = static_cast<char>((i * i * 2654435761u) >> 13);
  const std::string zip = buildZip({{"a.txt", noise}, {"b.txt", "b"}});
  expectRejected(zip.substr(0, zip.size() / 2), ErrorCode::kInvalidParameter,
                 "Could not unzip uploaded file");
  expectRejected(zip.substr(0, zip.size() - 5), ErrorCode::kInvalidParameter,
                 "Could not unzip uploaded file");
  // Central directory intact, data cut out from under it.
  expectRejected(zip.substr(0, 40) + zip.substr(400), ErrorCode::kInvalidParameter,
                 "Could not unzip uploaded file");
}

TEST_F(CodeStoreTest, RefusesTooManyEntries) {
  ZipLimits limits;
  limits.max_entries = 3;
  expectRejected(buildZip({{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}),
                 ErrorCode::kInvalidParameter, "limit is 3", limits);
}

TEST_F(CodeStoreTest, RefusesZipsOverTheZippedLimitAsTooLarge) {
  ZipLimits limits;
  limits.max_zipped_bytes = 100;
  expectRejected(buildZip({{"a", std::string(200, 'x')}}), ErrorCode::kTooLarge,
                 "smaller than 100 bytes", limits);
}

TEST_F(CodeStoreTest, AcceptsStreamedZipsFromInfoZip) {
  if (std::system("command -v zip >/dev/null 2>&1") != 0) GTEST_SKIP() << "no zip command";
  const fs::path src = base_ / "src";
  fs::create_directories(src / "lib");
  std::ofstream(src / "bootstrap") << "#!/bin/sh\n";
  std::ofstream(src / "lib/x.py") << "x = 1\n";
  fs::permissions(src / "bootstrap", fs::perms(0755));
  fs::create_symlink("x.py", src / "lib/current");
  // Writing to a pipe makes zip use data descriptors, as streaming tools do.
  const std::string cmd =
      "cd '" + src.string() + "' && zip -q -r -y - . > '" + (base_ / "cli.zip").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);

  auto r = CodeStore(root_).ingest(readFile(base_ / "cli.zip"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(permsOf(r->dir / "bootstrap"), 0755u);
  EXPECT_EQ(readFile(r->dir / "lib/x.py"), "x = 1\n");
  EXPECT_EQ(fs::read_symlink(r->dir / "lib/current"), "x.py");
}

TEST_F(CodeStoreTest, CollectGarbageKeepsReferencedAndRecentTrees) {
  CodeStore store(root_);
  auto kept = store.ingest(buildZip({{"k", "keep"}}));
  auto old = store.ingest(buildZip({{"o", "old"}}));
  auto fresh = store.ingest(buildZip({{"f", "fresh"}}));
  auto refreshed = store.ingest(buildZip({{"r", "refreshed"}}));
  ASSERT_TRUE(kept.ok() && old.ok() && fresh.ok() && refreshed.ok());

  const auto longAgo = fs::file_time_type::clock::now() - std::chrono::hours(2);
  fs::create_directory(root_ / ".tmp-abandoned");
  fs::create_directory(root_ / ".tmp-in-progress");
  std::ofstream(root_ / "notes.txt") << "not ours";
  for (const fs::path& p : {kept->dir, old->dir, refreshed->dir, root_ / ".tmp-abandoned"}) {
    fs::last_write_time(p, longAgo);
  }
  ASSERT_TRUE(store.ingest(buildZip({{"r", "refreshed"}})).ok());  // a new reference

  store.collectGarbage({kept->sha256_hex});
  EXPECT_TRUE(store.contains(kept->sha256_hex));
  EXPECT_FALSE(store.contains(old->sha256_hex));
  EXPECT_TRUE(store.contains(fresh->sha256_hex));
  EXPECT_TRUE(store.contains(refreshed->sha256_hex));
  EXPECT_FALSE(fs::exists(root_ / ".tmp-abandoned"));
  EXPECT_TRUE(fs::exists(root_ / ".tmp-in-progress"));
  EXPECT_TRUE(fs::exists(root_ / "notes.txt"));
}

TEST_F(CodeStoreTest, ContainsOnlyAnswersForDigests) {
  CodeStore store(root_);
  fs::create_directories(root_ / "sub");
  EXPECT_FALSE(store.contains("sub"));
  EXPECT_FALSE(store.contains("../code"));
  EXPECT_FALSE(store.contains(std::string(64, 'a')));
  store.collectGarbage({});  // a root without trees is fine
  CodeStore(base_ / "missing").collectGarbage({});
}

}  // namespace
}  // namespace nimbus::store
