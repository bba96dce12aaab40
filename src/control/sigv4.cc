// AWS Signature Version 4 for the nimbus API: canonicalisation as the AWS clients do it
// for non-S3 services, verification of the header and presigned forms, and signing.
#include "control/sigv4.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <set>

#include "base/encoding.h"

namespace nimbus::control {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
constexpr int64_t kMaxSkewSeconds = 15 * 60;
constexpr int64_t kMaxPresignedExpirySeconds = 7 * 24 * 3600;  // AWS's limit too
constexpr std::string_view kMismatchMessage =
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details.";

Error invalid(std::string message) {
  return makeError(ErrorCode::kInvalidSignature, std::move(message));
}

// Echoes client input in messages, but never megabytes of it.
std::string clip(std::string_view s) {
  constexpr size_t kMax = 120;
  return s.size() <= kMax ? std::string(s) : std::string(s.substr(0, kMax)) + "...";
}

// ---- text helpers (ASCII only on purpose: locale-dependent <cctype> has no place here)

bool isAlnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool isUnreserved(unsigned char c) {
  return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string toLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lowerAscii);
  return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lowerAscii(x) == lowerAscii(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

// SigV4's Trimall: no space at either end, each inner run of whitespace one space.
std::string trimAll(std::string_view s) {
  std::string out;
  bool pending_space = false;
  for (char c : trim(s)) {
    if (isSpace(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool isHex(std::string_view s, size_t length) {
  return s.size() == length &&
         std::all_of(s.begin(), s.end(), [](char c) { return hexValue(c) >= 0; });
}

std::string uriEncode(std::string_view in, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    if (isUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

// A '%' not followed by two hex digits stays a literal '%' (and is later encoded as %25),
// which is what a client that encoded that character itself would have signed.
std::string percentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hexValue(in[i + 1]) >= 0 && hexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(in[i + 1]) * 16 + hexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

// ---- the request-target

struct TargetParts {
  std::string_view path;
  std::string_view query;
};

TargetParts splitTarget(std::string_view target) {
  // Absolute-form ("http://host/path?q") is legal HTTP/1.1; only the path and query count.
  if (size_t scheme = target.find("://");
      scheme != std::string_view::npos &&
      target.substr(0, scheme).find('/') == std::string_view::npos) {
    size_t path_start = target.find_first_of("/?", scheme + 3);
    target = path_start == std::string_view::npos ? std::string_view() : target.substr(path_start);
  }
  if (size_t hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);
  }
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

// The path rule of botocore and the JavaScript SDK for non-S3 services: drop "." and empty
// segments, let ".." eat its parent, keep the leading and (if anything is left) trailing '/'.
std::string normalizePath(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> kept;
  for (std::string_view segment : split(path, '/')) {
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(segment);
  }
  std::string out = path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(kept[i]);
  }
  if (path.back() == '/' && !kept.empty()) out.push_back('/');
  return out;
}

// Decoding first makes "a%3Ab" and "a:b" canonicalise alike; '+' is a literal plus, not a
// space, as in every AWS signer.
std::string canonicalQuery(std::string_view query, bool presigned) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (std::string_view part : split(query, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string name = percentDecode(part.substr(0, eq));
    std::string value =
        eq == std::string_view::npos ? std::string() : percentDecode(part.substr(eq + 1));
    if (presigned && name == "X-Amz-Signature") continue;
    pairs.emplace_back(uriEncode(name, false), uriEncode(value, false));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [name, value] : pairs) {
    if (!out.empty()) out.push_back('&');
    out += name + "=" + value;
  }
  return out;
}

std::vector<std::string_view> headerValues(const SigV4Request& req, std::string_view lower_name) {
  std::vector<std::string_view> values;
  for (const auto& [name, value] : req.headers) {
    if (equalsIgnoreCase(name, lower_name)) values.push_back(value);
  }
  return values;
}

// ---- dates

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::optional<int> parseDigits(std::string_view s) {
  int value = 0;
  if (s.empty() || s.size() > 9) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || s.front() == '-' || s.front() == '+') {
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> toEpoch(int year, unsigned month, unsigned day, int hour, int minute,
                               int second) {
  using namespace std::chrono;
  year_month_day ymd{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  int64_t days = sys_days{ymd}.time_since_epoch().count();
  return days * 86400 + hour * 3600 + minute * 60 + second;
}

// RFC 7231 IMF-fixdate, "Sun, 30 Aug 2015 12:36:00 GMT": the Date header fallback.
std::optional<int64_t> parseHttpDate(std::string_view s) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  s = trim(s);
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  auto month = std::find(std::begin(kMonths), std::end(kMonths), s.substr(8, 3));
  auto day = parseDigits(s.substr(5, 2));
  auto year = parseDigits(s.substr(12, 4));
  auto hour = parseDigits(s.substr(17, 2));
  auto minute = parseDigits(s.substr(20, 2));
  auto second = parseDigits(s.substr(23, 2));
  if (month == std::end(kMonths) || !day || !year || !hour || !minute || !second) {
    return std::nullopt;
  }
  return toEpoch(*year, static_cast<unsigned>(month - std::begin(kMonths) + 1),
                 static_cast<unsigned>(*day), *hour, *minute, *second);
}

// ---- what the client claims: parsed Authorization header or presigned query

struct Claim {
  std::string access_key_id;
  std::string scope_date;  // yyyymmdd
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;
  std::string signature;  // lower-case hex
  std::string amz_date;   // yyyymmddThhmmssZ, as it goes into the string to sign
  int64_t date_seconds = 0;
  int64_t expires_seconds = 0;  // presigned only
  bool presigned = false;
};

Result<void> parseCredential(std::string_view credential, Claim& claim) {
  std::vector<std::string_view> parts = split(credential, '/');
  if (parts.size() != 5 || parts[0].empty()) {
    return invalid("Credential is malformed: expected <AccessKeyId>/<yyyymmdd>/<region>/" +
                   std::string("<service>/aws4_request, got '") + clip(credential) + "'.");
  }
  if (parts[1].size() != 8 || !parseDigits(parts[1])) {
    return invalid("Credential should be scoped to a valid date, not '" + clip(parts[1]) + "'.");
  }
  if (parts[2].empty()) return invalid("Credential should be scoped to a valid region.");
  if (parts[4] != kTerminator) {
    return invalid("Credential should be scoped with a valid terminator: 'aws4_request', not '" +
                   clip(parts[4]) + "'.");
  }
  claim.access_key_id = parts[0];
  claim.scope_date = parts[1];
  claim.region = parts[2];
  claim.service = parts[3];
  return {};
}

Result<void> parseSignedHeaders(std::string_view list, Claim& claim) {
  for (std::string_view name : split(list, ';')) {
    bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                 std::string_view::npos;
    });
    if (!token) {
      return invalid(
          "SignedHeaders must be a ';'-separated list of lower-case header names, got '" +
          clip(list) + "'.");
    }
    claim.signed_headers.emplace_back(name);
  }
  return {};
}

Result<void> parseSignature(std::string_view signature, Claim& claim) {
  if (!isHex(signature, 64)) {
    return invalid("Signature must be 64 hexadecimal characters, got '" + clip(signature) + "'.");
  }
  claim.signature = toLower(signature);
  return {};
}

// The three parts both forms carry, checked in the order AWS reports them.
Result<void> parseClaimParts(std::string_view credential, std::string_view signed_headers,
                             std::string_view signature, Claim& claim) {
  if (auto ok = parseCredential(credential, claim); !ok) return ok;
  if (auto ok = parseSignedHeaders(signed_headers, claim); !ok) return ok;
  return parseSignature(signature, claim);
}

// "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/lambda/aws4_request,
//  SignedHeaders=host;x-amz-date, Signature=<hex>", spaces after commas optional.
Result<Claim> parseAuthorizationHeader(std::string_view header) {
  header = trim(header);
  size_t space = header.find_first_of(" \t");
  std::string_view algorithm = header.substr(0, space);
  if (algorithm != kAlgorithm) {
    return invalid("Unsupported Authorization type '" + clip(algorithm) +
                   "'; only AWS4-HMAC-SHA256 is accepted.");
  }
  std::string_view rest = space == std::string_view::npos ? "" : header.substr(space + 1);
  std::optional<std::string_view> credential, signed_headers, signature;
  for (std::string_view part : split(rest, ',')) {
    part = trim(part);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return invalid("Authorization header parameter '" + clip(part) + "' is not key=value.");
    }
    std::string_view key = trim(part.substr(0, eq));
    std::optional<std::string_view>* slot = key == "Credential"      ? &credential
                                            : key == "SignedHeaders" ? &signed_headers
                                            : key == "Signature"     ? &signature
                                                                     : nullptr;
    if (slot == nullptr) continue;  // unknown parameters are ignored, as AWS does
    if (slot->has_value()) {
      return invalid("Authorization header has more than one '" + std::string(key) + "'.");
    }
    *slot = trim(part.substr(eq + 1));
  }
  std::string missing;
  for (auto [value, name] :
       {std::pair{&credential, "Credential"}, std::pair{&signature, "Signature"},
        std::pair{&signed_headers, "SignedHeaders"}}) {
    if (!value->has_value()) {
      missing += std::string(missing.empty() ? "" : " ") + "Authorization header requires '" +
                 name + "' parameter.";
    }
  }
  if (!missing.empty()) return invalid(missing);
  Claim claim;
  if (auto ok = parseClaimParts(*credential, *signed_headers, *signature, claim); !ok) {
    return ok.error();
  }
  return claim;
}

// The date the header form signs: X-Amz-Date, else the Date header.
Result<void> resolveHeaderDate(const SigV4Request& req, Claim& claim) {
  auto amz = headerValues(req, "x-amz-date");
  auto http = headerValues(req, "date");
  if (amz.size() > 1 || (amz.empty() && http.size() > 1)) {
    return invalid("The request has more than one date header.");
  }
  if (!amz.empty()) {
    auto seconds = parseAmzDate(trim(amz.front()));
    if (!seconds) {
      return invalid("Date must be in ISO-8601 'basic format'. Got '" + clip(amz.front()) +
                     "'. See http://en.wikipedia.org/wiki/ISO_8601");
    }
    claim.date_seconds = *seconds;
  } else if (!http.empty()) {
    auto seconds = parseHttpDate(http.front());
    if (!seconds) {
      return invalid("Date header is not an RFC 7231 date: '" + clip(http.front()) + "'.");
    }
    claim.date_seconds = *seconds;
  } else {
    return invalid(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  claim.amz_date = formatAmzDate(claim.date_seconds);
  return {};
}

Result<Claim> parsePresignedQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  for (std::string_view part : split(query, '&')) {
    size_t eq = part.find('=');
    std::string name = percentDecode(part.substr(0, eq));
    if (name.rfind("X-Amz-", 0) != 0) continue;
    auto duplicate =
        std::find_if(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
    if (duplicate != params.end()) {
      return invalid("Query parameter '" + clip(name) + "' is repeated.");
    }
    params.emplace_back(name,
                        eq == std::string_view::npos ? "" : percentDecode(part.substr(eq + 1)));
  }
  auto get = [&](std::string_view name) -> std::optional<std::string_view> {
    for (const auto& [n, v] : params) {
      if (n == name) return std::string_view(v);
    }
    return std::nullopt;
  };
  auto algorithm = get("X-Amz-Algorithm"), credential = get("X-Amz-Credential"),
       date = get("X-Amz-Date"), expires = get("X-Amz-Expires"),
       signed_headers = get("X-Amz-SignedHeaders"), signature = get("X-Amz-Signature");
  if (!algorithm || !credential || !date || !expires || !signed_headers || !signature) {
    return invalid(
        "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', "
        "'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', and 'X-Amz-Expires'. "
        "Re-examine the query-string parameters.");
  }
  if (*algorithm != kAlgorithm) {
    return invalid("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\".");
  }
  Claim claim;
  claim.presigned = true;
  if (auto ok = parseClaimParts(*credential, *signed_headers, *signature, claim); !ok) {
    return ok.error();
  }
  auto seconds = parseAmzDate(*date);
  if (!seconds) {
    return invalid("X-Amz-Date must be in ISO-8601 'basic format'. Got '" + clip(*date) + "'.");
  }
  claim.date_seconds = *seconds;
  claim.amz_date = std::string(*date);
  auto expiry = parseDigits(*expires);
  if (!expiry || *expiry < 1 || *expiry > kMaxPresignedExpirySeconds) {
    return invalid("X-Amz-Expires must be a number of seconds from 1 to 604800.");
  }
  claim.expires_seconds = *expiry;
  return claim;
}

// Scope, clock and host rules, checked before any key is looked up.
Result<void> checkClaim(const Claim& claim, std::string_view service, int64_t now_seconds) {
  if (claim.service != service) {
    return invalid("Credential should be scoped to correct service: '" + std::string(service) +
                   "'. ");
  }
  if (claim.scope_date != claim.amz_date.substr(0, 8)) {
    return invalid(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
        "date from HTTP: '" +
        claim.scope_date + "' != '" + claim.amz_date.substr(0, 8) + "', from '" + claim.amz_date +
        "'.");
  }
  if (claim.date_seconds > now_seconds + kMaxSkewSeconds) {
    return invalid("Signature not yet current: " + claim.amz_date + " is still later than " +
                   formatAmzDate(now_seconds + kMaxSkewSeconds) + " (" +
                   formatAmzDate(now_seconds) + " + 15 min.)");
  }
  if (claim.presigned && now_seconds > claim.date_seconds + claim.expires_seconds) {
    return invalid("Signature expired: " + claim.amz_date + " is now earlier than " +
                   formatAmzDate(now_seconds - claim.expires_seconds) + " (" +
                   formatAmzDate(now_seconds) + " - " + std::to_string(claim.expires_seconds) +
                   " sec.)");
  }
  if (!claim.presigned && claim.date_seconds < now_seconds - kMaxSkewSeconds) {
    return invalid("Signature expired: " + claim.amz_date + " is now earlier than " +
                   formatAmzDate(now_seconds - kMaxSkewSeconds) + " (" +
                   formatAmzDate(now_seconds) + " - 15 min.)");
  }
  // Without Host in the signature a request could be replayed against another server.
  if (std::find(claim.signed_headers.begin(), claim.signed_headers.end(), "host") ==
      claim.signed_headers.end()) {
    return invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  return {};
}

// The payload hash line: the x-amz-content-sha256 header when sent (checked against the
// body, or the body could be swapped under a valid signature), else the body's hash.
Result<std::string> payloadHash(const SigV4Request& req) {
  auto sent = headerValues(req, "x-amz-content-sha256");
  if (sent.size() > 1) return invalid("x-amz-content-sha256 is repeated.");
  if (sent.empty()) return sha256Hex(req.body);
  std::string_view value = trim(sent.front());
  // The client chose not to sign the body (S3's convention); the rest is still signed.
  if (value == kUnsignedPayload) return std::string(value);
  if (!isHex(value, 64)) {
    return invalid(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the hex SHA-256 of the "
        "body; streaming payloads are not supported.");
  }
  if (!equalsIgnoreCase(value, sha256Hex(req.body))) {
    return invalid("The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  return std::string(value);
}

bool isUnsignedHopHeader(std::string_view lower_name) {
  // botocore's list plus what an HTTP stack may add or rewrite after signing.
  static constexpr std::string_view kSkipped[] = {
      "authorization",  "user-agent", "expect",     "x-amzn-trace-id",
      "content-length", "connection", "keep-alive", "transfer-encoding"};
  return std::find(std::begin(kSkipped), std::end(kSkipped), lower_name) != std::end(kSkipped);
}

}  // namespace

std::string formatAmzDate(int64_t epoch_seconds) {
  using namespace std::chrono;
  int64_t days = floorDiv(epoch_seconds, 86400);
  int64_t rest = epoch_seconds - days * 86400;
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(rest / 3600), static_cast<int>(rest / 60 % 60),
                static_cast<int>(rest % 60));
  return buf;
}

std::optional<int64_t> parseAmzDate(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  auto year = parseDigits(s.substr(0, 4));
  auto month = parseDigits(s.substr(4, 2));
  auto day = parseDigits(s.substr(6, 2));
  auto hour = parseDigits(s.substr(9, 2));
  auto minute = parseDigits(s.substr(11, 2));
  auto second = parseDigits(s.substr(13, 2));
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  return toEpoch(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day), *hour, *minute,
                 *second);
}

Result<std::string> buildCanonicalRequest(const SigV4Request& req,
                                          const std::vector<std::string>& signed_headers,
                                          std::string_view payload_hash,
                                          const CanonicalRequestOptions& options) {
  TargetParts target = splitTarget(req.target);
  std::string path = options.normalize_path ? normalizePath(target.path)
                     : target.path.empty()  ? std::string("/")
                                            : std::string(target.path);
  // The path is encoded as received, so "%3A" becomes "%253A": clients encode once to build
  // the URL and once more to sign it (every service but S3).
  std::string out = req.method + "\n" + uriEncode(path, true) + "\n" +
                    canonicalQuery(target.query, options.presigned) + "\n";
  for (const std::string& name : signed_headers) {
    auto values = headerValues(req, name);
    if (values.empty()) {
      return invalid("Header '" + clip(name) + "' is listed in SignedHeaders but not sent.");
    }
    out += name + ":";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += trimAll(values[i]);
    }
    out.push_back('\n');
  }
  out.push_back('\n');
  for (size_t i = 0; i < signed_headers.size(); ++i) {
    if (i > 0) out.push_back(';');
    out += signed_headers[i];
  }
  out += "\n";
  out += payload_hash;
  return out;
}

std::string buildStringToSign(std::string_view amz_date, std::string_view scope,
                              std::string_view canonical_request) {
  return std::string(kAlgorithm) + "\n" + std::string(amz_date) + "\n" + std::string(scope) + "\n" +
         sha256Hex(canonical_request);
}

std::string deriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service) {
  std::string key = hmacSha256("AWS4" + std::string(secret), date);
  key = hmacSha256(key, region);
  key = hmacSha256(key, service);
  return hmacSha256(key, kTerminator);
}

Result<SigV4Result> verifySigV4ForService(const SigV4Request& req, const SecretLookup& lookup,
                                          int64_t now_epoch_ms, std::string_view service) {
  auto authorization = headerValues(req, "authorization");
  std::string_view query = splitTarget(req.target).query;
  bool presigned = query.find("X-Amz-Algorithm=") != std::string_view::npos ||
                   query.find("X-Amz-Signature=") != std::string_view::npos;
  if (authorization.empty() && !presigned) {
    return makeError(ErrorCode::kMissingAuthentication, "Missing Authentication Token");
  }
  if (authorization.size() > 1) {
    return invalid("The request has more than one Authorization header.");
  }

  Result<Claim> parsed = authorization.empty() ? parsePresignedQuery(query)
                                               : parseAuthorizationHeader(authorization[0]);
  if (!parsed.ok()) return parsed.error();
  Claim& claim = parsed.value();
  if (!claim.presigned) {
    if (auto ok = resolveHeaderDate(req, claim); !ok) return ok.error();
  }
  if (auto ok = checkClaim(claim, service, floorDiv(now_epoch_ms, 1000)); !ok) return ok.error();

  std::optional<std::string> secret = lookup ? lookup(claim.access_key_id) : std::nullopt;
  if (!secret) {
    return makeError(ErrorCode::kUnrecognizedClient,
                     "The security token included in the request is invalid.");
  }
  Result<std::string> payload = payloadHash(req);
  if (!payload.ok()) return payload.error();

  std::string scope =
      claim.scope_date + "/" + claim.region + "/" + claim.service + "/" + std::string(kTerminator);
  std::string key = deriveSigningKey(*secret, claim.scope_date, claim.region, claim.service);
  std::string expected_creq, expected_sts;
  // Clients normalise the path before signing; a client that did not is given a second
  // chance with the path exactly as received.
  for (bool normalize : {true, false}) {
    Result<std::string> creq =
        buildCanonicalRequest(req, claim.signed_headers, *payload, {normalize, claim.presigned});
    if (!creq.ok()) return creq.error();
    if (!normalize && *creq == expected_creq) break;
    std::string sts = buildStringToSign(claim.amz_date, scope, *creq);
    if (constantTimeEquals(hexEncode(hmacSha256(key, sts)), claim.signature)) {
      return SigV4Result{claim.access_key_id, claim.region};
    }
    if (normalize) {
      expected_creq = std::move(*creq);
      expected_sts = std::move(sts);
    }
  }
  // As AWS does, show what was signed here so a client author can find the difference.
  return invalid(std::string(kMismatchMessage) +
                 "\n\nThe Canonical String for this request should have been\n'" + expected_creq +
                 "'\n\nThe String-to-Sign should have been\n'" + expected_sts + "'\n");
}

Result<SigV4Result> verifySigV4(const SigV4Request& req, const SecretLookup& lookup,
                                int64_t now_epoch_ms) {
  return verifySigV4ForService(req, lookup, now_epoch_ms, "lambda");
}

std::vector<std::pair<std::string, std::string>> signSigV4(
    const SigV4Request& req, const SigV4Credentials& creds, const std::string& region,
    const std::string& service, int64_t now_epoch_ms, const SigV4SignOptions& options) {
  std::string amz_date = formatAmzDate(floorDiv(now_epoch_ms, 1000));
  SigV4Request signed_req{req.method, req.target, {}, req.body};
  std::set<std::string> names;
  for (const auto& [name, value] : req.headers) {
    std::string lower = toLower(name);
    if (isUnsignedHopHeader(lower) || lower == "x-amz-date" ||
        (options.add_content_sha256 && lower == "x-amz-content-sha256")) {
      continue;
    }
    signed_req.headers.emplace_back(name, value);
    names.insert(lower);
  }
  std::vector<std::pair<std::string, std::string>> added = {{"X-Amz-Date", amz_date}};
  if (options.add_content_sha256) added.emplace_back("x-amz-content-sha256", sha256Hex(req.body));
  for (const auto& header : added) {
    signed_req.headers.push_back(header);
    names.insert(toLower(header.first));
  }
  std::vector<std::string> signed_headers(names.begin(), names.end());
  auto sent_hash = headerValues(signed_req, "x-amz-content-sha256");
  std::string payload = sent_hash.empty() ? sha256Hex(req.body) : std::string(trim(sent_hash[0]));
  // Every name comes from the request itself, so building cannot fail.
  std::string creq = buildCanonicalRequest(signed_req, signed_headers, payload).value();
  std::string date = amz_date.substr(0, 8);
  std::string scope = date + "/" + region + "/" + service + "/" + std::string(kTerminator);
  std::string signature =
      hexEncode(hmacSha256(deriveSigningKey(creds.secret_access_key, date, region, service),
                           buildStringToSign(amz_date, scope, creq)));
  std::string list;
  for (const auto& name : signed_headers) list += (list.empty() ? "" : ";") + name;
  added.insert(
      added.begin(),
      {"Authorization", std::string(kAlgorithm) + " Credential=" + creds.access_key_id + "/" +
                            scope + ", SignedHeaders=" + list + ", Signature=" + signature});
  return added;
}

}  // namespace nimbus::control
