// Screenshots of the studio, one per workspace, after a short Generate run with a bundled
// model: run it under Xvfb (xvfb-run) to see the studio as a person does.
//   studio_screenshots OUTPUT_FOLDER [MODEL] [STEPS]
#include "log_dock.h"
#include "main_window.h"
#include "sampler_panel.h"
#include "trajectory_scrubber.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStyleFactory>
#include <QTabWidget>
#include <QTimer>
#include <QtTest/QtTest>

#include <iostream>

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName("SDE Studio Screenshots");
    QApplication::setApplicationName("studio_screenshots");
    app.setStyle(QStyleFactory::create("Fusion"));
    if (argc < 2) {
        std::cerr << "usage: studio_screenshots OUTPUT_FOLDER [MODEL] [STEPS]\n";
        return 2;
    }
    sde::ui::installLogging();
    const QString folder = argv[1];
    const QString model = argc > 2 ? argv[2] : "fashion-mnist";
    const int steps = argc > 3 ? QString(argv[3]).toInt() : 200;
    QDir().mkpath(folder);
    sde::ui::MainWindow window;
    window.resize(1280, 820);
    window.show();
    if (!window.openModel(model, true)) {
        std::cerr << window.lastError().toStdString() << "\n";
        return 1;
    }
    auto *panel = window.samplerPanel();
    panel->findChild<QComboBox *>("corrector")->setCurrentText("none");
    panel->findChild<QSpinBox *>("steps")->setValue(steps);
    panel->findChild<QSpinBox *>("frameEvery")->setValue(std::max(1, steps / 50));
    QSignalSpy finished(&window, &sde::ui::MainWindow::generationFinished);
    window.generate();
    if (!finished.wait(600000))
        return 1;
    window.scrubber()->setCurrentFrame(window.scrubber()->frameCount() / 2);
    QCoreApplication::processEvents();
    auto *tabs = window.workspaces();
    for (int i = 0; i < tabs->count(); ++i) {
        tabs->setCurrentIndex(i);
        QTest::qWait(200);
        const QString path = QDir(folder).filePath(QString("%1-%2.png").arg(i + 1).arg(tabs->tabText(i).toLower()));
        window.grab().save(path);
        std::cout << path.toStdString() << "\n";
    }
    return 0;
}
