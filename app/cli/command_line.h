#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace sde::cli {

// Runs a command after its command line was parsed; returns the process exit code. Errors are
// thrown as sde::Error and reported by main with exit code 1.
using CommandRun = std::function<int()>;

// The help of sdestudio-cli in its own layout: "Usage: sdestudio-cli COMMAND USAGE" first, then
// the summary, the arguments and the options; the program's help lists each command with a
// one-line brief.
class HelpFormatter : public CLI::Formatter {
public:
    HelpFormatter();
    // The usage after the command's name ("FILE [options]") and the one-line brief.
    void describe(const CLI::App *command, std::string usage, std::string brief);

    std::string make_help(const CLI::App *app, std::string name, CLI::AppFormatMode mode) const override;
    std::string make_usage(const CLI::App *app, std::string name) const override;
    std::string make_subcommand(const CLI::App *sub) const override;
    std::string make_option_opts(const CLI::Option *option) const override;

private:
    struct Texts {
        std::string usage, brief;
    };
    std::map<const CLI::App *, Texts> texts_;
};

// The program with its summary, -h/--help, --version (printing `version`) and the formatter its
// commands inherit.
std::unique_ptr<CLI::App> makeProgram(const std::string &summary, const std::string &version);

// A command of `program` (made by makeProgram) with its usage line, one-line brief and summary.
// Its options take the last of repeated values; unknown arguments are left for checkRemaining.
CLI::App *addCommand(CLI::App &program, const std::string &name, const std::string &usage, const std::string &brief,
                     const std::string &summary);

// Throws sde::Error for arguments `command` did not know: "unknown option --frob for 'info'
// (see sdestudio-cli info --help)" or "unexpected argument 'x' for 'info'".
void checkRemaining(const CLI::App &command);

// CLI11's parse error as one line naming the option: "option --config needs a value
// (NAME|FILE)", "--steps needs a whole number, not 'abc'", "'convert' needs --output (see
// sdestudio-cli convert --help)".
std::string parseErrorMessage(const CLI::ParseError &error, const CLI::App *command);

} // namespace sde::cli
