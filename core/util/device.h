#pragma once

#include <torch/torch.h>

#include <string>

namespace sde {

// Parses a device name given by a user: "cpu", "cuda", "cuda:N" or "auto" (CUDA when present).
// Throws sde::Error when CUDA is asked for but this LibTorch build or machine has none. Handing
// out a CUDA device sets float32 math to exact and deterministic (configureCudaMath()).
torch::Device parseDevice(const std::string &name);

// The most intra-op threads SDE Studio asks LibTorch for: far more than any machine it runs on
// has, and few enough that starting them cannot hang the process (100000 did).
constexpr int kMostThreads = 256;

// Sets LibTorch's intra-op thread count once at start: `requested` when positive, else
// OMP_NUM_THREADS when set, else every hardware thread (Debian's LibTorch starts with one);
// at most kMostThreads. Returns the count in effect. It is also the budget that runs computing at
// once share (util/thread_share.h): a count that was neither requested nor set in OMP_NUM_THREADS
// is shared with other busy processes too, whose load is read from the process's start on.
int configureThreads(int requested = 0);

// After configureThreads, sets the process's count (this thread's and the default of threads that
// start LibTorch work later) to one run's share of the cores now: the budget less the cores other
// processes kept busy since the process started. For a program whose work runs on one thread (the
// CLI): the work before its run (loading the model, many small parallel regions each waiting for a
// thread that has no core beside a busy process) and a run that takes no share of its own
// (likelihood, interpolation) then use the share the process started with; a run that does takes
// more as the load drops. Not for the studio, whose other threads would keep the start's share.
// Returns the count in effect.
int takeStartShare();

// Makes the calling thread run its LibTorch operations on one thread; threads started later, and
// those already set up, keep the count configureThreads set. For a GUI thread, after
// configureThreads: its small tensor operations (image conversions) would otherwise keep an
// OpenMP team of their own beside a worker's, and libgomp, managing more threads than there are
// cores, stops spinning between parallel regions, so every region of the worker's run waits on
// futex wake-ups (the studio's first grid took 3.5 s instead of 2.4 s on a two-core machine:
// bench_first_grid). Call it at start, before other threads run LibTorch work: one whose first
// parallel call falls in between keeps one thread. Returns the count other threads keep.
int runThisThreadSerially();

} // namespace sde
