#include "train/training_run.h"

#include "data/image_data.h"
#include "io/model_file.h"
#include "nets/score_network.h"
#include "util/error.h"
#include "util/files.h"

#include <torch/torch.h>

#include <filesystem>
#include <set>
#include <unistd.h>

namespace sde {

namespace {

const std::vector<std::string> kFashionMnistClasses = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// Where two model definitions differ, as "key.path is X in the run, Y here", key by key.
void collectDifferences(const Json &run, const Json &here, const std::string &path, std::vector<std::string> &out)
{
    const std::string where = path.empty() ? "the definition" : path;
    if (run.is_object() && here.is_object()) {
        for (const auto &[key, value] : run.items()) {
            const std::string child = path.empty() ? key : path + "." + key;
            if (const Json *other = json::find(here, key))
                collectDifferences(value, *other, child, out);
            else
                out.push_back(child + " is set in the run only");
        }
        for (const auto &[key, value] : here.items())
            if (!run.contains(key))
                out.push_back((path.empty() ? key : path + "." + key) + " is set here only");
        return;
    }
    if (run != here)
        out.push_back(where + " is " + dumpJson(run) + " in the run, " + dumpJson(here) + " here");
}

// A resumed run must go on with the model it was started with.
void checkSameModel(const TrainingTask &task, const CheckpointInfo &info, const std::string &path)
{
    if (info.kind != task.kind())
        throw Error(path + ": this checkpoint trains a " + info.kind + " model, not a " + task.kind() + " model");
    std::vector<std::string> differences;
    collectDifferences(task.normalizedDefinition(info.definition), task.definition(), "", differences);
    if (differences.empty())
        return;
    std::string list;
    for (size_t i = 0; i < differences.size() && i < 5; ++i)
        list += (i ? "; " : "") + differences[i];
    if (differences.size() > 5)
        list += "; and " + std::to_string(differences.size() - 5) + " more";
    throw Error(path + ": the run was started with another model definition (config): " + list +
                ". Resume it with the config it was started with, or train into a new folder");
}

// The files a run writes: those in its folder and in the folder's direct subfolders
// (checkpoints/, samples/), but the lock file.
std::set<std::string> filesOfRun(const std::string &folder)
{
    namespace fs = std::filesystem;
    std::set<std::string> files;
    std::error_code error;
    for (fs::recursive_directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
        if (it.depth() >= 1)
            it.disable_recursion_pending();
        if (it->is_regular_file(error) && !it->is_symlink(error) &&
            it->path().filename() != OutputFolder::kLockFileName)
            files.insert(it->path().string());
    }
    return files;
}

} // namespace

int64_t TrainingRun::batchSize() const
{
    return options.batchSize > 0 ? options.batchSize : config().training.batchSize;
}

std::string TrainingRun::modelDescription() const
{
    const ModelConfig &score = config();
    return (task->kind() == "classifier" ? std::string("noise-conditional classifier") : score.architectureName()) +
           ", " + score.sdeDescription();
}

TrainingResult TrainingRun::run(const TrainerCallbacks &callbacks, TrainingControl *control)
{
    // A new run that fails before its first checkpoint leaves nothing it wrote: what the folder
    // held before stays. (metrics.jsonl is the run's own: a new run replaces a stale one.)
    const bool fresh = !resumed && folder; // (a data-parallel rank other than 0 writes nothing)
    std::set<std::string> before;
    if (fresh)
        before = filesOfRun(options.outDir);
    before.erase((std::filesystem::path(options.outDir) / "metrics.jsonl").string());
    const auto removeWhatItWrote = [&]() -> size_t {
        if (!fresh || !listCheckpoints(options.outDir).empty())
            return 0;
        size_t removed = 0;
        for (const std::string &file : filesOfRun(options.outDir))
            if (!before.count(file) && ::unlink(file.c_str()) == 0)
                ++removed;
        return removed;
    };
    try {
        TrainingResult result = train(*task, *data, options, callbacks, control);
        if (result.outcome == TrainingOutcome::Diverged && result.checkpoint.empty()) {
            const size_t removed = removeWhatItWrote();
            if (removed > 0)
                result.message += "; the " + std::to_string(removed) + " file(s) it wrote were removed";
        }
        return result;
    } catch (const Error &e) {
        const size_t removed = removeWhatItWrote();
        if (removed == 0)
            throw;
        throw Error(std::string(e.what()) + "; the run wrote no checkpoint, and the " + std::to_string(removed) +
                    " file(s) it wrote were removed");
    } catch (...) {
        removeWhatItWrote();
        throw;
    }
}

TrainingRun prepareTrainingRun(const TrainingRunRequest &request)
{
    TrainingRun run;
    TrainerOptions &options = run.options;
    options = request.options;

    // The folder is locked before anything in it is read: a run still writing into it is
    // refused before its checkpoints are. The other ranks of a data-parallel job only read it
    // (rank 0 holds the lock and writes).
    if (options.outDir.empty())
        throw Error("training needs an output folder (--out)");
    const bool writer = !options.dataParallel || options.dataParallel->rank == 0;
    if (writer)
        run.folder = std::make_unique<OutputFolder>(options.outDir);

    // Fine-tuning starts a new score model run from a model file's weights.
    std::optional<LoadedModel> initial;
    if (request.initialWeights) {
        if (options.resume)
            throw Error("initial weights start a new run; a resumed run continues from its checkpoint");
        if (request.classifier)
            throw Error("initial weights are for a score model, not a classifier");
        initial = loadModelFile(*request.initialWeights);
    }

    if (options.resume) {
        const std::vector<std::string> checkpoints = listCheckpoints(options.outDir);
        if (checkpoints.empty())
            throw Error("nothing to resume: '" + options.outDir + "/checkpoints' holds no checkpoint");
        run.resumed = readCheckpointInfo(checkpoints.back());
    }

    // A resumed run keeps the precision it was trained in unless told otherwise.
    if (request.precision)
        options.precision = *request.precision;
    else if (run.resumed)
        options.precision = run.resumed->precision;
    else
        options.precision = EvaluationPrecision::Float32;
    if (const std::string reason = precisionUnsupportedReason(options.precision, options.device);
        !request.precision && !reason.empty())
        throw Error("the run in '" + options.outDir + "' was trained in " + precisionId(options.precision) +
                    ", which " + options.device.str() + " cannot go on in (" + reason +
                    "): resume it on a device that can, or with --precision float32");

    // The initial weights come from the seed too: the same request trains the same model.
    torch::manual_seed(options.seed);
    if (initial) {
        const ModelConfig &own = initial->model->config();
        const ModelConfig config = request.config ? *request.config : own;
        config.validate();
        const auto shape = [](const DataConfig &data) {
            return std::to_string(data.numChannels) + " x " + std::to_string(data.imageSize) + " x " +
                   std::to_string(data.imageSize);
        };
        if (shape(config.data) != shape(own.data))
            throw Error(*request.initialWeights + ": its model takes " + shape(own.data) + " data, the config " +
                        shape(config.data));
        run.task = std::make_unique<ScoreTrainingTask>(config);
        loadStateDictStrict(run.task->module(), stateDict(*initial->model->network()),
                            *request.initialWeights + " (initial weights for this config)");
    } else if (request.config) {
        request.config->validate();
        if (request.classifier) {
            ClassifierConfig classifier;
            classifier.scoreConfig = *request.config;
            classifier.nf = request.classifierWidth;
            if (request.data.rfind("fashion-mnist", 0) == 0)
                classifier.classNames = kFashionMnistClasses;
            run.task = std::make_unique<ClassifierTrainingTask>(classifier);
        } else {
            run.task = std::make_unique<ScoreTrainingTask>(*request.config);
        }
        if (run.resumed)
            checkSameModel(*run.task, *run.resumed, listCheckpoints(options.outDir).back());
    } else if (run.resumed) {
        run.task = taskForCheckpoint(*run.resumed);
    } else {
        throw Error("a new training run needs a model config (only a resumed run reads its model from its "
                    "checkpoint)");
    }

    const ModelConfig &config = run.task->config();
    if (options.batchSize == 0 && run.resumed)
        options.batchSize = run.resumed->batchSize;
    options.steps = request.steps.value_or(config.training.nIters);
    if (run.task->kind() == "classifier")
        options.exportName = "classifier.safetensors";
    run.data = openTrainingData(request.data, config);

    // Made through the folder, so that they are removed again when the run leaves them empty.
    if (run.folder) {
        run.folder->subfolder("checkpoints");
        if (options.snapshotEvery > 0)
            run.folder->subfolder("samples");
    }
    return run;
}

} // namespace sde
