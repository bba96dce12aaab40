"""Test function for the nimbus integration suite (python3.11 runtime).

Handlers:
  app.echo  returns the event unchanged.
  app.main  dispatches on event["action"] (default: echo); see ACTIONS below.
"""
import json
import os
import signal
import sys
import time
import uuid

# Set once per process: lets the tests tell a cold start from a warm one.
_INIT_TIME = time.time()
# Identifies this process even where every instance sees the same pid (pid namespaces).
_INSTANCE = uuid.uuid4().hex
_INVOCATIONS = 0


def echo(event, context):
    return event


def _info(event, context):
    return {
        "pid": os.getpid(),
        "instance": _INSTANCE,
        "invocations": _INVOCATIONS,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": str(context.memory_limit_in_mb),
        "invoked_function_arn": context.invoked_function_arn,
        "correlation_id": context.correlation_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env": dict(os.environ),
        "cwd": os.getcwd(),
    }


def _fail(event, context):
    raise ValueError("boom: " + str(event.get("message", "")))


def _sleep(event, context):
    time.sleep(float(event.get("seconds", 1)))
    return {"pid": os.getpid(), "instance": _INSTANCE, "request_id": context.aws_request_id}


def _crash(event, context):
    sys.stdout.flush()
    os._exit(int(event.get("code", 3)))


def _kill(event, context):
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _log(event, context):
    print("python-stdout " + str(event.get("marker", "")), flush=True)
    print("python-stderr " + str(event.get("marker", "")), file=sys.stderr, flush=True)
    for i in range(int(event.get("extra_lines", 0))):
        print("filler line %05d %s" % (i, "x" * 60), flush=True)
    return {"pid": os.getpid(), "instance": _INSTANCE, "request_id": context.aws_request_id}


def _touch(event, context):
    """Asynchronous-invoke probe: logs a marker and writes it to a file (best effort)."""
    marker = str(event.get("marker", ""))
    print("touch-marker " + marker, flush=True)
    path = event.get("path")
    if path:
        try:
            with open(path + ".tmp", "w") as f:
                f.write(json.dumps({"marker": marker, "request_id": context.aws_request_id}))
            os.rename(path + ".tmp", path)
        except OSError as e:  # the sandbox may hide the host file system
            print("touch-failed " + repr(e), flush=True)
    return {"marker": marker}


def _big(event, context):
    return {"data": "y" * int(event.get("size", 0))}


ACTIONS = {
    "info": _info,
    "fail": _fail,
    "sleep": _sleep,
    "crash": _crash,
    "kill": _kill,
    "log": _log,
    "touch": _touch,
    "big": _big,
}


def main(event, context):
    global _INVOCATIONS
    _INVOCATIONS += 1
    if not isinstance(event, dict):
        return event
    action = ACTIONS.get(event.get("action"))
    if action is None:
        return event
    return action(event, context)
