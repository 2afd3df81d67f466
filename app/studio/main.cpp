// sdestudio: the desktop studio. Opens with the last model used, else the bundled default.
#include "log_dock.h"
#include "main_window.h"

#include "io/bundled_models.h"
#include "util/build_info.h"
#include "util/device.h"

#include <QApplication>
#include <QPalette>
#include <QSettings>
#include <QStyleFactory>

#include <spdlog/spdlog.h>

namespace {

// Fusion everywhere; dark when the system's palette is dark (or SDE_STUDIO_THEME=dark).
void applyStyle(QApplication &app)
{
    const bool systemDark = app.palette().color(QPalette::Window).lightness() < 128;
    const QByteArray theme = qgetenv("SDE_STUDIO_THEME");
    app.setStyle(QStyleFactory::create("Fusion"));
    if (theme == "light" || (!systemDark && theme != "dark"))
        return;
    QPalette dark;
    dark.setColor(QPalette::Window, QColor(45, 45, 48));
    dark.setColor(QPalette::WindowText, QColor(225, 225, 225));
    dark.setColor(QPalette::Base, QColor(30, 30, 32));
    dark.setColor(QPalette::AlternateBase, QColor(45, 45, 48));
    dark.setColor(QPalette::ToolTipBase, QColor(60, 60, 64));
    dark.setColor(QPalette::ToolTipText, QColor(225, 225, 225));
    dark.setColor(QPalette::Text, QColor(225, 225, 225));
    dark.setColor(QPalette::PlaceholderText, QColor(140, 140, 140));
    dark.setColor(QPalette::Button, QColor(53, 53, 56));
    dark.setColor(QPalette::ButtonText, QColor(225, 225, 225));
    dark.setColor(QPalette::Highlight, QColor(60, 120, 200));
    dark.setColor(QPalette::HighlightedText, Qt::white);
    dark.setColor(QPalette::Disabled, QPalette::Text, QColor(120, 120, 120));
    dark.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(120, 120, 120));
    dark.setColor(QPalette::Disabled, QPalette::WindowText, QColor(120, 120, 120));
    app.setPalette(dark);
}

} // namespace

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName("SDE Studio");
    QApplication::setApplicationName("SDE Studio");
    QApplication::setApplicationVersion(SDE_VERSION);
    // The desktop entry (resources/), so that the shell matches the window to its menu item.
    QGuiApplication::setDesktopFileName("io.github.sdestudio.SDEStudio");
    QApplication::setWindowIcon(sde::ui::applicationIcon());
    applyStyle(app);
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
