#include "config/presets.h"
#include "nets/score_network.h"
#include "util/error.h"
#include "util/files.h"

#include "error_of.h"
#include "test_support.h"

#include <QtTest/QtTest>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <limits>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace sde;
using sde::test::errorOf;

namespace {

// The message with which the small VE fixture's config is refused once `section.key` is set to
// `value` (JSON text); empty when it is taken.
QString refusalWith(const QString &section, const QString &key, const QString &value)
{
    Json doc = parseJson(readFile(test::fixtureDir("ncsnpp_ve_small") + "/config.json"));
    doc[section.toStdString()][key.toStdString()] = parseJson(value.toStdString());
    try {
        ModelConfig::fromJson(doc);
    } catch (const Error &e) {
        return QString(e.what());
    }
    return {};
}

// What spdlog logs (message text only) while `run` runs.
std::vector<std::string> logDuring(const std::function<void()> &run)
{
    auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
    sink->set_pattern("%v");
    const std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
    struct Restore {
        std::shared_ptr<spdlog::logger> logger;
        ~Restore() { spdlog::set_default_logger(logger); }
    } restore{previous};
    run();
    std::vector<std::string> lines = sink->last_formatted();
    for (std::string &line : lines)
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
            line.pop_back();
    return lines;
}

} // namespace

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

    void unknownPresetNamesTheNearest_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("nearest"); // empty: none is near enough to be a slip
        QTest::newRow("one letter off") << "ve/cifar10_ncsnpp_continous"
                                        << "ve/cifar10_ncsnpp_continuous";
        QTest::newRow("wrong folder") << "ve/ddpm/cifar10"
                                      << "vp/ddpm/cifar10";
        QTest::newRow("far from all") << "ve/no_such_config"
                                      << "";
    }
    void unknownPresetNamesTheNearest()
    {
        QFETCH(QString, name);
        QFETCH(QString, nearest);
        // One line: the nearest name and the folder that holds them all, not one line per preset.
        const QString hint = nearest.isEmpty() ? QString() : "; the nearest is \"" + nearest + "\"";
        QCOMPARE(errorOf([&] { loadPreset(name.toStdString()); }),
                 "unknown preset \"" + name + "\"" + hint + "; the " + QString::number(presetNames().size()) +
                     " presets are the .json files under '" + QString::fromStdString(presetsDir()) +
                     "', named by their path without .json");
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
        const QString message = refusalWith(section, key, value);
        QVERIFY2(!message.isEmpty(), "expected the config to be refused");
        // The message names the offending key.
        QVERIFY2(message.contains(section + "." + key), qPrintable(message));
    }

    // Every numeric field of the training and optim sections has a range (model_config.h); a
    // value outside is refused before training, with the key, the value and the rule.
    void rejectsOutOfRangeTrainingValues_data()
    {
        QTest::addColumn<QString>("section");
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("message");
        const QString lr = "the learning rate must be positive, at most 1";
        const QString steps = "must be between 1 and 1000000000000000000";
        struct Row {
            const char *name, *section, *key, *value;
            QString rule;
        };
        const Row rows[] = {
            // cfg_toy_negative_lr.json trained by gradient ascent to a loss of 3e19.
            {"negative lr", "optim", "lr", "-0.001", lr},
            {"zero lr", "optim", "lr", "0", lr},
            {"lr above 1", "optim", "lr", "2", lr},
            {"beta1 1", "optim", "beta1", "1", "must be in [0, 1)"},
            {"negative beta1", "optim", "beta1", "-0.1", "must be in [0, 1)"},
            {"zero eps", "optim", "eps", "0", "must be positive, at most 1"},
            {"eps above 1", "optim", "eps", "10", "must be positive, at most 1"},
            {"negative weight decay", "optim", "weight_decay", "-0.01", "must be between 0 and 1"},
            {"weight decay above 1", "optim", "weight_decay", "1.5", "must be between 0 and 1"},
            {"negative warmup", "optim", "warmup", "-1", "must be between 0 and 1000000000000000000"},
            {"another optimizer", "optim", "optimizer", "\"SGD\"", "must be one of Adam"},
            {"zero batch", "training", "batch_size", "0", "must be between 1 and 65536"},
            {"batch above the limit", "training", "batch_size", "65537", "must be between 1 and 65536"},
            {"zero n_iters", "training", "n_iters", "0", steps},
            {"negative n_iters", "training", "n_iters", "-5", steps},
            {"zero log_freq", "training", "log_freq", "0", steps},
            {"zero eval_freq", "training", "eval_freq", "0", steps},
            {"negative snapshot_freq", "training", "snapshot_freq", "-50000", steps},
            {"zero snapshot_freq_for_preemption", "training", "snapshot_freq_for_preemption", "0", steps},
            {"negative ema rate", "model", "ema_rate", "-0.5", "must be in [0, 1)"},
            {"ema rate 1", "model", "ema_rate", "1", "must be in [0, 1)"},
            {"negative init_scale", "model", "init_scale", "-1", "must be 0 or positive"},
            // The corrector's --snr takes (0, 100]; a config beyond it was refused only when sampling,
            // and in the name of an option nobody gave.
            {"zero snr", "sampling", "snr", "0", "must be in (0, 100]"},
            {"snr above 100", "sampling", "snr", "500", "must be in (0, 100]"},
        };
        for (const Row &row : rows)
            QTest::newRow(row.name)
                << row.section << row.key << row.value
                << QString("config key %1.%2 = %3 is out of range: %4").arg(row.section, row.key, row.value, row.rule);
    }
    void rejectsOutOfRangeTrainingValues()
    {
        QFETCH(QString, section);
        QFETCH(QString, key);
        QFETCH(QString, value);
        QFETCH(QString, message);
        QCOMPARE(refusalWith(section, key, value), message);
    }

    // The ends of each range are valid, and so is a negative grad_clip (the reference's "no
    // clipping").
    void acceptsTrainingValuesAtTheirLimits()
    {
        ModelConfig c = loadConfigFile(test::fixtureDir("ncsnpp_ve_small") + "/config.json");
        c.optim.lr = 1.0;
        c.optim.beta1 = 0.0;
        c.optim.eps = 1.0;
        c.optim.weightDecay = 1.0;
        c.optim.warmup = 0;
        c.optim.gradClip = -1.0;
        c.training.batchSize = kMostTrainingBatch;
        c.training.nIters = kMostTrainingSteps;
        c.model.emaRate = 0.0;
        c.validate();
        c.optim.lr = 1e-12;
        c.training.batchSize = 1;
        c.training.nIters = 1;
        c.validate();
    }

    // NaN and infinity (which JSON cannot carry but a caller's struct can) are refused too.
    void rejectsNonFiniteTrainingValues()
    {
        const ModelConfig base = loadConfigFile(test::fixtureDir("ncsnpp_ve_small") + "/config.json");
        const double nan = std::numeric_limits<double>::quiet_NaN();
        const double inf = std::numeric_limits<double>::infinity();
        const std::vector<std::pair<std::string, std::function<void(ModelConfig &)>>> cases = {
            {"optim.lr = nan", [&](ModelConfig &c) { c.optim.lr = nan; }},
            {"optim.beta1 = nan", [&](ModelConfig &c) { c.optim.beta1 = nan; }},
            {"optim.eps = nan", [&](ModelConfig &c) { c.optim.eps = nan; }},
            {"optim.weight_decay = nan", [&](ModelConfig &c) { c.optim.weightDecay = nan; }},
            {"optim.grad_clip = nan", [&](ModelConfig &c) { c.optim.gradClip = nan; }},
            {"optim.grad_clip = inf", [&](ModelConfig &c) { c.optim.gradClip = inf; }},
            {"model.ema_rate = nan", [&](ModelConfig &c) { c.model.emaRate = nan; }},
            {"model.dropout = nan", [&](ModelConfig &c) { c.model.dropout = nan; }},
            {"model.init_scale = inf", [&](ModelConfig &c) { c.model.initScale = inf; }},
        };
        for (const auto &[what, apply] : cases) {
            ModelConfig c = base;
            apply(c);
            try {
                c.validate();
                QFAIL(qPrintable(QString::fromStdString(what) + " was accepted"));
            } catch (const Error &e) {
                QVERIFY2(
                    QString(e.what()).startsWith(QString::fromStdString("config key " + what + " is out of range")),
                    e.what());
            }
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

    // Issue 16: keys whose value the networks could not honour are refused with the exact rule, not
    // silently given the usual network (conv_size, normalization, an attention resolution the
    // network never reaches) or left to fail inside LibTorch (GroupNorm channels).
    void valuesTheNetworkCannotHonourAreRefused_data()
    {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("message");
        QTest::newRow("conv_size 5") << "conv_size"
                                     << "5"
                                     << "config key model.conv_size = 5 is out of range: must be 3 (NCSN++, DDPM++ "
                                        "and DDPM use 3 x 3 convolutions, as in the reference)";
        QTest::newRow("normalization") << "normalization"
                                       << "\"InstanceNorm++\""
                                       << "config key model.normalization = \"instancenorm++\" is out of range: must "
                                          "be one of groupnorm";
        QTest::newRow("attention at 7") << "attn_resolutions"
                                        << "[8, 7]"
                                        << "config key model.attn_resolutions = 7 is out of range: each must be a "
                                           "resolution the network has (16, 8)";
        QTest::newRow("attention at 32") << "attn_resolutions"
                                         << "[32]"
                                         << "config key model.attn_resolutions = 32 is out of range: each must be a "
                                            "resolution the network has (16, 8)";
        QTest::newRow("nf 13") << "nf"
                               << "13"
                               << "config key model.nf = 13 is out of range: with this ch_mult the network has a "
                                  "layer of 13 channels, which 3 GroupNorm groups do not divide (an nf that is a "
                                  "multiple of 32 always works)";
        QTest::newRow("nf 132") << "nf"
                                << "132"
                                << "config key model.nf = 132 is out of range: with this ch_mult the network has a "
                                   "layer of 132 channels, which 32 GroupNorm groups do not divide (an nf that is a "
                                   "multiple of 32 always works)";
        QTest::newRow("sigma_max 1e300") << "sigma_max"
                                         << "1e300"
                                         << "config key model.sigma_max = 1e+300 is out of range: must be at most "
                                            "1e+06";
        QTest::newRow("nf 12 builds") << "nf"
                                      << "12"
                                      << "no error";
    }

    void valuesTheNetworkCannotHonourAreRefused()
    {
        QFETCH(QString, key);
        QFETCH(QString, value);
        QFETCH(QString, message);
        Json doc = parseJson(readFile(test::fixtureDir("ncsnpp_ve_small") + "/config.json"));
        doc["model"][key.toStdString()] = parseJson(value.toStdString());
        QCOMPARE(errorOf([&] { requireNetworkWithinSize(ModelConfig::fromJson(doc)); }), message);
    }

    // Every preset (the reference's configs) loads without a warning: their unused keys are known.
    void presetsLoadWithoutWarnings()
    {
        for (const std::string &name : presetNames()) {
            const std::vector<std::string> logged = logDuring([&] { loadPreset(name); });
            QVERIFY2(logged.empty(), (name + ": " + (logged.empty() ? "" : logged.front())).c_str());
        }
    }

    // A key neither SDE Studio nor the reference reads was dropped without a word: a slip such as
    // "snrr" left the sampler at its default. Named in a warning, with the nearest known key.
    void unknownKeysAreNamed_data()
    {
        QTest::addColumn<QString>("section");
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("warning");
        QTest::newRow("a slip") << "sampling"
                                << "snrr"
                                << "config key sampling.snrr is not one SDE Studio or the reference reads; it is "
                                   "ignored (did you mean sampling.snr?)";
        QTest::newRow("no near key") << "model"
                                     << "width_multiplier"
                                     << "config key model.width_multiplier is not one SDE Studio or the reference "
                                        "reads; it is ignored";
        QTest::newRow("top level") << ""
                                   << "sead"
                                   << "config key sead is not one SDE Studio or the reference reads; it is ignored "
                                      "(did you mean seed?)";
        QTest::newRow("an unknown section") << ""
                                            << "sampler"
                                            << "config key sampler is not one SDE Studio or the reference reads; it "
                                               "is ignored";
    }
    void unknownKeysAreNamed()
    {
        QFETCH(QString, section);
        QFETCH(QString, key);
        QFETCH(QString, warning);
        Json doc = parseJson(readFile(test::fixtureDir("ncsnpp_ve_small") + "/config.json"));
        QVERIFY(logDuring([&] { ModelConfig::fromJson(doc); }).empty());
        if (section.isEmpty())
            doc[key.toStdString()] = 0.1;
        else
            doc[section.toStdString()][key.toStdString()] = 0.1;
        const std::vector<std::string> logged = logDuring([&] { ModelConfig::fromJson(doc); });
        QCOMPARE(logged.size(), size_t(1));
        QCOMPARE(QString::fromStdString(logged.front()), warning);
    }

    // Thousands of unknown keys are counted, not listed: five named after one line of the count.
    void manyUnknownKeysAreCounted()
    {
        Json doc = parseJson(readFile(test::fixtureDir("ncsnpp_ve_small") + "/config.json"));
        for (int i = 0; i < 5000; ++i)
            doc["model"]["extra_" + std::to_string(i)] = i;
        const std::vector<std::string> logged = logDuring([&] { ModelConfig::fromJson(doc); });
        QCOMPARE(logged.size(), size_t(6));
        QCOMPARE(QString::fromStdString(logged.front()),
                 QString("config section model holds 5000 keys that neither SDE Studio nor the reference reads; they "
                         "are ignored (the first 5 follow)"));
    }

    // A quoted value is cut before a UTF-8 character, never inside one; a NUL byte is written out.
    void quotedValuesKeepWholeCharacters()
    {
        const std::string euros = [] {
            std::string text;
            for (int i = 0; i < 40; ++i)
                text += "\xe2\x82\xac"; // U+20AC, three bytes
            return text;
        }();
        const std::string cut = quoted(euros);
        QCOMPARE(cut, euros.substr(0, 57) + "...");                     // 57 = 19 whole characters
        QCOMPARE(quoted(euros.substr(1)), euros.substr(1, 56) + "..."); // a stray first byte, then 18 whole ones
        QCOMPARE(std::string(Error(std::string("a\0b", 3)).what()), std::string("a\\0b"));
    }

    // The reference's seed is checked as the reference would take it; AMSGrad, which training
    // does not do, is refused rather than trained as plain Adam.
    void seedAndAmsgradAreChecked()
    {
        Json doc = parseJson(readFile(test::fixtureDir("ncsnpp_ve_small") + "/config.json"));
        doc["seed"] = -1;
        QCOMPARE(errorOf([&] { ModelConfig::fromJson(doc); }),
                 QString("config key seed: expected an integer from 0 to 18446744073709551615, found -1"));
        doc["seed"] = "42";
        QCOMPARE(errorOf([&] { ModelConfig::fromJson(doc); }),
                 QString("config key seed: expected an integer from 0 to 18446744073709551615, found a string"));
        doc["seed"] = 42;
        QCOMPARE(errorOf([&] { ModelConfig::fromJson(doc); }), QString("no error"));
        QCOMPARE(refusalWith("optim", "amsgrad", "false"), QString());
        QCOMPARE(refusalWith("optim", "amsgrad", "true"),
                 QString("config key optim.amsgrad = true is out of range: must be false (SDE Studio trains with "
                         "Adam, as the reference's configs do)"));
    }

    // A presets folder holding links to itself took 10^8 folder reads (each link walked again at
    // every depth): each folder is walked once.
    void presetFoldersAreWalkedOnce()
    {
        const std::string dir = test::makeTempDir();
        writeFileAtomically(dir + "/mine.json", readFile(test::fixtureDir("ncsnpp_ve_small") + "/config.json"));
        for (int i = 0; i < 10; ++i)
            QCOMPARE(::symlink(".", (dir + "/loop" + std::to_string(i)).c_str()), 0);
        const QByteArray saved = qgetenv("SDE_PRESETS_DIR");
        qputenv("SDE_PRESETS_DIR", QByteArray::fromStdString(dir));
        const std::vector<std::string> names = presetNames();
        if (saved.isNull())
            qunsetenv("SDE_PRESETS_DIR");
        else
            qputenv("SDE_PRESETS_DIR", saved);
        QCOMPARE(names, std::vector<std::string>{"mine"});
    }

    // A FIFO or a device given as --config is refused by name, never opened (opening a FIFO
    // blocks until a writer comes).
    void nonFileConfigIsRefused()
    {
        const std::string fifo = test::makeTempDir() + "/config";
        QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
        QCOMPARE(errorOf([&] { resolveConfig(fifo); }),
                 QString("'%1' is a FIFO, not a file").arg(QString::fromStdString(fifo)));
        QCOMPARE(errorOf([&] { resolveConfig("/dev/zero"); }),
                 QString("'/dev/zero' is a character device, not a file"));
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
