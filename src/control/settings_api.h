// nimbus's own per-function settings, which Lambda's API has no place for:
// GET and PATCH /v1/functions/{name}/settings with {"NetworkMode","KeepAliveSeconds"}.
#pragma once

#include "control/functions_api.h"

namespace nimbus::control {

void addSettingsRoutes(http::Router& router, FunctionsApiDeps deps);

}  // namespace nimbus::control
