// Packs a function's source folder into the zip Lambda's API takes, keeping Unix modes
// (a `bootstrap` must stay executable) and paths relative to the folder.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "base/error.h"

namespace nimbus::cli {

// Returns the bytes of a zip holding every file and folder under `dir`, except
// `__pycache__` and `.git` anywhere in the tree. Entries are sorted and stamped with a
// fixed time so unchanged code gives the same CodeSha256 on every deploy. Symlinks to
// files are stored as the file they point to. InvalidParameter when `dir` holds nothing
// to deploy or has a symlinked folder (which could loop); Internal on I/O failures.
Result<std::string> zipDirectory(const std::filesystem::path& dir);

// True when `bytes` start like a zip archive (local file header or empty-archive end).
bool looksLikeZip(std::string_view bytes);

// Reads a ready-made .zip, checking it is one.
Result<std::string> readZipFile(const std::filesystem::path& path);

}  // namespace nimbus::cli
