// The studio's main window, driven through QTest on the offscreen platform: Generate with the
// bundled model, the trajectory scrubber, Cancel, a corrupt model file, and a saved PNG that
// restores its seed when dropped on the window.
#include "generate_workspace.h"
#include "history_panel.h"
#include "image_view.h"
#include "inpaint_workspace.h"
#include "interpolate_workspace.h"
#include "likelihood_workspace.h"
#include "log_dock.h"
#include "main_window.h"
#include "mask_canvas.h"
#include "point_cloud_plot.h"
#include "sampler_panel.h"
#include "studio_style.h"
#include "tensor_image.h"
#include "train_workspace.h"
#include "trajectory_scrubber.h"

#include "imaging/generation_record.h"
#include "imaging/image_io.h"
#include "imaging/point_plot.h"
#include "io/model_file.h"
#include "nets/inference.h"
#include "sampling/sampling_settings.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json_fields.h"

#include "test_support.h"

#include <QAction>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QDropEvent>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QMimeData>
#include <QScopeGuard>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QStatusBar>
#include <QToolBar>
#include <QToolButton>
#include <QtTest/QtTest>

#include <spdlog/spdlog.h>

#include <unistd.h>

using namespace sde;
using namespace sde::ui;

namespace {

// Few steps, no corrector, frames every 2 steps: a run of seconds on the CPU.
void quickSettings(MainWindow &window, int steps, int batch, int frameEvery)
{
    auto *panel = window.samplerPanel();
    panel->findChild<QComboBox *>("samplerMethod")->setCurrentIndex(0);
    panel->findChild<QComboBox *>("predictor")->setCurrentText("reverse_diffusion");
    panel->findChild<QComboBox *>("corrector")->setCurrentText("none");
    panel->findChild<QSpinBox *>("steps")->setValue(steps);
    panel->findChild<QSpinBox *>("batch")->setValue(batch);
    panel->findChild<QSpinBox *>("frameEvery")->setValue(frameEvery);
    panel->setRandomSeed(false);
}

void clickGenerate(MainWindow &window)
{
    auto *toolbar = window.findChild<QToolBar *>("mainToolBar");
    QWidget *button = toolbar->widgetForAction(window.generateAction());
    QVERIFY(button && button->isEnabled());
    QTest::mouseClick(button, Qt::LeftButton);
}

} // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName("SDE Studio Tests");
        QCoreApplication::setApplicationName("test_main_window");
    }

    // A fresh start (no saved settings) samples with the fast default, 20 evaluations; the
    // config's own sampler (the reference's) is one click away, and the fast default one more.
    void aFreshStartUsesTheFastDefault()
    {
        QSettings().clear();
        MainWindow window;
        window.show();
        QVERIFY2(window.openModel("fashion-mnist", true), qPrintable(window.lastError()));
        SamplerPanel *panel = window.samplerPanel();
        SamplingSettings shown = panel->settings();
        QCOMPARE(shown.method, std::string("dpm3m"));
        QCOMPARE(shown.fast.grid, std::string("karras"));
        QCOMPARE(plannedNfe(shown.method, shown.fast.steps), int64_t(20));
        QCOMPARE(panel->findChild<QLabel *>("nfeEstimate")->text(), QString("20 score evaluations"));
        QCOMPARE(panel->frameEvery(), 1); // every one of the few steps is a frame
        // The PC page already holds the config's values: choosing PC by hand runs the config's sampler.
        {
            auto *method = panel->findChild<QComboBox *>("samplerMethod");
            method->setCurrentIndex(method->findData("pc"));
            const SamplingSettings pc = panel->settings();
            const ModelConfig &config = window.model()->config();
            QCOMPARE(pc.method, std::string("pc"));
            QCOMPARE(pc.pc.predictor, config.sampling.predictor);
            QCOMPARE(pc.pc.corrector, config.sampling.corrector);
            QCOMPARE(pc.pc.snr, config.sampling.snr);
            QCOMPARE(pc.pc.steps, config.model.numScales);
            QCOMPARE(pc.pc.noiseRemoval, config.sampling.noiseRemoval);
            // The frame interval follows the sampler (one in ten of 1000 steps, then each of 20)
            // until the person sets one; theirs stays.
            QCOMPARE(panel->frameEvery(), 10);
            method->setCurrentIndex(method->findData("dpm3m"));
            QCOMPARE(panel->frameEvery(), 1);
            panel->findChild<QSpinBox *>("frameEvery")->setValue(4);
            method->setCurrentIndex(method->findData("pc"));
            QCOMPARE(panel->frameEvery(), 4);
            method->setCurrentIndex(method->findData("dpm3m"));
            QCOMPARE(panel->frameEvery(), 4);
            panel->findChild<QSpinBox *>("frameEvery")->setValue(1);
        }
        panel->findChild<QLineEdit *>("seed")->setText("77");
        panel->findChild<QSpinBox *>("batch")->setValue(3);

        QTest::mouseClick(panel->findChild<QToolButton *>("useConfigSampler"), Qt::LeftButton);
        shown = panel->settings();
        const ModelConfig &config = window.model()->config();
        QCOMPARE(shown.method, config.sampling.method);
        QCOMPARE(shown.pc.predictor, config.sampling.predictor);
        QCOMPARE(shown.pc.corrector, config.sampling.corrector);
        QCOMPARE(shown.pc.snr, config.sampling.snr);
        QCOMPARE(shown.pc.steps, config.model.numScales);
        QCOMPARE(panel->frameEvery(), 10);
        // The seed and batch the person chose stay.
        QCOMPARE(shown.seed, uint64_t(77));
        QCOMPARE(shown.batch, int64_t(3));

        QTest::mouseClick(panel->findChild<QToolButton *>("useFastDefault"), Qt::LeftButton);
        shown = panel->settings();
        QCOMPARE(shown.method, std::string("dpm3m"));
        QCOMPARE(shown.fast.steps, stepsForNfe("dpm3m", 20));
        QCOMPARE(shown.seed, uint64_t(77));
    }

    void generateShowsSamplesAndTheTrajectory()
    {
        MainWindow window;
        window.show();
        QVERIFY2(window.openModel("fashion-mnist", true), qPrintable(window.lastError()));
        QVERIFY(window.generateAction()->isEnabled());
        QCOMPARE(window.runPageAction()->shortcut(), QKeySequence("Ctrl+Return"));
        QCOMPARE(window.cancelAction()->shortcut(), QKeySequence(Qt::Key_Escape));
        // Below the VP schedule's floor the Sampler dock says so before a run.
        quickSettings(window, 10, 2, 8);
        QVERIFY(window.samplerPanel()->findChild<QLabel *>("nfeEstimate")->text().contains("at least 21 steps"));
        quickSettings(window, 22, 2, 8);
        QVERIFY(!window.samplerPanel()->findChild<QLabel *>("nfeEstimate")->text().contains("at least"));
        QSignalSpy finished(window.generateWorkspace(), &GenerateWorkspace::finished);
        clickGenerate(window);
        QVERIFY(window.generateWorkspace()->busy());
        QVERIFY(!window.generateAction()->isEnabled());
        QVERIFY(finished.wait(120000));

        const GenerationResult &result = window.generateWorkspace()->lastResult();
        QVERIFY(result.completed);
        QCOMPARE(result.samples.sizes(), (std::vector<int64_t>{2, 1, 28, 28}));
        QVERIFY(!window.generateWorkspace()->resultView()->image().isNull());
        // Frames at steps 1, 8, 16 and 22: the scrubber's range is exactly the recorded steps.
        TrajectoryScrubber *scrubber = window.generateWorkspace()->scrubber();
        QCOMPARE(int(result.frames.size()), 4);
        QCOMPARE(scrubber->frameCount(), 4);
        QCOMPARE(scrubber->slider()->minimum(), 0);
        QCOMPARE(scrubber->slider()->maximum(), 3);
        QCOMPARE(scrubber->frames().back().step, int64_t(22));
        // Moving the slider shows another frame.
        const QImage last = scrubber->stateView()->image();
        scrubber->slider()->setValue(0);
        QCOMPARE(scrubber->currentFrame(), 0);
        QVERIFY(scrubber->stateView()->image() != last);
        // The arrow keys step through the frames.
        scrubber->setFocus();
        QTest::keyClick(scrubber, Qt::Key_Right);
        QCOMPARE(scrubber->currentFrame(), 1);

        // Export: a PNG pair per recorded frame, and a video.
        const QString folder = QString::fromStdString(test::makeTempDir());
        window.generateWorkspace()->exportFrames(folder);
        QCOMPARE(QDir(folder).entryList({"*.png"}).size(), 8);
        window.generateWorkspace()->exportVideo(folder + "/trajectory.avi");
        QVERIFY2(QFileInfo(folder + "/trajectory.avi").size() > 1000, qPrintable(window.lastError()));
        QVERIFY(!QFileInfo::exists(folder + "/trajectory.avi.partial.avi"));

        // A folder another run writes into is refused (its lock), and nothing is written there.
        const QString busy = QString::fromStdString(test::makeTempDir());
        {
            OutputFolder held(busy.toStdString());
            QVERIFY(!window.generateWorkspace()->exportFrames(busy));
            QCOMPARE(window.lastError(), QString("Could not export the frames: the folder '%1' is in use by another "
                                                 "run (process %2); wait for it to finish or choose another folder")
                                             .arg(busy)
                                             .arg(::getpid()));
        }
        QVERIFY(QDir(busy).isEmpty());
    }

    void fastSamplerFromTheDock()
    {
        MainWindow window;
        QVERIFY2(window.openModel("fashion-mnist", true), qPrintable(window.lastError()));
        auto *panel = window.samplerPanel();
        auto *method = panel->findChild<QComboBox *>("samplerMethod");
        const int index = method->findText("DPM-Solver++ 2S");
        QVERIFY(index >= 0);
        method->setCurrentIndex(index);
        panel->findChild<QSpinBox *>("fastNfe")->setValue(10);
        panel->findChild<QSpinBox *>("batch")->setValue(2);
        panel->findChild<QSpinBox *>("frameEvery")->setValue(1);
        // Two evaluations per step and one at the end: 10 allows 5 steps, 9 evaluations.
        QCOMPARE(panel->findChild<QLabel *>("nfeEstimate")->text(), QString("9 score evaluations"));
        QVERIFY(panel->findChild<QSpinBox *>("fastNfe")->isVisibleTo(panel));
        QVERIFY(!panel->findChild<QDoubleSpinBox *>("ddimEta")->isVisibleTo(panel));
        SamplingSettings settings = panel->settings();
        QCOMPARE(settings.method, std::string("dpm2s"));
        QCOMPARE(settings.fast.steps, int64_t(5));
        // The dock's state comes back as it was.
        const QString state = panel->saveState();
        method->setCurrentIndex(0);
        panel->restoreState(state);
        QCOMPARE(panel->settings().method, std::string("dpm2s"));
        QCOMPARE(panel->findChild<QSpinBox *>("fastNfe")->value(), 9);

        // The time grid: shown for DPM-Solver++, Karras by default with its rho; the log-SNR grid
        // has no rho. It is kept in the dock's state; EDM has its rho but no grid choice.
        auto *grid = panel->findChild<QComboBox *>("timeGrid");
        auto *rho = panel->findChild<QDoubleSpinBox *>("edmRho");
        QVERIFY(grid && rho);
        grid->setCurrentIndex(grid->findData("karras")); // a last run's choice may have come back
        QVERIFY(grid->isVisibleTo(panel));
        QVERIFY(rho->isVisibleTo(panel));
        QCOMPARE(panel->settings().fast.grid, std::string("karras"));
        grid->setCurrentIndex(grid->findData("logsnr"));
        QVERIFY(!rho->isVisibleTo(panel));
        QCOMPARE(panel->settings().fast.grid, std::string("logsnr"));
        const QString logSnrState = panel->saveState();
        grid->setCurrentIndex(grid->findData("karras"));
        panel->restoreState(logSnrState);
        QCOMPARE(grid->currentData().toString(), QString("logsnr"));
        method->setCurrentIndex(method->findData("edm"));
        QVERIFY(!grid->isVisibleTo(panel));
        QVERIFY(rho->isVisibleTo(panel));
        panel->restoreState(state);
        grid->setCurrentIndex(grid->findData("karras"));
        QCOMPARE(panel->settings().method, std::string("dpm2s"));

        QSignalSpy finished(window.generateWorkspace(), &GenerateWorkspace::finished);
        window.generateAction()->trigger();
        QVERIFY(finished.wait(120000));
        const GenerationResult &result = window.generateWorkspace()->lastResult();
        QVERIFY(result.completed);
        QCOMPARE(result.nfe, int64_t(9));
        QCOMPARE(result.samples.sizes(), (std::vector<int64_t>{2, 1, 28, 28}));
        QCOMPARE(window.generateWorkspace()->scrubber()->frameCount(), 5); // one frame per step
    }

    void precisionFromTheDock()
    {
        MainWindow window;
        QVERIFY2(window.openModel("fashion-mnist", true), qPrintable(window.lastError()));
        auto *panel = window.samplerPanel();
        auto *precision = panel->findChild<QComboBox *>("precision");
        QVERIFY(precision);
        QCOMPARE(precision->count(), 3);
        precision->setCurrentIndex(0); // the last run's choice comes back from the settings
        QCOMPARE(panel->settings().precision, EvaluationPrecision::Float32);
        // float16 is for CUDA: on the CPU its item is disabled, and its tooltip says why.
        auto *items = qobject_cast<QStandardItemModel *>(precision->model());
        QVERIFY(!items->item(2)->isEnabled());
        QVERIFY(precision->itemData(2, Qt::ToolTipRole).toString().contains("CUDA"));
        Json float16 = panel->settings().toJson();
        float16["precision"] = "float16";
        panel->restoreState(QString::fromStdString(dumpJson(float16)));
        QCOMPARE(panel->settings().precision, EvaluationPrecision::Float32); // not applied where it cannot run
        if (!precisionUnsupportedReason(EvaluationPrecision::BFloat16, torch::kCPU).empty())
            QSKIP("this CPU does not evaluate in bfloat16");

        auto *method = panel->findChild<QComboBox *>("samplerMethod");
        method->setCurrentIndex(method->findData("dpm2m"));
        panel->findChild<QSpinBox *>("fastNfe")->setValue(10);
        panel->findChild<QSpinBox *>("batch")->setValue(2);
        panel->setRandomSeed(false);
        panel->findChild<QLineEdit *>("seed")->setText("5");
        QSignalSpy finished(window.generateWorkspace(), &GenerateWorkspace::finished);
        window.generateAction()->trigger();
        QVERIFY(finished.wait(120000));
        const torch::Tensor exact = window.generateWorkspace()->lastResult().samples.clone();

        precision->setCurrentIndex(precision->findData("bfloat16"));
        QCOMPARE(panel->settings().precision, EvaluationPrecision::BFloat16);
        const QString state = panel->saveState();
        precision->setCurrentIndex(0);
        panel->restoreState(state);
        QCOMPARE(panel->settings().precision, EvaluationPrecision::BFloat16);
        window.generateAction()->trigger();
        QVERIFY(finished.wait(120000));
        QVERIFY(window.generateWorkspace()->lastResult().completed);
        // The same seed in bfloat16: close to the float32 samples, not equal to them.
        const double difference =
            (window.generateWorkspace()->lastResult().samples - exact).abs().mean().item<double>();
        QVERIFY2(difference > 1e-6 && difference < 0.02, qPrintable(QString("difference %1").arg(difference)));
        precision->setCurrentIndex(0); // the other tests run in float32
    }

    void cancelStopsWithinOneStepAndKeepsTheFrames()
    {
        MainWindow window;
        QVERIFY(window.openModel("fashion-mnist", true));
        quickSettings(window, 1000, 1, 1);
        QSignalSpy frames(window.generateWorkspace()->runner()->worker(), &SamplingWorker::frameReady);
        QSignalSpy finished(window.generateWorkspace(), &GenerateWorkspace::finished);
        window.generateAction()->trigger();
        QVERIFY(frames.wait(60000));
        window.cancelAction()->trigger();
        QVERIFY(finished.wait(60000));
        const GenerationResult &result = window.generateWorkspace()->lastResult();
        QVERIFY(!result.completed);
        QVERIFY(result.steps < 1000);
        QVERIFY(window.generateWorkspace()->scrubber()->frameCount() >= 1);
        QVERIFY(!result.samples.defined());
        QVERIFY(window.generateAction()->isEnabled());
    }

    // Ctrl+Enter runs the page in view, and while it runs says so: the keys never reach the
    // focused widget (the bundled model list took them as "open this model" and answered "cancel
    // it before loading another model").
    void ctrlEnterRunsThePageAndNeverOpensAModel()
    {
        MainWindow window;
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QVERIFY(window.openModel("fashion-mnist", true));
        quickSettings(window, 1000, 1, 1);
        auto *models = window.findChild<QListWidget *>("bundledModels");
        QVERIFY(models);
        window.findChild<QDockWidget *>("modelDock")->raise();
        models->setCurrentRow(models->count() - 1);
        models->setFocus();
        QSignalSpy frames(window.generateWorkspace()->runner()->worker(), &SamplingWorker::frameReady);
        QSignalSpy finished(window.generateWorkspace(), &GenerateWorkspace::finished);
        QTest::keyClick(models, Qt::Key_Return, Qt::ControlModifier);
        QVERIFY(window.generateWorkspace()->busy());
        QVERIFY(frames.wait(60000));
        QTest::keyClick(models, Qt::Key_Return, Qt::ControlModifier);
        QCOMPARE(window.statusBar()->currentMessage(), QString("Generate is running; Esc cancels it"));
        QVERIFY2(window.lastError().isEmpty(), qPrintable(window.lastError()));
        QCOMPARE(window.windowTitle(), QString("SDE Studio — fashion-mnist"));
        window.cancelAction()->trigger();
        QVERIFY(finished.wait(60000));

        // Another page: its own action, or why it cannot start.
        window.workspaces()->setCurrentWidget(window.likelihoodWorkspace());
        QTest::keyClick(&window, Qt::Key_Return, Qt::ControlModifier);
        QCOMPARE(window.statusBar()->currentMessage(),
                 QString("Add images or a folder (or send samples from Generate)"));
        QVERIFY(!window.likelihoodWorkspace()->busy());
        window.workspaces()->setCurrentWidget(window.trainWorkspace());
        QTest::keyClick(&window, Qt::Key_Return, Qt::ControlModifier);
        QVERIFY2(window.statusBar()->currentMessage().contains("no action on the Train page"),
                 qPrintable(window.statusBar()->currentMessage()));
        QVERIFY(!window.trainWorkspace()->busy());
    }

    // The window carries the application icon (resources/icons), in every size it is drawn at.
    void theWindowHasTheApplicationIcon()
    {
        MainWindow window;
        const QIcon icon = window.windowIcon();
        QVERIFY(!icon.isNull());
        for (int size : {16, 32, 48, 256}) {
            const QImage image = icon.pixmap(size, size).toImage();
            QCOMPARE(image.size(), QSize(size, size));
            // Not blank: the trajectory's white and the noise's dark cells.
            int light = 0, dark = 0;
            for (int y = 0; y < size; ++y)
                for (int x = 0; x < size; ++x) {
                    const int gray = qGray(image.pixel(x, y));
                    light += gray > 200;
                    dark += qAlpha(image.pixel(x, y)) > 0 && gray < 80;
                }
            QVERIFY2(light > 0 && dark > 0, qPrintable(QString("size %1").arg(size)));
        }
    }

    void corruptModelLeavesThePreviousOneLoaded()
    {
        MainWindow window;
        QVERIFY(window.openModel("fashion-mnist", true));
        auto before = window.model();
        const std::string corrupt = test::makeTempDir() + "/corrupt.safetensors";
        writeFileAtomically(corrupt, std::string("\x10\x00\x00\x00\x00\x00\x00\x00{not json}", 18));
        QVERIFY(!window.openModel(QString::fromStdString(corrupt), true));
        QCOMPARE(window.model().get(), before.get());
        QVERIFY(window.lastError().contains("corrupt.safetensors"));
        QVERIFY(!window.openModel("/nonexistent/model.pth", true));
        QCOMPARE(window.model().get(), before.get());
        QVERIFY(window.generateAction()->isEnabled());
    }

    // Issue 16: each crafted file of tests/data/hostile opened as a model shows its message in a
    // dialog, and the model that was loaded stays loaded (and usable).
    void hostileFilesShowTheirMessageAndKeepTheModel_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("message"); // after "Could not open the model: "
        const QString hostile = QString::fromStdString(test::dataDir()) + "/hostile/";
        QTest::newRow("pickle 100k deep")
            << hostile + "pth_nested_tuples_100k_deflated.pth"
            << hostile + "pth_nested_tuples_100k_deflated.pth: the pickle nests deeper than 1000 levels (at byte 1004 "
                         "of the pickle)";
        QTest::newRow("step not a number")
            << hostile + "st_meta_step_text_min.safetensors"
            << hostile + "st_meta_step_text_min.safetensors: metadata \"step\" is not an integer: abc";
        QTest::newRow("score input, not a model")
            << hostile + "score_empty_batch.safetensors"
            << hostile + "score_empty_batch.safetensors: this .safetensors file is not an SDE Studio model (its "
                         "metadata has no \"format\": \"sdestudio-model\")";
        // Told from the first bytes: not read as a safetensors file whose "header length" is text.
        const QString notAModel = "' is %1, not a model file (expected a .pth checkpoint or a .safetensors file)";
        QTest::newRow("config, not a model")
            << hostile + "cfg_toy_negative_lr.json"
            << "'" + hostile + "cfg_toy_negative_lr.json" + notAModel.arg("a JSON file");
        QTest::newRow("PNG, not a model") << hostile + "png_truncated_idat.png"
                                          << "'" + hostile + "png_truncated_idat.png" + notAModel.arg("a PNG image");
        QTest::newRow("IDX, not a model")
            << hostile + "idx_zero_dims-images-idx3-ubyte"
            << "'" + hostile + "idx_zero_dims-images-idx3-ubyte" + notAModel.arg("an IDX file");
        QTest::newRow("corrupt deflate stream")
            << hostile + "pth_deflate_corrupt.pth"
            << hostile + "pth_deflate_corrupt.pth: the archive's record 'archive/data.pkl' is corrupt: its deflated "
                         "data does not inflate (invalid at or before byte 1 of 301)";
    }
    void hostileFilesShowTheirMessageAndKeepTheModel()
    {
        QFETCH(QString, file);
        QFETCH(QString, message);
        MainWindow window;
        QVERIFY(window.openModel("fashion-mnist", true));
        const auto before = window.model();
        const QString title = window.windowTitle();
        QVERIFY(!window.openModel(file)); // not quiet: the message goes to a dialog
        // The reader's message names the file: the studio does not name it again.
        const QString expected = "Could not open the model: " + message;
        QCOMPARE(expected.count(file), 1);
        QCOMPARE(window.lastError(), expected);
        QMessageBox *box = nullptr;
        QTRY_VERIFY((box = window.findChild<QMessageBox *>()) && box->isVisible());
        QCOMPARE(box->text(), expected);
        box->close();
        QCOMPARE(window.model().get(), before.get());
        QCOMPARE(window.windowTitle(), title);
        QVERIFY(window.generateAction()->isEnabled());
    }

    // A model whose score overflows float32: Generate stops at the first step and the dialog
    // names the step and t.
    void nonFiniteSamplingShowsTheStep()
    {
        LoadOptions options;
        options.config = test::fixtureDir("ncsnpp_ve_small") + "/config.json";
        LoadedModel loaded = loadModelFile(test::fixtureDir("ncsnpp_ve_small") + "/checkpoint.pth", options);
        {
            torch::NoGradGuard noGrad;
            for (auto &item : loaded.model->network()->named_parameters())
                item.value().fill_(3e38f);
        }
        const std::string huge = test::makeTempDir() + "/huge.safetensors";
        saveModelFile(huge, *loaded.model, "ema");

        MainWindow window;
        QVERIFY2(window.openModel(QString::fromStdString(huge), true), qPrintable(window.lastError()));
        quickSettings(window, 4, 1, 0);
        QSignalSpy finished(window.generateWorkspace(), &GenerateWorkspace::finished);
        window.generateAction()->trigger();
        QVERIFY(finished.wait(60000));
        const QString expected = "Sampling failed: sampling stopped at step 1 of 4 (t = 1): the state is not finite "
                                 "(NaN or infinity); the model's score is not finite there";
        QCOMPARE(window.lastError(), expected);
        QMessageBox *box = nullptr;
        QTRY_VERIFY((box = window.findChild<QMessageBox *>()) && box->isVisible());
        QCOMPARE(box->text(), expected);
        QVERIFY(!window.generateWorkspace()->hasSamples());
    }

    // Issue 22: bundled models go by their names in the title and the Model dock (their weights
    // are all called model.safetensors), and each keeps its own saved sampler settings.
    void bundledModelsGoByTheirNames()
    {
        QSettings().clear();
        {
            MainWindow window;
            window.show();
            QVERIFY(window.openModel("toy-2d", true));
            QCOMPARE(window.windowTitle(), QString("SDE Studio — toy-2d"));
            QVERIFY(window.findChild<QLabel *>("modelSummary")->text().contains("<b>toy-2d</b>"));
            window.samplerPanel()->setRandomSeed(false);
            window.samplerPanel()->findChild<QLineEdit *>("seed")->setText("4242");
            window.close(); // saves the model's settings
        }
        MainWindow window;
        QVERIFY(window.openModel("fashion-mnist", true));
        QCOMPARE(window.windowTitle(), QString("SDE Studio — fashion-mnist"));
        QVERIFY(window.findChild<QLabel *>("modelSummary")->text().contains("<b>fashion-mnist</b>"));
        QVERIFY(window.samplerPanel()->seed() != uint64_t(4242)); // not toy-2d's
        QVERIFY(window.openModel("toy-2d", true));
        QCOMPARE(window.samplerPanel()->seed(), uint64_t(4242));
        QVERIFY(!window.samplerPanel()->randomSeed());
    }

    void droppingASavedPngRestoresTheSeed()
    {
        MainWindow window;
        window.show();
        QVERIFY(window.openModel("fashion-mnist", true));
        quickSettings(window, 21, 2, 5);
        window.samplerPanel()->findChild<QLineEdit *>("seed")->setText("77");
        QSignalSpy finished(window.generateWorkspace(), &GenerateWorkspace::finished);
        window.generateAction()->trigger();
        QVERIFY(finished.wait(120000));
        const QString folder = QString::fromStdString(test::makeTempDir());
        const QStringList written = window.generateWorkspace()->saveImages(folder);
        QCOMPARE(written.size(), 2);
        QVERIFY(written[1].endsWith("sample-78.png"));
        // The record names the bundled model, not its weights' file (model.safetensors).
        QCOMPARE(readGeneratedImageSettings(written[1].toStdString()).modelFile, std::string("fashion-mnist"));

        window.samplerPanel()->findChild<QLineEdit *>("seed")->setText("5");
        window.samplerPanel()->findChild<QSpinBox *>("steps")->setValue(999);
        // What dropping the file on the window does (QTest cannot drive a platform drag and drop).
        window.openDroppedFiles({QUrl::fromLocalFile(written[1])});
        QVERIFY2(window.lastError().isEmpty(), qPrintable(window.lastError()));
        QCOMPARE(window.samplerPanel()->seed(), uint64_t(78));
        QCOMPARE(window.samplerPanel()->settings().pc.steps, int64_t(21));
        QCOMPARE(window.samplerPanel()->settings().batch, int64_t(1));
        // A PNG without settings is refused with a message, the settings untouched.
        const std::string plain = test::makeTempDir() + "/plain.png";
        writeFileAtomically(plain, readFile(written[0].toStdString()).substr(0, 8) + "broken");
        QVERIFY(!window.restoreFromImage(QString::fromStdString(plain), true));
        QCOMPARE(window.samplerPanel()->seed(), uint64_t(78));
        const QString refusal = window.lastError();
        QVERIFY(refusal.startsWith("'" + QString::fromStdString(plain) + "'"));

        // Dropped for real: the drag-enter and drop events the platform delivers, sent to the window.
        // The refusal is shown in a dialog; the settings and the model stay.
        window.show();
        QVERIFY(window.findChildren<QMessageBox *>().isEmpty()); // the refusals so far were quiet
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(QString::fromStdString(plain))});
        QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &drop);
        const auto boxes = window.findChildren<QMessageBox *>();
        QVERIFY(!boxes.isEmpty());
        QMessageBox *box = boxes.last();
        QVERIFY(box->isVisible());
        QCOMPARE(box->text(), refusal);
        box->close();
        QCOMPARE(window.samplerPanel()->seed(), uint64_t(78));
        QCOMPARE(window.samplerPanel()->settings().pc.steps, int64_t(21));
        QVERIFY(window.model() != nullptr);
    }

    // Every 64-bit seed goes through the Seed field, the dock's saved state and a dropped PNG
    // unchanged (issue 18, case 2: above 2^53 seeds were rounded, 10^17 was written as 1e+17).
    void seedsRoundTripAtTheLimitsOfTheirType()
    {
        MainWindow window;
        QVERIFY(window.openModel("fashion-mnist", true));
        SamplerPanel *panel = window.samplerPanel();
        auto *field = panel->findChild<QLineEdit *>("seed");
        field->clear();
        QTest::keyClicks(field, "18446744073709551616"); // 2^64: the last digit is refused
        QCOMPARE(field->text(), QString("1844674407370955161"));
        QTest::keyClick(field, Qt::Key_5);
        QCOMPARE(panel->seed(), std::numeric_limits<uint64_t>::max());
        QTest::keyClicks(field, "x-");
        QCOMPARE(field->text(), QString("18446744073709551615"));

        for (const uint64_t seed :
             {uint64_t(9007199254740993ull), uint64_t(100000000000000000ull), std::numeric_limits<uint64_t>::max()}) {
            SamplingSettings settings = panel->settings();
            settings.seed = seed;
            settings.batch = 1;
            panel->setSettings(settings);
            QCOMPARE(field->text(), QString::number(seed));
            const QString state = panel->saveState();
            QVERIFY2(state.contains(QString::number(seed)), qPrintable(state));
            field->setText("3");
            panel->restoreState(state);
            QCOMPARE(panel->seed(), seed);

            GenerationRecord record;
            record.modelFile = "fashion-mnist";
            record.settings = settings;
            const std::string png = test::makeTempDir() + "/sample.png";
            saveGeneratedImage(png, torch::zeros({1, 28, 28}), record, *window.model());
            field->setText("3");
            QVERIFY2(window.restoreFromImage(QString::fromStdString(png), true), qPrintable(window.lastError()));
            QCOMPARE(panel->seed(), seed);
        }
        // The last image of a batch uses seed + batch - 1, which must fit too.
        SamplingSettings full = panel->settings();
        full.batch = 2;
        QVERIFY_THROWS_EXCEPTION(Error, checkSamplingSettings(full));
        full.seed -= 1;
        checkSamplingSettings(full);
    }

    // Issue 18: every integer setting we record (each sampler's step counts, the batch) at both ends
    // of its range comes back exactly from the studio's fields, the dock's saved state and a PNG
    // record dropped on the studio; one past either end is refused.
    void stepsAndBatchRoundTripAtTheirLimits()
    {
        MainWindow window;
        QVERIFY(window.openModel("fashion-mnist", true));
        SamplerPanel *panel = window.samplerPanel();
        int checked = 0;
        for (const SamplerDescription &d : samplerCatalogue())
            for (const SamplerKnob &knob : d.knobs) {
                if (knob.kind != KnobKind::Integer)
                    continue;
                for (const bool top : {false, true}) {
                    SamplingSettings settings = panel->settings();
                    settings.method = d.id;
                    settings.fast.solver = d.id;
                    // The choice that makes the knob matter: the ODE's fixed-step solver, a corrector.
                    if (!knob.appliesTo(settings))
                        settings.ode.ode.method = OdeMethod::Heun;
                    if (!knob.appliesTo(settings))
                        settings.pc.corrector = "langevin";
                    QVERIFY2(knob.appliesTo(settings), knob.key.c_str());
                    const double value = top ? knob.maximum : knob.minimum;
                    knob.setNumber(settings, value);
                    settings.batch = top ? kLargestBatch : 1;
                    settings.seed = 5;
                    checkSamplingSettings(settings);
                    const QString row = QString("%1 %2 = %3").arg(d.id.c_str(), knob.key.c_str()).arg(value);

                    panel->setSettings(settings);
                    QVERIFY2(knob.number(panel->settings()) == value, qPrintable(row));
                    QCOMPARE(panel->settings().batch, settings.batch);
                    const QString state = panel->saveState();
                    SamplingSettings other = settings;
                    knob.setNumber(other, top ? value - 1 : value + 1);
                    other.batch = 2;
                    panel->setSettings(other);
                    panel->restoreState(state);
                    QVERIFY2(knob.number(panel->settings()) == value, qPrintable(row + " (saved state)"));
                    QCOMPARE(panel->settings().batch, settings.batch);

                    GenerationRecord record;
                    record.modelFile = "fashion-mnist";
                    record.settings = settings;
                    const std::string png = test::makeTempDir() + "/sample.png";
                    saveGeneratedImage(png, torch::zeros({1, 28, 28}), record, *window.model());
                    panel->setSettings(other);
                    QVERIFY2(window.restoreFromImage(QString::fromStdString(png), true),
                             qPrintable(window.lastError()));
                    QVERIFY2(knob.number(panel->settings()) == value, qPrintable(row + " (PNG record)"));
                    QCOMPARE(panel->settings().batch, settings.batch);

                    SamplingSettings outside = settings;
                    knob.setNumber(outside, top ? value + 1 : value - 1);
                    QVERIFY_THROWS_EXCEPTION(Error, checkSamplingSettings(outside));
                    ++checked;
                }
            }
        QVERIFY(checked >= 10);
        SamplingSettings tooMany = panel->settings();
        tooMany.batch = kLargestBatch + 1;
        QVERIFY_THROWS_EXCEPTION(Error, checkSamplingSettings(tooMany));
    }

    void toyModelMovesParticles()
    {
        MainWindow window;
        // A fresh point model draws a cloud of a few thousand points; an image model, a grid again.
        auto *batch = window.samplerPanel()->findChild<QSpinBox *>("batch");
        batch->setValue(16);
        QSettings().remove("sampler/toy-2d");
        QSettings().remove("sampler/fashion-mnist");
        QVERIFY(window.openModel("toy-2d", true));
        QCOMPARE(batch->value(), int(kPointCloudSamples));
        QVERIFY(window.openModel("fashion-mnist", true));
        QCOMPARE(batch->value(), int(kImagePreviewSamples));
        QVERIFY(window.openModel("toy-2d", true));
        quickSettings(window, 21, 50, 4);
        QSignalSpy finished(window.generateWorkspace(), &GenerateWorkspace::finished);
        window.generateAction()->trigger();
        QVERIFY(finished.wait(60000));
        QVERIFY(
            window.generateWorkspace()->scrubber()->pointPlot()->isVisibleTo(window.generateWorkspace()->scrubber()));
        QCOMPARE(window.generateWorkspace()->scrubber()->pointPlot()->particleCount(), 50);
        QCOMPARE(window.generateWorkspace()->lastResult().samples.size(0), int64_t(50));
    }

    void resetLayoutBringsTheDocksBack()
    {
        MainWindow window;
        window.show();
        auto *log = window.findChild<QDockWidget *>("logDock");
        auto *model = window.findChild<QDockWidget *>("modelDock");
        QVERIFY(log && model && window.findChild<QDockWidget *>("samplerDock"));
        model->hide();
        log->show();
        window.resetLayout();
        QVERIFY(model->isVisibleTo(&window));
        QVERIFY(!log->isVisibleTo(&window)); // the log is a line in the status bar until opened
        QCOMPARE(window.workspaces()->count(), 6);
    }

    // The window fits a 1366 x 768 screen on every page, whatever its status lines say (a long
    // one used to widen the window to 1935 pixels), and the samples are the Generate page's
    // largest element.
    void theWindowFitsA1366By768Screen()
    {
        QSettings().remove("window");
        MainWindow window;
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QVERIFY(window.openModel("fashion-mnist", true));
        const QString longText =
            "a status line that names a long path: /home/someone/" + QString("very-long-folder/").repeated(12);
        for (auto *label : window.findChildren<QLabel *>())
            if (label->objectName() == "runStatus" || label->objectName() == "likelihoodSummary")
                label->setText(longText);
        window.generateWorkspace()->progressLabel()->setText(longText);
        for (int page = 0; page < window.workspaces()->count(); ++page) {
            window.workspaces()->setCurrentIndex(page);
            QApplication::processEvents();
            const QSize least = window.minimumSizeHint().expandedTo(window.minimumSize());
            QVERIFY2(least.width() <= 1366 && least.height() <= 768 - 40,
                     qPrintable(QString("%1: at least %2 x %3")
                                    .arg(window.workspaces()->tabText(page))
                                    .arg(least.width())
                                    .arg(least.height())));
        }
        window.resize(1366, 728);
        window.workspaces()->setCurrentIndex(0);
        QApplication::processEvents();
        auto *result = window.generateWorkspace()->findChild<ImageView *>("resultView");
        auto *state = window.generateWorkspace()->scrubber()->findChild<ImageView *>("stateView");
        QVERIFY(result && state);
        // Images are drawn square, as large as the shorter side allows.
        const auto side = [](QWidget *view) { return std::min(view->width(), view->height()); };
        QVERIFY2(side(result) > 1.25 * side(state), qPrintable(QString("samples %1 x %2, each trajectory view %3 x %4")
                                                                   .arg(result->width())
                                                                   .arg(result->height())
                                                                   .arg(state->width())
                                                                   .arg(state->height())));
    }

    // The History dock keeps the results made since the start, newest first: a click restores an
    // entry's settings and seed, a drop puts its image into the workspace in view (a shape the
    // model does not take is refused).
    void historyKeepsTheResults()
    {
        MainWindow window;
        window.show();
        QVERIFY(window.openModel("fashion-mnist", true));
        auto *panel = window.samplerPanel();
        panel->useFastDefault();
        panel->findChild<QSpinBox *>("batch")->setValue(2);
        panel->setRandomSeed(false);
        auto *seed = panel->findChild<QLineEdit *>("seed");
        QSignalSpy finished(window.generateWorkspace(), &GenerateWorkspace::finished);
        seed->setText("5");
        window.generateAction()->trigger();
        QVERIFY(finished.wait(60000));
        const torch::Tensor first = window.generateWorkspace()->lastResult().samples[0].clone();
        seed->setText("9");
        window.generateAction()->trigger();
        QVERIFY(finished.wait(60000));
        HistoryPanel *history = window.history();
        QCOMPARE(history->count(), 2);
        QCOMPARE(history->entry(0).settings.seed, uint64_t(9));
        QCOMPARE(history->entry(1).settings.seed, uint64_t(5));
        QCOMPARE(history->entry(1).operation, QString("generate"));
        QCOMPARE(history->entry(1).model, QString("fashion-mnist"));
        QVERIFY(torch::allclose(history->entry(1).image, first.clamp(0.0, 1.0)));
        QVERIFY(history->item(1)->toolTip().contains("DPM-Solver++ 3M"));

        Q_EMIT history->itemClicked(history->item(1));
        QCOMPARE(panel->settings().seed, uint64_t(5));
        QVERIFY(window.statusBar()->currentMessage().contains("restored from the history"));

        std::unique_ptr<QMimeData> drag(history->dragData(1));
        window.workspaces()->setCurrentWidget(window.inpaintWorkspace());
        QVERIFY(window.dropHistoryEntry(drag.get()));
        QVERIFY(torch::equal(window.inpaintWorkspace()->imageTensor(), history->entry(1).image));
        // Interpolate: the first drop fills the start, the next the end.
        std::unique_ptr<QMimeData> newer(history->dragData(0));
        window.workspaces()->setCurrentWidget(window.interpolateWorkspace());
        QVERIFY(window.dropHistoryEntry(drag.get()));
        QVERIFY(window.dropHistoryEntry(newer.get()));
        QVERIFY(torch::equal(window.interpolateWorkspace()->endpoint(0), history->entry(1).image));
        QVERIFY(torch::equal(window.interpolateWorkspace()->endpoint(1), history->entry(0).image));
        // An inpainting's result joins the history too.
        window.workspaces()->setCurrentWidget(window.inpaintWorkspace());
        window.inpaintWorkspace()->canvas()->invertMask(); // fill everything
        window.inpaintWorkspace()->inpaint();
        QTRY_VERIFY_WITH_TIMEOUT(!window.inpaintWorkspace()->busy() && history->count() == 3, 60000);
        QCOMPARE(history->entry(0).operation, QString("inpaint"));
        // A drag released outside the workspaces (over the History dock) changes nothing; a row
        // that is not there has no drag; the history keeps its newest entries, rows and entries alike.
        const torch::Tensor canvasBefore = window.inpaintWorkspace()->imageTensor().clone();
        std::unique_ptr<QMimeData> stray(history->dragData(0));
        const QPoint overDock = window.findChild<QDockWidget *>("historyDock")->geometry().center();
        QDropEvent outside(QPointF(overDock), Qt::CopyAction, stray.get(), Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&window, &outside);
        QVERIFY(torch::equal(window.inpaintWorkspace()->imageTensor(), canvasBefore));
        QVERIFY(history->dragData(99) == nullptr);
        for (int i = 0; i < HistoryPanel::kMostEntries + 5; ++i)
            history->addResult("generate", "test", torch::full({1, 1, 28, 28}, i / 300.0), SamplingSettings{});
        QCOMPARE(history->count(), HistoryPanel::kMostEntries);
        QVERIFY(torch::allclose(history->entry(0).image,
                                torch::full({1, 28, 28}, (HistoryPanel::kMostEntries + 4) / 300.0)));
        // Another model's shape is refused by name.
        QVERIFY(window.openModel("photo-rgb", true));
        window.workspaces()->setCurrentWidget(window.likelihoodWorkspace());
        std::unique_ptr<QMimeData> newest(history->dragData(0));
        QVERIFY(!window.dropHistoryEntry(newest.get()));
        QVERIFY2(window.lastError().contains("the loaded model takes another shape"), qPrintable(window.lastError()));
        QVERIFY(!window.dropHistoryEntry(drag.get())); // dropped from the history by now
        QVERIFY2(window.lastError().contains("is gone"), qPrintable(window.lastError()));
        QCOMPARE(window.likelihoodWorkspace()->imageCount(), 0);
    }

    // The studio's style (studio_style.h) in the dark palette: the samples grid's gaps and the
    // plots' paper are the palette's, never white; pictures sit at the top with their caption right
    // under them; headings are bold in the body size.
    void theDarkPaletteHasNoWhiteFrames()
    {
        auto *app = qobject_cast<QApplication *>(QCoreApplication::instance());
        const QPalette saved = QApplication::palette();
        const auto restore = qScopeGuard([&] { QApplication::setPalette(saved); });
        qputenv("SDE_STUDIO_THEME", "dark");
        applyStudioStyle(*app);
        qunsetenv("SDE_STUDIO_THEME");
        const QPalette dark = QApplication::palette();
        QVERIFY(dark.color(QPalette::Window).lightness() < 80);
        const auto isDark = [](QColor c) { return c.lightness() < 100; };
        {
            MainWindow window;
            window.resize(1366, 768);
            window.show();
            QVERIFY(QTest::qWaitForWindowExposed(&window));
            QVERIFY2(window.openModel("fashion-mnist", true), qPrintable(window.lastError()));
            quickSettings(window, 21, 4, 7);
            QSignalSpy finished(window.generateWorkspace(), &GenerateWorkspace::finished);
            window.generateAction()->trigger();
            QVERIFY(finished.wait(60000));
            ImageView *result = window.generateWorkspace()->resultView();
            // The grid's image: transparent 2 px gaps around opaque cells.
            const QImage grid = result->image();
            QCOMPARE(grid.size(), QSize(2 + 2 * 30, 2 + 2 * 30));
            QCOMPARE(qAlpha(grid.pixel(0, 0)), 0);
            QCOMPARE(qAlpha(grid.pixel(30, 10)), 0);
            QCOMPARE(qAlpha(grid.pixel(2, 2)), 255);
            // On screen the gap is the window's dark gray (the cells' corners are black anyway).
            const QRect where = result->imageRect();
            QCOMPARE(where.top(), 4); // at the top of the view
            const QImage shown = result->grab().toImage();
            // The middle of the gap between the first two columns (image x 30 and 31), a row down.
            const double scale = where.width() / 62.0;
            const QPoint gap(where.left() + static_cast<int>(31.0 * scale),
                             where.top() + static_cast<int>(15.0 * scale));
            QVERIFY2(isDark(shown.pixelColor(gap)), qPrintable(shown.pixelColor(gap).name()));
            QCOMPARE(shown.pixelColor(gap), dark.color(QPalette::Window));
            // The caption right under the picture, painted in the caption color.
            const QRect caption = result->captionRect();
            QVERIFY(caption.top() > where.bottom() && caption.top() - where.bottom() <= 4);
            bool captionPainted = false, windowTextPainted = false;
            for (int y = caption.top(); y <= caption.bottom(); ++y)
                for (int x = caption.left(); x <= caption.right(); ++x) {
                    captionPainted |= shown.pixelColor(x, y) == captionColor(dark);
                    windowTextPainted |= shown.pixelColor(x, y) == dark.color(QPalette::WindowText);
                }
            QVERIFY(captionPainted && !windowTextPainted);
            // The loss plot's paper is the palette's Base color.
            window.workspaces()->setCurrentWidget(window.trainWorkspace());
            auto *plot = window.trainWorkspace()->findChild<QWidget *>("lossChart");
            QVERIFY(plot);
            QTRY_VERIFY(plot->isVisible());
            const QImage chart = plot->grab().toImage();
            QCOMPARE(chart.pixelColor(chart.width() - 3, chart.height() - 3), dark.color(QPalette::Base));
            // Headings: bold, the body size; both columns' headings on one line.
            const QList<QLabel *> headings = window.trainWorkspace()->findChildren<QLabel *>("heading");
            QCOMPARE(headings.size(), 2);
            for (QLabel *heading : headings) {
                QVERIFY(heading->font().bold());
                QCOMPARE(heading->font().pointSizeF(), window.font().pointSizeF());
                QCOMPARE(heading->mapTo(&window, QPoint()).y(), headings.front()->mapTo(&window, QPoint()).y());
            }
            // A point model's samples on the Base color, not on white paper.
            QVERIFY(window.openModel("toy-2d", true));
            window.workspaces()->setCurrentWidget(window.generateWorkspace());
            quickSettings(window, 21, 200, 7);
            window.generateAction()->trigger();
            QVERIFY(finished.wait(60000));
            const QImage cloud = window.generateWorkspace()->resultView()->image();
            QCOMPARE(cloud.pixelColor(0, 0), dark.color(QPalette::Base));
        }
        // The trainer's pictures (white gaps, white paper) shown in the palette's colors.
        {
            // Four samples, white but for one pixel of the last (an all-white last-row cell reads as
            // no sample).
            torch::Tensor white = torch::full({4, 1, 3, 3}, 1.0);
            white[3][0][2][2] = 0.5;
            const QImage grid = tensorToImage(makeGrid(white));
            QCOMPARE(grid.pixelColor(0, 0), QColor(Qt::white));
            const QImage onScreen = previewForScreen(grid, {false, 3}, dark);
            QCOMPARE(qAlpha(onScreen.pixel(0, 0)), 0);
            QCOMPARE(qAlpha(onScreen.pixel(5, 3)), 0);
            QCOMPARE(onScreen.pixelColor(2, 2), QColor(Qt::white)); // a white sample stays white
            QCOMPARE(onScreen.pixelColor(7, 7), QColor(Qt::white));
            const QImage points =
                previewForScreen(tensorToImage(renderPointCloud(torch::zeros({50, 2}), 32)), {true, 1}, dark);
            QCOMPARE(points.pixelColor(0, 0), dark.color(QPalette::Base));
            QVERIFY(points.pixelColor(16, 16) != dark.color(QPalette::Base)); // the points at the origin
            // Three samples in a 2 x 2 grid: the fourth cell is no sample.
            const QImage three =
                previewForScreen(tensorToImage(makeGrid(torch::full({3, 1, 3, 3}, 0.5))), {false, 3}, dark);
            QCOMPARE(qAlpha(three.pixel(3, 8)), 255);
            QCOMPARE(qAlpha(three.pixel(8, 8)), 0);
        }
    }

    // The log starts closed, as one button at the end of the status bar that opens it and counts
    // the errors and warnings logged while it was closed.
    void theLogIsACollapsibleLine()
    {
        installLogging();
        QSettings().remove("window"); // a first start: no saved layout
        MainWindow window;
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        auto *log = window.findChild<QDockWidget *>("logDock");
        auto *button = window.findChild<QToolButton *>("logButton");
        QVERIFY(log && button);
        QVERIFY(!log->isVisible());
        QCOMPARE(button->text(), QString("Log"));
        spdlog::info("an ordinary line");
        spdlog::error("something failed");
        spdlog::warn("something to note");
        QTRY_COMPARE(button->text(), QString("Log (2 new problem(s))"));
        QVERIFY(button->toolTip().contains("something to note"));
        QTest::mouseClick(button, Qt::LeftButton);
        QTRY_VERIFY(log->isVisible());
        QCOMPARE(button->text(), QString("Log"));
        QVERIFY(button->isChecked());
        spdlog::error("seen at once");
        QTRY_VERIFY(button->toolTip().contains("seen at once"));
        QCOMPARE(button->text(), QString("Log"));
        QTest::mouseClick(button, Qt::LeftButton);
        QTRY_VERIFY(!log->isVisible());
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
