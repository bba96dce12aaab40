# Fails at import time: the runtime must report Runtime.ImportModuleError.
import nimbus_module_that_does_not_exist  # noqa: F401


def handler(event, context):
    return event
