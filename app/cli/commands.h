#pragma once

#include "command_line.h"

namespace sde::cli {

// Each adds its command to the program (makeProgram) with the options bound to state of its own,
// and returns what runs it once the command line has been parsed.
CommandRun addInfoCommand(CLI::App &program);
CommandRun addConvertCommand(CLI::App &program);
CommandRun addScoreCommand(CLI::App &program);
CommandRun addSampleCommand(CLI::App &program);
CommandRun addBpdCommand(CLI::App &program);
CommandRun addInpaintCommand(CLI::App &program);
CommandRun addColorizeCommand(CLI::App &program);
CommandRun addInterpolateCommand(CLI::App &program);
CommandRun addTrainCommand(CLI::App &program);

} // namespace sde::cli
