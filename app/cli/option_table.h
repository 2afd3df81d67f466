#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sde::cli {

// The bounds of a number option; `minExclusive`/`maxExclusive` leave the end out. A value outside
// (or NaN) is refused with the range in words ("must be between 0 and 1", "must be positive").
struct OptionRange {
    double min = -std::numeric_limits<double>::infinity();
    double max = std::numeric_limits<double>::infinity();
    bool minExclusive = false;
    bool maxExclusive = false;

    static OptionRange between(double low, double high) { return {low, high, false, false}; }
    static OptionRange positive(double high = std::numeric_limits<double>::infinity())
    {
        return {0.0, high, true, false};
    }
    static OptionRange halfOpen(double low, double high) { return {low, high, false, true}; } // [low, high)
    static OptionRange atLeast(double low) { return {low, std::numeric_limits<double>::infinity(), false, false}; }

    bool contains(double value) const;
    // "between 0 and 1", "positive", "at least 1", "in (0, 100]".
    std::string describe() const;
};

// What an option takes: nothing (a flag), a whole number, a whole number from 0 to 2^64 - 1, a
// real number, or a word.
enum class OptionType { Flag, Integer, Unsigned, Number, Text };

// One option described as data. The sampler options are a list of these, so that the sampler
// catalogue can supply the list and the CLI builds its options and help from it.
struct OptionSpec {
    std::string name;      // "--steps"
    std::string valueName; // "N" in the help; unused for a flag
    std::string help;
    OptionType type = OptionType::Text;
    // The value when the option is not given, in the option's own syntax ("20", "rk45"); shown in
    // the help. Empty: none, so the caller decides (typically the model config's value).
    std::string defaultValue;
    std::optional<OptionRange> range; // Integer, Unsigned, Number
    std::vector<std::string> choices; // Text: the accepted words (empty: any)

    // The rows of a table, by type.
    static OptionSpec flag(std::string name, std::string help);
    static OptionSpec text(std::string name, std::string valueName, std::string help,
                           std::vector<std::string> choices = {}, std::string defaultValue = "");
    static OptionSpec integer(std::string name, std::string valueName, std::string help,
                              std::optional<OptionRange> range = std::nullopt, std::string defaultValue = "");
    static OptionSpec unsignedInteger(std::string name, std::string valueName, std::string help);
    static OptionSpec number(std::string name, std::string valueName, std::string help,
                             std::optional<OptionRange> range = std::nullopt, std::string defaultValue = "");
};

// The values of options added by addOptions, typed, by option name. Each getter returns the
// given value, else the spec's default, else nullopt; asking for a name that was not added, or
// with the wrong type, is a programming error (std::logic_error).
class OptionValues {
public:
    OptionValues() = default;
    OptionValues(const OptionValues &) = delete; // CLI11 holds the addresses of the values
    OptionValues &operator=(const OptionValues &) = delete;

    bool given(const std::string &name) const; // on the command line (not from a default)
    bool flag(const std::string &name) const;
    std::optional<int64_t> integer(const std::string &name) const;
    std::optional<uint64_t> unsignedInteger(const std::string &name) const;
    std::optional<double> number(const std::string &name) const;
    std::optional<std::string> text(const std::string &name) const;

private:
    friend void addOptions(CLI::App &command, const std::vector<OptionSpec> &specs, OptionValues &values);
    struct Slot {
        OptionSpec spec;
        CLI::Option *option = nullptr;
        bool flag = false;
        std::optional<int64_t> integer;
        std::optional<uint64_t> unsignedInteger;
        std::optional<double> number;
        std::optional<std::string> text;
    };
    const Slot &slot(const std::string &name, OptionType type) const;
    std::map<std::string, Slot> slots_; // map nodes do not move: CLI11 writes into them
};

// Adds one typed CLI11 option per spec to `command`, with its range or choices checked while
// parsing, its default filled in and shown in the help; the values land in `values`.
void addOptions(CLI::App &command, const std::vector<OptionSpec> &specs, OptionValues &values);

// Checks for options bound directly to variables. Their messages read after the option's name
// ("--eta must be between 0 and 1, not 1.5"); see parseErrorMessage in command_line.h.
//
// A number is read strictly (decimal, the whole text; a real one finite: never NaN or
// infinity, "--eta needs a finite number, not 'nan'"), checked against `range`, and rewritten
// exactly for CLI11's own conversion, which alone would read "010" as octal, wrap "-1" around
// in an unsigned option and round a real number through long double. Unsigned: 0 to 2^64 - 1.
enum class NumberKind { Integer, Unsigned, Real };
CLI::Validator numberCheck(NumberKind kind, const std::optional<OptionRange> &range = std::nullopt);
// One of `choices`: "must be logsnr or karras, not 'cosine'".
CLI::Validator oneOf(const std::vector<std::string> &choices);

namespace detail {
template <typename T>
struct OptionValueType {
    using type = T;
};
template <typename T>
struct OptionValueType<std::optional<T>> {
    using type = T;
};
} // namespace detail

// A typed number option (int64_t, uint64_t, double or a std::optional of one) with numberCheck:
// `variable` keeps its value when the option is not given.
template <typename T>
CLI::Option *addNumberOption(CLI::App &command, const std::string &name, T &variable, const std::string &valueName,
                             const std::string &help, const std::optional<OptionRange> &range = std::nullopt)
{
    using Value = typename detail::OptionValueType<T>::type;
    static_assert(std::is_arithmetic_v<Value>, "a number option binds a number");
    const NumberKind kind = std::is_floating_point_v<Value> ? NumberKind::Real
                            : std::is_unsigned_v<Value>     ? NumberKind::Unsigned
                                                            : NumberKind::Integer;
    return command.add_option(name, variable, help)->type_name(valueName)->transform(numberCheck(kind, range));
}

} // namespace sde::cli
