// Queue ARN building and parsing.
#include "queue/queue_arn.h"

#include <algorithm>
#include <vector>

namespace nimbus::queue {
namespace {

std::vector<std::string> splitColons(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t colon = text.find(':', start);
    if (colon == std::string::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, colon - start));
    start = colon + 1;
  }
}

}  // namespace

bool isValidQueueName(const std::string& name) {
  if (name.empty() || name.size() > 80) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

std::string queueArn(const model::ArnContext& ctx, const std::string& name) {
  return "arn:nimbus:queue:" + ctx.region + ":" + ctx.account + ":" + name;
}

std::optional<std::string> queueNameOfArn(const std::string& arn) {
  std::vector<std::string> p = splitColons(arn);
  if (p.size() != 6 || p[0] != "arn") return std::nullopt;
  bool ours = p[1] == "nimbus" && p[2] == "queue";
  bool sqs = p[1] == "aws" && p[2] == "sqs";
  if (!ours && !sqs) return std::nullopt;
  if (!isValidQueueName(p[5])) return std::nullopt;
  return p[5];
}

bool isFunctionArn(const std::string& arn) {
  std::vector<std::string> p = splitColons(arn);
  return p.size() >= 7 && p[0] == "arn" && p[2] == "lambda" && p[5] == "function";
}

}  // namespace nimbus::queue
