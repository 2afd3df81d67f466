#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace sde {

// Every JSON document SDE Studio writes or reads (model configs, safetensors headers, PNG
// generation records, sampling settings, checkpoint definitions, metrics.jsonl) is nlohmann's,
// with objects kept in insertion order so that a file reads in the order it was written.
// Integers stay integers: a uint64_t is stored as number_unsigned and an int64_t as
// number_integer, so seeds and step counts above 2^53 round-trip exactly.
using Json = nlohmann::ordered_json;

// How deep arrays and objects may nest in a document we read (the reference's configs nest 2).
constexpr int kMaxJsonDepth = 200;

// Parses a whole document. Files from users are untrusted: a syntax error throws sde::Error
// "JSON parse error at line L, column C: ...", nesting deeper than kMaxJsonDepth throws
// sde::Error too, and so does a key given twice in one object ("JSON parse error: the key \"x\"
// appears twice in one object"); no nlohmann exception leaves this function.
Json parseJson(const std::string &text);

// The document as text: compact for indent < 0, else indented by that many spaces. Bytes that
// are not UTF-8 inside strings (a file name in another encoding) are written as U+FFFD rather
// than failing. Non-finite numbers are written as null (JSON has no NaN).
std::string dumpJson(const Json &value, int indent = -1);

// Typed reads for documents from files. Each throws sde::Error whose message starts with
// `name` (the key as the reader knows it: "seed", "pc.steps", "config key model.nf"), says
// what was expected and shows what was found: "seed: expected an integer from 0 to
// 18446744073709551615, found -1". Callers that know the file prefix its name.
namespace json {

bool toBool(const Json &value, const std::string &name);
// Any number, integers converted to the nearest double.
double toDouble(const Json &value, const std::string &name);
// Exact integers only: 1.5, numbers outside int64_t and floats beyond 2^53 (which may already
// have lost digits) are refused; an integral float such as 32.0 up to 2^53 is accepted.
int64_t toInt64(const Json &value, const std::string &name);
// As toInt64, for 0 ... 2^64 - 1 (seeds): -1, 1.5 and 2^64 are refused.
uint64_t toUint64(const Json &value, const std::string &name);
std::string toString(const Json &value, const std::string &name);
// The value itself, once checked to be an array (or an object).
const Json &toArray(const Json &value, const std::string &name);
const Json &toObject(const Json &value, const std::string &name);

// A member of an object, or nullptr when `object` is not an object or lacks `key`.
const Json *find(const Json &object, const std::string &key);
// A member of an object; throws sde::Error "missing key \"key\"" (or, when `object` is not an
// object, "expected an object, found ...").
const Json &at(const Json &object, const std::string &key);

// Shorthands for a member read with its key as the name: getUint64(settings, "seed").
inline bool getBool(const Json &object, const std::string &key)
{
    return toBool(at(object, key), key);
}
inline double getDouble(const Json &object, const std::string &key)
{
    return toDouble(at(object, key), key);
}
inline int64_t getInt64(const Json &object, const std::string &key)
{
    return toInt64(at(object, key), key);
}
inline uint64_t getUint64(const Json &object, const std::string &key)
{
    return toUint64(at(object, key), key);
}
inline std::string getString(const Json &object, const std::string &key)
{
    return toString(at(object, key), key);
}

} // namespace json

} // namespace sde
