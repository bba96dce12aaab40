// Provisioned concurrency operations: PutProvisionedConcurrencyConfig,
// GetProvisionedConcurrencyConfig, DeleteProvisionedConcurrencyConfig and
// ListProvisionedConcurrencyConfigs (Lambda's 2019-09-30 paths). Deviation from Lambda
// until versions and aliases exist: the qualifier $LATEST is accepted (Lambda refuses
// unpublished versions), as is any published version the store has.
#pragma once

#include "control/functions_api.h"

namespace nimbus::control {

void addProvisionedConcurrencyRoutes(http::Router& router, FunctionsApiDeps deps);

// At start: hands every stored config to the admission and the pool again.
void restoreProvisionedConcurrency(const FunctionsApiDeps& deps);

}  // namespace nimbus::control
