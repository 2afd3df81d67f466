// Screenshots of the studio, one per workspace, each after a short run of its own: run it under
// Xvfb (xvfb-run) to see the studio as a person does.
//   studio_screenshots OUTPUT_FOLDER [MODEL] [STEPS] [PHOTO] [SAMPLER]
// With SAMPLER (a fast sampler: dpm2m, edm, ...) only Generate and Inpaint are shot, with STEPS
// evaluations; SAMPLER "default" shoots every workspace with the fast default sampler, as a fresh
// start has it (the README's screenshots: studio_screenshots resources/screenshots fashion-mnist 20
// "" default).
// Generate samples with MODEL (default fashion-mnist); Inpaint fills a stroke across sample 1;
// Interpolate slides from sample 1 to sample 2; Likelihood measures four samples; Colorize loads
// the bundled photo-rgb model and colorizes PHOTO (a color photograph, default one of
// mate-backgrounds); Train runs the toy config for a few seconds.
#include "colorize_workspace.h"
#include "generate_workspace.h"
#include "inpaint_workspace.h"
#include "interpolate_workspace.h"
#include "likelihood_workspace.h"
#include "log_dock.h"
#include "main_window.h"
#include "mask_canvas.h"
#include "sampler_panel.h"
#include "studio_style.h"
#include "train_workspace.h"
#include "training_worker.h"
#include "trajectory_scrubber.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStyleFactory>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <iostream>

