#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sde {

// A small JSON value with ordered objects: enough for model configs, safetensors headers and
// PNG parameter chunks. Core may not use Qt's JSON, and Debian's set of allowed packages has no
// JSON library, so this lives here. Parsing errors name the line and column.
class Json {
public:
    enum class Type { Null, Bool, Number, String, Array, Object };
    using Array = std::vector<Json>;
    using Object = std::vector<std::pair<std::string, Json>>;

    Json() = default;
    Json(std::nullptr_t) {}
    Json(bool b) : type_(Type::Bool), bool_(b) {}
    Json(int v) : type_(Type::Number), number_(v) {}
    Json(int64_t v) : type_(Type::Number), number_(static_cast<double>(v)) {}
    Json(uint64_t v) : type_(Type::Number), number_(static_cast<double>(v)) {}
    Json(double v) : type_(Type::Number), number_(v) {}
    Json(const char *s) : type_(Type::String), string_(s) {}
    Json(std::string s) : type_(Type::String), string_(std::move(s)) {}
    Json(Array a);
    Json(Object o);

    static Json array() { return Json(Array{}); }
    static Json object() { return Json(Object{}); }
    static Json parse(const std::string &text);

    Type type() const { return type_; }
    bool isNull() const { return type_ == Type::Null; }
    bool isBool() const { return type_ == Type::Bool; }
    bool isNumber() const { return type_ == Type::Number; }
    bool isString() const { return type_ == Type::String; }
    bool isArray() const { return type_ == Type::Array; }
    bool isObject() const { return type_ == Type::Object; }

    // Typed access; each throws sde::Error naming the expected and actual type.
    bool asBool() const;
    double asDouble() const;
    int64_t asInt() const; // also checks the number is integral
    const std::string &asString() const;
    const Array &asArray() const;
    Array &asArray();
    const Object &asObject() const;
    Object &asObject();

    // Object access.
    bool contains(const std::string &key) const;
    const Json *find(const std::string &key) const;
    const Json &at(const std::string &key) const; // throws naming the missing key
    Json &operator[](const std::string &key);     // inserts null when missing
    // Array access.
    const Json &at(size_t index) const;
    void push_back(Json value);
    size_t size() const;

    std::string dump(int indent = -1) const;
    static const char *typeName(Type type);

private:
    void dumpTo(std::string &out, int indent, int depth) const;

    Type type_ = Type::Null;
    bool bool_ = false;
    double number_ = 0.0;
    std::string string_;
    Array array_;
    Object object_;
};

} // namespace sde
