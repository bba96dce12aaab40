// The nimbus binary: `nimbus serve` runs the platform; every other subcommand is a
// client of its public API.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "server/serve_options.h"

int main(int argc, char** argv) {
  CLI::App app{"nimbus: a self-hosted Function-as-a-Service platform"};
  app.set_version_flag("--version", "nimbus 0.1.0");
  app.require_subcommand(1);
  nimbus::server::ServeOptions serve_options;
  auto* serve = nimbus::server::addServeCommand(app, serve_options);
  nimbus::cli::addClientCommands(app);
  CLI11_PARSE(app, argc, argv);
  if (serve->parsed()) return nimbus::server::runServe(serve_options);
  if (auto code = nimbus::cli::runSelected(app)) return *code;
  std::cerr << app.help();
  return 2;
}
