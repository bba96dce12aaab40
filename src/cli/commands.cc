// Registers the client verbs on the shared CLI::App and dispatches to the one parsed
// (queue, dlq and async included, beside those commands.h names).
#include "cli/commands.h"

#include <exception>
#include <iostream>

#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {

void addClientCommands(CLI::App& app) {
  addDeployCommand(app);
  addInvokeCommand(app);
  addFunctionCommands(app);
  addLogsCommand(app);
  addQueueCommands(app);
  addDlqCommands(app);
  addAsyncCommand(app);
  addSettingsCommand(app);
  addInvocationsCommand(app);
  addStatsCommand(app);
}

std::optional<int> runSelected(CLI::App& app) {
  auto selected = [&app](const char* name) -> const CLI::App* {
    return app.got_subcommand(name) ? app.get_subcommand(name) : nullptr;
  };
  try {
    if (const CLI::App* sub = selected("deploy")) {
      return runDeploy(readCommonOptions(*sub), readDeployOptions(*sub));
    }
    if (const CLI::App* sub = selected("invoke")) {
      return runInvoke(readCommonOptions(*sub), readInvokeOptions(*sub));
    }
    if (const CLI::App* sub = selected("ls")) {
      return runList(readCommonOptions(*sub), flagGiven(*sub, "--json"));
    }
    if (const CLI::App* sub = selected("get")) {
      return runGet(readCommonOptions(*sub), optionValue(*sub, "name").value_or(""),
                    optionValue(*sub, "--qualifier"));
    }
    if (const CLI::App* sub = selected("rm")) {
      return runRemove(readCommonOptions(*sub), optionValue(*sub, "name").value_or(""),
                       optionValue(*sub, "--qualifier"));
    }
    if (const CLI::App* sub = selected("settings")) {
      return runSettings(readCommonOptions(*sub), optionValue(*sub, "name").value_or(""),
                         readSettingsChange(*sub));
    }
    if (const CLI::App* sub = selected("logs")) {
      return runLogs(readCommonOptions(*sub), readLogsOptions(*sub));
    }
    if (const CLI::App* sub = selected("queue")) return runQueueCommand(*sub);
    if (const CLI::App* sub = selected("dlq")) return runDlqCommand(*sub);
    if (const CLI::App* sub = selected("async")) {
      return runAsync(readCommonOptions(*sub), optionValue(*sub, "function").value_or(""),
                      flagGiven(*sub, "--json"));
    }
    if (const CLI::App* sub = selected("invocations")) {
      return runInvocations(readCommonOptions(*sub), readInvocationsOptions(*sub));
    }
    if (const CLI::App* sub = selected("stats")) {
      return runStats(readCommonOptions(*sub), readStatsOptions(*sub));
    }
  } catch (const std::exception& e) {
    // Errors travel as values; this catches what libraries still throw (allocation,
    // CLI11 conversions) so the user gets a message rather than std::terminate.
    std::cerr << "error: " << e.what() << "\n";
    return kExitFailure;
  }
  return std::nullopt;
}

}  // namespace nimbus::cli
