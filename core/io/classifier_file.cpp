#include "io/classifier_file.h"

#include "io/bundled_models.h"
#include "io/file_kind.h"
#include "io/model_file.h"
#include "io/safetensors.h"
#include "nets/layers.h"
#include "nets/score_network.h"
#include "util/error.h"

namespace sde {

namespace {
constexpr const char *kClassifierFormat = "sdestudio-classifier";
}

LoadedClassifier loadClassifierFile(const std::string &nameOrPath, torch::Device device)
{
    const std::string path = resolveModelPath(nameOrPath);
    const FileKind kind = fileKindOfFile(path);
    if (kind != FileKind::Safetensors && kind != FileKind::Unknown)
        throw Error("'" + path + "' is " + fileKindName(kind) +
                    ", not a classifier file (expected an SDE Studio classifier, a .safetensors file)");
    SafetensorsFile file = readSafetensors(path);
    auto format = file.metadata.find("format");
    if (format == file.metadata.end() || format->second != kClassifierFormat)
        throw Error(path + ": not an SDE Studio classifier (its metadata has no \"format\": \"" + kClassifierFormat +
                    "\")");
    requireKnownFormatVersion(file.metadata, path);
    metadataChoice(file.metadata, "storage", {"float32", "float16"}, "float32", path);
    auto stored = file.metadata.find("classifier");
    if (stored == file.metadata.end())
        throw Error(path + ": the classifier's config is missing from its metadata");
    ClassifierConfig config;
    try {
        config = ClassifierConfig::fromJson(parseJson(stored->second));
    } catch (const Error &e) {
        throw Error(path + ": the classifier config in its metadata is invalid: " + e.what());
    }
    // Its size and the fit of its weights are checked on a layout-only build (meta tensors) first:
    // a small file whose config describes a network of gigabytes allocates nothing.
    {
        LayoutOnlyScope layoutOnly;
        NoiseConditionalClassifier layout(config);
        const int64_t count = parameterCount(*layout);
        if (count > kMostNetworkParameters)
            throw Error(path + ": the classifier in its metadata would hold " + std::to_string(count) +
                        " parameters; at most " + std::to_string(kMostNetworkParameters) +
                        " are allowed (nf, ch_mult and num_res_blocks set its size)");
        requireWeightsFit(*layout, file.tensors, path);
    }
    LoadedClassifier loaded;
    loaded.network = NoiseConditionalClassifier(config);
    loadStateDictStrict(*loaded.network, file.tensors, path);
    loaded.network->eval();
    loaded.network->to(device);
    loaded.metadata = file.metadata;
    return loaded;
}

void saveClassifierFile(const std::string &path, NoiseConditionalClassifierImpl &network,
                        const std::map<std::string, std::string> &extraMetadata, bool halfPrecision)
{
    std::map<std::string, std::string> metadata = extraMetadata;
    metadata["format"] = kClassifierFormat;
    metadata["format_version"] = kFormatVersion;
    metadata["classifier"] = dumpJson(network.config().toJson());
    auto tensors = stateDict(network);
    if (halfPrecision) {
        metadata["storage"] = "float16";
        convertFloat32ToFloat16(tensors);
    }
    writeSafetensors(path, tensors, metadata);
}

} // namespace sde
