#include "config/presets.h"
#include "util/error.h"
#include "util/files.h"

#include "test_support.h"

#include <QtTest/QtTest>

using namespace sde;

class TestConfig : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void readsFixtureConfig()
    {
        ModelConfig c = loadConfigFile(test::fixtureDir("ncsnpp_ve_small") + "/config.json");
        QCOMPARE(c.model.nf, int64_t(16));
        QCOMPARE(c.model.chMult, (std::vector<int64_t>{1, 2}));
        QCOMPARE(c.training.sde, std::string("vesde"));
        QCOMPARE(c.model.firKernel, (std::vector<double>{1, 3, 3, 1}));
        QCOMPARE(c.data.numChannels, int64_t(3));
        QCOMPARE(c.samplingEps(), 1e-5);
        QCOMPARE(c.architectureName(), std::string("NCSN++"));
    }

    void listsAllOfficialPresets()
    {
        std::vector<std::string> names = presetNames();
        QCOMPARE(names.size(), size_t(27));
        QVERIFY(std::find(names.begin(), names.end(), "vp/ddpm/cifar10") != names.end());
        ModelConfig ddpmpp = loadPreset("vp/cifar10_ddpmpp_continuous");
        QCOMPARE(ddpmpp.architectureName(), std::string("DDPM++"));
        QCOMPARE(ddpmpp.samplingEps(), 1e-3);
        QCOMPARE(loadPreset("vp/ddpm/cifar10").architectureName(), std::string("DDPM"));
    }

    void unknownPresetListsTheNames()
    {
        try {
            loadPreset("ve/no_such_config");
            QFAIL("expected an error");
        } catch (const Error &e) {
            QVERIFY(QString(e.what()).contains("no_such_config"));
            QVERIFY(QString(e.what()).contains("ve/cifar10_ncsnpp_continuous"));
        }
    }

    void roundTripsThroughJson()
    {
        ModelConfig c = loadPreset("subvp/cifar10_ncsnpp_deep_continuous");
        ModelConfig again = ModelConfig::fromJson(c.toJson());
        QCOMPARE(dumpJson(again.toJson()), dumpJson(c.toJson()));
        QCOMPARE(again.model.numResBlocks, int64_t(8));
    }

    void rejectsOutOfRangeValues_data()
    {
        QTest::addColumn<QString>("section");
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("value");
        QTest::newRow("negative nf") << "model"
                                     << "nf"
                                     << "-3";
        QTest::newRow("unknown sde") << "training"
                                     << "sde"
                                     << "\"foo\"";
        QTest::newRow("sigma_max below sigma_min") << "model"
                                                   << "sigma_max"
                                                   << "0.001";
        QTest::newRow("zero sigma_min") << "model"
                                        << "sigma_min"
                                        << "0";
        QTest::newRow("beta_max below beta_min") << "model"
                                                 << "beta_max"
                                                 << "0.05";
        QTest::newRow("one scale") << "model"
                                   << "num_scales"
                                   << "1";
        QTest::newRow("odd image size") << "data"
                                        << "image_size"
                                        << "15";
        QTest::newRow("dropout 1") << "model"
                                   << "dropout"
                                   << "1.0";
        QTest::newRow("unknown progressive") << "model"
                                             << "progressive"
                                             << "\"sideways\"";
        QTest::newRow("nf not a number") << "model"
                                         << "nf"
                                         << "\"wide\"";
        QTest::newRow("fractional nf") << "model"
                                       << "nf"
                                       << "16.5";
        QTest::newRow("zero fir sum") << "model"
                                      << "fir_kernel"
                                      << "[1, -1]";
    }

    void rejectsOutOfRangeValues()
    {
        QFETCH(QString, section);
        QFETCH(QString, key);
        QFETCH(QString, value);
        Json doc = parseJson(readFile(test::fixtureDir("ncsnpp_ve_small") + "/config.json"));
        doc[section.toStdString()][key.toStdString()] = parseJson(value.toStdString());
        try {
            ModelConfig::fromJson(doc);
            QFAIL("expected the config to be refused");
        } catch (const Error &e) {
            // The message names the offending key.
            QVERIFY2(QString(e.what()).contains(section + "." + key), e.what());
        }
    }

    // NCSN++ with positional embedding looks its sigma up at the time label, 999 t under the
    // continuous VP and the sub-VP SDE: fewer than 1000 scales are refused naming the key
    // (rather than an index error in the first training step); discrete VP labels t (N - 1).
    void positionalNcsnppNeedsAThousandScales()
    {
        for (const char *name : {"vp/cifar10_ddpmpp_continuous", "subvp/cifar10_ncsnpp_continuous"}) {
            ModelConfig config = loadPreset(name);
            config.validate();
            config.model.numScales = 999;
            try {
                config.validate();
                QFAIL(qPrintable(QString("%1 with 999 scales was accepted").arg(name)));
            } catch (const Error &e) {
                QVERIFY2(QString(e.what()).contains("model.num_scales"), e.what());
            }
        }
        ModelConfig discrete = loadPreset("vp/cifar10_ddpmpp");
        discrete.model.numScales = 50;
        discrete.validate();
    }

    void missingFileIsAClearError()
    {
        try {
            resolveConfig("/nonexistent/config.json");
            QFAIL("expected an error");
        } catch (const Error &e) {
            QVERIFY2(QString(e.what()).contains("/nonexistent/config.json"), e.what());
        }
    }

    // Issue 16: a config of 100,000 nested arrays, or one that sets a key twice, is an error
    // naming the file, not a crash or a silent choice of one value.
    void hostileConfigFilesAreClearErrors_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("message");
        QTest::newRow("100k arrays") << QByteArray(100000, '[')
                                     << "JSON parse error: arrays and objects nest deeper than 200 levels";
        QTest::newRow("100k objects") << QByteArray("{\"a\":").repeated(100000)
                                      << "JSON parse error: arrays and objects nest deeper than 200 levels";
        QTest::newRow("lr twice") << QByteArray(R"({"optim": {"lr": 0.001, "lr": -1}})")
                                  << "JSON parse error: the key \"lr\" appears twice in one object";
    }

    void hostileConfigFilesAreClearErrors()
    {
        QFETCH(QByteArray, text);
        QFETCH(QString, message);
        const std::string path = test::makeTempDir() + "/config.json";
        writeFileAtomically(path, text.toStdString());
        try {
            loadConfigFile(path);
            QFAIL("expected an error");
        } catch (const Error &e) {
            QCOMPARE(QString(e.what()), "config '" + QString::fromStdString(path) + "': " + message);
        }
    }
};

QTEST_GUILESS_MAIN(TestConfig)
#include "test_config.moc"
