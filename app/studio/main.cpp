// sdestudio: the desktop studio. Opens with the last model used, else the bundled default.
#include "log_dock.h"
#include "main_window.h"
#include "studio_style.h"

#include "io/bundled_models.h"
#include "util/build_info.h"
#include "util/device.h"

#include <QApplication>
#include <QSettings>

#include <spdlog/spdlog.h>

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName("SDE Studio");
    QApplication::setApplicationName("SDE Studio");
    QApplication::setApplicationVersion(SDE_VERSION);
    // The desktop entry (resources/), so that the shell matches the window to its menu item.
    QGuiApplication::setDesktopFileName("io.github.sdestudio.SDEStudio");
    QApplication::setWindowIcon(sde::ui::applicationIcon());
    sde::ui::applyStudioStyle(app);
    const QString logFile = sde::ui::installLogging();
    sde::configureThreads();
    // The workspaces' worker threads run the models with every core; this thread only converts
    // images, and on one thread it leaves them the cores (runThisThreadSerially).
    sde::runThisThreadSerially();

    sde::ui::MainWindow window;
    window.show();
    spdlog::info("SDE Studio started; log file {}", logFile.toStdString());
    // The model given on the command line, else the last one used, else the bundled default.
    QStringList candidates;
    if (argc > 1)
        candidates << QString::fromLocal8Bit(argv[1]);
    candidates << QSettings().value("lastModel").toString() << QString(sde::kDefaultModelName);
    for (const QString &candidate : candidates)
        if (!candidate.isEmpty() && window.openModel(candidate, /*quiet=*/candidate != candidates.front()))
            break;
    return app.exec();
}
