// JSON and empty answers of the control API.
#include "control/api_responses.h"

#include <boost/json/serialize.hpp>

namespace nimbus::control {

http::Response jsonReply(const http::Request& req, http::Status status,
                         const boost::json::value& body, const std::string& rid) {
  auto res = http::makeResponse(req, status, boost::json::serialize(body));
  res.set("x-amzn-RequestId", rid);
  return res;
}

http::Response noContent(const http::Request& req, const std::string& rid) {
  auto res = http::makeResponse(req, http::Status::no_content, "", "");
  res.set("x-amzn-RequestId", rid);
  return res;
}

}  // namespace nimbus::control
