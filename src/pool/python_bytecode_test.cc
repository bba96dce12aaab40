// Tests of the bytecode precompiler: compileall runs, its failures come back as errors,
// and the compiler runs once per folder.
#include "pool/python_bytecode.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace nimbus::pool {
namespace {

namespace fs = std::filesystem;

class PythonBytecodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
    char tmpl[] = "/tmp/nimbus-pyc-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << text;
  }
  bool compiled(const std::string& rel_dir, const std::string& module) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_ / rel_dir / "__pycache__", ec)) {
      if (e.path().filename().string().rfind(module + ".cpython-", 0) == 0) return true;
    }
    return false;
  }
  fs::path dir_;
};

TEST_F(PythonBytecodeTest, CompilesEveryModuleOfTheTree) {
  write("app.py", "def handler(event, context):\n    return event\n");
  write("pkg/mod.py", "X = 1\n");
  ASSERT_TRUE(compilePythonTree(dir_).ok());
  EXPECT_TRUE(compiled("", "app"));
  EXPECT_TRUE(compiled("pkg", "mod"));
}

TEST_F(PythonBytecodeTest, ASyntaxErrorIsAnErrorNamingTheFile) {
  write("broken.py", "def (:\n");
  Result<void> r = compilePythonTree(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("broken.py"), std::string::npos) << r.error().message;
}

TEST_F(PythonBytecodeTest, AMissingInterpreterIsUnavailable) {
  Result<void> r = compilePythonTree(dir_, "/nonexistent/python3");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

TEST_F(PythonBytecodeTest, CompilerRunsOncePerFolder) {
  write("app.py", "X = 1\n");
  BytecodeCompiler compiler;
  compiler.ensureCompiled(dir_);
  ASSERT_TRUE(compiled("", "app"));
  fs::remove_all(dir_ / "__pycache__");
  compiler.ensureCompiled(dir_);  // done already: not compiled again
  EXPECT_FALSE(compiled("", "app"));
}

TEST(PythonRuntimeTest, NamesPythonRuntimes) {
  EXPECT_TRUE(isPythonRuntime("python3.11"));
  EXPECT_TRUE(isPythonRuntime("python3.12"));
  EXPECT_FALSE(isPythonRuntime("nodejs20.x"));
  EXPECT_FALSE(isPythonRuntime("provided.al2023"));
}

}  // namespace
}  // namespace nimbus::pool
