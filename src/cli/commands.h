// The client half of the `nimbus` binary: deploy, invoke, ls, get, rm and logs, each a
// thin verb over the public HTTP API. `nimbus serve` is added by main.cc, not here.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>

namespace nimbus::cli {

// Adds the client subcommands to `app` (deploy, invoke, ls, get, rm, logs) with their global
// options.
void addClientCommands(CLI::App& app);
// After app.parse(): runs the selected client subcommand; returns its exit code, or std::nullopt if
// none of them was selected.
std::optional<int> runSelected(CLI::App& app);

}  // namespace nimbus::cli
