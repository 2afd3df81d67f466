#include "util/json.h"

#include "util/error.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace sde {

namespace {

class Parser {
public:
    explicit Parser(const std::string &text) : text_(text) {}

    Json parseDocument()
    {
        skipSpace();
        Json value = parseValue(0);
        skipSpace();
        if (pos_ != text_.size())
            fail("unexpected text after the JSON value");
        return value;
    }

private:
    [[noreturn]] void fail(const std::string &what) const
    {
        size_t line = 1, column = 1;
        for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
            if (text_[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        throw Error("JSON parse error at line " + std::to_string(line) + ", column "
                    + std::to_string(column) + ": " + what);
    }

    void skipSpace()
    {
        while (pos_ < text_.size()
               && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n'
                   || text_[pos_] == '\r'))
            ++pos_;
    }

    bool consume(const char *word)
    {
        size_t n = std::char_traits<char>::length(word);
        if (text_.compare(pos_, n, word) == 0) {
            pos_ += n;
            return true;
        }
        return false;
    }

    Json parseValue(int depth)
    {
        if (depth > 200)
            fail("nesting too deep");
        if (pos_ >= text_.size())
            fail("unexpected end of input");
        char c = text_[pos_];
        if (c == '{')
            return parseObject(depth);
        if (c == '[')
            return parseArray(depth);
        if (c == '"')
            return Json(parseString());
        if (consume("true"))
            return Json(true);
        if (consume("false"))
            return Json(false);
        if (consume("null"))
            return Json();
        // Python's json module writes these for non-finite floats.
        if (consume("NaN"))
            return Json(std::numeric_limits<double>::quiet_NaN());
        if (consume("Infinity"))
            return Json(std::numeric_limits<double>::infinity());
        if (consume("-Infinity"))
            return Json(-std::numeric_limits<double>::infinity());
        if (c == '-' || (c >= '0' && c <= '9'))
            return parseNumber();
        fail(std::string("unexpected character '") + c + "'");
    }

    Json parseNumber()
    {
        size_t start = pos_;
        if (text_[pos_] == '-')
            ++pos_;
        while (pos_ < text_.size()
               && (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.'
                   || text_[pos_] == 'e' || text_[pos_] == 'E' || text_[pos_] == '+'
                   || text_[pos_] == '-'))
            ++pos_;
        std::string token = text_.substr(start, pos_ - start);
        char *end = nullptr;
        double value = std::strtod(token.c_str(), &end);
        if (end != token.c_str() + token.size() || token.empty() || token == "-") {
            pos_ = start;
            fail("malformed number '" + token + "'");
        }
        return Json(value);
    }

    static void appendUtf8(std::string &out, uint32_t cp)
    {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    uint32_t parseHex4()
    {
        if (pos_ + 4 > text_.size())
            fail("truncated \\u escape");
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            char h = text_[pos_++];
            v <<= 4;
            if (h >= '0' && h <= '9')
                v |= h - '0';
            else if (h >= 'a' && h <= 'f')
                v |= h - 'a' + 10;
            else if (h >= 'A' && h <= 'F')
                v |= h - 'A' + 10;
            else
                fail("bad \\u escape");
        }
        return v;
    }

    std::string parseString()
    {
        ++pos_; // opening quote
        std::string out;
        while (true) {
            if (pos_ >= text_.size())
                fail("unterminated string");
            char c = text_[pos_++];
            if (c == '"')
                return out;
            if (static_cast<unsigned char>(c) < 0x20)
                fail("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= text_.size())
                fail("unterminated escape");
            char e = text_[pos_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                uint32_t cp = parseHex4();
                if (cp >= 0xD800 && cp < 0xDC00 && text_.compare(pos_, 2, "\\u") == 0) {
                    pos_ += 2;
                    uint32_t low = parseHex4();
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                }
                appendUtf8(out, cp);
                break;
            }
            default: fail(std::string("unknown escape '\\") + e + "'");
            }
        }
    }

    Json parseArray(int depth)
    {
        ++pos_;
        Json::Array items;
        skipSpace();
        if (pos_ < text_.size() && text_[pos_] == ']') {
            ++pos_;
            return Json(std::move(items));
        }
        while (true) {
            skipSpace();
            items.push_back(parseValue(depth + 1));
            skipSpace();
            if (pos_ < text_.size() && text_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < text_.size() && text_[pos_] == ']') {
                ++pos_;
                return Json(std::move(items));
            }
            fail("expected ',' or ']' in array");
        }
    }

    Json parseObject(int depth)
    {
        ++pos_;
        Json::Object members;
        skipSpace();
        if (pos_ < text_.size() && text_[pos_] == '}') {
            ++pos_;
            return Json(std::move(members));
        }
        while (true) {
            skipSpace();
            if (pos_ >= text_.size() || text_[pos_] != '"')
                fail("expected a string key in object");
            std::string key = parseString();
            skipSpace();
            if (pos_ >= text_.size() || text_[pos_] != ':')
                fail("expected ':' after key \"" + key + "\"");
            ++pos_;
            skipSpace();
            members.emplace_back(std::move(key), parseValue(depth + 1));
            skipSpace();
            if (pos_ < text_.size() && text_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < text_.size() && text_[pos_] == '}') {
                ++pos_;
                return Json(std::move(members));
            }
            fail("expected ',' or '}' in object");
        }
    }

    const std::string &text_;
    size_t pos_ = 0;
};

void dumpString(std::string &out, const std::string &s)
{
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
}

void dumpNumber(std::string &out, double v)
{
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "Infinity" : "-Infinity";
        return;
    }
    if (v == std::floor(v) && std::fabs(v) < 1e15) {
        out += std::to_string(static_cast<long long>(v));
        return;
    }
    // Shortest text that reads back to the same double.
    char buf[32];
    for (int precision = 15; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (std::strtod(buf, nullptr) == v)
            break;
    }
    out += buf;
}

} // namespace

