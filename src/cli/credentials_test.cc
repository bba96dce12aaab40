// Tests for credential lookup: the ini parser and the flag > env > file precedence.
#include "cli/credentials.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>

namespace nimbus::cli {
namespace {

EnvLookup fakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nimbus-cred-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(ParseCredentialsFile, ReadsTheFileTheServerWrites) {
  auto creds = parseCredentialsFile(
      "[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = s3cr3t/+=\n");
  ASSERT_TRUE(creds.ok()) << creds.error().message;
  EXPECT_EQ(creds->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(creds->secret_access_key, "s3cr3t/+=");
}

TEST(ParseCredentialsFile, ToleratesCommentsCrlfAndOtherProfiles) {
  auto creds = parseCredentialsFile(
      "# written by nimbus\r\n[other]\r\naws_access_key_id=WRONG\r\naws_secret_access_key=WRONG\r\n"
      "\r\n[ default ]\r\n; comment\r\n  aws_access_key_id=ID  \r\naws_secret_access_key=SECRET\r\n"
      "region = us-east-1\r\n");
  ASSERT_TRUE(creds.ok()) << creds.error().message;
  EXPECT_EQ(creds->access_key_id, "ID");
  EXPECT_EQ(creds->secret_access_key, "SECRET");
}

TEST(ParseCredentialsFile, SelectsANamedProfile) {
  auto creds = parseCredentialsFile(
      "[default]\naws_access_key_id=A\naws_secret_access_key=B\n"
      "[ci]\naws_access_key_id=C\naws_secret_access_key=D\n",
      "ci");
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->access_key_id, "C");
}

TEST(ParseCredentialsFile, ReportsWhatIsMissing) {
  auto no_profile = parseCredentialsFile("[other]\naws_access_key_id=A\n");
  ASSERT_FALSE(no_profile.ok());
  EXPECT_NE(no_profile.error().message.find("no profile [default]"), std::string::npos);

  auto no_secret = parseCredentialsFile("[default]\naws_access_key_id=A\n");
  ASSERT_FALSE(no_secret.ok());
  EXPECT_NE(no_secret.error().message.find("aws_secret_access_key"), std::string::npos);

  // Keys before any section belong to no profile.
  EXPECT_FALSE(parseCredentialsFile("aws_access_key_id=A\naws_secret_access_key=B\n").ok());
}

TEST(ResolveCredentials, FlagsWinOverEnvironmentAndFile) {
  auto env = fakeEnv({{"NIMBUS_ACCESS_KEY_ID", "E"}, {"NIMBUS_SECRET_ACCESS_KEY", "ES"}});
  auto creds = resolveCredentials({"F", "FS"}, env, "/nonexistent/credentials");
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->access_key_id, "F");
  EXPECT_EQ(creds->secret_access_key, "FS");
}

TEST(ResolveCredentials, UserEnvironmentBeforeRootEnvironment) {
  auto env = fakeEnv({{"NIMBUS_ACCESS_KEY_ID", "U"},
                      {"NIMBUS_SECRET_ACCESS_KEY", "US"},
                      {"NIMBUS_ROOT_ACCESS_KEY_ID", "R"},
                      {"NIMBUS_ROOT_SECRET_ACCESS_KEY", "RS"}});
  auto creds = resolveCredentials({}, env, "/nonexistent/credentials");
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->access_key_id, "U");

  auto root_only = resolveCredentials({},
                                      fakeEnv({{"NIMBUS_ROOT_ACCESS_KEY_ID", "R"},
                                               {"NIMBUS_ROOT_SECRET_ACCESS_KEY", "RS"},
                                               {"NIMBUS_ACCESS_KEY_ID", ""}}),
                                      "/nonexistent/credentials");
  ASSERT_TRUE(root_only.ok());
  EXPECT_EQ(root_only->access_key_id, "R");
}

TEST(ResolveCredentials, HalfAPairIsAnError) {
  auto flags = resolveCredentials({"F", std::nullopt}, fakeEnv({}), "/nonexistent/credentials");
  ASSERT_FALSE(flags.ok());
  EXPECT_NE(flags.error().message.find("--secret-key"), std::string::npos);

  auto env = resolveCredentials({}, fakeEnv({{"NIMBUS_SECRET_ACCESS_KEY", "S"}}),
                                "/nonexistent/credentials");
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.error().message.find("NIMBUS_ACCESS_KEY_ID"), std::string::npos);
}

TEST(ResolveCredentials, FallsBackToTheFile) {
  TempDir dir;
  std::ofstream(dir.path() / "credentials")
      << "[default]\naws_access_key_id = FILEID\naws_secret_access_key = FILESECRET\n";
  auto creds = resolveCredentials({}, fakeEnv({}), dir.path() / "credentials");
  ASSERT_TRUE(creds.ok()) << creds.error().message;
  EXPECT_EQ(creds->access_key_id, "FILEID");
  EXPECT_EQ(creds->secret_access_key, "FILESECRET");
}

TEST(ResolveCredentials, MissingEverywhereSaysWhereItLooked) {
  TempDir dir;
  auto creds = resolveCredentials({}, fakeEnv({}), dir.path() / "credentials");
  ASSERT_FALSE(creds.ok());
  EXPECT_EQ(creds.error().code, ErrorCode::kMissingAuthentication);
  const std::string& message = creds.error().message;
  EXPECT_NE(message.find("--access-key"), std::string::npos);
  EXPECT_NE(message.find("NIMBUS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_NE(message.find("NIMBUS_ROOT_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_NE(message.find((dir.path() / "credentials").string()), std::string::npos);
  EXPECT_NE(message.find("does not exist"), std::string::npos);
}

TEST(ResolveCredentials, MalformedFileIsExplained) {
  TempDir dir;
  std::ofstream(dir.path() / "credentials") << "[default]\naws_access_key_id = X\n";
  auto creds = resolveCredentials({}, fakeEnv({}), dir.path() / "credentials");
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.error().message.find("lacks aws_secret_access_key"), std::string::npos);
}

TEST(BearerAuthorization, JoinsIdAndSecret) {
  EXPECT_EQ(bearerAuthorization({"AK", "SK"}), "Bearer AK:SK");
}

}  // namespace
}  // namespace nimbus::cli
