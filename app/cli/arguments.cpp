#include "arguments.h"

#include "util/error.h"

#include <iostream>

namespace sde::cli {

Arguments::Arguments(std::string command, std::string usage, std::string summary)
    : command_(std::move(command)), usage_(std::move(usage)), summary_(std::move(summary))
{
}

Arguments &Arguments::option(const std::string &name, const std::string &valueName, const std::string &help)
{
    specs_.push_back({name, valueName, help});
    return *this;
}

Arguments &Arguments::flag(const std::string &name, const std::string &help)
{
    specs_.push_back({name, "", help});
    return *this;
}

Arguments &Arguments::positional(const std::string &name, const std::string &help)
{
    positionals_.push_back({name, "", help});
    return *this;
}

Arguments &Arguments::positionalList(const std::string &name, const std::string &help)
{
    positionals_.push_back({name + "...", "", help});
    list_ = true;
    return *this;
}

double Arguments::number(const std::string &name, double fallback) const
{
    auto v = value(name);
    if (!v)
        return fallback;
    try {
        size_t used = 0;
        double d = std::stod(*v, &used);
        if (used != v->size())
            throw std::invalid_argument("trailing text");
        return d;
    } catch (const std::exception &) {
        throw Error("option " + name + " needs a number, not '" + *v + "'");
    }
}

int64_t Arguments::integer(const std::string &name, int64_t fallback) const
{
    auto v = value(name);
    if (!v)
        return fallback;
    try {
        size_t used = 0;
        long long i = std::stoll(*v, &used);
        if (used != v->size())
            throw std::invalid_argument("trailing text");
        return i;
    } catch (const std::exception &) {
        throw Error("option " + name + " needs a whole number, not '" + *v + "'");
    }
}

bool Arguments::parse(const std::vector<std::string> &args)
{
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string &arg = args[i];
        if (arg == "--help" || arg == "-h") {
            std::cout << help();
            return false;
        }
        if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
            std::string name = arg, inlineValue;
            bool hasInline = false;
            if (size_t eq = arg.find('='); eq != std::string::npos) {
                name = arg.substr(0, eq);
                inlineValue = arg.substr(eq + 1);
                hasInline = true;
            }
            const Spec *spec = nullptr;
            for (const Spec &s : specs_)
                if (s.name == name)
                    spec = &s;
            if (!spec)
                throw Error("unknown option " + name + " for '" + command_ + "' (see sdestudio-cli " + command_
                            + " --help)");
            if (spec->valueName.empty()) {
                if (hasInline)
                    throw Error("option " + name + " takes no value");
                flags_.insert(name);
            } else if (hasInline) {
                values_[name] = inlineValue;
            } else {
                if (i + 1 >= args.size())
                    throw Error("option " + name + " needs a value (" + spec->valueName + ")");
                values_[name] = args[++i];
            }
            continue;
        }
        if (arg == "-o") { // the usual short form of --output
            if (i + 1 >= args.size())
                throw Error("option -o needs a value (FILE)");
            values_["--output"] = args[++i];
            continue;
        }
        positionalValues_.push_back(arg);
    }
    if (!list_ && positionalValues_.size() > positionals_.size())
        throw Error("unexpected argument '" + positionalValues_[positionals_.size()] + "' for '" + command_ + "'");
    if (positionalValues_.size() < positionals_.size() - (list_ ? 1 : 0))
        throw Error("'" + command_ + "' needs " + positionals_[positionalValues_.size()].name
                    + " (see sdestudio-cli " + command_ + " --help)");
    return true;
}

bool Arguments::has(const std::string &name) const { return flags_.count(name) || values_.count(name); }

std::optional<std::string> Arguments::value(const std::string &name) const
{
    auto it = values_.find(name);
    if (it == values_.end())
        return std::nullopt;
    return it->second;
}

std::string Arguments::value(const std::string &name, const std::string &fallback) const
{
    return value(name).value_or(fallback);
}

std::string Arguments::required(const std::string &name) const
{
    auto v = value(name);
    if (!v)
        throw Error("'" + command_ + "' needs " + name + " (see sdestudio-cli " + command_ + " --help)");
    return *v;
}

std::string Arguments::positionalValue(size_t index) const { return positionalValues_.at(index); }

std::string Arguments::help() const
{
    std::string out = "Usage: sdestudio-cli " + command_ + " " + usage_ + "\n\n" + summary_ + "\n";
    if (!positionals_.empty()) {
        out += "\nArguments:\n";
        for (const Spec &s : positionals_)
            out += "  " + s.name + std::string(s.name.size() < 24 ? 24 - s.name.size() : 1, ' ') + s.help + "\n";
    }
    out += "\nOptions:\n";
    for (const Spec &s : specs_) {
        std::string left = s.name + (s.valueName.empty() ? "" : " " + s.valueName);
        out += "  " + left + std::string(left.size() < 24 ? 24 - left.size() : 1, ' ') + s.help + "\n";
    }
    out += "  --help                  show this help\n";
    return out;
}

} // namespace sde::cli
