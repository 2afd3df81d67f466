#include "util/json_fields.h"

#include "util/error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <vector>

namespace sde {

namespace {

// Doubles hold every integer up to 2^53 exactly; beyond it a float may have lost digits.
constexpr double kExactDoubleLimit = 9007199254740992.0;

// "a string", "an object", "-1", "1.5": what a typed read found, for its message.
std::string describe(const Json &value)
{
    if (value.is_number())
        return dumpJson(value);
    if (value.is_null())
        return "null";
    const std::string type = value.type_name();
    return (type == "array" || type == "object" ? "an " : "a ") + type;
}

[[noreturn]] void mismatch(const std::string &name, const std::string &expected, const Json &value)
{
    throw Error(name + ": expected " + expected + ", found " + describe(value));
}

} // namespace

namespace {

// The most keys one object may hold: a training checkpoint of the reference's deepest network
// (NCSN++ deep, 964 tensors, each with its EMA and two Adam moments) names about 3,900.
constexpr size_t kMostJsonObjectKeys = 16384;

} // namespace

Json parseJson(const std::string &text)
{
    // nlohmann's parser keeps its own stack, so any depth parses; the limit keeps the recursive
    // copy and dump of what we read within the thread's stack. A key given twice in one object
    // is refused: nlohmann would keep the last silently (a safetensors header naming a tensor
    // twice, a config setting one field twice), and no writer of ours repeats one.
    std::vector<std::set<std::string>> keys; // of each object being read, innermost last
    const Json::parser_callback_t check = [&keys](int depth, Json::parse_event_t event, Json &parsed) {
        if (depth >= kMaxJsonDepth &&
            (event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start))
            throw Error("JSON parse error: arrays and objects nest deeper than " + std::to_string(kMaxJsonDepth) +
                        " levels");
        if (event == Json::parse_event_t::object_start)
            keys.emplace_back();
        else if (event == Json::parse_event_t::object_end && !keys.empty())
            keys.pop_back();
        else if (event == Json::parse_event_t::key && !keys.empty() && parsed.is_string()) {
            if (!keys.back().insert(parsed.get<std::string>()).second) {
                const std::string key = parsed.get<std::string>();
                throw Error("JSON parse error: the key \"" + sde::quoted(key) + "\" appears twice in one object");
            }
            // ordered_json finds a key by walking the object, so reading n keys takes n^2 / 2
            // comparisons: 200,000 keys took minutes.
            if (keys.back().size() > kMostJsonObjectKeys)
                throw Error("JSON parse error: an object holds more than " + std::to_string(kMostJsonObjectKeys) +
                            " keys");
        }
        return true;
    };
    try {
        return Json::parse(text, check);
    } catch (const Json::parse_error &e) {
        // "[json.exception.parse_error.101] parse error at line 3, column 0: syntax error ...": the
        // position is recomputed to be the offending character's (nlohmann's is the one after it).
        const std::string what = e.what();
        const size_t colon = what.find(": ", what.find("parse error"));
        const std::string detail = colon == std::string::npos ? what : what.substr(colon + 2);
        const size_t offset = std::min(e.byte > 0 ? e.byte - 1 : 0, text.size());
        const size_t lineStart = offset == 0 ? std::string::npos : text.rfind('\n', offset - 1);
        const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
        const size_t column = lineStart == std::string::npos ? offset + 1 : offset - lineStart;
        throw Error("JSON parse error at line " + std::to_string(line) + ", column " + std::to_string(column) + ": " +
                    detail);
    } catch (const Json::exception &e) {
        // "[json.exception.out_of_range.406] number overflow parsing '1e500'"
        const std::string what = e.what();
        const size_t close = what.find("] ");
        throw Error("JSON parse error: " + (close == std::string::npos ? what : what.substr(close + 2)));
    }
}

std::string dumpJson(const Json &value, int indent)
{
    return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

namespace json {

bool toBool(const Json &value, const std::string &name)
{
    if (!value.is_boolean())
        mismatch(name, "true or false", value);
    return value.get<bool>();
}

double toDouble(const Json &value, const std::string &name)
{
    if (!value.is_number())
        mismatch(name, "a number", value);
    return value.get<double>();
}

int64_t toInt64(const Json &value, const std::string &name)
{
    const char *expected = "an integer";
    if (value.is_number_unsigned()) {
        if (value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            return static_cast<int64_t>(value.get<uint64_t>());
        mismatch(name, "an integer below 2^63", value);
    }
    if (value.is_number_integer())
        return value.get<int64_t>();
    if (value.is_number_float()) {
        const double v = value.get<double>();
        if (v == std::floor(v) && std::fabs(v) <= kExactDoubleLimit)
            return static_cast<int64_t>(v);
        if (v == std::floor(v))
            expected = "an integer written without a fraction or exponent (beyond 2^53 a float may have lost digits)";
    }
    mismatch(name, expected, value);
}

uint64_t toUint64(const Json &value, const std::string &name)
{
    const char *expected = "an integer from 0 to 18446744073709551615";
    if (value.is_number_unsigned())
        return value.get<uint64_t>();
    if (value.is_number_integer() && value.get<int64_t>() >= 0)
        return static_cast<uint64_t>(value.get<int64_t>());
    if (value.is_number_float()) {
        const double v = value.get<double>();
        if (v == std::floor(v) && v >= 0.0 && v <= kExactDoubleLimit)
            return static_cast<uint64_t>(v);
        if (v == std::floor(v) && v >= 0.0 && v < 18446744073709551616.0)
            expected = "an integer written without a fraction or exponent (beyond 2^53 a float may have lost digits)";
    }
    mismatch(name, expected, value);
}

std::string toString(const Json &value, const std::string &name)
{
    if (!value.is_string())
        mismatch(name, "a string", value);
    return value.get<std::string>();
}

const Json &toArray(const Json &value, const std::string &name)
{
    if (!value.is_array())
        mismatch(name, "an array", value);
    return value;
}

const Json &toObject(const Json &value, const std::string &name)
{
    if (!value.is_object())
        mismatch(name, "an object", value);
    return value;
}

const Json *find(const Json &object, const std::string &key)
{
    if (!object.is_object())
        return nullptr;
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

const Json &at(const Json &object, const std::string &key)
{
    if (!object.is_object())
        mismatch("looking up \"" + key + "\"", "an object", object);
    if (const Json *value = find(object, key))
        return *value;
    throw Error("missing key \"" + key + "\"");
}

} // namespace json

} // namespace sde
