// Every official config builds a network whose state dict is exactly the reference's: the same
// keys in the same order, shapes, dtypes and parameter count (layouts recorded from the reference).
#include "config/presets.h"
#include "io/bundled_models.h"
#include "io/classifier_file.h"
#include "io/model_file.h"
#include "io/safetensors.h"
#include "nets/score_network.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json_fields.h"

#include "test_support.h"

#include <QDirIterator>
#include <QtTest/QtTest>
#include <sys/resource.h>

using namespace sde;

namespace {

std::string dtypeName(torch::Dtype dtype)
{
    switch (dtype) {
    case torch::kFloat32:
        return "float32";
    case torch::kFloat64:
        return "float64";
    default:
        return c10::toString(dtype);
    }
}

} // namespace

class TestLayouts : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // A model is named by its folder when its weights have the generic names of a bundled model
    // or a training run's export, else by its file (modelName, from the path alone).
    void modelName_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("name");
        QTest::newRow("bundled") << "/usr/share/sdestudio/bundled/fashion-mnist/model.safetensors"
                                 << "fashion-mnist";
        QTest::newRow("bundled classifier") << "models/bundled/fashion-mnist-classifier/classifier.safetensors"
                                            << "fashion-mnist-classifier";
        QTest::newRow("a training run's export") << "/home/me/runs/dresses/model.safetensors"
                                                 << "dresses";
        QTest::newRow("a trailing dot") << "/home/me/runs/dresses/./model.safetensors"
                                        << "dresses";
        QTest::newRow("a checkpoint") << "/data/vp/cifar10_ddpmpp_continuous/checkpoint_8.pth"
                                      << "checkpoint_8.pth";
        QTest::newRow("another file name") << "/tmp/mine.safetensors"
                                           << "mine.safetensors";
        QTest::newRow("no folder") << "model.safetensors"
                                   << "model.safetensors";
    }
    void modelName()
    {
        QFETCH(QString, path);
        QFETCH(QString, name);
        QCOMPARE(QString::fromStdString(sde::modelName(path.toStdString())), name);
    }

    void matchesReferenceLayout_data()
    {
        QTest::addColumn<QString>("name");
        const QString root = QString::fromStdString(test::dataDir() + "/reference/layouts");
        QDirIterator it(root, {"*.json"}, QDir::Files, QDirIterator::Subdirectories);
        QStringList names;
        while (it.hasNext()) {
            QString path = it.next();
            names << path.mid(root.size() + 1).chopped(5);
        }
        names.sort();
        QCOMPARE(names.size(), 27);
        for (const QString &name : names)
            QTest::newRow(qPrintable(name)) << name;
    }

    void matchesReferenceLayout()
    {
        QFETCH(QString, name);
        Json reference = parseJson(readFile(test::dataDir() + "/reference/layouts/" + name.toStdString() + ".json"));
        ModelConfig config = loadPreset(name.toStdString());
        int64_t parameters = 0;
        std::vector<TensorLayout> layout = networkLayout(config, &parameters);

        const Json &expected = reference.at("state_dict");
        QCOMPARE(layout.size(), expected.size());
        size_t i = 0;
        for (const auto &[name, entry] : expected.items()) {
            const std::string key = name.substr(std::string("module.").size());
            QVERIFY2(layout[i].name == key, qPrintable(QString("entry %1: %2, reference %3")
                                                           .arg(i)
                                                           .arg(QString::fromStdString(layout[i].name))
                                                           .arg(QString::fromStdString(key))));
            std::vector<int64_t> shape;
            for (const Json &d : entry.at("shape"))
                shape.push_back(d.get<int64_t>());
            QVERIFY2(layout[i].shape == shape, qPrintable(QString::fromStdString(key + ": shape differs")));
            QCOMPARE(dtypeName(layout[i].dtype), entry.at("dtype").get<std::string>());
            ++i;
        }
        QCOMPARE(parameters, reference.at("parameters").get<int64_t>());
    }

    // Issue 16: a config whose fields are each within their ranges but together describe a network
    // of 527 billion parameters is refused, from the config file, before any weight is allocated
    // (the layout-only build holds no memory). The largest official config is within the bound.
    void networkBeyondTheBoundIsRefused()
    {
        const std::string path = test::dataDir() + "/hostile/cfg_fmnist_giant_network.json";
        const std::string bound = "; at most 1000000000 are allowed (model.nf, model.ch_mult and "
                                  "model.num_res_blocks set its size)";
        try {
            loadConfigFile(path);
            QFAIL("expected an error");
        } catch (const Error &e) {
            QCOMPARE(std::string(e.what()), "config '" + path +
                                                "': the network would hold 526797221889 parameters (2107 GB of "
                                                "float32 weights)" +
                                                bound);
        }
        ModelConfig giant = ModelConfig::fromJson(parseJson(readFile(path)));
        giant.model.nf = 384;
        giant.model.numResBlocks = 13; // 1.03 billion parameters
        try {
            createScoreNetwork(giant);
            QFAIL("expected an error");
        } catch (const Error &e) {
            QCOMPARE(std::string(e.what()),
                     "the network would hold 1028176897 parameters (4 GB of float32 weights)" + bound);
        }
        giant.model.numResBlocks = 12; // 0.96 billion: only its layout is built here
        int64_t parameters = 0;
        networkLayout(giant, &parameters);
        QCOMPARE(parameters, int64_t(957508225));
        requireNetworkWithinSize(giant);
        requireNetworkWithinSize(loadPreset("ve/cifar10_ncsnpp_deep_continuous"));
    }

    // Issue 16: a file of a few kB whose config describes a network of gigabytes is refused before
    // the network is allocated: its weights are matched against a layout-only build first (a
    // 2 kB model file with nf 896 took 5.3 GB, a classifier with nf 1024 and 16 res blocks 14 GB).
    void smallFilesCannotAskForHugeNetworks()
    {
        const auto peakRssMiB = [] {
            rusage usage{};
            getrusage(RUSAGE_SELF, &usage);
            return usage.ru_maxrss / 1024;
        };
        const long before = peakRssMiB();
        const std::string dir = test::makeTempDir();

        const SafetensorsFile model = readSafetensors(resolveModelPath("fashion-mnist"));
        std::map<std::string, std::string> metadata = model.metadata;
        Json config = parseJson(metadata.at("config"));
        config["model"]["nf"] = 896;
        metadata["config"] = dumpJson(config);
        const std::string empty = dir + "/nf896-no-weights.safetensors";
        writeSafetensors(empty, {}, metadata);
        QString message;
        try {
            loadModelFile(empty);
        } catch (const Error &e) {
            message = e.what();
        }
        QVERIFY2(
            message.startsWith(QString::fromStdString(empty) + ": the weights do not fit the network of this config: "),
            qPrintable(message));

        const SafetensorsFile classifier = readSafetensors(resolveModelPath("fashion-mnist-classifier"));
        metadata = classifier.metadata;
        Json definition = parseJson(metadata.at("classifier"));
        definition["nf"] = 1024;
        definition["ch_mult"] = std::vector<int64_t>{16, 16, 16};
        definition["num_res_blocks"] = 16;
        metadata["classifier"] = dumpJson(definition);
        const std::string giant = dir + "/giant-classifier.safetensors";
        writeSafetensors(giant, classifier.tensors, metadata);
        message.clear();
        try {
            loadClassifierFile(giant);
        } catch (const Error &e) {
            message = e.what();
        }
        QVERIFY2(message.startsWith(QString::fromStdString(giant) + ": the classifier in its metadata would hold ") &&
                     message.endsWith(" parameters; at most 1000000000 are allowed (nf, ch_mult and num_res_blocks "
                                      "set its size)"),
                 qPrintable(message));
        // The bundled classifier's own weights load.
        loadClassifierFile(resolveModelPath("fashion-mnist-classifier"));
        QVERIFY2(peakRssMiB() - before < 256, std::to_string(peakRssMiB() - before).c_str());
    }
};

QTEST_GUILESS_MAIN(TestLayouts)
#include "test_layouts.moc"
