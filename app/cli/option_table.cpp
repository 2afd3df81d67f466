#include "option_table.h"

#include "sampling/fast_samplers.h"
#include "util/error.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace sde::cli {

namespace {

std::string numberText(double value)
{
    char text[32];
    // Whole bounds in full ("1000000000000000000", not "1e+18"): a user types them back.
    if (value == std::floor(value) && std::fabs(value) < 1e19)
        std::snprintf(text, sizeof text, "%.0f", value);
    else
        std::snprintf(text, sizeof text, "%.15g", value);
    return text;
}

// A number read strictly: its value (as a double, for the range), its exact canonical text for
// CLI11, or the reason it is not one.
struct ParsedNumber {
    long double value = 0.0; // exact for every int64 and uint64 (x86's 64-bit significand)
    std::string canonical;
    std::string error;      // empty: fine
    bool outOfType = false; // a whole number beyond its type: the option's own range, if any, is the better message
};

template <typename Int>
ParsedNumber parseWhole(const std::string &text, bool unsignedOnly)
{
    ParsedNumber out;
    const char *first = text.data(), *last = text.data() + text.size();
    if (first != last && *first == '+')
        ++first;
    if (unsignedOnly && first != last && *first == '-') {
        out.error = "must not be negative";
        return out;
    }
    Int value = 0;
    const auto [end, error] = std::from_chars(first, last, value, 10);
    if (first == last || end != last || (error != std::errc() && error != std::errc::result_out_of_range)) {
        out.error = "needs a whole number, not '" + sde::quoted(text) + "'";
        return out;
    }
    if (error == std::errc::result_out_of_range) {
        out.outOfType = true;
        out.error = "must be between " + std::to_string(std::numeric_limits<Int>::min()) + " and " +
                    std::to_string(std::numeric_limits<Int>::max()) + ", not " + sde::quoted(text);
        return out;
    }
    out.value = static_cast<long double>(value);
    out.canonical = std::to_string(value);
    return out;
}

ParsedNumber parseReal(const std::string &text)
{
    ParsedNumber out;
    char *end = nullptr;
    errno = 0;
    const double value =
        text.empty() || std::isspace(static_cast<unsigned char>(text[0])) ? 0.0 : std::strtod(text.c_str(), &end);
    if (end == nullptr || end == text.c_str() || *end != '\0' || (errno == ERANGE && std::isinf(value))) {
        out.error = "needs a number, not '" + sde::quoted(text) + "'";
        return out;
    }
    // strtod reads "nan" and "inf"; no option means either, and NaN slips through a range check
    // that is written as `value < min`.
    if (!std::isfinite(value)) {
        out.error = "needs a finite number, not '" + sde::quoted(text) + "'";
        return out;
    }
    out.value = value;
    // Hexadecimal: exact through CLI11's strtold and the cast back to double.
    char canonical[64];
    std::snprintf(canonical, sizeof canonical, "%a", value);
    out.canonical = canonical;
    return out;
}

ParsedNumber parseNumber(NumberKind kind, const std::string &text)
{
    switch (kind) {
    case NumberKind::Integer:
        return parseWhole<int64_t>(text, false);
    case NumberKind::Unsigned:
        return parseWhole<uint64_t>(text, true);
    case NumberKind::Real:
        break;
    }
    return parseReal(text);
}

NumberKind numberKind(OptionType type)
{
    switch (type) {
    case OptionType::Integer:
        return NumberKind::Integer;
    case OptionType::Unsigned:
        return NumberKind::Unsigned;
    default:
        return NumberKind::Real;
    }
}

// OptionRange::contains for a whole number compared exactly: as a double, 10^18 + 1 is 10^18.
bool within(const OptionRange &range, long double value)
{
    const long double min = range.min, max = range.max;
    const bool aboveMin = range.minExclusive ? value > min : value >= min;
    const bool belowMax = range.maxExclusive ? value < max : value <= max;
    return aboveMin && belowMax;
}

// A spec's default, read as the command line would be; a bad one is a bug in the spec.
ParsedNumber parseDefault(const OptionSpec &spec)
{
    ParsedNumber parsed = parseNumber(numberKind(spec.type), spec.defaultValue);
    if (parsed.error.empty() && spec.range && !within(*spec.range, parsed.value))
        parsed.error = "is outside " + spec.range->describe();
    if (!parsed.error.empty())
        throw std::logic_error("the default of " + spec.name + " " + parsed.error);
    return parsed;
}

} // namespace

bool OptionRange::contains(double value) const
{
    const bool aboveMin = minExclusive ? value > min : value >= min;
    const bool belowMax = maxExclusive ? value < max : value <= max;
    return aboveMin && belowMax; // false for NaN
}

std::string OptionRange::describe() const
{
    const bool lowEnd = std::isfinite(min), highEnd = std::isfinite(max);
    if (lowEnd && highEnd && !minExclusive && !maxExclusive)
        return "between " + numberText(min) + " and " + numberText(max);
    if (lowEnd && !highEnd)
        return min == 0.0 && minExclusive ? "positive" : (minExclusive ? "above " : "at least ") + numberText(min);
    if (!lowEnd && highEnd)
        return (maxExclusive ? "below " : "at most ") + numberText(max);
    return std::string("in ") + (minExclusive ? "(" : "[") + numberText(min) + ", " + numberText(max) +
           (maxExclusive ? ")" : "]");
}

