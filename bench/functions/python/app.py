"""Benchmark function for python3.11: echoes the event back as {"echo": event}.

With {"sleep_ms": N} it instead records when the handler started (epoch seconds),
sleeps N ms and answers {"start": ..., "instance": ...}: bench/run.sh uses that to
time a scale-out from zero. `instance` is random per process (a pid would not do: in
nimbus's sandbox every instance is alone in its pid namespace).
"""
import os
import time

INSTANCE = os.urandom(8).hex()


def handler(event, context):
    if isinstance(event, dict) and "sleep_ms" in event:
        start = time.time()
        time.sleep(event["sleep_ms"] / 1000.0)
        return {"start": start, "instance": INSTANCE}
    return {"echo": event}
