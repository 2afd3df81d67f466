// Reading the reference's .pth checkpoints without Python, and refusing bad files clearly.
#include "config/presets.h"
#include "io/model_file.h"
#include "io/torch_checkpoint.h"
#include "nets/layers.h"
#include "util/error.h"
#include "util/files.h"

#include "test_support.h"

#include <caffe2/serialize/inline_container.h>

#include <QtTest/QtTest>

using namespace sde;

namespace {

std::string fixtureCheckpoint()
{
    return test::fixtureDir("ncsnpp_ve_small") + "/checkpoint.pth";
}
std::string fixtureConfig()
{
    return test::fixtureDir("ncsnpp_ve_small") + "/config.json";
}

// A zip archive in torch.save's layout whose data.pkl is the given pickle.
std::string writeArchive(const std::string &pickle)
{
    const std::string path = test::makeTempDir() + "/crafted.pth";
    caffe2::serialize::PyTorchStreamWriter writer(path);
    writer.writeRecord("data.pkl", pickle.data(), pickle.size());
    writer.writeEndOfFile();
    return path;
}

void expectError(const std::string &path, const QStringList &fragments, const LoadOptions &options = {})
{
    try {
        loadModelFile(path, options);
        QFAIL("loading should have failed");
    } catch (const Error &e) {
        for (const QString &fragment : fragments)
            QVERIFY2(QString(e.what()).contains(fragment), e.what());
    }
}

} // namespace

class TestCheckpoint : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void readsReferenceCheckpoint()
    {
        TorchCheckpoint checkpoint = readTorchCheckpoint(fixtureCheckpoint());
        QCOMPARE(checkpoint.step, int64_t(2));
        QVERIFY(checkpoint.hasEma);
        QCOMPARE(checkpoint.emaDecay, 0.999);
        QVERIFY(checkpoint.optimizer != nullptr);
        QCOMPARE(checkpoint.model.front().first, std::string("module.sigmas"));
        QCOMPARE(checkpoint.model.front().second.scalar_type(), torch::kFloat64);
        // Every trainable parameter has an EMA copy; the fixed Fourier W and the sigmas do not.
        QCOMPARE(checkpoint.shadowParams.size(), checkpoint.model.size() - 2);
        // Adam's moments after two steps are there too.
        PyRef state = checkpoint.optimizer->get("state");
        QVERIFY(state && state->kind == PyValue::Kind::Dict && !state->dict.empty());
        QVERIFY(state->dict.front().second->get("exp_avg") != nullptr);
    }

    void guessesPresetsFromLayout()
    {
        ModelConfig config = loadPreset("vp/cifar10_ddpmpp_continuous");
        LayoutOnlyScope layoutOnly;
        ScoreNetwork network = createScoreNetwork(config);
        std::vector<std::string> matches = presetsMatchingLayout(stateDict(*network));
        QVERIFY(std::find(matches.begin(), matches.end(), "vp/cifar10_ddpmpp_continuous") != matches.end());
        QVERIFY(std::find(matches.begin(), matches.end(), "subvp/cifar10_ddpmpp_continuous") != matches.end());
        QVERIFY(std::find(matches.begin(), matches.end(), "ve/cifar10_ncsnpp_continuous") == matches.end());
        QVERIFY(std::find(matches.begin(), matches.end(), "vp/cifar10_ddpmpp_deep_continuous") == matches.end());
    }

    void fixtureMatchesNoPreset()
    {
        // The fixture is a small custom config; guessing must say so rather than pick a wrong one.
        expectError(fixtureCheckpoint(), {"no preset", "--config"});
    }

    void missingFile() { expectError("/nonexistent/model.pth", {"/nonexistent/model.pth"}); }

    void emptyFile()
    {
        const std::string path = test::makeTempDir() + "/empty.pth";
        writeFileAtomically(path, "");
        expectError(path, {path.c_str(), "empty"});
    }

    void truncatedFile()
    {
        const std::string bytes = readFile(fixtureCheckpoint());
        const std::string path = test::makeTempDir() + "/truncated.pth";
        writeFileAtomically(path, bytes.substr(0, bytes.size() / 2));
        LoadOptions options;
        options.config = fixtureConfig();
        expectError(path, {path.c_str()}, options);
    }

    void corruptedBytes()
    {
        std::string bytes = readFile(fixtureCheckpoint());
        for (size_t i = 200; i < bytes.size(); i += 997)
            bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
        const std::string path = test::makeTempDir() + "/corrupt.pth";
        writeFileAtomically(path, bytes);
        LoadOptions options;
        options.config = fixtureConfig();
        expectError(path, {path.c_str()}, options);
    }

    void notAnArchive()
    {
        const std::string path = test::makeTempDir() + "/text.pth";
        writeFileAtomically(path, "this is not a checkpoint at all");
        expectError(path, {"not a PyTorch checkpoint"});
    }

    void refusesForeignPickle_data()
    {
        QTest::addColumn<QByteArray>("pickle");
        QTest::addColumn<QString>("named");
        // {'model': os.system('ls')} as protocol 2
        QTest::newRow("os.system")
            << QByteArray::fromHex(
                   "80027d710058050000006d6f64656c7101636f730a73797374656d0a710258020000006c737103857104527105732e")
            << "os.system";
        // builtins.eval via STACK_GLOBAL (protocol 4)
        QTest::newRow("builtins.eval") << QByteArray::fromHex("80048c086275696c74696e738c046576616c938c013185522e")
                                       << "builtins.eval";
        // An object constructed with NEWOBJ from an allowed global is still refused.
        QTest::newRow("newobj") << QByteArray::fromHex("800263636f6c6c656374696f6e730a4f726465726564446963740a29812e")
                                << "construct";
    }

    void refusesForeignPickle()
    {
        QFETCH(QByteArray, pickle);
        QFETCH(QString, named);
        const std::string path = writeArchive(pickle.toStdString());
        expectError(path, {"refusing", named});
    }

    void refusesMalformedPickle()
    {
        // Truncated in the middle of a string, and a stack underflow.
        for (const std::string &pickle :
             {std::string("\x80\x02X\xff\x00\x00\x00abc", 10), std::string("\x80\x02s.", 4)}) {
            const std::string path = writeArchive(pickle);
            expectError(path, {path.c_str()});
        }
    }

    void wrongConfigNamesTheKeys()
    {
        LoadOptions options;
        options.config = test::fixtureDir("ddpmpp_vp_small") + "/config.json";
        expectError(fixtureCheckpoint(), {"missing keys", "unexpected keys", "shape mismatches", "all_modules"},
                    options);
    }

    void rawWeightsDifferFromEma()
    {
        LoadOptions options;
        options.config = fixtureConfig();
        LoadedModel ema = loadModelFile(fixtureCheckpoint(), options);
        options.weights = WeightSet::Raw;
        LoadedModel raw = loadModelFile(fixtureCheckpoint(), options);
        QCOMPARE(raw.info.loadedWeights, std::string("raw"));
        auto emaParams = ema.model->network()->named_parameters();
        auto rawParams = raw.model->network()->named_parameters();
        // The fixed Fourier W has no EMA copy and equals the raw one; trainable weights differ.
        QVERIFY(torch::equal(emaParams["all_modules.0.W"], rawParams["all_modules.0.W"]));
        QVERIFY(!torch::equal(emaParams["all_modules.1.weight"], rawParams["all_modules.1.weight"]));
    }
};

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "test_checkpoint.moc"
