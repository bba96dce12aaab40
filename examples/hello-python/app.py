"""hello-python: the smallest nimbus (and AWS Lambda) Python function."""
import os


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    print(f"hello-python: greeting {name} (request {context.aws_request_id})")
    return {
        "message": f"Hello, {name}!",
        "pid": os.getpid(),
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
