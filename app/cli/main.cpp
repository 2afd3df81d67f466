// sdestudio-cli: the headless front end of the SDE Studio engine.
#include "commands.h"

#include "util/build_info.h"
#include "util/device.h"
#include "util/error.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <functional>
#include <iostream>
#include <map>

namespace {

const char *kUsage = R"(Usage: sdestudio-cli COMMAND [options]

Commands:
  info FILE        describe a model file (.pth reference checkpoint or .safetensors)
  convert IN.pth   convert a reference checkpoint to a .safetensors model
  score            evaluate the score function s(x, t) on given tensors
  sample           generate images (PC sampler or probability-flow ODE)
  bpd IMAGE...     bits/dim of images through the probability-flow ODE
  inpaint          fill a masked region of an image
  colorize         colorize a gray image
  interpolate      interpolate between two images through the probability-flow ODE
  train            train a score model or a noise-conditional classifier

Run 'sdestudio-cli COMMAND --help' for a command's options.
)";

} // namespace

int main(int argc, char **argv)
{
    spdlog::set_pattern("%^%l%$: %v");
    const std::map<std::string, std::function<int(const std::vector<std::string> &)>> commands = {
        {"info", sde::cli::runInfo},
        {"convert", sde::cli::runConvert},
        {"score", sde::cli::runScore},
        {"sample", sde::cli::runSample},
        {"bpd", sde::cli::runBpd},
        {"inpaint", sde::cli::runInpaint},
        {"colorize", sde::cli::runColorize},
        {"interpolate", sde::cli::runInterpolate},
        {"train", sde::cli::runTrain},
    };
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        std::cout << kUsage;
        return argc < 2 ? 2 : 0;
    }
    const std::string name = argv[1];
    if (name == "--version") {
        std::cout << "sdestudio-cli " << SDE_VERSION << " (LibTorch " << TORCH_VERSION << ")\n";
        return 0;
    }
    auto command = commands.find(name);
    if (command == commands.end()) {
        std::cerr << "error: unknown command '" << name << "'\n\n" << kUsage;
        return 2;
    }
    try {
        sde::configureThreads();
        return command->second(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const sde::Error &e) {
        std::cerr << "error: " << e.what() << "\n";
    } catch (const c10::Error &e) {
        std::cerr << "error: " << e.what_without_backtrace() << "\n";
    } catch (const std::exception &e) {
        std::cerr << "error: " << e.what() << "\n";
    }
    return 1;
}
