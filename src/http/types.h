// The HTTP message types every module that speaks HTTP shares (Beast string bodies),
// and small helpers to build responses.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <map>
#include <string>

namespace nimbus::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;
using Status = bhttp::status;
using Verb = bhttp::verb;

// What the server knows of a request beyond the message itself.
struct RequestInfo {
  asio::ip::tcp::endpoint remote;
  asio::ip::tcp::endpoint local;
};

using Handler = std::function<asio::awaitable<Response>(Request&, const RequestInfo&)>;

Response makeResponse(const Request& req, Status status, std::string body,
                      std::string content_type = "application/json");

// Splits "a=1&b=%20x" into decoded pairs (later duplicates win). Tolerates garbage.
std::map<std::string, std::string> parseQuery(std::string_view query);
// Percent-decodes; returns false on malformed escapes.
bool percentDecode(std::string_view in, std::string& out);
std::string percentEncode(std::string_view in);  // RFC 3986 unreserved kept

}  // namespace nimbus::http
