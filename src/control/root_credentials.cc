// Root credential loading and first-start generation.
#include "control/root_credentials.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "base/encoding.h"
#include "model/credentials_file.h"

namespace nimbus::control {

namespace {
std::string randomAlnum(size_t n, const char* alphabet) {
  std::string bytes = randomBytes(n);
  std::string out;
  size_t len = std::char_traits<char>::length(alphabet);
  for (unsigned char c : bytes) out.push_back(alphabet[c % len]);
  return out;
}
}  // namespace

Result<RootCredentials> parseCredentialsFile(const std::string& text) {
  auto pair = model::parseCredentialsFile(text);
  if (!pair) return pair.error();
  return RootCredentials{pair->access_key_id, pair->secret_access_key, "", false};
}

Result<RootCredentials> loadOrCreateRootCredentials(
    const std::filesystem::path& data_dir, const std::function<const char*(const char*)>& env) {
  const char* id = env("NIMBUS_ROOT_ACCESS_KEY_ID");
  const char* secret = env("NIMBUS_ROOT_SECRET_ACCESS_KEY");
  if (id && *id && secret && *secret) {
    return RootCredentials{id, secret, "environment", false};
  }
  auto path = data_dir / "credentials";
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = parseCredentialsFile(ss.str());
    if (!parsed) return parsed.error().withContext(path.string());
    parsed->source = path.string();
    return parsed;
  }
  RootCredentials c;
  c.access_key_id = "NIMB" + randomAlnum(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
  c.secret_access_key =
      randomAlnum(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
  c.source = path.string();
  c.created = true;
  std::string text = model::formatCredentialsFile({c.access_key_id, c.secret_access_key});
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return makeError(ErrorCode::kInternal, "cannot create " + path.string(), errno);
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) return makeError(ErrorCode::kInternal, "cannot write " + path.string(), errno);
  return c;
}

}  // namespace nimbus::control
