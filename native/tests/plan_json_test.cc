// The IR's JSON parser: valid documents parse to the right values; invalid ones fail with the line
// and column of the fault.
#include <string>

#include "plan/json.h"
#include "tests/test.h"

using nasnet::json::Parse;
using nasnet::json::Value;

namespace {
bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string ErrorOf(const std::string& text) {
  Value v;
  nasnet::Status st = Parse(text, &v);
  return st.ok() ? std::string("OK") : st.message();
}
}  // namespace

NASNET_TEST(plan_json_parses_values) {
  Value v;
  nasnet::Status st = Parse(R"( {"a": [1, -2.5e2, 0.125, true, false, null], "s": "x\"\\\/\n\u00e9\ud83d\ude00",
                                "o": {}} )",
                            &v);
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(v.is_object());
  const Value* a = v.Get("a");
  EXPECT_TRUE(a != nullptr && a->is_array() && a->array.size() == 6);
  if (a && a->array.size() == 6) {
    EXPECT_NEAR(a->array[0].number, 1, 0);
    EXPECT_NEAR(a->array[1].number, -250, 0);
    EXPECT_NEAR(a->array[2].number, 0.125, 0);
    EXPECT_TRUE(a->array[3].is_bool() && a->array[3].boolean);
    EXPECT_TRUE(a->array[4].is_bool() && !a->array[4].boolean);
    EXPECT_TRUE(a->array[5].is_null());
  }
  const Value* s = v.Get("s");
  EXPECT_TRUE(s != nullptr && s->string == "x\"\\/\n\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_TRUE(v.Get("o") != nullptr && v.Get("o")->is_object());
  EXPECT_TRUE(v.Get("missing") == nullptr);
  EXPECT_TRUE(a != nullptr && a->line == 1 && a->column == 8);
}

NASNET_TEST(plan_json_reports_line_and_column) {
  EXPECT_TRUE(Contains(ErrorOf("{\n  \"a\": 1,\n  \"b\" 2\n}"), "JSON line 3 column 7: unexpected '2', expected ':'"));
  EXPECT_TRUE(Contains(ErrorOf("[1, 2,]"), "JSON line 1 column 7: unexpected ']', expected a value"));
  EXPECT_TRUE(Contains(ErrorOf("{\"a\": 1 \"b\": 2}"), "line 1 column 9: unexpected '\"', expected ',' or '}'"));
  EXPECT_TRUE(Contains(ErrorOf("[01]"), "line 1 column 3: invalid number (leading zero)"));
  EXPECT_TRUE(Contains(ErrorOf("[1.]"), "invalid number (expected a digit after '.')"));
  EXPECT_TRUE(Contains(ErrorOf("[1e400]"), "number 1e400 is out of range"));
  EXPECT_TRUE(Contains(ErrorOf("\"abc"), "unterminated string"));
  EXPECT_TRUE(Contains(ErrorOf("\"a\tb\""), "control character"));
  EXPECT_TRUE(Contains(ErrorOf("\"\\x\""), "invalid escape '\\x'"));
  EXPECT_TRUE(Contains(ErrorOf("\"\\ud800\""), "unpaired high surrogate"));
  EXPECT_TRUE(Contains(ErrorOf("{\"a\": 1, \"a\": 2}"), "line 1 column 10: duplicate key \"a\""));
  EXPECT_TRUE(Contains(ErrorOf("[1] 2"), "unexpected '2' after the document"));
  EXPECT_TRUE(Contains(ErrorOf(""), "unexpected end of input"));
  EXPECT_TRUE(Contains(ErrorOf("tru"), "invalid literal (expected 'true')"));
  EXPECT_TRUE(Contains(ErrorOf("[NaN]"), "unexpected 'N', expected a value"));
  EXPECT_TRUE(Contains(ErrorOf("{'a': 1}"), "expected a string key"));
}

NASNET_TEST(plan_json_limits_nesting) {
  std::string deep(100000, '[');  // would overflow the stack without the depth limit
  EXPECT_TRUE(Contains(ErrorOf(deep), "nesting deeper than 256"));
  std::string ok = std::string(200, '[') + std::string(200, ']');
  EXPECT_TRUE(ErrorOf(ok) == "OK");
}

NASNET_TEST(plan_json_never_crashes_on_truncations) {
  const std::string doc = R"({"k": [1, 2.5, "s\u0041", {"x": null}], "t": true})";
  int failures = 0;
  for (size_t n = 0; n < doc.size(); ++n) {
    Value v;
    if (!Parse(doc.substr(0, n), &v).ok()) ++failures;
  }
  EXPECT_TRUE(failures == static_cast<int>(doc.size()));  // every proper prefix is invalid
  Value v;
  EXPECT_TRUE(Parse(doc, &v).ok());
}
