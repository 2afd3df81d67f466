#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sde::cli {

// One command's command line: declared options (with or without a value), positional
// arguments, and a help text. Unknown options, a missing value or a missing positional are
// errors that name the problem.
class Arguments {
public:
    Arguments(std::string command, std::string usage, std::string summary);

    Arguments &option(const std::string &name, const std::string &valueName, const std::string &help);
    Arguments &flag(const std::string &name, const std::string &help);
    Arguments &positional(const std::string &name, const std::string &help);
    // One or more trailing positional arguments (after the fixed ones).
    Arguments &positionalList(const std::string &name, const std::string &help);

    // Returns false when --help was given (the help has been printed).
    bool parse(const std::vector<std::string> &args);

    bool has(const std::string &name) const;
    std::optional<std::string> value(const std::string &name) const;
    std::string value(const std::string &name, const std::string &fallback) const;
    std::string required(const std::string &name) const;
    std::string positionalValue(size_t index) const;
    const std::vector<std::string> &positionalValues() const { return positionalValues_; }
    // A number option, with the option named in the error for a malformed value.
    double number(const std::string &name, double fallback) const;
    int64_t integer(const std::string &name, int64_t fallback) const;

    std::string help() const;

private:
    struct Spec {
        std::string name;
        std::string valueName; // empty: a flag
        std::string help;
    };
    std::string command_, usage_, summary_;
    std::vector<Spec> specs_;
    std::vector<Spec> positionals_;
    bool list_ = false;
    std::map<std::string, std::string> values_;
    std::set<std::string> flags_;
    std::vector<std::string> positionalValues_;
};

} // namespace sde::cli
