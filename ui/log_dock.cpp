#include "log_dock.h"

#include <QDir>
#include <QMetaObject>
#include <QPointer>
#include <QStandardPaths>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace sde::ui {

namespace {

// The views alive now; a sink posts each formatted line to them on the UI thread.
std::mutex viewsMutex;
std::vector<QPointer<LogView>> views;

class ViewSink : public spdlog::sinks::base_sink<std::mutex> {
protected:
    void sink_it_(const spdlog::details::log_msg &message) override
    {
        spdlog::memory_buf_t formatted;
        formatter_->format(message, formatted);
        const QString line = QString::fromUtf8(formatted.data(), static_cast<int>(formatted.size())).trimmed();
        std::lock_guard<std::mutex> lock(viewsMutex);
        for (const auto &view : views)
            if (view)
                QMetaObject::invokeMethod(view.data(), "appendLine", Qt::QueuedConnection, Q_ARG(QString, line));
    }
    void flush_() override {}
};

} // namespace

LogView::LogView(QWidget *parent) : QPlainTextEdit(parent)
{
    setObjectName("logView");
    setReadOnly(true);
    setMaximumBlockCount(5000);
    setLineWrapMode(QPlainTextEdit::NoWrap);
    std::lock_guard<std::mutex> lock(viewsMutex);
    views.emplace_back(this);
}

LogView::~LogView()
{
    std::lock_guard<std::mutex> lock(viewsMutex);
    views.erase(std::remove(views.begin(), views.end(), QPointer<LogView>(this)), views.end());
}

void LogView::appendLine(const QString &line)
{
    appendPlainText(line);
    Q_EMIT lineAppended(line);
}

QString installLogging()
{
    std::vector<spdlog::sink_ptr> sinks{std::make_shared<ViewSink>()};
    const QString folder = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    QString path;
    if (!folder.isEmpty() && QDir().mkpath(folder)) {
        path = QDir(folder).filePath("sdestudio.log");
        try {
            sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(path.toStdString()));
        } catch (const spdlog::spdlog_ex &) {
            path.clear();
        }
    }
    auto logger = std::make_shared<spdlog::logger>("sdestudio", sinks.begin(), sinks.end());
    logger->set_pattern("%H:%M:%S.%e %l: %v");
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
    return path;
}

} // namespace sde::ui
