#pragma once

#include <QPlainTextEdit>

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace sde::ui {

// The log, as a read-only text view fed by spdlog. installLogging() sends the engine's spdlog
// output to a file in the standard data location (its path returned) and to every LogView.
class LogView : public QPlainTextEdit {
    Q_OBJECT
public:
    explicit LogView(QWidget *parent = nullptr);
    ~LogView() override;

public Q_SLOTS:
    void appendLine(const QString &line);

Q_SIGNALS:
    // A line was added ("12:00:01.123 error: ..."), for the status bar's log line.
    void lineAppended(const QString &line);
};

// Sets the default spdlog logger to write to `<AppDataLocation>/sdestudio.log` and to the views;
// returns the log file's path ("" when the folder cannot be created: then views only).
QString installLogging();

} // namespace sde::ui
