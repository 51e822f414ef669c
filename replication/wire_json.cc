// wire_json.cc: bounded JSON parsing (a SAX filter in front of nlohmann's DOM builder) and
// non-throwing serialisation; any thread.
#include "replication/wire_json.h"

namespace meshcache::replication::wire {
namespace {

using nlohmann::json;

// Counts depth and values on the way in and stops the parse as soon as a bound is passed, so
// nothing past the bound is ever allocated. Everything else is nlohmann's own DOM builder.
class BoundedSax {
 public:
  BoundedSax(json& root, size_t max_depth, size_t max_values)
      : dom_(root, false), max_depth_(max_depth), max_values_(max_values) {}

  bool null() { return value() && dom_.null(); }
  bool boolean(bool v) { return value() && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return value() && dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return value() && dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return value() && dom_.number_float(v, s);
  }
  bool string(json::string_t& v) { return value() && dom_.string(v); }
  bool binary(json::binary_t& v) { return value() && dom_.binary(v); }
  bool start_object(size_t n) { return open() && dom_.start_object(n); }
  bool key(json::string_t& k) { return dom_.key(k); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(size_t n) { return open() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(size_t position, const std::string& token,
                   const nlohmann::detail::exception& e) {
    return dom_.parse_error(position, token, e);
  }

 private:
  bool value() { return ++values_ <= max_values_; }
  bool open() { return value() && ++depth_ <= max_depth_; }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  size_t max_depth_;
  size_t max_values_;
  size_t depth_ = 0;
  size_t values_ = 0;
};

}  // namespace

std::optional<json> parse_json(std::string_view text, size_t max_depth, size_t max_values) {
  json root;
  BoundedSax sax(root, max_depth, max_values);
  if (!json::sax_parse(text.begin(), text.end(), &sax)) return std::nullopt;
  return root;
}

std::string dump_json(const json& doc) {
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace meshcache::replication::wire
