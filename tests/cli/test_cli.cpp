// sdestudio-cli end to end: exit codes, messages, and a convert -> score round trip that
// reproduces the reference's golden score.
#include "io/safetensors.h"

#include "test_support.h"

#include <QFileInfo>
#include <QProcess>
#include <QtTest/QtTest>

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

QString fixture(const QString &name, const QString &file)
{
    return QString::fromStdString(test::fixtureDir(name.toStdString())) + "/" + file;
}

} // namespace

class TestCli : public QObject {
    Q_OBJECT
private slots:
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
        QTest::newRow("unknown preset") << QStringList{"info", fixture("ncsnpp_ve_small", "checkpoint.pth"), "--config", "ve/nope"}
                                        << "unknown preset";
        QTest::newRow("convert without output") << QStringList{"convert", fixture("ncsnpp_ve_small", "checkpoint.pth")}
                                                << "--output";
        QTest::newRow("bad device") << QStringList{"score", "--model", "m", "--input", "i", "-o", "o", "--device", "tpu"}
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
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