Json::Json(Array a) : type_(Type::Array), array_(std::move(a)) {}
Json::Json(Object o) : type_(Type::Object), object_(std::move(o)) {}

Json Json::parse(const std::string &text) { return Parser(text).parseDocument(); }

const char *Json::typeName(Type type)
{
    switch (type) {
    case Type::Null: return "null";
    case Type::Bool: return "a boolean";
    case Type::Number: return "a number";
    case Type::String: return "a string";
    case Type::Array: return "an array";
    case Type::Object: return "an object";
    }
    return "?";
}

namespace {
[[noreturn]] void typeMismatch(Json::Type want, Json::Type have)
{
    throw Error(std::string("expected ") + Json::typeName(want) + ", found " + Json::typeName(have));
}
} // namespace

bool Json::asBool() const
{
    if (type_ != Type::Bool)
        typeMismatch(Type::Bool, type_);
    return bool_;
}

double Json::asDouble() const
{
    if (type_ != Type::Number)
        typeMismatch(Type::Number, type_);
    return number_;
}

int64_t Json::asInt() const
{
    double v = asDouble();
    if (v != std::floor(v) || std::fabs(v) > 9.007199254740992e15)
        throw Error("expected an integer, found " + std::to_string(v));
    return static_cast<int64_t>(v);
}

const std::string &Json::asString() const
{
    if (type_ != Type::String)
        typeMismatch(Type::String, type_);
    return string_;
}

const Json::Array &Json::asArray() const
{
    if (type_ != Type::Array)
        typeMismatch(Type::Array, type_);
    return array_;
}

Json::Array &Json::asArray()
{
    if (type_ != Type::Array)
        typeMismatch(Type::Array, type_);
    return array_;
}

const Json::Object &Json::asObject() const
{
    if (type_ != Type::Object)
        typeMismatch(Type::Object, type_);
    return object_;
}

Json::Object &Json::asObject()
{
    if (type_ != Type::Object)
        typeMismatch(Type::Object, type_);
    return object_;
}

bool Json::contains(const std::string &key) const { return find(key) != nullptr; }

const Json *Json::find(const std::string &key) const
{
    if (type_ != Type::Object)
        return nullptr;
    for (const auto &member : object_)
        if (member.first == key)
            return &member.second;
    return nullptr;
}

const Json &Json::at(const std::string &key) const
{
    if (type_ != Type::Object)
        typeMismatch(Type::Object, type_);
    if (const Json *value = find(key))
        return *value;
    throw Error("missing key \"" + key + "\"");
}

Json &Json::operator[](const std::string &key)
{
    if (type_ == Type::Null) {
        type_ = Type::Object;
        object_.clear();
    }
    for (auto &member : asObject())
        if (member.first == key)
            return member.second;
    object_.emplace_back(key, Json());
    return object_.back().second;
}

const Json &Json::at(size_t index) const
{
    const Array &items = asArray();
    if (index >= items.size())
        throw Error("array index " + std::to_string(index) + " out of range (size "
                    + std::to_string(items.size()) + ")");
    return items[index];
}

void Json::push_back(Json value)
{
    if (type_ == Type::Null) {
        type_ = Type::Array;
        array_.clear();
    }
    asArray().push_back(std::move(value));
}

size_t Json::size() const
{
    if (type_ == Type::Array)
        return array_.size();
    if (type_ == Type::Object)
        return object_.size();
    return 0;
}

std::string Json::dump(int indent) const
{
    std::string out;
    dumpTo(out, indent, 0);
    return out;
}

void Json::dumpTo(std::string &out, int indent, int depth) const
{
    auto newline = [&](int level) {
        if (indent < 0)
            return;
        out += '\n';
        out.append(static_cast<size_t>(indent * level), ' ');
    };
    switch (type_) {
    case Type::Null: out += "null"; break;
    case Type::Bool: out += bool_ ? "true" : "false"; break;
    case Type::Number: dumpNumber(out, number_); break;
    case Type::String: dumpString(out, string_); break;
    case Type::Array:
        out += '[';
        for (size_t i = 0; i < array_.size(); ++i) {
            if (i)
                out += ",";
            newline(depth + 1);
            array_[i].dumpTo(out, indent, depth + 1);
        }
        if (!array_.empty())
            newline(depth);
        out += ']';
        break;
    case Type::Object:
        out += '{';
        for (size_t i = 0; i < object_.size(); ++i) {
            if (i)
                out += ',';
            newline(depth + 1);
            dumpString(out, object_[i].first);
            out += indent < 0 ? ":" : ": ";
            object_[i].second.dumpTo(out, indent, depth + 1);
        }
        if (!object_.empty())
            newline(depth);
        out += '}';
        break;
    }
}

} // namespace sde
