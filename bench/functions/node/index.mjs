// Benchmark function for nodejs20.x: echoes the event back as {"echo": event}.
// With {"sleep_ms": N} it instead records when the handler started (epoch seconds),
// waits N ms and answers {"start": ..., "instance": ...}: bench/run.sh uses that to
// time a scale-out from zero. `instance` is random per process (a pid would not do:
// in nimbus's sandbox every instance is alone in its pid namespace).
import { randomBytes } from 'node:crypto';

const INSTANCE = randomBytes(8).toString('hex');

export const handler = async (event) => {
  if (event && typeof event === 'object' && 'sleep_ms' in event) {
    const start = Date.now() / 1000;
    await new Promise((resolve) => setTimeout(resolve, event.sleep_ms));
    return { start, instance: INSTANCE };
  }
  return { echo: event };
};
