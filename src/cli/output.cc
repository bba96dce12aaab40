// Formatting for the client verbs; pure functions of the API's JSON so they are tested
// without a server.
#include "cli/output.h"

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <vector>

namespace nimbus::cli {
namespace {

namespace json = boost::json;

void writePretty(const json::value& value, int depth, std::string& out) {
  std::string indent(static_cast<size_t>(depth + 1) * 2, ' ');
  std::string closing(static_cast<size_t>(depth) * 2, ' ');
  if (const json::object* object = value.if_object()) {
    if (object->empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    bool first = true;
    for (const auto& member : *object) {
      if (!first) out += ",\n";
      first = false;
      out += indent + json::serialize(json::string(member.key())) + ": ";
      writePretty(member.value(), depth + 1, out);
    }
    out += "\n" + closing + "}";
  } else if (const json::array* array = value.if_array()) {
    if (array->empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (size_t i = 0; i < array->size(); ++i) {
      if (i > 0) out += ",\n";
      out += indent;
      writePretty((*array)[i], depth + 1, out);
    }
    out += "\n" + closing + "]";
  } else {
    out += json::serialize(value);
  }
}

// A field as table/summary text: strings bare, numbers as written, absent as "-".
std::string field(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return "-";
  if (const json::string* text = value->if_string()) {
    return text->empty() ? "-" : std::string(*text);
  }
  return json::serialize(*value);
}

std::string bodyString(const json::object& body, std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    const json::value* value = body.if_contains(key);
    if (value != nullptr && value->is_string() && !value->get_string().empty()) {
      return std::string(value->get_string());
    }
  }
  return {};
}

}  // namespace

std::string prettyJson(const json::value& value) {
  std::string out;
  writePretty(value, 0, out);
  out += "\n";
  return out;
}

std::string formatFunctionTable(const json::array& functions) {
  constexpr size_t kColumns = 5;
  const std::array<std::string_view, kColumns> keys = {"FunctionName", "Runtime", "MemorySize",
                                                       "Timeout", "LastModified"};
  std::vector<std::array<std::string, kColumns>> rows;
  rows.push_back({"NAME", "RUNTIME", "MEMORY", "TIMEOUT", "LAST_MODIFIED"});
  for (const json::value& item : functions) {
    const json::object* config = item.if_object();
    if (config == nullptr) continue;
    std::array<std::string, kColumns> row;
    for (size_t c = 0; c < kColumns; ++c) row[c] = field(*config, keys[c]);
    rows.push_back(std::move(row));
  }
  std::array<size_t, kColumns> widths{};
  for (const auto& row : rows) {
    for (size_t c = 0; c < kColumns; ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < kColumns; ++c) {
      line += row[c];
      if (c + 1 < kColumns) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string deploySummary(const json::object& configuration, bool created) {
  return std::string(created ? "created " : "updated ") + field(configuration, "FunctionName") +
         " runtime=" + field(configuration, "Runtime") +
         " CodeSha256=" + field(configuration, "CodeSha256") +
         " CodeSize=" + field(configuration, "CodeSize");
}

ApiErrorInfo describeApiError(const ApiResponse& response) {
  ApiErrorInfo info;
  json::object body;
  boost::system::error_code ec;
  json::value parsed = json::parse(response.body, ec);
  if (!ec && parsed.is_object()) body = std::move(parsed.get_object());

  if (auto header = response.header("x-amzn-ErrorType")) {
    info.type = header->substr(0, header->find(':'));
  }
  if (info.type.empty()) info.type = bodyString(body, {"code", "Code"});
  if (info.type.empty()) {
    std::string qualified = bodyString(body, {"__type"});
    size_t hash = qualified.find('#');
    info.type = hash == std::string::npos ? qualified : qualified.substr(hash + 1);
  }
  // Lambda's body "Type" is only "User"/"Service", less telling than the exception name
  // the header carries, so it is the last resort.
  if (info.type.empty()) info.type = bodyString(body, {"Type"});
  if (info.type.empty()) info.type = "HTTP " + std::to_string(response.status);

  info.message = bodyString(body, {"message", "Message", "errorMessage"});
  if (info.message.empty() && ec) {
    std::string raw = response.body.substr(0, 500);
    while (!raw.empty() && (raw.back() == '\n' || raw.back() == '\r')) raw.pop_back();
    info.message = raw;
  }
  if (info.message.empty()) info.message = "(no message)";
  return info;
}

}  // namespace nimbus::cli
