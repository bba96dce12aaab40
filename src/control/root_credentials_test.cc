// Tests for root credentials: the shared-credentials file parser, and loading from an
// injected environment, an existing file, or a newly made 0600 file reused next start.
#include "control/root_credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace nimbus::control {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::path(::testing::TempDir()) / "nimbus-creds-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// An environment lookup over a fixed map.
std::function<const char*(const char*)> envOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ParseCredentialsFile, DefaultProfile) {
  auto r = parseCredentialsFile(
      "[default]\naws_access_key_id = AKIDTEST\naws_secret_access_key = s3cr3t/+=\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->access_key_id, "AKIDTEST");
  EXPECT_EQ(r->secret_access_key, "s3cr3t/+=");
}

TEST(ParseCredentialsFile, ToleratesSpacingCommentsAndCrlf) {
  auto r = parseCredentialsFile(
      "# made by nimbus\r\n; another comment\r\n\r\n[default]\r\n"
      "  aws_access_key_id=ID1  \r\n\taws_secret_access_key =SECRET1\r\nunrelated line\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->access_key_id, "ID1");
  EXPECT_EQ(r->secret_access_key, "SECRET1");
}

TEST(ParseCredentialsFile, OtherProfilesAreIgnored) {
  auto r = parseCredentialsFile(
      "[other]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n"
      "[default]\naws_access_key_id = RIGHT\naws_secret_access_key = RIGHTSECRET\n"
      "[third]\naws_access_key_id = ALSOWRONG\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->access_key_id, "RIGHT");
  EXPECT_EQ(r->secret_access_key, "RIGHTSECRET");
}

TEST(ParseCredentialsFile, MissingMembersAreRefused) {
  EXPECT_FALSE(parseCredentialsFile("").ok());
  EXPECT_FALSE(parseCredentialsFile("[default]\naws_access_key_id = X\n").ok());
  EXPECT_FALSE(parseCredentialsFile("[default]\naws_secret_access_key = Y\n").ok());
  EXPECT_FALSE(
      parseCredentialsFile("[prod]\naws_access_key_id = X\naws_secret_access_key = Y\n").ok());
}

TEST(LoadOrCreateRootCredentials, EnvironmentWins) {
  TempDir dir;
  std::ofstream(dir.path() / "credentials")
      << "[default]\naws_access_key_id = FILEID\naws_secret_access_key = FILESECRET\n";
  auto r = loadOrCreateRootCredentials(dir.path(),
                                       envOf({{"NIMBUS_ROOT_ACCESS_KEY_ID", "ENVID"},
                                              {"NIMBUS_ROOT_SECRET_ACCESS_KEY", "ENVSECRET"}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->access_key_id, "ENVID");
  EXPECT_EQ(r->secret_access_key, "ENVSECRET");
  EXPECT_EQ(r->source, "environment");
  EXPECT_FALSE(r->created);
}

TEST(LoadOrCreateRootCredentials, EnvironmentNeedsBothVariables) {
  TempDir dir;
  auto r = loadOrCreateRootCredentials(dir.path(), envOf({{"NIMBUS_ROOT_ACCESS_KEY_ID", "ENVID"},
                                                          {"NIMBUS_ROOT_SECRET_ACCESS_KEY", ""}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(r->access_key_id, "ENVID");
  EXPECT_TRUE(r->created);
}

TEST(LoadOrCreateRootCredentials, CreatesA0600FileAndReusesIt) {
  TempDir dir;
  auto first = loadOrCreateRootCredentials(dir.path(), envOf({}));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->created);
  fs::path file = dir.path() / "credentials";
  EXPECT_EQ(first->source, file.string());
  EXPECT_GE(first->access_key_id.size(), 16u);
  EXPECT_GE(first->secret_access_key.size(), 32u);

  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::string text = readFile(file);
  EXPECT_EQ(text, "[default]\naws_access_key_id = " + first->access_key_id +
                      "\naws_secret_access_key = " + first->secret_access_key + "\n");
  auto reparsed = parseCredentialsFile(text);
  ASSERT_TRUE(reparsed.ok());
  EXPECT_EQ(reparsed->access_key_id, first->access_key_id);

  auto second = loadOrCreateRootCredentials(dir.path(), envOf({}));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->access_key_id, first->access_key_id);
  EXPECT_EQ(second->secret_access_key, first->secret_access_key);
  EXPECT_EQ(second->source, file.string());
}

TEST(LoadOrCreateRootCredentials, FreshDirectoriesGetDifferentKeys) {
  TempDir a, b;
  auto ra = loadOrCreateRootCredentials(a.path(), envOf({}));
  auto rb = loadOrCreateRootCredentials(b.path(), envOf({}));
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_NE(ra->access_key_id, rb->access_key_id);
  EXPECT_NE(ra->secret_access_key, rb->secret_access_key);
}

TEST(LoadOrCreateRootCredentials, BrokenFileIsAnErrorNotOverwritten) {
  TempDir dir;
  fs::path file = dir.path() / "credentials";
  std::ofstream(file) << "[default]\naws_access_key_id = ONLYID\n";
  auto r = loadOrCreateRootCredentials(dir.path(), envOf({}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(file.string()), std::string::npos) << r.error().message;
  EXPECT_EQ(readFile(file), "[default]\naws_access_key_id = ONLYID\n");
}

TEST(LoadOrCreateRootCredentials, MissingDirectoryIsAnError) {
  TempDir dir;
  auto r = loadOrCreateRootCredentials(dir.path() / "does-not-exist", envOf({}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
}

}  // namespace
}  // namespace nimbus::control
