// Clock access and the time formats Lambda uses. The Clock interface lets timing code
// be tested with a fake.
#pragma once

#include <cstdint>
#include <string>

namespace nimbus {

int64_t systemNowMillis();
int64_t steadyNowMillis();
int64_t steadyNowMicros();

// 2024-01-01T00:00:00.000+0000 (Lambda's LastModified form).
std::string formatLambdaTimestamp(int64_t epoch_millis);
// 2024-01-01T00:00:00.000Z
std::string formatIso8601Millis(int64_t epoch_millis);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t nowMillis() const = 0;  // wall clock, epoch milliseconds
};

class SystemClock : public Clock {
 public:
  int64_t nowMillis() const override { return systemNowMillis(); }
};

}  // namespace nimbus