CLI::Validator numberCheck(NumberKind kind, const std::optional<OptionRange> &range)
{
    return CLI::Validator(
        [kind, range](std::string &text) {
            ParsedNumber parsed = parseNumber(kind, text);
            // Beyond the type: the option's range says it where its end on that side is finite;
            // else its lower end with the type's largest value ("between 1 and 9223372036854775807").
            if (parsed.outOfType && range) {
                const bool negative = text.find('-') != std::string::npos;
                if (negative ? std::isfinite(range->min) : std::isfinite(range->max))
                    return "must be " + range->describe() + ", not " + sde::quoted(text);
                if (!negative && std::isfinite(range->min))
                    return "must be between " + numberText(range->min) + " and " +
                           (kind == NumberKind::Unsigned ? std::to_string(std::numeric_limits<uint64_t>::max())
                                                         : std::to_string(std::numeric_limits<int64_t>::max())) +
                           ", not " + sde::quoted(text);
            }
            if (!parsed.error.empty())
                return parsed.error;
            if (range && !within(*range, parsed.value))
                return "must be " + range->describe() + ", not " + sde::quoted(text);
            text = parsed.canonical;
            return std::string();
        },
        "");
}

CLI::Validator oneOf(const std::vector<std::string> &choices)
{
    return CLI::Validator(
        [choices](const std::string &text) {
            for (const std::string &choice : choices)
                if (text == choice)
                    return std::string();
            return "must be " + listOfIds(choices) + ", not '" + sde::quoted(text) + "'";
        },
        "");
}

OptionSpec OptionSpec::flag(std::string name, std::string help)
{
    return {std::move(name), "", std::move(help), OptionType::Flag};
}

OptionSpec OptionSpec::text(std::string name, std::string valueName, std::string help, std::vector<std::string> choices,
                            std::string defaultValue)
{
    return {std::move(name),         std::move(valueName), std::move(help),   OptionType::Text,
            std::move(defaultValue), std::nullopt,         std::move(choices)};
}

OptionSpec OptionSpec::integer(std::string name, std::string valueName, std::string help,
                               std::optional<OptionRange> range, std::string defaultValue)
{
    return {std::move(name),     std::move(valueName),    std::move(help),
            OptionType::Integer, std::move(defaultValue), range};
}

OptionSpec OptionSpec::unsignedInteger(std::string name, std::string valueName, std::string help)
{
    return {std::move(name), std::move(valueName), std::move(help), OptionType::Unsigned};
}

OptionSpec OptionSpec::number(std::string name, std::string valueName, std::string help,
                              std::optional<OptionRange> range, std::string defaultValue)
{
    return {std::move(name), std::move(valueName), std::move(help), OptionType::Number, std::move(defaultValue), range};
}

bool OptionValues::given(const std::string &name) const
{
    auto it = slots_.find(name);
    if (it == slots_.end())
        throw std::logic_error("no option " + name + " was added");
    return it->second.option->count() > 0;
}

const OptionValues::Slot &OptionValues::slot(const std::string &name, OptionType type) const
{
    auto it = slots_.find(name);
    if (it == slots_.end())
        throw std::logic_error("no option " + name + " was added");
    if (it->second.spec.type != type)
        throw std::logic_error("option " + name + " was asked for with another type than it has");
    return it->second;
}

bool OptionValues::flag(const std::string &name) const
{
    return slot(name, OptionType::Flag).flag;
}

std::optional<int64_t> OptionValues::integer(const std::string &name) const
{
    return slot(name, OptionType::Integer).integer;
}

std::optional<uint64_t> OptionValues::unsignedInteger(const std::string &name) const
{
    return slot(name, OptionType::Unsigned).unsignedInteger;
}

std::optional<double> OptionValues::number(const std::string &name) const
{
    return slot(name, OptionType::Number).number;
}

std::optional<std::string> OptionValues::text(const std::string &name) const
{
    return slot(name, OptionType::Text).text;
}

void addOptions(CLI::App &command, const std::vector<OptionSpec> &specs, OptionValues &values)
{
    for (const OptionSpec &spec : specs) {
        auto [it, added] = values.slots_.try_emplace(spec.name);
        if (!added)
            throw std::logic_error("option " + spec.name + " is added twice");
        OptionValues::Slot &slot = it->second;
        slot.spec = spec;
        const std::string help = spec.help + (spec.defaultValue.empty() ? "" : " (default " + spec.defaultValue + ")");
        CLI::Option *option = nullptr;
        switch (spec.type) {
        case OptionType::Flag:
            option = command.add_flag(spec.name, slot.flag, help);
            break;
        case OptionType::Integer:
            if (!spec.defaultValue.empty())
                slot.integer = static_cast<int64_t>(std::stoll(parseDefault(spec).canonical));
            option = addNumberOption(command, spec.name, slot.integer, spec.valueName, help, spec.range);
            break;
        case OptionType::Unsigned:
            if (!spec.defaultValue.empty())
                slot.unsignedInteger = static_cast<uint64_t>(std::stoull(parseDefault(spec).canonical));
            option = addNumberOption(command, spec.name, slot.unsignedInteger, spec.valueName, help, spec.range);
            break;
        case OptionType::Number:
            if (!spec.defaultValue.empty())
                slot.number = parseDefault(spec).value;
            option = addNumberOption(command, spec.name, slot.number, spec.valueName, help, spec.range);
            break;
        case OptionType::Text:
            if (!spec.defaultValue.empty())
                slot.text = spec.defaultValue;
            option = command.add_option(spec.name, slot.text, help)->type_name(spec.valueName);
            if (!spec.choices.empty())
                option->check(oneOf(spec.choices));
            break;
        }
        slot.option = option;
    }
}

} // namespace sde::cli
