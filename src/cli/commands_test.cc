// Tests for the command-line surface: which options each verb takes and how they are
// read back, and that runSelected leaves other subcommands (serve) alone.
#include "cli/commands.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {
namespace {

class CommandsTest : public ::testing::Test {
 protected:
  CommandsTest() {
    // Defaults are under test; a developer's own settings must not leak in.
    ::unsetenv("NIMBUS_ENDPOINT");
    ::unsetenv("NIMBUS_DATA");
    app_.add_subcommand("serve", "the lead's server command");
    addClientCommands(app_);
  }

  // Parses args (without the program name), as main.cc would.
  void parse(std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());  // CLI11 takes the vector back to front
    app_.parse(args);
  }

  CLI::App app_{"nimbus"};
};

TEST_F(CommandsTest, DeployOptions) {
  parse({"deploy",     "./fn",        "--name",   "hello",      "--runtime",     "python3.11",
         "--handler",  "app.handler", "--memory", "256",        "--timeout",     "7",
         "--env",      "A=1",         "--env",    "B=x=y",      "--description", "demo",
         "--endpoint", "http://h:1",  "--data",   "/srv/nimbus"});
  const CLI::App& sub = *app_.get_subcommand("deploy");
  DeployOptions options = readDeployOptions(sub);
  EXPECT_EQ(options.path, "./fn");
  EXPECT_EQ(options.name, "hello");
  EXPECT_EQ(options.runtime, "python3.11");
  EXPECT_EQ(options.handler, "app.handler");
  EXPECT_EQ(options.memory_mb, 256);
  EXPECT_EQ(options.timeout_s, 7);
  EXPECT_EQ(options.env, (std::vector<std::string>{"A=1", "B=x=y"}));
  EXPECT_EQ(options.description, "demo");
  CommonOptions common = readCommonOptions(sub);
  EXPECT_EQ(common.endpoint, "http://h:1");
  EXPECT_EQ(common.data_dir, "/srv/nimbus");
  EXPECT_FALSE(common.credentials.access_key);
}

TEST_F(CommandsTest, DeployLeavesUnsetFieldsUnset) {
  parse({"deploy", "code.zip", "--name", "f"});
  DeployOptions options = readDeployOptions(*app_.get_subcommand("deploy"));
  EXPECT_FALSE(options.runtime);
  EXPECT_FALSE(options.memory_mb);
  EXPECT_TRUE(options.env.empty());
}

TEST_F(CommandsTest, DeployRequiresNameAndRejectsNonNumbers) {
  EXPECT_THROW(parse({"deploy", "./fn"}), CLI::ParseError);
  EXPECT_THROW(parse({"deploy", "./fn", "--name", "f", "--memory", "lots"}), CLI::ParseError);
}

TEST_F(CommandsTest, DeployTakesNetworkAndKeepAlive) {
  parse({"deploy", "./fn", "--name", "f", "--network", "egress", "--keep-alive", "60"});
  DeployOptions options = readDeployOptions(*app_.get_subcommand("deploy"));
  EXPECT_EQ(options.settings.network, "egress");
  EXPECT_EQ(options.settings.keep_alive_s, 60);
  EXPECT_FALSE(options.settings.empty());
}

TEST_F(CommandsTest, SettingsOptionsAndTheirChecks) {
  parse({"settings", "f"});
  EXPECT_TRUE(readSettingsChange(*app_.get_subcommand("settings")).empty());
  parse({"settings", "f", "--keep-alive", "0"});
  SettingsChange change = readSettingsChange(*app_.get_subcommand("settings"));
  EXPECT_EQ(change.keep_alive_s, 0);
  EXPECT_FALSE(change.network);
  EXPECT_THROW(parse({"settings", "f", "--network", "open"}), CLI::ParseError);
  EXPECT_THROW(parse({"settings", "f", "--keep-alive", "-1"}), CLI::ParseError);
  EXPECT_THROW(parse({"settings", "f", "--keep-alive", "86401"}), CLI::ParseError);
}

TEST_F(CommandsTest, InvokeDataIsThePayloadAndDataDirTheFolder) {
  parse({"invoke", "f", "--data", "{\"k\":1}", "--data-dir", "/d", "--async", "--log", "-q", "live",
         "--access-key", "AK", "--secret-key", "SK"});
  const CLI::App& sub = *app_.get_subcommand("invoke");
  InvokeOptions options = readInvokeOptions(sub);
  EXPECT_EQ(options.name, "f");
  EXPECT_EQ(options.data, "{\"k\":1}");
  EXPECT_EQ(options.qualifier, "live");
  EXPECT_TRUE(options.async);
  EXPECT_TRUE(options.log);
  CommonOptions common = readCommonOptions(sub);
  EXPECT_EQ(common.data_dir, "/d");
  EXPECT_EQ(common.credentials.access_key, "AK");
  EXPECT_EQ(common.credentials.secret_key, "SK");
}

TEST_F(CommandsTest, InvokeDefaults) {
  parse({"invoke", "f"});
  InvokeOptions options = readInvokeOptions(*app_.get_subcommand("invoke"));
  EXPECT_FALSE(options.data);
  EXPECT_FALSE(options.async);
  EXPECT_FALSE(options.log);
  CommonOptions common = readCommonOptions(*app_.get_subcommand("invoke"));
  EXPECT_EQ(common.data_dir, kDefaultDataDir);
}

TEST_F(CommandsTest, LogsOptions) {
  parse({"logs", "f", "-n", "5", "-f"});
  LogsOptions options = readLogsOptions(*app_.get_subcommand("logs"));
  EXPECT_EQ(options.name, "f");
  EXPECT_EQ(options.limit, 5);
  EXPECT_TRUE(options.follow);
}

TEST_F(CommandsTest, OtherSubcommandsAreNotRun) {
  parse({"serve"});
  EXPECT_EQ(runSelected(app_), std::nullopt);
}

TEST_F(CommandsTest, LocalErrorsExitWithoutTheNetwork) {
  // A deploy of a path that is not there fails before any connection is attempted.
  parse({"deploy", "/nonexistent/code", "--name", "f", "--endpoint", "http://127.0.0.1:1"});
  EXPECT_EQ(runSelected(app_), kExitFailure);
}

TEST_F(CommandsTest, InvalidInvokePayloadIsRejectedLocally) {
  parse({"invoke", "f", "--data", "{not json", "--endpoint", "http://127.0.0.1:1"});
  EXPECT_EQ(runSelected(app_), kExitFailure);
}

TEST(FunctionPath, EncodesTheName) {
  EXPECT_EQ(functionPath("f:$LATEST"), "/2015-03-31/functions/f%3A%24LATEST");
}

}  // namespace
}  // namespace nimbus::cli
