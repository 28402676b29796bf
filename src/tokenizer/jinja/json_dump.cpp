// tojson: Python json.dumps, as transformers' chat-template `tojson` filter calls it
// (ensure_ascii=False by default; separators (', ', ': '), or (',', ': ') with indent).
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/utf8.h"

namespace qwen3::jinja {
namespace {

void append_escaped(std::string& out, const std::string& s, bool ensure_ascii) {
  out.push_back('"');
  for (size_t pos = 0; pos < s.size();) {
    size_t len = 1;
    const char32_t cp = utf8_decode(s, pos, len);
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (cp < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<uint32_t>(cp));
        } else if (ensure_ascii && cp > 0x7f) {
          if (cp >= 0x10000) {  // UTF-16 surrogate pair, as Python writes it
            const char32_t v = cp - 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
          } else {
            out += fmt::format("\\u{:04x}", static_cast<uint32_t>(cp));
          }
        } else {
          out.append(s, pos, len);
        }
    }
    pos += len;
  }
  out.push_back('"');
}

std::string float_json(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "Infinity" : "-Infinity";
  return float_repr(f);
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonStyle& style) : style_(style) {
    item_sep_ = style.indent ? "," : ", ";
    key_sep_ = ": ";
    if (style.separators) {
      item_sep_ = style.separators->first;
      key_sep_ = style.separators->second;
    }
  }

  void write(const Value& v, int depth) {
    if (depth > 512) throw TemplateFault("tojson: value nests too deeply");
    switch (v.kind()) {
      case ValueKind::kNone: out += "null"; return;
      case ValueKind::kBool: out += v.as_bool() ? "true" : "false"; return;
      case ValueKind::kInt: out += std::to_string(v.as_int()); return;
      case ValueKind::kFloat: out += float_json(v.as_double()); return;
      case ValueKind::kString: append_escaped(out, v.as_string(), style_.ensure_ascii); return;
      case ValueKind::kList: return write_list(v.as_list().items, depth);
      case ValueKind::kDict: return write_dict(v.as_dict(), depth);
      default:
        throw TemplateFault(fmt::format("tojson: object of type {} is not JSON serializable",
                                        v.is_undefined() ? "Undefined" : v.type_name()));
    }
  }

  std::string out;

 private:
  void newline(int depth) {
    if (!style_.indent) return;
    out.push_back('\n');
    out.append(static_cast<size_t>(*style_.indent) * static_cast<size_t>(depth), ' ');
  }

  void write_list(const std::vector<Value>& items, int depth) {
    if (items.empty()) {
      out += "[]";
      return;
    }
    out.push_back('[');
    for (size_t k = 0; k < items.size(); ++k) {
      if (k > 0) out += item_sep_;
      newline(depth + 1);
      write(items[k], depth + 1);
    }
    newline(depth);
    out.push_back(']');
  }

  void write_dict(const Dict& d, int depth) {
    if (d.entries.empty()) {
      out += "{}";
      return;
    }
    std::vector<const std::pair<std::string, Value>*> entries;
    for (const auto& e : d.entries) entries.push_back(&e);
    if (style_.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto* a, const auto* b) { return a->first < b->first; });
    }
    out.push_back('{');
    for (size_t k = 0; k < entries.size(); ++k) {
      if (k > 0) out += item_sep_;
      newline(depth + 1);
      append_escaped(out, entries[k]->first, style_.ensure_ascii);
      out += key_sep_;
      write(entries[k]->second, depth + 1);
    }
    newline(depth);
    out.push_back('}');
  }

  const JsonStyle& style_;
  std::string item_sep_;
  std::string key_sep_;
};

}  // namespace

std::string to_json(const Value& v, const JsonStyle& style) {
  JsonWriter writer(style);
  writer.write(v, 0);
  return std::move(writer.out);
}

}  // namespace qwen3::jinja
