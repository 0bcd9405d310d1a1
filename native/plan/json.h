// A small strict JSON parser (RFC 8259) for the graph IR. Errors carry line and column:
// "JSON line 3 column 14: expected ',' or '}' after an object member". Nesting is limited to
// kMaxJsonDepth so hostile input cannot overflow the stack; duplicate object keys are rejected.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace nasnet::json {

constexpr int kMaxJsonDepth = 256;

struct Value {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;  // in document order
  int line = 0, column = 0;                            // where the value starts (1-based)

  bool is_null() const { return type == Type::kNull; }
  bool is_bool() const { return type == Type::kBool; }
  bool is_number() const { return type == Type::kNumber; }
  bool is_string() const { return type == Type::kString; }
  bool is_array() const { return type == Type::kArray; }
  bool is_object() const { return type == Type::kObject; }
  // Member `key` of an object, or nullptr (also when this is not an object).
  const Value* Get(const std::string& key) const;
};

// "null", "boolean", "number", "string", "array", "object".
const char* TypeName(Value::Type t);

// Parses a whole document (one value, surrounded only by whitespace).
Status Parse(const std::string& text, Value* out);

}  // namespace nasnet::json
