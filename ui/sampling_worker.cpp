#include "sampling_worker.h"

#include <QThread>

#include <spdlog/spdlog.h>

#include <chrono>

namespace sde::ui {

void SamplingWorker::cancel()
{
    cancel_.cancel();
}

void SamplingWorker::generate(const GenerationRequest &request)
{
    using Clock = std::chrono::steady_clock;
    cancel_.reset();
    // LibTorch's guards belong to the thread that runs the model.
    torch::NoGradGuard noGrad;
    const ScoreModel &model = *request.model;
    const bool points = model.config().isPointModel();
    auto toView = [&](const torch::Tensor &x) {
        torch::Tensor cpu = model.inverseScaler(x.detach()).to(torch::kCPU, torch::kFloat32);
        return points ? cpu.flatten(1) : cpu;
    };
    GenerationResult result;
    const auto started = Clock::now();
    auto lastProgress = Clock::now() - std::chrono::seconds(1);
    SamplerCallback onStep = [&](const SamplerStep &step) {
        const auto now = Clock::now();
        if (QThread::currentThread()->isInterruptionRequested())
            cancel_.cancel();
        const bool last = step.totalSteps > 0 && step.step == step.totalSteps;
        if (now - lastProgress > std::chrono::milliseconds(50) || last) {
            lastProgress = now;
            const double elapsed = std::chrono::duration<double>(now - started).count();
            const double eta = step.totalSteps > 0 && step.step > 0
                                   ? elapsed / step.step * static_cast<double>(step.totalSteps - step.step)
                                   : -1.0;
            Q_EMIT progress(step.step, step.totalSteps, step.nfe, eta);
        }
        if (step.step % std::max<int64_t>(1, request.frameEvery) == 0 || last || step.step == 1) {
            TrajectoryFrame frame;
            frame.step = step.step;
            frame.totalSteps = step.totalSteps;
            frame.t = step.t;
            frame.sigma = model.sde().marginalStd(torch::tensor({step.t}, torch::kFloat64)).item<double>();
            frame.x = toView(step.x);
            frame.denoised = toView(step.denoised());
            result.frames.push_back(frame);
            Q_EMIT frameReady(frame);
        }
    };
    try {
        SampleResult sampled = runSampler(model, request.settings, onStep, &cancel_);
        result.samples = sampled.samples.detach().to(torch::kCPU);
        result.nfe = sampled.nfe;
        result.steps = sampled.steps;
        result.completed = sampled.completed;
        result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
        spdlog::info("generated {} sample(s) in {:.1f} s, {} NFE{}", request.settings.batch, result.seconds, result.nfe,
                     result.completed ? "" : " (cancelled)");
        Q_EMIT finished(result);
    } catch (const c10::Error &e) {
        spdlog::error("sampling failed: {}", e.what_without_backtrace());
        Q_EMIT failed(QString::fromStdString(e.what_without_backtrace()));
    } catch (const std::exception &e) {
        spdlog::error("sampling failed: {}", e.what());
        Q_EMIT failed(QString::fromStdString(e.what()));
    }
}

} // namespace sde::ui
