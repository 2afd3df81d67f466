#pragma once

#include <chrono>

namespace sde::cli {

// `sdestudio-cli train --nproc N`: starts N ranks of this very command on this machine, as
// torchrun --standalone does, and waits for them. Each rank is this program run again with the
// same arguments but --nproc, and the standard environment of a data-parallel job: MASTER_ADDR
// 127.0.0.1, MASTER_PORT a free port, WORLD_SIZE N, RANK and LOCAL_RANK i, LOCAL_WORLD_SIZE N, and
// OMP_NUM_THREADS (cores / N, at least 1) unless set or --threads is given.
// When a rank fails, the others stop on their own (their collectives fail and name it); the ones
// still running after `timeout` and a grace period are terminated. A rank killed by a signal is
// named on stderr ("rank 1 (pid 4242) was killed by signal 9 (Killed)"); one that failed printed
// its own error.
// Returns the exit status: 0 when every rank finished, 130 when the job was stopped (Ctrl+C
// reaches every rank), else the first failed rank's status (1 for a signal).
// Throws sde::Error when the ranks cannot be started.
int launchLocalRanks(int count, bool threadsGiven, std::chrono::seconds timeout);

} // namespace sde::cli