namespace {

using namespace sde::ui;

void shoot(MainWindow &window, const QString &folder, QWidget *workspace)
{
    auto *tabs = window.workspaces();
    tabs->setCurrentWidget(workspace);
    QTest::qWait(300);
    const int i = tabs->currentIndex();
    const QString path = QDir(folder).filePath(QString("%1-%2.png").arg(i + 1).arg(tabs->tabText(i).toLower()));
    window.grab().save(path);
    std::cout << path.toStdString() << "\n";
}

bool waitRun(Workspace *workspace)
{
    QSignalSpy finished(workspace->runner(), &SamplingRunner::finished);
    return finished.wait(600000);
}

} // namespace

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName("SDE Studio Screenshots");
    QApplication::setApplicationName("studio_screenshots");
    applyStudioStyle(app); // SDE_STUDIO_THEME=dark for the dark palette
    if (argc < 2) {
        std::cerr << "usage: studio_screenshots OUTPUT_FOLDER [MODEL] [STEPS] [PHOTO] [SAMPLER]\n";
        return 2;
    }
    installLogging();
    const QString folder = argv[1];
    const QString model = argc > 2 ? argv[2] : "fashion-mnist";
    const int steps = argc > 3 ? QString(argv[3]).toInt() : 200;
    const QString photo = argc > 4 && argv[4][0] ? argv[4] : "/usr/share/backgrounds/mate/nature/Garden.jpg";
    QDir().mkpath(folder);
    MainWindow window;
    window.resize(1366, 720); // a 1366 x 768 laptop screen less a panel
    window.show();
    if (!window.openModel(model, true)) {
        std::cerr << window.lastError().toStdString() << "\n";
        return 1;
    }
    auto *panel = window.samplerPanel();
    // The PC sampler without its corrector at STEPS steps, unless SAMPLER names another.
    const auto pcSteps = [&] {
        auto *method = panel->findChild<QComboBox *>("samplerMethod");
        method->setCurrentIndex(method->findData("pc"));
        panel->findChild<QComboBox *>("corrector")->setCurrentText("none");
        panel->findChild<QSpinBox *>("steps")->setValue(steps);
    };
    pcSteps();
    panel->findChild<QSpinBox *>("frameEvery")->setValue(std::max(1, steps / 50));
    const QString sampler = argc > 5 ? argv[5] : "";
    const bool fastDefault = sampler == "default";
    if (fastDefault) {
        panel->useFastDefault();
        panel->findChild<QSpinBox *>("frameEvery")->setValue(1);
    } else if (!sampler.isEmpty()) {
        auto *method = panel->findChild<QComboBox *>("samplerMethod");
        method->setCurrentIndex(method->findData(sampler));
        panel->findChild<QSpinBox *>("fastNfe")->setValue(steps);
        panel->findChild<QSpinBox *>("frameEvery")->setValue(1);
    }
    QSignalSpy finished(window.generateWorkspace(), &GenerateWorkspace::finished);
    window.generate();
    if (!finished.wait(600000))
        return 1;
    window.generateWorkspace()->scrubber()->setCurrentFrame(window.generateWorkspace()->scrubber()->frameCount() / 2);
    shoot(window, folder, window.workspaces()->widget(0));
    if (window.model()->config().isPointModel())
        return 0;

    // Inpaint: a stroke across sample 1, four variants.
    window.generateWorkspace()->sendSample(0, SampleTarget::Inpaint);
    InpaintWorkspace *inpaint = window.inpaintWorkspace();
    MaskCanvas *canvas = inpaint->canvas();
    window.workspaces()->setCurrentWidget(inpaint);
    QTest::qWait(200);
    const double size = canvas->image().width();
    canvas->setBrushSize(size / 5);
    QTest::mousePress(canvas, Qt::LeftButton, Qt::NoModifier, canvas->toWidget({size * 0.2, size * 0.45}).toPoint());
    QTest::mouseMove(canvas, canvas->toWidget({size * 0.5, size * 0.5}).toPoint());
    QTest::mouseMove(canvas, canvas->toWidget({size * 0.8, size * 0.45}).toPoint());
    QTest::mouseRelease(canvas, Qt::LeftButton, Qt::NoModifier, canvas->toWidget({size * 0.8, size * 0.45}).toPoint());
    inpaint->inpaint();
    if (!waitRun(inpaint))
        return 1;
    shoot(window, folder, inpaint);
    if (!sampler.isEmpty() && !fastDefault)
        return 0;

    // Interpolate from sample 1 to sample 2 (Heun, 40 steps).
    panel->findChild<QComboBox *>("odeSolver")->setCurrentText("heun");
    panel->findChild<QSpinBox *>("odeSteps")->setValue(40);
    window.generateWorkspace()->sendSample(0, SampleTarget::InterpolationStart);
    window.generateWorkspace()->sendSample(1, SampleTarget::InterpolationEnd);
    window.interpolateWorkspace()->interpolate();
    if (!waitRun(window.interpolateWorkspace()))
        return 1;
    window.interpolateWorkspace()->findChild<QSlider *>("interpolationPosition")->setValue(6);
    shoot(window, folder, window.interpolateWorkspace());

    // Likelihood of four samples.
    for (int i = 1; i < 4; ++i)
        window.generateWorkspace()->sendSample(i, SampleTarget::Likelihood);
    window.generateWorkspace()->sendSample(0, SampleTarget::Likelihood);
    window.likelihoodWorkspace()->findChild<QDoubleSpinBox *>("likelihoodTolerance")->setValue(1e-3);
    window.likelihoodWorkspace()->compute();
    if (!waitRun(window.likelihoodWorkspace()))
        return 1;
    shoot(window, folder, window.likelihoodWorkspace());

    // Train: the toy config for a few seconds, in a folder that goes away afterwards.
    QTemporaryDir runs;
    TrainWorkspace *train = window.trainWorkspace();
    auto *config = train->findChild<QComboBox *>("trainConfig");
    config->setCurrentIndex(config->findText("bundled: toy-2d"));
    QMetaObject::invokeMethod(config, "activated", Q_ARG(int, config->currentIndex()));
    train->findChild<QSpinBox *>("trainSnapshotEvery")->setValue(200);
    train->setRunFolder(runs.filePath("toy"));
    window.workspaces()->setCurrentWidget(train);
    train->startRun();
    QTest::qWait(12000);
    shoot(window, folder, train);
    QSignalSpy trained(train->worker(), &TrainingWorker::finished);
    train->stopRun();
    trained.wait(60000);

    // Colorize a photograph with the bundled RGB model.
    if (!window.openModel("photo-rgb", true)) {
        std::cerr << window.lastError().toStdString() << "\n";
        return 1;
    }
    if (fastDefault)
        panel->useFastDefault();
    else
        pcSteps();
    ColorizeWorkspace *colorize = window.colorizeWorkspace();
    if (!colorize->openImageFile(photo)) {
        std::cerr << window.lastError().toStdString() << "\n";
        return 1;
    }
    colorize->colorize();
    if (!waitRun(colorize))
        return 1;
    shoot(window, folder, colorize);
    return 0;
}
