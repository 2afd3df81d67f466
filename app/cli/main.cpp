// sdestudio-cli: the headless front end of the SDE Studio engine.
#include "commands.h"

#include "util/build_info.h"
#include "util/device.h"
#include "util/error.h"
#include "util/failure_message.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <iostream>
#include <map>

int main(int argc, char **argv)
{
    using namespace sde::cli;
    // Warnings go to stderr with the progress: stdout holds only results (the paths written).
    spdlog::set_default_logger(spdlog::stderr_color_mt("sdestudio-cli"));
    spdlog::set_pattern("%^%l%$: %v");
    std::unique_ptr<CLI::App> program =
        makeProgram("The headless front end of SDE Studio: score-based generative models through SDEs.",
                    std::string("sdestudio-cli ") + SDE_VERSION + " (LibTorch " + TORCH_VERSION + ")");
    const std::map<std::string, CommandRun> commands = {
        {"info", addInfoCommand(*program)},         {"convert", addConvertCommand(*program)},
        {"score", addScoreCommand(*program)},       {"sample", addSampleCommand(*program)},
        {"bpd", addBpdCommand(*program)},           {"inpaint", addInpaintCommand(*program)},
        {"colorize", addColorizeCommand(*program)}, {"interpolate", addInterpolateCommand(*program)},
        {"train", addTrainCommand(*program)},
    };
    if (argc < 2) {
        std::cout << program->help();
        return 2;
    }
    try {
        program->parse(argc, argv);
    } catch (const CLI::CallForHelp &) {
        std::cout << program->help(); // the chosen command's, if any
        return 0;
    } catch (const CLI::CallForVersion &version) {
        std::cout << version.what() << "\n";
        return 0;
    } catch (const CLI::ParseError &error) {
        const std::vector<CLI::App *> chosen = program->get_subcommands();
        if (chosen.empty()) {
            std::cerr << "error: unknown command '" << sde::printable(sde::quoted(argv[1])) << "'\n\n"
                      << program->help();
            return 2;
        }
        std::cerr << "error: " << sde::printable(parseErrorMessage(error, chosen.front())) << "\n";
        return 1;
    }
    const CLI::App &command = *program->get_subcommands().front();
    try {
        checkRemaining(command);
        sde::configureThreads();
        // Beside busy processes, the command's thread starts with its share (util/device.h).
        sde::takeStartShare();
        return commands.at(command.get_name())();
    } catch (const std::exception &e) {
        // Values taken from files (keys, paths, strings) are in the message: keep it one line.
        std::cerr << "error: " << sde::printable(sde::failureMessage(e)) << "\n";
    }
    return 1;
}
