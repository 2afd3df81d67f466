// sdestudio-cli end to end: exit codes, messages, and a convert -> score round trip that
// reproduces the reference's golden score.
#include "config/presets.h"
#include "imaging/image_io.h"
#include "io/model_file.h"
#include "io/safetensors.h"
#include "nets/inference.h"
#include "train/data_parallel.h"
#include "train/training_checkpoint.h"
#include "util/files.h"
#include "util/json_fields.h"

#include "test_support.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QRegularExpression>
#include <QtTest/QtTest>

#include <algorithm>
#include <cstdlib>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <csignal>
#include <limits>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

using namespace sde;

namespace {

struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

Run cli(const QStringList &arguments)
{
    QProcess process;
    process.start(QString::fromStdString(test::cliPath()), arguments);
    Run run;
    if (!process.waitForFinished(120000))
        return run;
    run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    run.out = QString::fromUtf8(process.readAllStandardOutput());
    run.err = QString::fromUtf8(process.readAllStandardError());
    return run;
}

// The CLI with extra environment variables ("NAME=value"), started and left running.
std::unique_ptr<QProcess> startCli(const QStringList &arguments, const QStringList &environment)
{
    auto process = std::make_unique<QProcess>();
    QProcessEnvironment variables = QProcessEnvironment::systemEnvironment();
    for (const QString &variable : environment)
        variables.insert(variable.section('=', 0, 0), variable.section('=', 1));
    process->setProcessEnvironment(variables);
    process->start(QString::fromStdString(test::cliPath()), arguments);
    process->waitForStarted();
    return process;
}

Run finish(QProcess &process, int milliseconds = 120000)
{
    Run run;
    if (!process.waitForFinished(milliseconds))
        return run;
    run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    run.out = QString::fromUtf8(process.readAllStandardOutput());
    run.err = QString::fromUtf8(process.readAllStandardError());
    return run;
}

// The largest difference between two files' tensors (checkpoints: model, EMA, Adam moments),
// relative to the largest magnitude; infinity when their names or shapes differ.
double largestDifference(const QString &a, const QString &b)
{
    const SafetensorsFile first = readSafetensors(a.toStdString()), second = readSafetensors(b.toStdString());
    if (first.tensors.size() != second.tensors.size())
        return std::numeric_limits<double>::infinity();
    double difference = 0.0;
    for (const auto &[name, tensor] : first.tensors) {
        const torch::Tensor *other = second.find(name);
        if (!other || other->sizes() != tensor.sizes())
            return std::numeric_limits<double>::infinity();
        const torch::Tensor x = tensor.to(torch::kDouble), y = other->to(torch::kDouble);
        difference =
            std::max(difference, (x - y).abs().max().item<double>() / std::max(1e-3, x.abs().max().item<double>()));
    }
    return difference;
}

QString fixture(const QString &name, const QString &file)
{
    return QString::fromStdString(test::fixtureDir(name.toStdString())) + "/" + file;
}

} // namespace

