// Tests of the VmHWM parser on fixed /proc/<pid>/status texts.
#include "sandbox/proc_status.h"

#include "gtest/gtest.h"

namespace nimbus::sandbox {
namespace {

TEST(ProcStatusTest, ParsesVmHwmInKib) {
  EXPECT_EQ(parseVmHwmBytes("Name:\tsleep\nVmPeak:\t 8000 kB\nVmHWM:\t    1024 kB\n"), 1024 * 1024);
  EXPECT_EQ(parseVmHwmBytes("VmHWM:\t7 kB"), 7 * 1024);  // no trailing newline
}

TEST(ProcStatusTest, MissingOrMalformedIsZero) {
  EXPECT_EQ(parseVmHwmBytes(""), 0);
  EXPECT_EQ(parseVmHwmBytes("Name:\tzombie\nState:\tZ (zombie)\n"), 0);
  EXPECT_EQ(parseVmHwmBytes("VmHWM:\t\n"), 0);
  EXPECT_EQ(parseVmHwmBytes("VmHWM:\tlots kB\n"), 0);
  EXPECT_EQ(parseVmHwmBytes("VmHWM:\t12 MB\n"), 0);
}

TEST(ProcStatusTest, UnreadableFileIsZero) { EXPECT_EQ(readVmHwmBytes("/nonexistent-proc", 1), 0); }

}  // namespace
}  // namespace nimbus::sandbox
