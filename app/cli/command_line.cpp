#include "command_line.h"

#include "util/error.h"

#include <regex>
#include <sstream>

namespace sde::cli {

namespace {

constexpr const char *kProgram = "sdestudio-cli";

std::string seeHelp(const CLI::App &command)
{
    return std::string("see ") + kProgram + " " + command.get_name() + " --help";
}

} // namespace

HelpFormatter::HelpFormatter()
{
    column_width(30);
    label("Positionals", "Arguments");
}

void HelpFormatter::describe(const CLI::App *command, std::string usage, std::string brief)
{
    texts_[command] = {std::move(usage), std::move(brief)};
}

std::string HelpFormatter::make_help(const CLI::App *app, std::string name, CLI::AppFormatMode mode) const
{
    if (mode == CLI::AppFormatMode::Sub)
        return make_expanded(app);
    std::ostringstream out;
    out << make_usage(app, name) << "\n";
    if (!app->get_description().empty())
        out << app->get_description() << "\n";
    out << make_positionals(app) << make_groups(app, mode) << make_subcommands(app, mode);
    const std::string footer = make_footer(app);
    if (!footer.empty())
        out << "\n" << footer;
    return out.str();
}

std::string HelpFormatter::make_usage(const CLI::App *app, std::string name) const
{
    auto it = texts_.find(app);
    if (it == texts_.end())
        return CLI::Formatter::make_usage(app, name);
    return "Usage: " + name + " " + it->second.usage + "\n";
}

std::string HelpFormatter::make_subcommand(const CLI::App *sub) const
{
    // "bpd [IMAGE...]   bits/dim of images ...": the name, its arguments and the brief.
    std::string listing = sub->get_name();
    for (const CLI::Option *positional : sub->get_options([](const CLI::Option *o) { return o->get_positional(); }))
        listing += " " + make_option_usage(positional);
    auto it = texts_.find(sub);
    std::ostringstream out;
    CLI::detail::format_help(out, listing, it == texts_.end() ? sub->get_description() : it->second.brief,
                             get_column_width());
    return out.str();
}

std::string HelpFormatter::make_option_opts(const CLI::Option *option) const
{
    // An argument's line is its name and help: no type, and a missing one is reported anyway.
    return option->get_positional() ? std::string() : CLI::Formatter::make_option_opts(option);
}

std::unique_ptr<CLI::App> makeProgram(const std::string &summary, const std::string &version)
{
    auto program = std::make_unique<CLI::App>(summary, kProgram);
    auto formatter = std::make_shared<HelpFormatter>();
    formatter->describe(program.get(), "COMMAND [options]", "");
    program->formatter(formatter);
    program->set_help_flag("-h,--help", "show this help");
    program->set_version_flag("--version", version, "show the version and exit");
    program->require_subcommand(1, 1);
    program->footer(std::string("Run '") + kProgram + " COMMAND --help' for a command's options.");
    // As with most tools, the last of repeated options counts.
    program->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    return program;
}

CLI::App *addCommand(CLI::App &program, const std::string &name, const std::string &usage, const std::string &brief,
                     const std::string &summary)
{
    CLI::App *command = program.add_subcommand(name, summary);
    command->group("Commands");
    command->footer(""); // the program's footer is about choosing a command
    // Unknown arguments are reported by checkRemaining, in this tool's words.
    command->allow_extras();
    if (auto *formatter = dynamic_cast<HelpFormatter *>(program.get_formatter().get()))
        formatter->describe(command, usage, brief);
    return command;
}

void checkRemaining(const CLI::App &command)
{
    const std::vector<std::string> remaining = command.remaining();
    if (remaining.empty())
        return;
    const std::string &first = remaining.front();
    if (first.size() > 1 && first[0] == '-')
        throw Error("unknown option " + first.substr(0, first.find('=')) + " for '" + command.get_name() + "' (" +
                    seeHelp(command) + ")");
    throw Error("unexpected argument '" + first + "' for '" + command.get_name() + "' (" + seeHelp(command) + ")");
}

std::string parseErrorMessage(const CLI::ParseError &error, const CLI::App *command)
{
    const std::string message = error.what();
    std::smatch match;
    if (dynamic_cast<const CLI::RequiredError *>(&error)) {
        // "--output is required"
        static const std::regex required("^(.+) is required$");
        if (command && std::regex_match(message, match, required))
            return "'" + command->get_name() + "' needs " + match[1].str() + " (" + seeHelp(*command) + ")";
    } else if (dynamic_cast<const CLI::ArgumentMismatch *>(&error)) {
        // "--config: 1 required NAME|FILE missing": the value is missing at the end.
        static const std::regex missing("^(.+): [0-9]+ required (.*) missing$");
        if (std::regex_match(message, match, missing))
            return "option " + match[1].str() + " needs a value" +
                   (match[2].length() > 0 ? " (" + match[2].str() + ")" : std::string());
    } else if (dynamic_cast<const CLI::ValidationError *>(&error)) {
        // "--eta: must be between 0 and 1, not 1.5": our checks' messages follow the name.
        static const std::regex validation("^(-[^:]*): (.*)$");
        if (std::regex_match(message, match, validation))
            return match[1].str() + " " + match[2].str();
    }
    return message;
}

} // namespace sde::cli