class TestCli : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void usageAndUnknownCommand()
    {
        Run none = cli({});
        QCOMPARE(none.exitCode, 2);
        QVERIFY(none.out.contains("Commands:"));
        Run unknown = cli({"frobnicate"});
        QCOMPARE(unknown.exitCode, 2);
        QVERIFY(unknown.err.contains("unknown command 'frobnicate'"));
    }

    void helpOnEveryCommand_data()
    {
        QTest::addColumn<QString>("command");
        QTest::newRow("info") << "info";
        QTest::newRow("convert") << "convert";
        QTest::newRow("score") << "score";
    }
    void helpOnEveryCommand()
    {
        QFETCH(QString, command);
        Run run = cli({command, "--help"});
        QCOMPARE(run.exitCode, 0);
        QVERIFY(run.out.contains("Usage: sdestudio-cli " + command));
        QVERIFY(run.out.contains("--raw-weights"));
    }

    void infoDescribesTheCheckpoint()
    {
        Run run = cli({"info", fixture("ncsnpp_ve_small", "checkpoint.pth"), "--config",
                       fixture("ncsnpp_ve_small", "config.json")});
        QCOMPARE(run.exitCode, 0);
        QVERIFY2(run.out.contains("NCSN++"), qPrintable(run.out));
        QVERIFY(run.out.contains("VE SDE"));
        QVERIFY(run.out.contains("16 x 16"));
        QVERIFY(run.out.contains("190,835"));
        QVERIFY(run.out.contains("EMA:            present"));
    }

    void errorsExitNonZeroAndNameTheProblem_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("message");
        QTest::newRow("missing file") << QStringList{"info", "/nonexistent/x.pth"} << "/nonexistent/x.pth";
        QTest::newRow("unknown option") << QStringList{"info", "a.pth", "--frob"} << "unknown option --frob";
        QTest::newRow("missing value") << QStringList{"info", "a.pth", "--config"} << "needs a value";
        QTest::newRow("unknown preset") << QStringList{"info", fixture("ncsnpp_ve_small", "checkpoint.pth"), "--config",
                                                       "ve/nope"}
                                        << "unknown preset";
        QTest::newRow("convert without output")
            << QStringList{"convert", fixture("ncsnpp_ve_small", "checkpoint.pth")} << "--output";
        QTest::newRow("bad device") << QStringList{"score", "--model", "m",        "--input", "i",
                                                   "-o",    "o",       "--device", "tpu"}
                                    << "unknown device";
    }
    void errorsExitNonZeroAndNameTheProblem()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, message);
        Run run = cli(arguments);
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains("error: ") && run.err.contains(message), qPrintable(run.err));
    }

    // Issue 16: the shared hostile files (copied to tests/data/hostile) end with exit 1 and one
    // line naming the file and the problem.
    void hostileFilesEndWithOneErrorLine_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("line");
        const QString hostile = QString::fromStdString(test::dataDir()) + "/hostile/";
        const QString pth = hostile + "pth_nested_tuples_100k_deflated.pth";
        QTest::newRow("pickle 100k deep")
            << QStringList{"info", pth}
            << "error: " + pth + ": the pickle nests deeper than 1000 levels (at byte 1004 of the pickle)";
        const QString st = hostile + "st_meta_step_text_min.safetensors";
        QTest::newRow("step not a number")
            << QStringList{"info", st} << "error: " + st + ": metadata \"step\" is not an integer: abc";
        const QString idx = hostile + "idx_zero_dims-images-idx3-ubyte";
        QTest::newRow("0 x 0 images") << QStringList{"bpd", "--model", "fashion-mnist", "--idx", idx, "--count", "1"}
                                      << "error: '" + idx +
                                             "' holds 0 x 0 images; an image needs at least 1 x 1 pixels";
        // Faults of the zip container (tests/data/make_hostile_archives.py), refused by our reader.
        const QString deflate = hostile + "pth_deflate_corrupt.pth";
        QTest::newRow("corrupt deflate stream")
            << QStringList{"info", deflate}
            << "error: " + deflate +
                   ": the archive's record 'archive/data.pkl' is corrupt: its deflated data does not inflate (invalid "
                   "at or before byte 1 of 301)";
        const QString crc = hostile + "pth_crc_mismatch.pth";
        QTest::newRow("CRC-32 mismatch")
            << QStringList{"info", crc}
            << "error: " + crc +
                   ": the archive's record 'archive/data/0' is corrupt: its CRC-32 is 0x86dc12a5, not the 0x0fc2bb52 "
                   "its directory declares";
        const QString bzip2 = hostile + "pth_bzip2_record.pth";
        QTest::newRow("bzip2 record") << QStringList{"info", bzip2}
                                      << "error: " + bzip2 +
                                             ": the archive's record 'archive/data.pkl' is compressed with bzip2 "
                                             "(method 12); only stored (0) and deflated (8) records can be read";
        // Files of another kind given as a model or a safetensors input are named for
        // what they are, from their first bytes.
        const QString json = hostile + "cfg_toy_negative_lr.json";
        const QString out = QString::fromStdString(test::makeTempDir()) + "/out";
        const QString notAModel = "' is %1, not a model file (expected a .pth checkpoint or a .safetensors file)";
        QTest::newRow("JSON as a model") << QStringList{"sample", "--model", json, "-o", out}
                                         << "error: '" + json + notAModel.arg("a JSON file");
        QTest::newRow("IDX as a model") << QStringList{"info", idx} << "error: '" + idx + notAModel.arg("an IDX file");
        const QString png = QString::fromStdString(test::dataDir()) + "/images/gray-28.png";
        QTest::newRow("PNG as a model") << QStringList{"info", png} << "error: '" + png + notAModel.arg("a PNG image");
        QTest::newRow("JSON as score input")
            << QStringList{"score", "--model", "fashion-mnist", "--input", json, "-o", out + "/s.safetensors"}
            << "error: '" + json + "' is a JSON file, not a safetensors file";
    }

    void hostileFilesEndWithOneErrorLine()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, line);
        Run run = cli(arguments);
        QCOMPARE(run.exitCode, 1);
        QCOMPARE(run.err, line + "\n");
    }

    void convertThenScoreMatchesTheReference()
    {
        const QString dir = QString::fromStdString(test::makeTempDir());
        const QString model = dir + "/vp.safetensors";
        Run convert = cli({"convert", fixture("ddpmpp_vp_small", "checkpoint.pth"), "--config",
                           fixture("ddpmpp_vp_small", "config.json"), "-o", model});
        QCOMPARE(convert.exitCode, 0);
        QVERIFY(QFileInfo::exists(model));

        SafetensorsFile golden = readSafetensors(test::fixtureDir("ddpmpp_vp_small") + "/golden.safetensors");
        const std::string input = dir.toStdString() + "/input.safetensors";
        writeSafetensors(input, {{"x", *golden.find("x")}, {"t", *golden.find("t")}});

        const QString output = dir + "/score.safetensors";
        Run score = cli({"score", "--model", model, "--input", QString::fromStdString(input), "-o", output});
        QCOMPARE(score.exitCode, 0);
        SafetensorsFile result = readSafetensors(output.toStdString());
        SDE_COMPARE_TENSORS(*result.find("score"), *golden.find("score"), 1e-4, "score");

        // Raw weights from the .pth give score_raw.
        const QString rawOutput = dir + "/score_raw.safetensors";
        Run raw = cli({"score", "--model", fixture("ddpmpp_vp_small", "checkpoint.pth"), "--config",
                       fixture("ddpmpp_vp_small", "config.json"), "--raw-weights", "--input",
                       QString::fromStdString(input), "-o", rawOutput});
        QCOMPARE(raw.exitCode, 0);
        SDE_COMPARE_TENSORS(*readSafetensors(rawOutput.toStdString()).find("score"), *golden.find("score_raw"), 1e-4,
                            "score_raw");
    }

    // Images carry the exact settings; the seed in sample-S.png makes that image again alone.
    void sampleWritesReproduciblePngs()
    {
        const QString dir = QString::fromStdString(test::makeTempDir());
        // The reference's PC sampler, as the fixture's config sets it.
        const QStringList model{"--model",   fixture("ncsnpp_ve_small", "checkpoint.pth"),
                                "--config",  fixture("ncsnpp_ve_small", "config.json"),
                                "--sampler", "config"};
        Run batch =
            cli(QStringList{"sample"} + model +
                QStringList{"--steps", "6", "--batch", "3", "--seed", "5", "-o", dir + "/batch", "--frames", "3"});
        QCOMPARE(batch.exitCode, 0);
        for (const char *name : {"/batch/sample-5.png", "/batch/sample-6.png", "/batch/sample-7.png", "/batch/grid.png",
                                 "/batch/trajectory/step-00003-x0.png"})
            QVERIFY2(QFileInfo::exists(dir + name), name);

        auto text = readPngText((dir + "/batch/sample-6.png").toStdString());
        QVERIFY(text.at("parameters").find("seed 6") != std::string::npos);
        Json record = parseJson(text.at("sdestudio"));
        QCOMPARE(record.at("sampling").at("seed").get<int64_t>(), int64_t(6));
        QCOMPARE(record.at("sampling").at("batch").get<int64_t>(), int64_t(1));
        QCOMPARE(record.at("sampling").at("pc").at("steps").get<int64_t>(), int64_t(6));
        QCOMPARE(record.at("model").at("config").at("model").at("nf").get<int64_t>(), int64_t(16));

        Run alone =
            cli(QStringList{"sample"} + model + QStringList{"--steps", "6", "--seed", "6", "-o", dir + "/alone"});
        QCOMPARE(alone.exitCode, 0);
        torch::Tensor a = loadImage((dir + "/batch/sample-6.png").toStdString());
        torch::Tensor b = loadImage((dir + "/alone/sample-6.png").toStdString());
        QVERIFY((a - b).abs().max().item<double>() <= 1.0 / 255.0 + 1e-6);
    }

    // Without sampler options `sample` takes the fast default (DPM-Solver++ 3M, Karras grid, 20
    // evaluations); `--sampler config` is the config's own sampler, the reference's.
    void theDefaultSamplerIsTheFastOne()
    {
        const QString dir = QString::fromStdString(test::makeTempDir());
        Run run =
            cli(QStringList{"sample", "--model", "fashion-mnist", "--batch", "2", "--seed", "8", "-o", dir + "/a"});
        QCOMPARE(run.exitCode, 0);
        QVERIFY2(run.err.contains("DPM-Solver++ 3M, 20 steps (20 NFE), Karras grid"), qPrintable(run.err));
        Json record = parseJson(readPngText((dir + "/a/sample-9.png").toStdString()).at("sdestudio"));
        QCOMPARE(record.at("sampling").at("method").get<std::string>(), std::string("dpm3m"));
        QCOMPARE(record.at("nfe").get<int64_t>(), int64_t(20));
        QVERIFY2(loadImage((dir + "/a/sample-9.png").toStdString()).mean().item<double>() < 0.6,
                 "the sample is not a Fashion-MNIST-like image");

        // The config's sampler: PC with its predictor and corrector (few steps here).
        Run config = cli(QStringList{"sample", "--model", "fashion-mnist", "--sampler", "config", "--steps", "22",
                                     "--seed", "8", "-o", dir + "/b"});
        QCOMPARE(config.exitCode, 0);
        record = parseJson(readPngText((dir + "/b/sample-8.png").toStdString()).at("sdestudio"));
        QCOMPARE(record.at("sampling").at("method").get<std::string>(), std::string("pc"));
        QCOMPARE(record.at("sampling").at("pc").at("steps").get<int64_t>(), int64_t(22));
        const ModelConfig bundled = loadModelFile("fashion-mnist").model->config();
        QCOMPARE(record.at("sampling").at("pc").at("predictor").get<std::string>(), bundled.sampling.predictor);
        QCOMPARE(record.at("sampling").at("pc").at("corrector").get<std::string>(), bundled.sampling.corrector);

        // info names both.
        Run info = cli(QStringList{"info", "fashion-mnist"});
        QCOMPARE(info.exitCode, 0);
        QVERIFY2(info.out.contains("DPM-Solver++ 3M, Karras grid, 20 NFE (the default)"), qPrintable(info.out));
        QVERIFY2(info.out.contains("(--sampler config)"), qPrintable(info.out));
    }

    void fastSamplersWriteTheirSettings()
    {
        // The bundled Fashion-MNIST model at 10 evaluations: the PNG records the sampler, and the
        // recorded settings make the same image again.
        const QString dir = QString::fromStdString(test::makeTempDir());
        Run run = cli(QStringList{"sample", "--model", "fashion-mnist", "--sampler", "dpm3m", "--nfe", "10", "--seed",
                                  "3", "-o", dir + "/a"});
        QCOMPARE(run.exitCode, 0);
        QVERIFY2(run.err.contains("DPM-Solver++ 3M, 10 steps (10 NFE)"), qPrintable(run.err));
        auto text = readPngText((dir + "/a/sample-3.png").toStdString());
        Json record = parseJson(text.at("sdestudio"));
        QCOMPARE(record.at("sampling").at("method").get<std::string>(), std::string("dpm3m"));
        QCOMPARE(record.at("sampling").at("fast").at("steps").get<int64_t>(), int64_t(10));
        QCOMPARE(record.at("nfe").get<int64_t>(), int64_t(10));
        QCOMPARE(record.at("sampling").at("fast").at("grid").get<std::string>(), std::string("karras"));
        Run again = cli(QStringList{"sample", "--model", "fashion-mnist", "--sampler", "dpm3m", "--steps", "10",
                                    "--seed", "3", "-o", dir + "/b"});
        QCOMPARE(again.exitCode, 0);
        torch::Tensor a = loadImage((dir + "/a/sample-3.png").toStdString());
        torch::Tensor b = loadImage((dir + "/b/sample-3.png").toStdString());
        QVERIFY(torch::equal(a, b));
        // A garment, not noise: Fashion-MNIST images are mostly black background.
        QVERIFY2(a.mean().item<double>() < 0.6, "the sample is not a Fashion-MNIST-like image");

        // The log-SNR grid is recorded and walks other times: another image from the same seed.
        Run logSnr = cli(QStringList{"sample", "--model", "fashion-mnist", "--sampler", "dpm3m", "--nfe", "10",
                                     "--grid", "logsnr", "--seed", "3", "-o", dir + "/g"});
        QCOMPARE(logSnr.exitCode, 0);
        QVERIFY2(logSnr.err.contains("DPM-Solver++ 3M, 10 steps (10 NFE), log-SNR grid"), qPrintable(logSnr.err));
        Json logSnrRecord = parseJson(readPngText((dir + "/g/sample-3.png").toStdString()).at("sdestudio"));
        QCOMPARE(logSnrRecord.at("sampling").at("fast").at("grid").get<std::string>(), std::string("logsnr"));
        const double moved = (loadImage((dir + "/g/sample-3.png").toStdString()) - a).abs().mean().item<double>();
        QVERIFY2(moved > 1e-3, qPrintable(QString("the grids gave images %1 apart").arg(moved)));

        Run edm = cli(QStringList{"sample", "--model", "fashion-mnist", "--sampler", "edm", "--nfe", "9", "--churn",
                                  "5", "--seed", "3", "-o", dir + "/c"});
        QCOMPARE(edm.exitCode, 0);
        QVERIFY2(edm.err.contains("EDM Heun, 5 steps (9 NFE), rho 7, churn 5"), qPrintable(edm.err));

        // Bfloat16 evaluations are recorded, and give a sample close to float32's (same seed).
        if (precisionUnsupportedReason(EvaluationPrecision::BFloat16, torch::kCPU).empty()) {
            Run half = cli(QStringList{"sample", "--model", "fashion-mnist", "--sampler", "dpm3m", "--nfe", "10",
                                       "--seed", "3", "--precision", "bfloat16", "-o", dir + "/d"});
            QCOMPARE(half.exitCode, 0);
            QVERIFY2(
                half.err.contains("DPM-Solver++ 3M, 10 steps (10 NFE), Karras grid (rho 7), temperature 1, bfloat16"),
                qPrintable(half.err));
            Json halfRecord = parseJson(readPngText((dir + "/d/sample-3.png").toStdString()).at("sdestudio"));
            QCOMPARE(halfRecord.at("sampling").at("precision").get<std::string>(), std::string("bfloat16"));
            QCOMPARE(record.at("sampling").at("precision").get<std::string>(), std::string("float32"));
            torch::Tensor d = loadImage((dir + "/d/sample-3.png").toStdString());
            const double difference = (d - a).abs().mean().item<double>();
            QVERIFY2(difference > 0.0 && difference < 0.05, qPrintable(QString("difference %1").arg(difference)));
        }
    }

    void sampleAndBpdRefuseBadInput_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("message");
        const QString ckpt = fixture("ncsnpp_ve_small", "checkpoint.pth");
        const QString config = fixture("ncsnpp_ve_small", "config.json");
        QTest::newRow("batch 0") << QStringList{"sample", "--model", ckpt,      "--config", config,
                                                "-o",     "/tmp/x",  "--batch", "0"}
                                 << "--batch";
        QTest::newRow("bad sampler") << QStringList{"sample", "--model", ckpt,        "--config", config,
                                                    "-o",     "/tmp/x",  "--sampler", "magic"}
                                     << "--sampler";
        QTest::newRow("eta above 1") << QStringList{"sample", "--model",   ckpt,   "--config", config, "-o",
                                                    "/tmp/x", "--sampler", "ddim", "--eta",    "1.5"}
                                     << "error: --eta must be between 0 and 1, not 1.5\n";
        // Range refusals echo the value given; a long one is cut to 60 characters.
        QTest::newRow("rho 1e-9") << QStringList{"sample", "--model",   ckpt,  "--config", config, "-o",
                                                 "/tmp/x", "--sampler", "edm", "--rho",    "1e-9"}
                                  << "error: --rho must be between 0.1 and 100, not 1e-09\n";
        QTest::newRow("long grid") << QStringList{"sample", "--model",   ckpt,    "--config", config,           "-o",
                                                  "/tmp/x", "--sampler", "dpm2m", "--grid",   QString(200, 'x')}
                                   << "error: --grid must be logsnr or karras, not '" + QString(57, 'x') + "...'\n";
        QTest::newRow("nfe too small") << QStringList{"sample", "--model",   ckpt,    "--config", config, "-o",
                                                      "/tmp/x", "--sampler", "dpm2m", "--nfe",    "1"}
                                       << "--nfe";
        QTest::newRow("nfe beyond the sampler's steps")
            << QStringList{"sample", "--model",   ckpt,    "--config", config,  "-o",
                           "/tmp/x", "--sampler", "dpm2m", "--nfe",    "150000"}
            << "--nfe must be between 2 and 100000 for dpm2m, not 150000";
        QTest::newRow("nfe below edm's smallest grid")
            << QStringList{"sample", "--model",   ckpt,  "--config", config, "-o",
                           "/tmp/x", "--sampler", "edm", "--nfe",    "2"}
            << "--nfe must be between 3 and 199999 for edm, not 2";
        QTest::newRow("bad grid") << QStringList{"sample", "--model",   ckpt,    "--config", config,  "-o",
                                                 "/tmp/x", "--sampler", "dpm2m", "--grid",   "cosine"}
                                  << "--grid must be logsnr or karras, not 'cosine'";
        QTest::newRow("bad precision") << QStringList{"sample", "--model", ckpt,          "--config", config,
                                                      "-o",     "/tmp/x",  "--precision", "half"}
                                       << "--precision must be float32, bfloat16 or float16, not 'half'";
        QTest::newRow("float16 on the CPU")
            << QStringList{"sample", "--model", ckpt, "--config", config, "-o", "/tmp/x", "--precision", "float16"}
            << "float16 evaluations need a CUDA device";
        QTest::newRow("bad number") << QStringList{"sample", "--model", ckpt,    "--config", config,
                                                   "-o",     "/tmp/x",  "--snr", "high"}
                                    << "--snr needs a number";
        QTest::newRow("ancestral sub-VP")
            << QStringList{"sample", "--model", ckpt, "--config", "subvp/cifar10_ddpmpp_continuous", "-o", "/tmp/x"}
            << "do not fit";
        QTest::newRow("bpd size")
            << QStringList{"bpd",      "--model", ckpt,
                           "--config", config,    QString::fromStdString(test::dataDir()) + "/images/gray-28.png"}
            << "28x28";
        QTest::newRow("bpd missing image")
            << QStringList{"bpd", "--model", ckpt, "--config", config, "/nonexistent.png"} << "/nonexistent.png";
    }
    void sampleAndBpdRefuseBadInput()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, message);
        Run run = cli(arguments);
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains(message), qPrintable(run.err));
    }

    void bpdReportsEveryImageAndTheMean()
    {
        const std::string dir = test::makeTempDir();
        savePng(dir + "/a.png", torch::rand({3, 16, 16}));
        savePng(dir + "/b.png", torch::rand({3, 16, 16}));
        Run run = cli({"bpd", "--model", fixture("ncsnpp_ve_small", "checkpoint.pth"), "--config",
                       fixture("ncsnpp_ve_small", "config.json"), "--rtol", "1e-3", "--atol", "1e-3",
                       QString::fromStdString(dir + "/a.png"), QString::fromStdString(dir + "/b.png")});
        QCOMPARE(run.exitCode, 0);
        const QStringList lines = run.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 3);
        QVERIFY(lines[0].contains("a.png") && lines[0].contains("bits/dim") && lines[0].contains("NFE"));
        const double a = lines[0].split('\t')[1].split(' ')[0].toDouble();
        const double b = lines[1].split('\t')[1].split(' ')[0].toDouble();
        const double mean = lines[2].split('\t')[1].split(' ')[0].toDouble();
        QVERIFY(a > 0 && b > 0);
        QVERIFY(std::abs(mean - (a + b) / 2) < 1e-3);
    }

    void inpaintColorizeAndInterpolate()
    {
        const std::string dir = test::makeTempDir();
        const QString qdir = QString::fromStdString(dir);
        const QStringList model{"--model",  fixture("ncsnpp_ve_small", "checkpoint.pth"),
                                "--config", fixture("ncsnpp_ve_small", "config.json"),
                                "--steps",  "5"};
        torch::manual_seed(12);
        torch::Tensor image = torch::rand({3, 16, 16});
        savePng(dir + "/image.png", image);
        torch::Tensor mask = torch::zeros({1, 16, 16});
        mask.slice(1, 2, 10).slice(2, 3, 13).fill_(1.0); // white: fill
        savePng(dir + "/mask.png", mask);

        // The reference's PC inpainter (the config's sampler).
        Run inpaint = cli(QStringList{"inpaint"} + model +
                          QStringList{"--image", qdir + "/image.png", "--mask", qdir + "/mask.png", "--seed", "4",
                                      "--sampler", "config", "-o", qdir + "/in"});
        QCOMPARE(inpaint.exitCode, 0);
        QCOMPARE(parseJson(readPngText(dir + "/in/inpaint-4.png").at("sdestudio"))
                     .at("sampling")
                     .at("method")
                     .get<std::string>(),
                 std::string("pc"));
        torch::Tensor filled = loadImage(dir + "/in/inpaint-4.png");
        torch::Tensor input = loadImage(dir + "/image.png");
        torch::Tensor keep = (mask < 0.5).expand_as(input);
        QVERIFY(torch::equal(filled.masked_select(keep), input.masked_select(keep)));
        QVERIFY(!torch::equal(filled.masked_select(~keep), input.masked_select(~keep)));
        QVERIFY(readPngText(dir + "/in/inpaint-4.png").at("sdestudio").find("\"mask\":\"mask.png\"") !=
                std::string::npos);
        // Any sampler fills the hole: DDIM here, recorded in the PNG.
        Run fast = cli(QStringList{"inpaint"} + model +
                       QStringList{"--image", qdir + "/image.png", "--mask", qdir + "/mask.png", "--seed", "4",
                                   "--sampler", "ddim", "-o", qdir + "/fast"});
        QCOMPARE(fast.exitCode, 0);
        QVERIFY2(fast.err.contains("DDIM, 5 steps (5 NFE)"), qPrintable(fast.err));
        torch::Tensor fastFilled = loadImage(dir + "/fast/inpaint-4.png");
        QVERIFY(torch::equal(fastFilled.masked_select(keep), input.masked_select(keep)));
        QVERIFY(!torch::equal(fastFilled.masked_select(~keep), filled.masked_select(~keep)));
        Json fastRecord = parseJson(readPngText(dir + "/fast/inpaint-4.png").at("sdestudio"));
        QCOMPARE(fastRecord.at("sampling").at("method").get<std::string>(), std::string("ddim"));

        // The reference's PC colorizer.
        Run colorize = cli(QStringList{"colorize"} + model +
                           QStringList{"--image", qdir + "/image.png", "--sampler", "config", "-o", qdir + "/co"});
        QCOMPARE(colorize.exitCode, 0);
        QVERIFY2(colorize.err.contains("seed"), qPrintable(colorize.err));
        const QString colored = QDir(qdir + "/co").entryList({"colorize-*.png"}).value(0);
        QVERIFY(!colored.isEmpty());
        // (The kept gray level is checked on tensors in test_editing: the fixtures' random-weight
        // networks produce colors far outside [0, 1], which a PNG clamps.)
        torch::Tensor result = loadImage(dir + "/co/" + colored.toStdString());
        QCOMPARE(result.sizes().vec(), (std::vector<int64_t>{3, 16, 16}));
        Json record = parseJson(readPngText(dir + "/co/" + colored.toStdString()).at("sdestudio"));
        QCOMPARE(record.at("operation").get<std::string>(), std::string("colorize"));
        QCOMPARE(record.at("sampling").at("method").get<std::string>(), std::string("pc"));
        QCOMPARE(record.at("inputs").at("image").get<std::string>(), std::string("image.png"));

        Run interpolate = cli({"interpolate", "--model", fixture("ncsnpp_ve_small", "checkpoint.pth"), "--config",
                               fixture("ncsnpp_ve_small", "config.json"), "--first", qdir + "/image.png", "--second",
                               qdir + "/in/inpaint-4.png", "--frames", "4", "--solver", "heun", "--steps", "10", "-o",
                               qdir + "/lerp"});
        QCOMPARE(interpolate.exitCode, 0);
        QVERIFY(interpolate.err.contains("reconstruction error"));
        for (const char *name : {"/lerp/frame-00.png", "/lerp/frame-03.png", "/lerp/contact.png"})
            QVERIFY2(QFileInfo::exists(qdir + name), name);
        QCOMPARE(loadImage(dir + "/lerp/contact.png").size(2), int64_t(4 * 18 + 2));

        // Inputs that do not fit are refused by name.
        Run gray = cli({"colorize", "--model", fixture("ddpmpp_vp_small", "checkpoint.pth"), "--config",
                        fixture("ddpmpp_vp_small", "config.json"), "--image", qdir + "/image.png", "-o", qdir + "/x"});
        QCOMPARE(gray.exitCode, 1);
        QVERIFY(gray.err.contains("RGB model"));
        Run small = cli(QStringList{"inpaint"} + model +
                        QStringList{"--image", QString::fromStdString(test::dataDir()) + "/images/gray-28.png",
                                    "--mask", qdir + "/mask.png", "-o", qdir + "/x"});
        QCOMPARE(small.exitCode, 1);
        QVERIFY2(small.err.contains("28x28"), qPrintable(small.err));
    }

    void bpdReadsIdxFilesAndPadsSmallerImages()
    {
        // Two 12x12 gray images in a plain IDX file, padded into the 16x16 VP model.
        std::string idx("\0\0\x08\x03\0\0\0\x02\0\0\0\x0c\0\0\0\x0c", 16);
        for (int i = 0; i < 2 * 144; ++i)
            idx += static_cast<char>((i * 37) % 256);
        const std::string path = test::makeTempDir() + "/small.idx";
        writeFileAtomically(path, idx);
        const QStringList model{"--model", fixture("ddpmpp_vp_small", "checkpoint.pth"), "--config",
                                fixture("ddpmpp_vp_small", "config.json")};
        Run run =
            cli(QStringList{"bpd"} + model +
                QStringList{"--idx", QString::fromStdString(path), "--count", "2", "--rtol", "1e-3", "--atol", "1e-3"});
        QCOMPARE(run.exitCode, 0);
        QVERIFY2(run.out.contains("small.idx[0]") && run.out.contains("small.idx[1]") && run.out.contains("mean"),
                 qPrintable(run.out));
        Run tooMany =
            cli(QStringList{"bpd"} + model + QStringList{"--idx", QString::fromStdString(path), "--count", "5"});
        QCOMPARE(tooMany.exitCode, 1);
        QVERIFY(tooMany.err.contains("outside the 2 images"));
        Run rgb =
            cli({"bpd", "--model", fixture("ncsnpp_ve_small", "checkpoint.pth"), "--config",
                 fixture("ncsnpp_ve_small", "config.json"), "--idx", QString::fromStdString(path), "--count", "1"});
        QCOMPARE(rgb.exitCode, 1);
        QVERIFY(rgb.err.contains("gray"));
    }

    void scoreRefusesWrongShapesAndWritesNothing()
    {
        const std::string dir = test::makeTempDir();
        writeSafetensors(dir + "/bad.safetensors", {{"x", torch::zeros({2, 3, 8, 8})}, {"t", torch::full({2}, 0.5)}});
        const QString output = QString::fromStdString(dir + "/out.safetensors");
        Run run = cli({"score", "--model", fixture("ncsnpp_ve_small", "checkpoint.pth"), "--config",
                       fixture("ncsnpp_ve_small", "config.json"), "--input",
                       QString::fromStdString(dir + "/bad.safetensors"), "-o", output});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains("[2, 3, 8, 8]") && run.err.contains("[B, 3, 16, 16]"), qPrintable(run.err));
        QVERIFY(!QFileInfo::exists(output));
    }

    // Hostile inputs (issue 16; the files are copies from shared/hostile, see tests/data/README.md):
    // each run ends with exit 1, one error line naming the file or the option, and no output.
    void hostileInputsGiveOneErrorLine_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("error");
        QTest::addColumn<QString>("output"); // must not exist afterwards
        const QString dir = QString::fromStdString(test::makeTempDir());
        const QString hostile = QString::fromStdString(test::dataDir()) + "/hostile/";
        const QString toy = QString::fromStdString(test::dataDir()) + "/../../models/bundled/toy-2d/config.json";
        const QString out = dir + "/out";
        const QString idxImages = dir + "/two-images-idx3-ubyte";
        {
            QFile file(idxImages);
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write(QByteArray::fromHex("00000803000000020000001c0000001c") + QByteArray(2 * 28 * 28, 'a'));
        }
        const QString tinyT = dir + "/tiny-t.safetensors";
        writeSafetensors(tinyT.toStdString(),
                         {{"x", torch::zeros({1, 1, 28, 28})}, {"t", torch::full({1}, 1e-30, torch::kFloat64)}});

        // A FIFO blocked `info` forever, a device never ends: refused from stat, unopened.
        const QString fifo = dir + "/model.safetensors";
        QCOMPARE(::mkfifo(fifo.toLocal8Bit().constData(), 0600), 0);
        QTest::newRow("FIFO as a model") << QStringList{"info", fifo}
                                         << QString("error: '%1' is a FIFO, not a file\n").arg(fifo) << out;
        QTest::newRow("device as a model")
            << QStringList{"info", "/dev/null"} << "error: '/dev/null' is a character device, not a file\n"
            << out;
        QTest::newRow("FIFO as score input")
            << QStringList{"score", "--model", "fashion-mnist", "--input", fifo, "-o", out + "/s.safetensors"}
            << QString("error: '%1' is a FIFO, not a file\n").arg(fifo) << out + "/s.safetensors";
        QTest::newRow("FIFO as a config") << QStringList{"train", "--config", fifo, "--data", "toy:moons", "--out", out}
                                          << QString("error: '%1' is a FIFO, not a file\n").arg(fifo) << out;

        // convert replaced a FIFO given as its output (and a device: `-o /dev/null` unlinked nothing
        // only because rename failed).
        QTest::newRow("FIFO as convert's output")
            << QStringList{"convert",  fixture("ncsnpp_ve_small", "checkpoint.pth"),
                           "--config", fixture("ncsnpp_ve_small", "config.json"),
                           "-o",       fifo}
            << QString("error: cannot write '%1': it is a FIFO, not a file\n").arg(fifo) << out;
        // A key from a file cannot forge a line of its own, nor send the terminal an escape.
        const QString forged = dir + "/forged.json";
        {
            QFile file(forged);
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write("{\"optim\": {\"a\\nerror: forged\\u001b[2J\": 1, \"a\\nerror: forged\\u001b[2J\": 2}}");
        }
        QTest::newRow("config key with a line break")
            << QStringList{"train", "--config", forged, "--data", "toy:moons", "--out", out}
            << QString("error: config '%1': JSON parse error: the key \"a\n  error: forged\\x1b[2J\" appears twice in "
                       "one object\n")
                   .arg(forged)
            << out;
        // --first 2^63 - 1 overflowed first + count and printed "mean -nan" with exit 0.
        QTest::newRow("bpd --first at the int64 limit")
            << QStringList{"bpd",     "--model", "fashion-mnist", "--idx", idxImages, "--first", "9223372036854775807",
                           "--count", "1"}
            << QString("error: --first 9223372036854775807 --count 1 is outside the 2 images of '%1'\n").arg(idxImages)
            << out;
        // Ignored with exit 0.
        QTest::newRow("--guidance without --classifier")
            << QStringList{"sample", "--model", "fashion-mnist", "--guidance", "5", "-o", out}
            << QString("error: --guidance requires --classifier\n") << out;
        // Dropped without a word.
        QTest::newRow("--classifier-nf without --classifier")
            << QStringList{"train",  "--preset",        "vp/cifar10_ddpmpp_continuous",
                           "--data", "toy:moons",       "--out",
                           out,      "--classifier-nf", "16"}
            << QString("error: --classifier-nf requires --classifier\n") << out;
        // One line: the nearest name, not the 27 presets (issue 16, messages).
        QTest::newRow("unknown preset, one line")
            << QStringList{"train", "--preset", "vp/cifar10_ddpmpp_continous", "--data", "toy:moons", "--out", out}
            << QString("error: unknown preset \"vp/cifar10_ddpmpp_continous\"; the nearest is "
                       "\"vp/cifar10_ddpmpp_continuous\"; the %1 presets are the .json files under '%2', named by "
                       "their path without .json\n")
                   .arg(presetNames().size())
                   .arg(QString::fromStdString(presetsDir()))
            << out;
        // Refused only after sampling, by the PNG writer.
        QTest::newRow("--frames of a point model")
            << QStringList{"sample", "--model", "toy-2d", "--frames", "1", "-o", out}
            << QString("error: --frames saves the trajectory as images, and model.safetensors generates points, not "
                       "images\n")
            << out;
        // t = 1e-30 passed the (0, 1] check, and the VP score there is -inf: written with exit 0.
        QTest::newRow("score that overflows")
            << QStringList{"score", "--model", "fashion-mnist", "--input", tinyT, "-o", out + "/s.safetensors"}
            << QString("error: the score is not finite (NaN or infinity) for 1 of the 1 samples of %1 (the first: "
                       "sample 0, t = 1e-30); nothing was written\n")
                   .arg(tinyT)
            << out + "/s.safetensors";
        // `ln -s . loop` in an image folder walked forever.
        const QString loop = dir + "/loop";
        QVERIFY(QDir().mkpath(loop));
        QVERIFY(QFile::link(".", loop + "/self"));
        QTest::newRow("image folder that links to itself")
            << QStringList{"train", "--preset", "vp/cifar10_ddpmpp_continuous", "--data", loop, "--out", out}
            << QString("error: '%1' holds no PNG, JPEG, WebP, BMP, TIFF or PNM images\n").arg(loop) << out;

        QTest::newRow("score: empty batch")
            << QStringList{"score",
                           "--model",
                           "fashion-mnist",
                           "--input",
                           hostile + "score_empty_batch.safetensors",
                           "-o",
                           out + "/s.safetensors"}
            << "error: " + hostile +
                   "score_empty_batch.safetensors: the batch is empty ('x' has shape [0, 1, 28, 28])\n"
            << out + "/s.safetensors";
        // Trained by gradient ascent to a loss of 3e19 with exit 0.
        QTest::newRow("negative learning rate")
            << QStringList{"train",  "--config",         hostile + "cfg_toy_negative_lr.json",
                           "--data", "toy:checkerboard", "--out",
                           out,      "--steps",          "300"}
            << "error: config '" + hostile +
                   "cfg_toy_negative_lr.json': config key optim.lr = -0.001 is out of range: the learning rate must "
                   "be positive, at most 1\n"
            << out;
        // Each field within its range, together a network of 527 billion parameters: refused from
        // a layout-only build, before any weight is allocated.
        QTest::newRow("giant network")
            << QStringList{"train",  "--config",         hostile + "cfg_fmnist_giant_network.json",
                           "--data", "toy:checkerboard", "--out",
                           out,      "--steps",          "2"}
            << "error: config '" + hostile +
                   "cfg_fmnist_giant_network.json': the network would hold 526797221889 parameters (2107 GB of "
                   "float32 weights); at most 1000000000 are allowed (model.nf, model.ch_mult and "
                   "model.num_res_blocks set its size)\n"
            << out;
        // Broken and oversized images (tests/data/hostile): libpng and libjpeg printed their own
        // lines before ours, a BMP of height -2^31 ended in an OpenCV assertion. Every command
        // that reads an image refuses them from the same check.
        const QString gray = QString::fromStdString(test::dataDir()) + "/images/gray-28.png";
        const QString truncatedPng = hostile + "png_truncated_idat.png",
                      truncatedJpeg = hostile + "jpeg_truncated_scan.jpg",
                      intMinBmp = hostile + "bmp_height_int_min.bmp", hugePng = hostile + "png_20000x20000.png";
        const QString huge =
            QString("error: '%1' declares 20000 x 20000 pixels, more than the 67108864 (8192 x 8192) an "
                    "image may have\n")
                .arg(hugePng);
        // The 16 x 16 files are refused by their size from the header before any decoding; the same
        // damage at the model's size (28 x 28) reaches the checks of the data.
        QTest::newRow("inpaint: truncated PNG of another size")
            << QStringList{"inpaint", "--model", "fashion-mnist", "--image", truncatedPng, "--mask", gray, "-o", out}
            << QString("error: '%1' is 16x16, the model takes 28x28 images (resize it first)\n").arg(truncatedPng)
            << out;
        const std::string grayPng = readFile(gray.toStdString());
        const size_t idat = grayPng.find("IDAT") - 4;
        const QString cutPng = dir + "/cut-28.png", cutJpeg = dir + "/cut-28.jpg";
        writeFileAtomically(cutPng.toStdString(), grayPng.substr(0, idat + 8 + 10)); // 10 bytes into its data
        std::vector<uchar> jpeg;
        cv::Mat noise(28, 28, CV_8UC1);
        cv::randu(noise, 0, 256); // a scan of some kilobytes, so that the cut lands in it
        QVERIFY(cv::imencode(".jpg", noise, jpeg));
        writeFileAtomically(cutJpeg.toStdString(), std::string(jpeg.begin(), jpeg.end() - 40)); // cut in its scan
        QTest::newRow("inpaint: truncated PNG")
            << QStringList{"inpaint", "--model", "fashion-mnist", "--image", cutPng, "--mask", gray, "-o", out}
            << QString("error: '%1' is a truncated PNG file: its IDAT chunk at byte %2 runs past the end of the file\n")
                   .arg(cutPng)
                   .arg(idat)
            << out;
        // A mask's size is read from its header before it is decoded: this 16 x 16 one is refused by
        // its size (the damage of its data is what the image rows above meet).
        QTest::newRow("inpaint: truncated JPEG mask")
            << QStringList{"inpaint", "--model", "fashion-mnist", "--image", gray, "--mask", truncatedJpeg, "-o", out}
            << QString("error: the mask '%1' is 16 x 16 pixels; its image is 28 x 28\n").arg(truncatedJpeg) << out;
        QTest::newRow("inpaint: huge mask")
            << QStringList{"inpaint", "--model", "fashion-mnist", "--image", gray, "--mask", hugePng, "-o", out} << huge
            << out;
        QTest::newRow("colorize: BMP of height -2^31")
            << QStringList{"colorize", "--model", "photo-rgb", "--image", intMinBmp, "-o", out}
            << QString("error: '%1' is a damaged BMP file: its header declares 0 x -2147483648 pixels\n").arg(intMinBmp)
            << out;
        QTest::newRow("interpolate: huge image")
            << QStringList{"interpolate", "--model", "fashion-mnist", "--first", gray, "--second", hugePng, "-o", out}
            << huge << out;
        QTest::newRow("bpd: truncated JPEG")
            << QStringList{"bpd", "--model", "fashion-mnist", cutJpeg}
            << QString("error: '%1' is a damaged JPEG file (Premature end of JPEG file)\n").arg(cutJpeg) << out;
        // OpenCV's decoder wrote "imdecode_(''): can't read data: ..." to stderr beside our line.
        const QString letterPgm = dir + "/letter-28.pgm";
        writeFileAtomically(letterPgm.toStdString(), "P2\n28 28\n255\n1 2 x\n");
        QTest::newRow("inpaint: ASCII PGM with a letter")
            << QStringList{"inpaint", "--model", "fashion-mnist", "--image", letterPgm, "--mask", gray, "-o", out}
            << QString("error: '%1' is a damaged PGM file: sample 3 is not a number (at byte 17)\n").arg(letterPgm)
            << out;
        QTest::newRow("inpaint: truncated JPEG mask at the image's size")
            << QStringList{"inpaint", "--model", "fashion-mnist", "--image", gray, "--mask", cutJpeg, "-o", out}
            << QString("error: '%1' is a damaged JPEG file (Premature end of JPEG file)\n").arg(cutJpeg) << out;

        // `train --data /proc` walked procfs with exit 0; an empty folder holds no images.
        const QString empty = dir + "/empty";
        QVERIFY(QDir().mkpath(empty));
        QTest::newRow("train: /proc as data")
            << QStringList{"train", "--preset", "vp/cifar10_ddpmpp_continuous", "--data", "/proc", "--out", out}
            << "error: '/proc' is on proc, a file system the kernel makes up, not a folder of images\n"
            << out;
        QTest::newRow("train: /sys as data")
            << QStringList{"train", "--preset", "vp/cifar10_ddpmpp_continuous", "--data", "/sys", "--out", out}
            << "error: '/sys' is on sysfs, a file system the kernel makes up, not a folder of images\n"
            << out;
        QTest::newRow("train: empty data folder")
            << QStringList{"train", "--preset", "vp/cifar10_ddpmpp_continuous", "--data", empty, "--out", out}
            << QString("error: '%1' holds no PNG, JPEG, WebP, BMP, TIFF or PNM images\n").arg(empty) << out;

        // Hung the process starting 100000 threads.
        QTest::newRow("threads 100000") << QStringList{"train", "--config", toy,         "--data", "toy:moons",
                                                       "--out", out,        "--threads", "100000"}
                                        << "error: --threads must be between 1 and 256, not 100000\n"
                                        << out;
    }
    void hostileInputsGiveOneErrorLine()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, error);
        QFETCH(QString, output);
        Run run = cli(arguments);
        QCOMPARE(run.exitCode, 1);
        QCOMPARE(run.err, error);
        QVERIFY(!QFileInfo::exists(output));
    }

    // NaN (and infinity) given to any number option of any command is refused naming the option:
    // `--eta nan` sampled NaN images with exit 0. The options are read from each command's help:
    // those whose value is a number (N, X, S, B, K, T).
    void everyNumberOptionRefusesNan_data()
    {
        QTest::addColumn<QString>("command");
        QTest::addColumn<QString>("option");
        const QRegularExpression commandLine("^  ([a-z]+) ");
        const QRegularExpression numberOption("^  (?:-[a-z],)?(--[a-z-]+) (?:N|X|S|B|K|T)\\s");
        QStringList seen;
        const Run usage = cli({});
        for (const QString &line : usage.out.split('\n')) {
            const QRegularExpressionMatch command = commandLine.match(line);
            if (!command.hasMatch() || !usage.out.contains("Commands:"))
                continue;
            const QString name = command.captured(1);
            const Run help = cli({name, "--help"});
            QCOMPARE(help.exitCode, 0);
            for (const QString &optionLine : help.out.split('\n')) {
                const QRegularExpressionMatch option = numberOption.match(optionLine);
                if (!option.hasMatch())
                    continue;
                QTest::newRow(qPrintable(name + " " + option.captured(1))) << name << option.captured(1);
                seen << name + " " + option.captured(1);
            }
        }
        for (const char *expected : {"sample --eta", "sample --churn", "sample --eps", "sample --temperature",
                                     "inpaint --eta", "colorize --snr", "interpolate --temperature", "bpd --rtol",
                                     "train --threads", "train --steps", "sample --seed"})
            QVERIFY2(seen.contains(expected), expected);
    }
    void everyNumberOptionRefusesNan()
    {
        QFETCH(QString, command);
        QFETCH(QString, option);
        for (const QString value : {"nan", "inf"}) {
            Run run = cli({command, option, value});
            QCOMPARE(run.exitCode, 1);
            const QString real = QString("error: %1 needs a finite number, not '%2'\n").arg(option, value);
            const QString whole = QString("error: %1 needs a whole number, not '%2'\n").arg(option, value);
            QVERIFY2(run.err == real || run.err == whole, qPrintable(command + ": " + run.err));
        }
    }

    // A model file with NaN in its weights sampled black images with exit 0; a model whose score
    // overflows stops at the step it does. Either: exit 1, one error line, no image.
    void nonFiniteModelsWriteNothing()
    {
        const std::string dir = test::makeTempDir();
        LoadOptions options;
        options.config = test::fixtureDir("ncsnpp_ve_small") + "/config.json";
        LoadedModel loaded = loadModelFile(test::fixtureDir("ncsnpp_ve_small") + "/checkpoint.pth", options);
        const auto parameters = loaded.model->network()->named_parameters();
        const std::string last = parameters[parameters.size() - 1].key();
        {
            torch::NoGradGuard noGrad;
            parameters[parameters.size() - 1].value().view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
        }
        const std::string nanModel = dir + "/nan.safetensors";
        saveModelFile(nanModel, *loaded.model, "ema");
        const QString out = QString::fromStdString(dir + "/images");
        Run run = cli(
            {"sample", "--model", QString::fromStdString(nanModel), "-o", out, "--sampler", "dpm2m", "--steps", "4"});
        QCOMPARE(run.exitCode, 1);
        QCOMPARE(run.err, QString::fromStdString("error: " + nanModel +
                                                 ": the weights hold a value that is not finite (NaN or infinity) "
                                                 "in '" +
                                                 last + "'; the model cannot be used\n"));
        QVERIFY(!QFileInfo::exists(out));

        // Finite weights whose output overflows float32: the sampler's state turns non-finite.
        {
            torch::NoGradGuard noGrad;
            for (auto &item : parameters)
                item.value().fill_(3e38f);
        }
        const std::string hugeModel = dir + "/huge.safetensors";
        saveModelFile(hugeModel, *loaded.model, "ema");
        for (const QString sampler : {"pc", "dpm2m", "edm"}) {
            Run huge = cli({"sample", "--model", QString::fromStdString(hugeModel), "-o", out, "--sampler", sampler,
                            "--steps", "4"});
            QCOMPARE(huge.exitCode, 1);
            // The model and sampler lines come first (the output folder is made before sampling).
            const QStringList errors = huge.err.split('\n').filter(QRegularExpression("^error: "));
            QVERIFY2(errors.size() == 1, qPrintable(sampler + ": " + huge.err));
            QCOMPARE(errors[0], QString("error: sampling stopped at step 1 of 4 (t = 1): the state is not finite (NaN "
                                        "or infinity); the model's score is not finite there"));
            QVERIFY(!QFileInfo::exists(out)); // the folder it created is removed again
        }
        Run ode = cli({"sample", "--model", QString::fromStdString(hugeModel), "-o", out, "--sampler", "ode",
                       "--solver", "heun", "--steps", "4"});
        QCOMPARE(ode.exitCode, 1);
        QCOMPARE(ode.err.split('\n').filter(QRegularExpression("^error: ")),
                 QStringList{"error: the ODE stopped at step 1 of 4 (t = 1): its right-hand side is not finite (NaN or "
                             "infinity); the model's score is not finite there"});
        QVERIFY(!QFileInfo::exists(out));
    }

    // Issue 16, output consistency: a second run into a folder in use is refused (sample and
    // train); a batch that fails half-way removes what it wrote and says so; the temporaries of
    // killed writes are removed at the next start, and the log says so.
    void outputFolderIsGuarded()
    {
        const QString dir = QString::fromStdString(test::makeTempDir());
        const QStringList model{"--model",  fixture("ncsnpp_ve_small", "checkpoint.pth"),
                                "--config", fixture("ncsnpp_ve_small", "config.json"),
                                "--steps",  "6"};
        const QString busy = dir + "/busy";
        {
            OutputFolder held(busy.toStdString());
            const QString inUse = QString("error: the folder '%1' is in use by another run (process %2); wait for it "
                                          "to finish or choose another folder\n")
                                      .arg(busy)
                                      .arg(::getpid());
            Run sample = cli(QStringList{"sample"} + model + QStringList{"-o", busy});
            QCOMPARE(sample.exitCode, 1);
            QCOMPARE(sample.err.split('\n').filter(QRegularExpression("^error: ")).join('\n') + '\n', inUse);
            const QString toy = QString::fromStdString(test::dataDir()) + "/../../models/bundled/toy-2d/config.json";
            Run train = cli({"train", "--config", toy, "--data", "toy:moons", "--out", busy, "--steps", "2"});
            QCOMPARE(train.exitCode, 1);
            QCOMPARE(train.err, inUse);
            QVERIFY(QDir(busy).entryList(QDir::Files | QDir::NoDotAndDotDot).isEmpty());
        }

        // The third image's name is taken by a folder: refused before any image is written.
        const QString half = dir + "/half";
        QVERIFY(QDir().mkpath(half + "/sample-7.png/inside"));
        Run failed = cli(QStringList{"sample"} + model + QStringList{"--batch", "3", "--seed", "5", "-o", half});
        QCOMPARE(failed.exitCode, 1);
        QCOMPARE(failed.err.split('\n').filter(QRegularExpression("^error: ")),
                 QStringList{QString("error: cannot write '%1/sample-7.png': it is a folder, not a file").arg(half)});
        QCOMPARE(QDir(half).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot),
                 QStringList{"sample-7.png"});

        const QString stale = dir + "/stale";
        QVERIFY(QDir().mkpath(stale));
        const QString temporary = stale + "/sample-5.png.sdestudio-tmp-Ab12Cd";
        writeFileAtomically(temporary.toStdString(), "half a PNG");
        Run cleaned = cli(QStringList{"sample"} + model + QStringList{"--seed", "5", "-o", stale});
        QCOMPARE(cleaned.exitCode, 0);
        // Logged to stderr: stdout holds only the paths written.
        QVERIFY2(cleaned.err.contains(
                     QString("info: removed %1, the temporary file of a write that was interrupted\n").arg(temporary)),
                 qPrintable(cleaned.err));
        QVERIFY2(!cleaned.out.contains("info: "), qPrintable(cleaned.out));
        QCOMPARE(QDir(stale).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot),
                 QStringList{"sample-5.png"});
    }

    // Issue 16: a data folder whose images are all broken fails with one error line (each image
    // skipped with a warning naming it and its damage), and the run leaves no folder behind.
    void trainOnBrokenImagesLeavesNothing()
    {
        const QString dir = QString::fromStdString(test::makeTempDir());
        const QString hostile = QString::fromStdString(test::dataDir()) + "/hostile/";
        const QString data = dir + "/data", out = dir + "/run";
        QVERIFY(QDir().mkpath(data));
        for (const QString name : {"png_truncated_idat.png", "png_20000x20000.png", "jpeg_truncated_scan.jpg"})
            QVERIFY(QFile::copy(hostile + name, data + "/" + name));
        Run run = cli({"train", "--config",
                       QString::fromStdString(test::dataDir()) + "/../../models/bundled/fashion-mnist/config.json",
                       "--data", data, "--out", out, "--steps", "2", "--batch", "2"});
        QCOMPARE(run.exitCode, 1);
        QCOMPARE(run.err.split('\n').filter(QRegularExpression("^error: ")),
                 QStringList{QString("error: 3 images in %1: none of the examples could be read").arg(data)});
        const QString printed = run.err; // warnings go to stderr: stdout holds results only
        QVERIFY2(printed.contains(QString("warning: skipped %1/png_20000x20000.png: '%1/png_20000x20000.png' declares "
                                          "20000 x 20000 pixels")
                                      .arg(data)),
                 qPrintable(printed));
        QVERIFY2(
            printed.contains(QString("warning: skipped %1/jpeg_truncated_scan.jpg: '%1/jpeg_truncated_scan.jpg' is "
                                     "a damaged JPEG file (Premature end of JPEG file)\n")
                                 .arg(data)),
            qPrintable(printed));
        QVERIFY(!printed.contains("libpng") && !printed.contains("Premature end of JPEG file\n") &&
                !printed.contains("imdecode"));
        QVERIFY(!QFileInfo::exists(out));
    }

    // Issue 16: the trajectory frames of `sample --frames` are all or none: a frame that cannot be
    // written removes the frames written before it; samples that cannot be written remove them too.
    void trajectoryFramesAreAllOrNone()
    {
        const QString dir = QString::fromStdString(test::makeTempDir());
        const QStringList model{"--model",  fixture("ncsnpp_ve_small", "checkpoint.pth"),
                                "--config", fixture("ncsnpp_ve_small", "config.json"),
                                "--steps",  "6",
                                "--frames", "2",
                                "--seed",   "5"};
        const QString frames = dir + "/frames";
        QVERIFY(QDir().mkpath(frames + "/trajectory/step-00004-x.png/inside"));
        Run run = cli(QStringList{"sample"} + model + QStringList{"-o", frames});
        QCOMPARE(run.exitCode, 1);
        QCOMPARE(run.err.split('\n').filter(QRegularExpression("^error: ")),
                 QStringList{
                     QString("error: cannot write '%1/trajectory/step-00004-x.png': it is a folder, not a file; the 2 "
                             "file(s) written before it were removed")
                         .arg(frames)});
        QCOMPARE(QDir(frames + "/trajectory").entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot),
                 QStringList{"step-00004-x.png"});
        QCOMPARE(QDir(frames).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot),
                 QStringList{"trajectory"});

        const QString late = dir + "/late";
        QVERIFY(QDir().mkpath(late + "/sample-5.png/inside"));
        Run lateRun = cli(QStringList{"sample"} + model + QStringList{"-o", late});
        QCOMPARE(lateRun.exitCode, 1);
        QCOMPARE(
            lateRun.err.split('\n').filter(QRegularExpression("^error: ")),
            QStringList{QString("error: cannot write '%1/sample-5.png': it is a folder, not a file; the 6 trajectory "
                                "file(s) written were removed")
                            .arg(late)});
        QCOMPARE(QDir(late).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot),
                 QStringList{"sample-5.png"});

        const QString whole = dir + "/whole";
        Run good = cli(QStringList{"sample"} + model + QStringList{"-o", whole});
        QCOMPARE(good.exitCode, 0);
        QCOMPARE(QDir(whole + "/trajectory").entryList(QDir::Files).size(), 6);
    }

    // Issue 16: a toy run's preview, a CSV and a picture, is written all or none; a preview that
    // fails is a warning and the run goes on.
    void trainingPreviewsAreAllOrNone()
    {
        const QString out = QString::fromStdString(test::makeTempDir()) + "/run";
        const QString config = QString::fromStdString(test::dataDir()) + "/../../models/bundled/toy-2d/config.json";
        QVERIFY(QDir().mkpath(out + "/samples/step-00000010.png/inside"));
        Run run = cli({"train", "--config", config, "--data", "toy:moons", "--out", out, "--steps", "10",
                       "--snapshot-every", "10", "--snapshot-count", "20", "--snapshot-steps", "20"});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const QString printed = run.err; // warnings go to stderr, with the progress
        QVERIFY2(printed.contains(QString("warning: the preview samples of step 10 failed: cannot write "
                                          "'%1/samples/step-00000010.png': it is a folder, not a file\n")
                                      .arg(out)),
                 qPrintable(printed));
        QVERIFY(!QFileInfo::exists(out + "/samples/step-00000010.csv"));
        QVERIFY(QFileInfo::exists(out + "/model.safetensors"));
    }

    // train: a toy run, then --resume continues it to more steps from its checkpoint alone.
    void trainThenResume()
    {
        const QString out = QString::fromStdString(test::makeTempDir()) + "/run";
        const QString config = QString::fromStdString(test::dataDir()) + "/../../models/bundled/toy-2d/config.json";
        Run first = cli({"train",     "--config",
                         config,      "--data",
                         "toy:moons", "--out",
                         out,         "--steps",
                         "30",        "--checkpoint-every",
                         "10",        "--keep",
                         "2",         "--log-every",
                         "10",        "--snapshot-every",
                         "30",        "--snapshot-count",
                         "50",        "--snapshot-steps",
                         "20"});
        QVERIFY2(first.exitCode == 0, qPrintable(first.err));
        QVERIFY2(first.err.contains("finished at step 30"), qPrintable(first.err));
        QVERIFY(first.err.contains("loss "));
        QVERIFY(QFileInfo::exists(out + "/model.safetensors"));
        QVERIFY(QFileInfo::exists(out + "/samples/step-00000030.png"));
        QVERIFY(QFileInfo::exists(out + "/samples/step-00000030.csv"));
        QCOMPARE(QDir(out + "/checkpoints").entryList(QDir::Files).size(), 2);

        Run resumed =
            cli({"train", "--resume", "--data", "toy:moons", "--out", out, "--steps", "40", "--log-every", "10"});
        QVERIFY2(resumed.exitCode == 0, qPrintable(resumed.err));
        QVERIFY2(resumed.err.contains("finished at step 40"), qPrintable(resumed.err));
        const QStringList records =
            QString::fromStdString(readFile((out + "/metrics.jsonl").toStdString())).split('\n', Qt::SkipEmptyParts);
        QCOMPARE(records.size(), 4);
        QCOMPARE(parseJson(records.last().toStdString()).at("step").get<int64_t>(), int64_t(40));

        // The trained model samples points: a CSV and a picture.
        const QString samples = QString::fromStdString(test::makeTempDir());
        Run sample =
            cli({"sample", "--model", out + "/model.safetensors", "-o", samples, "--batch", "20", "--steps", "25"});
        QVERIFY2(sample.exitCode == 0, qPrintable(sample.err));
        QVERIFY(QFileInfo::exists(samples + "/sample-points.csv"));
        QCOMPARE(QString::fromStdString(readFile((samples + "/sample-points.csv").toStdString())).count('\n'), 21);
    }

    // Data-parallel training in processes: --nproc 2 reaches the parameters of one process; a
    // rank killed mid-run stops the other within seconds with a message naming it, and the job
    // resumes from its last checkpoint; a launched rank's environment is read strictly.
    void dataParallelTrainingAcrossProcesses()
    {
        std::string why;
        if (!dataParallelAvailable(torch::kCPU, &why))
            QSKIP(why.c_str());
        const QString config = QString::fromStdString(test::dataDir()) + "/../../models/bundled/toy-2d/config.json";
        const QString base = QString::fromStdString(test::makeTempDir());
        const QStringList common{"train", "--config", config, "--data", "toy:moons", "--batch", "32", "--steps", "12"};
        Run single = cli(common + QStringList{"--out", base + "/one"});
        QVERIFY2(single.exitCode == 0, qPrintable(single.err));
        Run pair = cli(common + QStringList{"--out", base + "/two", "--nproc", "2", "--accumulate", "2"});
        QVERIFY2(pair.exitCode == 0, qPrintable(pair.err));
        QVERIFY2(pair.err.contains("batch 32 over 2 processes in 2 micro-batches each"), qPrintable(pair.err));
        QVERIFY2(pair.err.contains("finished at step 12"), qPrintable(pair.err));
        const QString checkpoint = "/checkpoints/checkpoint-00000012.safetensors";
        const double difference = largestDifference(base + "/one" + checkpoint, base + "/two" + checkpoint);
        QVERIFY2(difference < 1e-5, qPrintable(QString("relative difference %1").arg(difference)));

        // Two ranks started as a launcher would; rank 1 is killed once a checkpoint is written.
        const QString out = base + "/killed";
        const QStringList arguments{"train", "--config",  config,    "--data",  "toy:moons",
                                    "--out", out,         "--steps", "1000000", "--checkpoint-every",
                                    "20",    "--timeout", "60"};
        const QString port = QString::number(freeLoopbackPort());
        const QStringList job{"MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port, "WORLD_SIZE=2", "OMP_NUM_THREADS=1"};
        auto rank0 = startCli(arguments, job + QStringList{"RANK=0"});
        auto rank1 = startCli(arguments, job + QStringList{"RANK=1"});
        QTRY_VERIFY_WITH_TIMEOUT(QDir(out + "/checkpoints").entryList(QDir::Files).size() > 0, 60000);
        ::kill(static_cast<pid_t>(rank1->processId()), SIGKILL);
        QElapsedTimer clock;
        clock.start();
        Run survivor = finish(*rank0, 30000);
        QVERIFY2(survivor.exitCode == 1, qPrintable(survivor.err));
        QVERIFY2(clock.elapsed() < 20000, qPrintable(QString("rank 0 took %1 ms to stop").arg(clock.elapsed())));
        QVERIFY2(survivor.err.contains("rank 1 stopped answering"), qPrintable(survivor.err));
        QVERIFY2(survivor.err.contains("--resume"), qPrintable(survivor.err));
        finish(*rank1);
        const QStringList kept = QDir(out + "/checkpoints").entryList(QDir::Files, QDir::Name);
        QVERIFY(!kept.isEmpty());
        const int64_t last = readCheckpointInfo((out + "/checkpoints/" + kept.last()).toStdString()).step;
        Run resumed = cli({"train", "--resume", "--data", "toy:moons", "--out", out, "--nproc", "2", "--steps",
                           QString::number(last + 5)});
        QVERIFY2(resumed.exitCode == 0, qPrintable(resumed.err));
        QVERIFY2(resumed.err.contains(QString("finished at step %1").arg(last + 5)), qPrintable(resumed.err));

        // A rank's environment: one error line naming the variable.
        auto lost = startCli(arguments, {"WORLD_SIZE=2", "RANK=0", "MASTER_PORT=" + port});
        Run noAddress = finish(*lost);
        QCOMPARE(noAddress.exitCode, 1);
        QVERIFY2(noAddress.err.contains("error: WORLD_SIZE is 2 but MASTER_ADDR is not set"),
                 qPrintable(noAddress.err));
        auto nested = startCli(common + QStringList{"--out", base + "/nested", "--nproc", "2"},
                               {"WORLD_SIZE=2", "RANK=0", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port});
        Run inside = finish(*nested);
        QCOMPARE(inside.exitCode, 1);
        QVERIFY2(inside.err.contains("--nproc starts a job of its own"), qPrintable(inside.err));
    }

    // Under torchrun (PyTorch 2.x's launcher, from the wheel's environment: .venv-torch or
    // SDE_TORCH_VENV): the ranks join its agent's store under the attempt's prefix and reach the
    // parameters of one process, as with --nproc; on one node, and on two nodes (two launchers on
    // this machine, as on two machines) with either rendezvous: "static" (MASTER_ADDR and
    // MASTER_PORT given, node 0's agent serves the store) and "c10d" (an endpoint and a job id;
    // the launchers rank the nodes themselves).
    void dataParallelTrainingUnderTorchrun_data()
    {
        QTest::addColumn<QString>("rendezvous");
        QTest::newRow("one node") << "";
        QTest::newRow("two nodes, static rendezvous") << "static";
        QTest::newRow("two nodes, c10d rendezvous") << "c10d";
    }
    void dataParallelTrainingUnderTorchrun()
    {
        QFETCH(QString, rendezvous);
        std::string why;
        if (!dataParallelAvailable(torch::kCPU, &why))
            QSKIP(why.c_str());
        const std::string bin = test::torchVenvBin();
        if (bin.empty() && std::getenv("SDE_TORCH_VENV") != nullptr)
            QFAIL("SDE_TORCH_VENV is set, but its bin folder has no torchrun");
        if (bin.empty())
            QSKIP("no torchrun: packaging/install-torch.sh makes .venv-torch (or set SDE_TORCH_VENV)");
        const QString config = QString::fromStdString(test::dataDir()) + "/../../models/bundled/toy-2d/config.json";
        const QString base = QString::fromStdString(test::makeTempDir());
        const QStringList common{"train", "--config", config, "--data", "toy:moons", "--batch", "32", "--steps", "12"};
        Run single = cli(common + QStringList{"--out", base + "/one"});
        QVERIFY2(single.exitCode == 0, qPrintable(single.err));

        // Each node's launcher options.
        const QString port = QString::number(freeLoopbackPort());
        std::vector<QStringList> nodes;
        if (rendezvous.isEmpty())
            nodes.push_back({"--nproc_per_node", "2", "--master_port", port});
        for (int node = 0; node < 2 && rendezvous == "static"; ++node)
            nodes.push_back({"--nnodes", "2", "--node_rank", QString::number(node), "--nproc_per_node", "1",
                             "--master_addr", "127.0.0.1", "--master_port", port});
        for (int node = 0; node < 2 && rendezvous == "c10d"; ++node)
            nodes.push_back({"--nnodes", "2", "--nproc_per_node", "1", "--rdzv_backend", "c10d", "--rdzv_endpoint",
                             "127.0.0.1:" + port, "--rdzv_id", "sdestudio-test"});
        std::vector<std::unique_ptr<QProcess>> launchers;
        for (const QStringList &options : nodes) {
            launchers.push_back(std::make_unique<QProcess>());
            launchers.back()->start(QString::fromStdString(bin + "/torchrun"),
                                    options + QStringList{"--no-python", QString::fromStdString(test::cliPath())} +
                                        common + QStringList{"--out", base + "/torchrun", "--timeout", "60"});
            QVERIFY(launchers.back()->waitForStarted());
        }
        // Until every launcher ends, or one fails: the others are then told to stop (torchrun
        // passes SIGTERM on to its ranks), so that a node's failure is reported at once.
        const QDeadlineTimer deadline(180000);
        const auto failed = [](const QProcess &p) {
            return p.state() == QProcess::NotRunning && (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0);
        };
        for (bool running = true; running && !deadline.hasExpired();) {
            running = false;
            for (auto &launcher : launchers)
                if (launcher->state() != QProcess::NotRunning) {
                    running = true;
                    launcher->waitForFinished(100);
                }
            if (std::any_of(launchers.begin(), launchers.end(), [&](const auto &p) { return failed(*p); }))
                break;
        }
        QString said; // every node's output, each named: either may hold rank 0
        bool allPassed = true;
        for (size_t node = 0; node < launchers.size(); ++node) {
            QProcess &launcher = *launchers[node];
            const bool stopped = launcher.state() != QProcess::NotRunning;
            if (stopped) {
                launcher.terminate();
                if (!launcher.waitForFinished(30000))
                    launcher.kill();
                launcher.waitForFinished();
            }
            allPassed = allPassed && !stopped && !failed(launcher);
            said += QString("--- node %1 (%2exit %3):\n")
                        .arg(node)
                        .arg(stopped ? "stopped by the test, " : "")
                        .arg(launcher.exitCode()) +
                    QString::fromUtf8(launcher.readAllStandardError());
        }
        QVERIFY2(allPassed, qPrintable(said));
        QVERIFY2(said.contains("batch 32 over 2 processes"), qPrintable(said));
        QVERIFY2(said.contains("finished at step 12"), qPrintable(said));
        const QString checkpoint = "/checkpoints/checkpoint-00000012.safetensors";
        const double difference = largestDifference(base + "/one" + checkpoint, base + "/torchrun" + checkpoint);
        QVERIFY2(difference < 1e-5, qPrintable(QString("relative difference %1").arg(difference)));
    }

    void trainRefusesBadInput_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("message");
        const QString out = QString::fromStdString(test::makeTempDir()) + "/run";
        const QString toy = QString::fromStdString(test::dataDir()) + "/../../models/bundled/toy-2d/config.json";
        QTest::newRow("no data") << QStringList{"train", "--config", toy, "--out", out} << "--data";
        QTest::newRow("missing folder")
            << QStringList{"train", "--preset", "vp/cifar10_ddpmpp_continuous", "--data", "/nonexistent/images",
                           "--out", out}
            << "/nonexistent/images";
        QTest::newRow("unknown toy") << QStringList{"train", "--config", toy, "--data", "toy:spiral", "--out", out}
                                     << "unknown toy distribution \"spiral\"";
        QTest::newRow("toy data for an image model")
            << QStringList{"train", "--preset", "vp/cifar10_ddpmpp_continuous", "--data", "toy:moons", "--out", out}
            << "toy distributions train point models";
        QTest::newRow("nothing to resume")
            << QStringList{"train", "--resume", "--data", "toy:moons", "--out", out} << "nothing to resume";
        QTest::newRow("bad steps") << QStringList{"train", "--config", toy,       "--data", "toy:moons",
                                                  "--out", out,        "--steps", "0"}
                                   << "--steps must be between 1 and 1000000000000000000, not 0";
        // Beyond int64 the message is still the option's own range, not int64's.
        QTest::newRow("steps beyond int64")
            << QStringList{"train",  "--config",  toy,
                           "--data", "toy:moons", "--out",
                           out,      "--steps",   "99999999999999999999"}
            << "--steps must be between 1 and 1000000000000000000, not 99999999999999999999";
        QTest::newRow("steps beyond the bound")
            << QStringList{"train",  "--config",           toy,
                           "--data", "toy:moons",          "--out",
                           out,      "--checkpoint-every", "2000000000000000000"}
            << "--checkpoint-every must be between 1 and 1000000000000000000, not 2000000000000000000";
        // Compared as integers: as doubles, 10^18 + 1 is 10^18.
        QTest::newRow("steps one past the bound")
            << QStringList{"train",   "--config",           toy, "--data", "toy:moons", "--out", out,
                           "--steps", "1000000000000000001"}
            << "--steps must be between 1 and 1000000000000000000, not 1000000000000000001";
        // Held as int: bounded well inside it (4294967297 wrapped to 1 and deleted checkpoints).
        QTest::newRow("keep beyond int") << QStringList{"train", "--config", toy,      "--data",    "toy:moons",
                                                        "--out", out,        "--keep", "4294967297"}
                                         << "--keep must be between 1 and 1000000, not 4294967297";
        // No upper end of its own: the type's, not a range the value is in.
        QTest::newRow("classifier width beyond int64")
            << QStringList{"train",
                           "--config",
                           toy,
                           "--data",
                           "toy:moons",
                           "--out",
                           out,
                           "--classifier",
                           "--classifier-nf",
                           "99999999999999999999"}
            << "--classifier-nf must be between 1 and 9223372036854775807, not 99999999999999999999";
        QTest::newRow("batch too small for the processes")
            << QStringList{"train",   "--config", toy,       "--data", "toy:moons",    "--out", out,
                           "--batch", "3",        "--nproc", "2",      "--accumulate", "2"}
            << "a batch of 3 cannot be split over 2 process(es) x 2 micro-batch(es): give a batch of at least 4";
        // (bfloat16 on the CPU trains where the CPU runs it: test_training's bfloat16TrainingOnTheCpu.)
        QTest::newRow("float16 training on cpu")
            << QStringList{"train", "--config", toy, "--data", "toy:moons", "--out", out, "--precision", "float16"}
            << "training in float16: float16 evaluations need a CUDA device; on the CPU use bfloat16";
        QTest::newRow("unknown training precision")
            << QStringList{"train", "--config", toy, "--data", "toy:moons", "--out", out, "--precision", "float8"}
            << "float8";
        QTest::newRow("both precision flags")
            << QStringList{"train", "--config", toy,           "--data",   "toy:moons",
                           "--out", out,        "--precision", "bfloat16", "--mixed-precision"}
            << "give --precision or --mixed-precision, not both";
    }
    void trainRefusesBadInput()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, message);
        Run run = cli(arguments);
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains("error: ") && run.err.contains(message), qPrintable(run.err));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
