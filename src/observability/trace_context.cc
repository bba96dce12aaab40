// W3C trace context and X-Ray header parsing and formatting.
#include "observability/trace_context.h"

#include <cstdio>

#include "base/encoding.h"

namespace nimbus::observability {

namespace {

bool isLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool allZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::optional<TraceContext> parseTraceparent(std::string_view header) {
  header = trim(header);
  // version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55 characters.
  if (header.size() < 55) return std::nullopt;
  std::string_view version = header.substr(0, 2);
  if (!isLowerHex(version) || version == "ff") return std::nullopt;
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  if (version == "00" && header.size() != 55) return std::nullopt;
  if (header.size() > 55 && header[55] != '-') return std::nullopt;
  std::string_view trace = header.substr(3, 32);
  std::string_view span = header.substr(36, 16);
  std::string_view flags = header.substr(53, 2);
  if (!isLowerHex(trace) || !isLowerHex(span) || !isLowerHex(flags)) return std::nullopt;
  if (allZero(trace) || allZero(span)) return std::nullopt;
  TraceContext c;
  c.trace_id = std::string(trace);
  c.span_id = std::string(span);
  c.sampled = (std::stoi(std::string(flags), nullptr, 16) & 1) != 0;
  return c;
}

std::string formatTraceparent(const TraceContext& context) {
  return "00-" + context.trace_id + "-" + context.span_id + (context.sampled ? "-01" : "-00");
}

std::optional<TraceContext> parseXrayHeader(std::string_view header) {
  TraceContext c;
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view field = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = trim(field.substr(0, eq));
    std::string_view value = trim(field.substr(eq + 1));
    if (key == "Root") {
      // 1-<8 hex>-<24 hex>
      if (value.size() != 35 || value.substr(0, 2) != "1-" || value[10] != '-') {
        return std::nullopt;
      }
      std::string id = lower(value.substr(2, 8)) + lower(value.substr(11, 24));
      if (!isLowerHex(id) || allZero(id)) return std::nullopt;
      c.trace_id = std::move(id);
    } else if (key == "Parent") {
      std::string id = lower(value);
      if (id.size() == 16 && isLowerHex(id) && !allZero(id)) c.span_id = std::move(id);
    } else if (key == "Sampled") {
      c.sampled = value == "1";
    }
  }
  if (c.trace_id.empty()) return std::nullopt;
  return c;
}

std::string formatXrayHeader(const TraceContext& context) {
  std::string out = "Root=1-" + context.trace_id.substr(0, 8) + "-" + context.trace_id.substr(8);
  if (!context.span_id.empty()) out += ";Parent=" + context.span_id;
  out += context.sampled ? ";Sampled=1" : ";Sampled=0";
  return out;
}

std::string newTraceId(int64_t epoch_seconds) {
  char secs[16];
  std::snprintf(secs, sizeof secs, "%08llx",
                static_cast<unsigned long long>(epoch_seconds) & 0xffffffffull);
  return std::string(secs) + hexEncode(idRandomBytes(12));
}

std::string newSpanId() {
  for (;;) {
    std::string id = hexEncode(idRandomBytes(8));
    if (!allZero(id)) return id;
  }
}

std::optional<TraceContext> incomingTraceContext(std::string_view traceparent,
                                                 std::string_view tracestate,
                                                 std::string_view xray) {
  if (auto c = parseTraceparent(traceparent)) {
    c->tracestate = std::string(trim(tracestate));
    return c;
  }
  return parseXrayHeader(xray);
}

}  // namespace nimbus::observability
