// `nimbus invoke`: one Invoke call. The exit code tells a script whether the function
// failed (1) or the call itself did (2), since both print a JSON body.
#include <unistd.h>

#include <iostream>

#include "base/encoding.h"
#include "cli/arguments.h"
#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {

void addInvokeCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("invoke", "Invoke a function and print its result");
  sub->add_option("name", "function name, name:qualifier or ARN")->required();
  sub->add_option("-d,--data,--payload", "event JSON, @file, or @- for stdin")
      ->type_name("JSON|@FILE");
  sub->add_option("-q,--qualifier", "version or alias");
  sub->add_flag("--async")->description("queue the event (Event invocation) and print its id");
  sub->add_flag("--log")->description("print the tail of the invocation log to stderr");
  sub->add_option("--idempotency-key",
                  "run at most once per key (X-Nimbus-Idempotency-Key); a repeat returns the "
                  "first result")
      ->type_name("KEY");
  addCommonOptions(*sub, false);
}

InvokeOptions readInvokeOptions(const CLI::App& sub) {
  InvokeOptions options;
  options.name = optionValue(sub, "name").value_or("");
  options.data = optionValue(sub, "--data");
  options.qualifier = optionValue(sub, "--qualifier");
  options.async = flagGiven(sub, "--async");
  options.log = flagGiven(sub, "--log");
  options.idempotency_key = optionValue(sub, "--idempotency-key");
  return options;
}

int runInvoke(const CommonOptions& common, const InvokeOptions& options) {
  std::string payload;
  if (options.data) {
    auto loaded = loadPayload(*options.data, std::cin);
    if (!loaded.ok()) return reportError(loaded.error());
    payload = std::move(*loaded);
  }
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());

  std::string target = functionPath(options.name) + "/invocations";
  if (options.qualifier) target += "?Qualifier=" + percentEncode(*options.qualifier);
  Headers headers = {{"X-Amz-Invocation-Type", options.async ? "Event" : "RequestResponse"}};
  // Lambda only tails the log of synchronous calls.
  if (options.log && !options.async) headers.emplace_back("X-Amz-Log-Type", "Tail");
  if (options.idempotency_key) {
    headers.emplace_back("X-Nimbus-Idempotency-Key", *options.idempotency_key);
  }

  auto response = client->send("POST", target, std::move(payload), headers);
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  if (response->header("X-Nimbus-Idempotent-Replay").value_or("") == "true") {
    std::cerr << "note: idempotency key seen before; this is the first invocation's result\n";
  }

  if (options.async && response->status == 202) {
    std::cout << response->header("x-amzn-RequestId").value_or("(no request id)") << "\n";
    return kExitOk;
  }
  if (auto log = response->header("X-Amz-Log-Result")) {
    auto text = base64Decode(*log);
    if (text) {
      std::cerr << *text;
      if (!text->empty() && text->back() != '\n') std::cerr << "\n";
    } else {
      std::cerr << "warning: X-Amz-Log-Result is not base64\n";
    }
  }
  std::cout << response->body;
  // A terminal gets a final newline for the prompt's sake; a pipe or file gets the
  // function's bytes untouched.
  if (isatty(STDOUT_FILENO) && !response->body.empty() && response->body.back() != '\n') {
    std::cout << "\n";
  }
  std::cout.flush();
  return response->header("X-Amz-Function-Error") ? kExitFunctionError : kExitOk;
}

}  // namespace nimbus::cli
