// Test helpers for the cgroup tests: a temporary directory laid out like cgroupfs (the
// files the kernel would make are written by the test), and a mountinfo pointing at it.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace nimbus::sandbox::testing {

class FakeCgroupTree {
 public:
  FakeCgroupTree() {
    char tmpl[] = "/tmp/nimbus-cgtest-XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  ~FakeCgroupTree() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  FakeCgroupTree(const FakeCgroupTree&) = delete;
  FakeCgroupTree& operator=(const FakeCgroupTree&) = delete;

  const std::string& root() const { return root_; }
  std::string path(const std::string& rel) const { return root_ + "/" + rel; }

  // Writes a file below the root, making its folders.
  void write(const std::string& rel, const std::string& text) const {
    std::filesystem::create_directories(std::filesystem::path(path(rel)).parent_path());
    std::ofstream(path(rel), std::ios::trunc) << text;
  }
  std::string read(const std::string& rel) const {
    std::ifstream in(path(rel));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  bool exists(const std::string& rel) const { return std::filesystem::exists(path(rel)); }
  void mkdir(const std::string& rel) const { std::filesystem::create_directories(path(rel)); }

  // Writes <root>/mountinfo with the given text and returns its path.
  std::string writeMountinfo(const std::string& text) const {
    write("mountinfo", text);
    return path("mountinfo");
  }

 private:
  std::string root_;
};

}  // namespace nimbus::sandbox::testing
