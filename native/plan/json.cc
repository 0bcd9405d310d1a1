// Strict JSON parser: recursive descent over the text, tracking line and column for messages.
#include "plan/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace nasnet::json {

const Value* Value::Get(const std::string& key) const {
  if (type != Type::kObject) return nullptr;
  for (const auto& kv : object)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

const char* TypeName(Value::Type t) {
  switch (t) {
    case Value::Type::kNull: return "null";
    case Value::Type::kBool: return "boolean";
    case Value::Type::kNumber: return "number";
    case Value::Type::kString: return "string";
    case Value::Type::kArray: return "array";
    case Value::Type::kObject: return "object";
  }
  return "?";
}

namespace {

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  Status Document(Value* out) {
    SkipSpace();
    NASNET_RETURN_IF_ERROR(ParseValue(out, 0));
    SkipSpace();
    if (pos_ != s_.size()) return Error("unexpected " + Describe() + " after the document");
    return Status::Ok();
  }

 private:
  Status Error(const std::string& what) const {
    return Status::Invalid("JSON line " + std::to_string(line_) + " column " + std::to_string(col_) + ": " + what);
  }
  std::string Describe() const {
    if (pos_ >= s_.size()) return "end of input";
    unsigned char c = static_cast<unsigned char>(s_[pos_]);
    if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
    char buf[16];
    std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
    return buf;
  }
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void Advance() {
    if (s_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }
  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) Advance();
  }
  Status Expect(const char* word) {
    for (const char* p = word; *p; ++p) {
      if (AtEnd() || Peek() != *p) return Error(std::string("invalid literal (expected '") + word + "')");
      Advance();
    }
    return Status::Ok();
  }

  Status ParseValue(Value* v, int depth) {
    if (depth > kMaxJsonDepth) return Error("nesting deeper than " + std::to_string(kMaxJsonDepth));
    v->line = line_;
    v->column = col_;
    if (AtEnd()) return Error("unexpected end of input, expected a value");
    char c = Peek();
    switch (c) {
      case '{': return ParseObject(v, depth);
      case '[': return ParseArray(v, depth);
      case '"': v->type = Value::Type::kString; return ParseString(&v->string);
      case 't': v->type = Value::Type::kBool; v->boolean = true; return Expect("true");
      case 'f': v->type = Value::Type::kBool; v->boolean = false; return Expect("false");
      case 'n': v->type = Value::Type::kNull; return Expect("null");
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(v);
        return Error("unexpected " + Describe() + ", expected a value");
    }
  }

  Status ParseObject(Value* v, int depth) {
    v->type = Value::Type::kObject;
    Advance();  // {
    SkipSpace();
    if (Peek() == '}') {
      Advance();
      return Status::Ok();
    }
    for (;;) {
      SkipSpace();
      if (Peek() != '"') return Error("unexpected " + Describe() + ", expected a string key");
      std::string key;
      int kl = line_, kc = col_;
      NASNET_RETURN_IF_ERROR(ParseString(&key));
      for (const auto& kv : v->object) {
        if (kv.first == key)
          return Status::Invalid("JSON line " + std::to_string(kl) + " column " + std::to_string(kc) +
                                 ": duplicate key \"" + key + "\"");
      }
      SkipSpace();
      if (Peek() != ':') return Error("unexpected " + Describe() + ", expected ':' after a key");
      Advance();
      SkipSpace();
      v->object.emplace_back(std::move(key), Value());
      NASNET_RETURN_IF_ERROR(ParseValue(&v->object.back().second, depth + 1));
      SkipSpace();
      if (Peek() == ',') {
        Advance();
        continue;
      }
      if (Peek() == '}') {
        Advance();
        return Status::Ok();
      }
      return Error("unexpected " + Describe() + ", expected ',' or '}' after an object member");
    }
  }

  Status ParseArray(Value* v, int depth) {
    v->type = Value::Type::kArray;
    Advance();  // [
    SkipSpace();
    if (Peek() == ']') {
      Advance();
      return Status::Ok();
    }
    for (;;) {
      SkipSpace();
      v->array.emplace_back();
      NASNET_RETURN_IF_ERROR(ParseValue(&v->array.back(), depth + 1));
      SkipSpace();
      if (Peek() == ',') {
        Advance();
        continue;
      }
      if (Peek() == ']') {
        Advance();
        return Status::Ok();
      }
      return Error("unexpected " + Describe() + ", expected ',' or ']' in an array");
    }
  }

  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  Status Hex4(unsigned* out) {
    unsigned u = 0;
    for (int i = 0; i < 4; ++i) {
      int h = AtEnd() ? -1 : Hex(Peek());
      if (h < 0) return Error("invalid \\u escape (expected 4 hex digits)");
      u = u * 16 + static_cast<unsigned>(h);
      Advance();
    }
    *out = u;
    return Status::Ok();
  }
  static void Utf8(unsigned cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  Status ParseString(std::string* out) {
    Advance();  // "
    for (;;) {
      if (AtEnd()) return Error("unterminated string");
      unsigned char c = static_cast<unsigned char>(Peek());
      if (c == '"') {
        Advance();
        return Status::Ok();
      }
      if (c < 0x20) return Error("control character " + Describe() + " inside a string (escape it)");
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        Advance();
        continue;
      }
      Advance();
      if (AtEnd()) return Error("unterminated escape");
      char e = Peek();
      Advance();
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          unsigned cp = 0;
          NASNET_RETURN_IF_ERROR(Hex4(&cp));
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (Peek() != '\\') return Error("unpaired high surrogate in \\u escape");
            Advance();
            if (Peek() != 'u') return Error("unpaired high surrogate in \\u escape");
            Advance();
            unsigned lo = 0;
            NASNET_RETURN_IF_ERROR(Hex4(&lo));
            if (lo < 0xdc00 || lo > 0xdfff) return Error("invalid low surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return Error("unpaired low surrogate in \\u escape");
          }
          Utf8(cp, out);
          break;
        }
        default:
          --col_;  // point at the escape character
          return Error(std::string("invalid escape '\\") + e + "'");
      }
    }
  }

  Status ParseNumber(Value* v) {
    size_t start = pos_;
    if (Peek() == '-') Advance();
    if (AtEnd() || !(Peek() >= '0' && Peek() <= '9')) return Error("invalid number (expected a digit)");
    if (Peek() == '0') {
      Advance();
      if (!AtEnd() && Peek() >= '0' && Peek() <= '9') return Error("invalid number (leading zero)");
    } else {
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') Advance();
    }
    if (Peek() == '.') {
      Advance();
      if (AtEnd() || !(Peek() >= '0' && Peek() <= '9')) return Error("invalid number (expected a digit after '.')");
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') Advance();
    }
    if (Peek() == 'e' || Peek() == 'E') {
      Advance();
      if (Peek() == '+' || Peek() == '-') Advance();
      if (AtEnd() || !(Peek() >= '0' && Peek() <= '9')) return Error("invalid number (expected an exponent digit)");
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') Advance();
    }
    std::string text = s_.substr(start, pos_ - start);
    v->type = Value::Type::kNumber;
    v->number = std::strtod(text.c_str(), nullptr);  // C locale: the addon never calls setlocale
    if (!std::isfinite(v->number)) {
      return Status::Invalid("JSON line " + std::to_string(v->line) + " column " + std::to_string(v->column) +
                             ": number " + text + " is out of range");
    }
    return Status::Ok();
  }

  const std::string& s_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
};

}  // namespace

Status Parse(const std::string& text, Value* out) {
  *out = Value();
  Parser p(text);
  return p.Document(out);
}

}  // namespace nasnet::json
