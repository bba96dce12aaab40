// Parsing of the values users type into the client verbs: `--env K=V` lists and the
// invoke payload given inline, as @file or as @- (stdin).
#pragma once

#include <istream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace nimbus::cli {

// Each item is NAME=VALUE; VALUE may be empty or contain '='. NAME must look like an
// environment variable name ([A-Za-z_][A-Za-z0-9_]*), and may be given once, since a
// repeated name is more likely a typo than an intended override.
Result<std::map<std::string, std::string>> parseEnvAssignments(
    const std::vector<std::string>& items);

// Resolves `--data`: "@path" reads a file, "@-" reads `stdin_stream`, anything else is
// the payload itself. The result must be JSON (or empty), because nimbus answers
// anything else with InvalidRequestContentException; checking here says which input was
// wrong before the network is involved.
Result<std::string> loadPayload(std::string_view spec, std::istream& stdin_stream);

// InvalidRequestContent with the parser's reason when `text` is not one JSON value.
Result<void> checkJson(std::string_view text);

}  // namespace nimbus::cli
