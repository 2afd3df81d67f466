#pragma once

namespace sde::cli {

// `sdestudio-cli train --nproc N`: starts N ranks of this very command on this machine, as
// torchrun --standalone does, and waits for them. Each rank is this program run again with the
// same arguments but --nproc, and the standard environment of a data-parallel job: MASTER_ADDR
// 127.0.0.1, MASTER_PORT a free port, WORLD_SIZE N, RANK and LOCAL_RANK i, LOCAL_WORLD_SIZE N, and
// OMP_NUM_THREADS (cores / N, at least 1) unless set or --threads is given.
// When a rank fails, the others stop on their own (their collectives fail and name it); those
// still running 15 s later (waiting to meet it) are terminated. A rank killed by a signal is named
// on stderr ("rank 1 (pid 4242) was killed by signal 9 (Killed)"); one that failed printed its
// own error. SIGINT, SIGTERM and SIGHUP are passed on to every rank as SIGINT: the job stops after
// an agreed step with a checkpoint. Each rank gets kLauncherVariable (the launcher's pid), so that
// it ends with the launcher (PR_SET_PDEATHSIG), also when the launcher is killed.
// Returns the exit status: 0 when every rank finished, 130 when the job was stopped, else the
// first failed rank's status (1 for a signal).
// Throws sde::Error when the ranks cannot be started.
int launchLocalRanks(int count, bool threadsGiven);

// Set in the environment of the ranks launchLocalRanks starts: the launcher's pid.
constexpr const char *kLauncherVariable = "SDESTUDIO_LAUNCHER_PID";

} // namespace sde::cli
