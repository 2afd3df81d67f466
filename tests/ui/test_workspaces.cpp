// The studio's workspaces, driven through QTest on the offscreen platform: Generate on its own;
// mask painting with synthetic mouse strokes, undo/redo, invert and clear; inpainting keeps the
// unmasked pixels; colorization keeps the gray level; the interpolation's ends reproduce its
// inputs; class-conditional generation; bits/dim; a short training run with pause and resume.
#include "class_panel.h"
#include "colorize_workspace.h"
#include "generate_workspace.h"
#include "image_view.h"
#include "inpaint_workspace.h"
#include "interpolate_workspace.h"
#include "likelihood_workspace.h"
#include "loss_chart.h"
#include "main_window.h"
#include "mask_canvas.h"
#include "qcustomplot_include.h"
#include "run_bar.h"
#include "sampler_panel.h"
#include "tensor_image.h"
#include "train_workspace.h"
#include "training_worker.h"
#include "trajectory_scrubber.h"
#include "variant_strip.h"

#include "data/image_data.h"
#include "editing/colorization.h"
#include "imaging/generation_record.h"
#include "imaging/image_io.h"
#include "imaging/mask_file.h"
#include "io/model_file.h"
#include "sampling/sampling_settings.h"
#include "train/data_parallel.h"
#include "util/files.h"

#include "test_support.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QTableWidget>
#include <QUndoStack>
#include <QtTest/QtTest>

#include <sys/stat.h>

#include <cmath>

using namespace sde;
using namespace sde::ui;

namespace {

// A few PC steps without a corrector (at least 21: the VP SDE's DDPM schedule needs
// beta_max / N < 1): runs of seconds on the CPU.
void quickSampler(SamplerPanel &panel, int steps, uint64_t seed = 3)
{
    panel.findChild<QComboBox *>("samplerMethod")->setCurrentIndex(0);
    panel.findChild<QComboBox *>("predictor")->setCurrentText("reverse_diffusion");
    panel.findChild<QComboBox *>("corrector")->setCurrentText("none");
    panel.findChild<QSpinBox *>("steps")->setValue(steps);
    panel.findChild<QSpinBox *>("frameEvery")->setValue(2);
    panel.setRandomSeed(false);
    panel.findChild<QLineEdit *>("seed")->setText(QString::number(seed));
}

std::shared_ptr<ScoreModel> loadShared(const std::string &name)
{
    LoadedModel loaded = loadModelFile(name);
    loaded.model->setTraining(false);
    return std::shared_ptr<ScoreModel>(std::move(loaded.model));
}

ModelFileInfo infoOf(const std::string &name)
{
    ModelFileInfo info;
    info.path = name;
    info.loadedWeights = "ema";
    return info;
}

// A smooth test picture [C, size, size]: a bright ellipse on a dark ground, with a soft edge.
torch::Tensor blob(int64_t channels, int64_t size)
{
    torch::Tensor coords = (torch::arange(size, torch::kFloat32) + 0.5) / size - 0.5;
    torch::Tensor y = coords.view({size, 1}), x = coords.view({1, size});
    torch::Tensor r = torch::sqrt((x / 0.3).pow(2) + (y / 0.4).pow(2));
    torch::Tensor gray = torch::sigmoid((1.0 - r) * 8.0) * 0.8 + 0.05;
    if (channels == 1)
        return gray.unsqueeze(0);
    return torch::stack({gray, gray * 0.7 + 0.1, (1.0 - gray) * 0.6 + 0.1});
}

// The mask a hard brush of `size` image pixels paints along a polyline (image coordinates):
// every pixel whose centre lies within size / 2 of one of its segments. Computed here
// independently of the canvas.
QImage expectedStroke(QSize image, const std::vector<QPointF> &points, double size)
{
    QImage mask(image, QImage::Format_Grayscale8);
    mask.fill(0);
    const double r = size / 2.0;
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x) {
            const double px = x + 0.5, py = y + 0.5;
            for (size_t k = 0; k + 1 < points.size(); ++k) {
                const QPointF a = points[k], b = points[k + 1];
                const double dx = b.x() - a.x(), dy = b.y() - a.y();
                const double len2 = dx * dx + dy * dy;
                const double s = len2 > 0 ? std::clamp(((px - a.x()) * dx + (py - a.y()) * dy) / len2, 0.0, 1.0) : 0.0;
                const double ex = px - (a.x() + s * dx), ey = py - (a.y() + s * dy);
                if (std::sqrt(ex * ex + ey * ey) <= r)
                    mask.setPixel(x, y, qRgb(255, 255, 255));
            }
        }
    return mask;
}

// The widget positions of a stroke from `from` to `to` in four moves.
std::vector<QPoint> strokePoints(QPoint from, QPoint to)
{
    std::vector<QPoint> points{from};
    for (int i = 1; i <= 4; ++i)
        points.push_back(from + (to - from) * i / 4);
    return points;
}

int paintedPixels(const QImage &mask)
{
    int count = 0;
    for (int y = 0; y < mask.height(); ++y)
        for (int x = 0; x < mask.width(); ++x)
            count += qGray(mask.pixel(x, y)) > 0;
    return count;
}

// A stroke with the left button from widget position `from` to `to`, in a few moves.
void stroke(QWidget *canvas, QPoint from, QPoint to)
{
    const std::vector<QPoint> points = strokePoints(from, to);
    QTest::mousePress(canvas, Qt::LeftButton, Qt::NoModifier, points.front());
    for (size_t i = 1; i < points.size(); ++i)
        QTest::mouseMove(canvas, points[i]);
    QTest::mouseRelease(canvas, Qt::LeftButton, Qt::NoModifier, points.back());
}

bool waitFinished(SamplingRunner *runner, int ms)
{
    QSignalSpy finished(runner, &SamplingRunner::finished);
    QSignalSpy failed(runner, &SamplingRunner::failed);
    QElapsedTimer timer;
    timer.start();
    while (finished.isEmpty() && failed.isEmpty() && timer.elapsed() < ms)
        QTest::qWait(20);
    if (!failed.isEmpty())
        qWarning() << "run failed:" << failed.front().front().toString();
    return !finished.isEmpty();
}

} // namespace

class TestWorkspaces : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName("SDE Studio Tests");
        QCoreApplication::setApplicationName("test_workspaces");
        QSettings().clear();
    }

    void brushStrokesSetExactlyTheBrushPixels()
    {
        SamplerPanel sampler;
        InpaintWorkspace workspace(&sampler);
        workspace.resize(900, 600);
        workspace.show();
        QVERIFY(QTest::qWaitForWindowExposed(&workspace));
        workspace.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        workspace.setImage(blob(1, 28));
        MaskCanvas *canvas = workspace.canvas();
        QCOMPARE(canvas->image().size(), QSize(28, 28));
        QVERIFY(canvas->zoom() > 2.0); // fitted: a 28-pixel image fills the view

        // A horizontal stroke and a diagonal one, with two brush sizes.
        struct Case {
            QPointF a, b;
            double size;
        };
        for (const Case &c : {Case{{5.3, 7.6}, {20.2, 7.9}, 3.0}, Case{{4.0, 20.0}, {15.5, 10.2}, 6.0}}) {
            canvas->clearMask();
            canvas->undoStack()->clear();
            canvas->setBrushSize(c.size);
            const QPoint from = canvas->toWidget(c.a).toPoint(), to = canvas->toWidget(c.b).toPoint();
            stroke(canvas, from, to);
            // The stroke as the canvas saw it (widget pixels map to fractional image pixels).
            std::vector<QPointF> seen;
            for (const QPoint &p : strokePoints(from, to))
                seen.push_back(canvas->toImage(QPointF(p)));
            const QImage expected = expectedStroke(QSize(28, 28), seen, c.size);
            const QImage mask = canvas->mask().convertToFormat(QImage::Format_Grayscale8);
            QVERIFY(paintedPixels(expected) > 10);
            for (int y = 0; y < 28; ++y)
                for (int x = 0; x < 28; ++x)
                    QVERIFY2(qGray(mask.pixel(x, y)) == qGray(expected.pixel(x, y)),
                             qPrintable(QString("pixel (%1, %2) with brush %3").arg(x).arg(y).arg(c.size)));
            QCOMPARE(canvas->undoStack()->count(), 1); // one stroke, one undo step

            // Undo clears the stroke; redo brings exactly it back.
            canvas->undoStack()->undo();
            QVERIFY(canvas->maskIsEmpty());
            canvas->undoStack()->redo();
            QVERIFY(canvas->mask() == mask);
        }

        // Invert and clear, each one undo step.
        const QImage painted = canvas->mask();
        canvas->invertMask();
        QCOMPARE(paintedPixels(canvas->mask()), 28 * 28 - paintedPixels(painted));
        for (int y = 0; y < 28; ++y)
            for (int x = 0; x < 28; ++x)
                QCOMPARE(qGray(canvas->mask().pixel(x, y)), 255 - qGray(painted.pixel(x, y)));
        canvas->undoStack()->undo();
        QVERIFY(canvas->mask() == painted);
        canvas->clearMask();
        QVERIFY(canvas->maskIsEmpty());
        canvas->undoStack()->undo();
        QVERIFY(canvas->mask() == painted);

        // The eraser removes what a stroke covers.
        canvas->setTool(MaskCanvas::Tool::Eraser);
        canvas->setBrushSize(60);
        stroke(canvas, canvas->toWidget({14, 14}).toPoint(), canvas->toWidget({14.5, 14}).toPoint());
        QVERIFY(canvas->maskIsEmpty());
    }

    void shortcutsDriveTheCanvas()
    {
        SamplerPanel sampler;
        InpaintWorkspace workspace(&sampler);
        workspace.resize(900, 600);
        workspace.show();
        QApplication::setActiveWindow(&workspace);
        QVERIFY(QTest::qWaitForWindowActive(&workspace));
        workspace.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        workspace.setImage(blob(1, 28));
        MaskCanvas *canvas = workspace.canvas();
        canvas->setFocus();
        const double size = canvas->brushSize();
        QTest::keyClick(canvas, Qt::Key_BracketRight);
        QVERIFY(canvas->brushSize() > size);
        QTest::keyClick(canvas, Qt::Key_BracketLeft);
        QTest::keyClick(canvas, Qt::Key_BracketLeft);
        QVERIFY(canvas->brushSize() < size);
        QTest::keyClick(canvas, Qt::Key_E);
        QVERIFY(canvas->tool() == MaskCanvas::Tool::Eraser);
        QTest::keyClick(canvas, Qt::Key_B);
        QVERIFY(canvas->tool() == MaskCanvas::Tool::Brush);
        stroke(canvas, canvas->toWidget({5, 5}).toPoint(), canvas->toWidget({20, 20}).toPoint());
        const int painted = paintedPixels(canvas->mask());
        QVERIFY(painted > 0);
        QTest::keyClick(canvas, Qt::Key_V, Qt::ShiftModifier);
        QCOMPARE(paintedPixels(canvas->mask()), 28 * 28 - painted);
        QTest::keyClick(canvas, Qt::Key_Z, Qt::ControlModifier);
        QCOMPARE(paintedPixels(canvas->mask()), painted);
        QTest::keyClick(canvas, Qt::Key_Z, Qt::ControlModifier);
        QVERIFY(canvas->maskIsEmpty());
        QTest::keyClick(canvas, Qt::Key_Z, Qt::ControlModifier | Qt::ShiftModifier);
        QCOMPARE(paintedPixels(canvas->mask()), painted);
        // Zoom: 100 % and back to fit.
        QTest::keyClick(canvas, Qt::Key_1, Qt::ControlModifier);
        QCOMPARE(canvas->zoom(), 1.0);
        QTest::keyClick(canvas, Qt::Key_0, Qt::ControlModifier);
        QVERIFY(canvas->zoom() > 2.0);

        // Masks save and load as PNG, and a mask of another size is refused.
        const QString folder = QString::fromStdString(test::makeTempDir());
        QVERIFY(workspace.saveMask(folder + "/mask.png"));
        const QImage saved = canvas->mask();
        canvas->clearMask();
        QVERIFY(workspace.loadMask(folder + "/mask.png"));
        QVERIFY(canvas->mask() == saved);
        QImage wrong(10, 10, QImage::Format_Grayscale8);
        wrong.fill(255);
        QVERIFY(wrong.save(folder + "/wrong.png"));
        QSignalSpy errors(&workspace, &Workspace::errorOccurred);
        QVERIFY(!workspace.loadMask(folder + "/wrong.png"));
        QCOMPARE(errors.size(), 1);
        QVERIFY(errors.front().front().toString().contains("10 x 10"));
        QVERIFY(canvas->mask() == saved);
    }

    void generateRunsOnItsOwn()
    {
        SamplerPanel sampler;
        quickSampler(sampler, 21);
        sampler.findChild<QSpinBox *>("batch")->setValue(3);
        GenerateWorkspace workspace(&sampler);
        workspace.resize(900, 600);
        workspace.show();
        QVERIFY(!workspace.generate()); // no model yet
        workspace.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        QSignalSpy finished(&workspace, &GenerateWorkspace::finished);
        QSignalSpy frames(workspace.runner(), &SamplingRunner::frameReady);
        QSignalSpy errors(&workspace, &Workspace::errorOccurred);
        QVERIFY(workspace.generate());
        QVERIFY(workspace.busy());
        QVERIFY(!workspace.generate()); // one run at a time
        QVERIFY(finished.wait(120000));
        QVERIFY(!workspace.busy());
        QCOMPARE(errors.size(), 0);

        const GenerationResult &result = workspace.lastResult();
        QVERIFY(result.completed);
        QCOMPARE(result.samples.sizes(), (std::vector<int64_t>{3, 1, 28, 28}));
        QVERIFY(torch::isfinite(result.samples).all().item<bool>());
        QVERIFY(workspace.hasSamples());
        QCOMPARE(workspace.resultView()->image(), batchToGrid(result.samples));
        // Frames every 2 steps, the first and the last: steps 1, 2, 4, ..., 20, 21, shown live and kept.
        QCOMPARE(int(result.frames.size()), 12);
        QCOMPARE(frames.size(), 12);
        QCOMPARE(workspace.scrubber()->frameCount(), 12);
        QCOMPARE(workspace.scrubber()->frames().back().step, int64_t(21));
        // Without a window the progress line stays on the page.
        QCOMPARE(workspace.progressBar()->parentWidget(), &workspace);
        QVERIFY(workspace.progressLabel()->text().startsWith("3 samples"));

        // Samples save with their seeds (3, 4, 5) and go on to other workspaces by signal.
        const QString folder = QString::fromStdString(test::makeTempDir());
        const QStringList written = workspace.saveImages(folder);
        QCOMPARE(written.size(), 3);
        QVERIFY(written[2].endsWith("sample-5.png"));
        QSignalSpy sent(&workspace, &GenerateWorkspace::sampleSent);
        QVERIFY(workspace.sendSample(1, SampleTarget::Likelihood));
        QCOMPARE(sent.size(), 1);
        QVERIFY(torch::equal(sent.front().at(0).value<torch::Tensor>(), result.samples[1]));
        QCOMPARE(sent.front().at(1).toString(), QString("sample 2 (seed 4)"));
        QVERIFY(sent.front().at(2).value<SampleTarget>() == SampleTarget::Likelihood);
        QVERIFY(!workspace.sendSample(3, SampleTarget::Inpaint));
        QCOMPARE(sent.size(), 1);
    }

    // One mask convention (README, Masks): a soft-edged mask file, loaded into the studio's canvas
    // and saved from it, and the same image, sampler and seed fill and blend the same pixels in
    // the studio and in the CLI.
    void aMaskFileMeansTheSameInTheStudioAndTheCli()
    {
        const QString folder = QString::fromStdString(test::makeTempDir());
        const std::string dir = folder.toStdString();
        savePng(dir + "/image.png", blob(1, 28));
        // Fill a block (level 255) with ramps of grays at its left and right ends; keep the rest.
        torch::Tensor levels = torch::zeros({1, 28, 28});
        levels.slice(1, 8, 20).slice(2, 6, 22).fill_(255.0);
        const float ramp[] = {40.0f, 128.0f, 215.0f};
        for (int i = 0; i < 3; ++i) {
            levels.slice(1, 8, 20).select(2, 3 + i).fill_(ramp[i]);
            levels.slice(1, 8, 20).select(2, 24 - i).fill_(ramp[i]);
        }
        saveFillMask(dir + "/mask.png", levels / 255.0);

        std::shared_ptr<ScoreModel> model = loadShared("fashion-mnist");
        SamplerPanel sampler;
        sampler.setModelDefaults(model->config()); // as the main window does on loading a model
        auto *method = sampler.findChild<QComboBox *>("samplerMethod");
        method->setCurrentIndex(method->findText("DDIM"));
        sampler.findChild<QSpinBox *>("fastNfe")->setValue(5);
        sampler.setRandomSeed(false);
        sampler.findChild<QLineEdit *>("seed")->setText("4");
        InpaintWorkspace workspace(&sampler);
        workspace.resize(900, 600);
        workspace.show();
        workspace.setModel(model, infoOf("fashion-mnist"));
        QVERIFY(workspace.openImageFile(folder + "/image.png"));
        QVERIFY(workspace.loadMask(folder + "/mask.png"));
        // The canvas holds the file's levels, and saves them back unchanged.
        const torch::Tensor fill = workspace.canvas()->maskTensor();
        QVERIFY(torch::equal((fill * 255.0).round(), levels));
        QVERIFY(torch::equal(fill, loadFillMask(dir + "/mask.png", 28, 28)));
        QVERIFY(workspace.saveMask(folder + "/saved.png"));
        QVERIFY(torch::equal(loadFillMask(dir + "/saved.png", 28, 28), fill));

        workspace.findChild<QSpinBox *>("inpaintVariants")->setValue(1);
        QTest::mouseClick(workspace.runBar()->runButton(), Qt::LeftButton);
        QVERIFY(waitFinished(workspace.runner(), 120000));
        const GenerationResult &studio = workspace.lastResult();
        QVERIFY(studio.completed);
        QCOMPARE(studio.samples.sizes(), (std::vector<int64_t>{1, 1, 28, 28}));

        // The CLI with the mask the studio saved.
        QProcess cli;
        cli.start(QString::fromStdString(test::cliPath()),
                  {"inpaint", "--model", "fashion-mnist", "--image", folder + "/image.png", "--mask",
                   folder + "/saved.png", "--sampler", "ddim", "--steps", "5", "--seed", "4", "-o", folder + "/cli"});
        QVERIFY(cli.waitForFinished(120000));
        const QString err = QString::fromUtf8(cli.readAllStandardError());
        QVERIFY2(cli.exitStatus() == QProcess::NormalExit && cli.exitCode() == 0, qPrintable(err));
        QVERIFY2(err.contains(QString::fromStdString(describeSettings(sampler.settings()))), qPrintable(err));
        const torch::Tensor fromCli = loadImage(dir + "/cli/inpaint-4.png");

        // The same 8-bit pixels; kept pixels are the image's, fully filled ones are new, and the
        // soft edge lies between.
        const torch::Tensor fromStudio = (studio.samples[0].clamp(0.0, 1.0) * 255.0).round() / 255.0;
        QCOMPARE((fromStudio - fromCli).abs().max().item<float>(), 0.0f);
        const torch::Tensor image = loadImage(dir + "/image.png");
        const torch::Tensor keep = fill == 0, full = fill == 1;
        QVERIFY(torch::equal(fromCli.masked_select(keep), image.masked_select(keep)));
        QVERIFY((fromCli - image).masked_select(full).abs().mean().item<double>() > 0.02);
        QCOMPARE(keep.sum().item<int64_t>() + full.sum().item<int64_t>() + 2 * 3 * 12, int64_t(28 * 28));

        // Another model: the image and mask that fit stay; the results, trajectory and the run's
        // outcome were the previous model's and go.
        QVERIFY(workspace.scrubber()->frameCount() > 0);
        QVERIFY(workspace.runBar()->status().startsWith("done: "));
        workspace.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        QCOMPARE(workspace.scrubber()->frameCount(), 0);
        QVERIFY(!workspace.lastResult().samples.defined());
        QVERIFY(torch::equal(workspace.canvas()->maskTensor(), fill));
        QCOMPARE(workspace.runBar()->status(), QString("ready: Inpaint (Ctrl+Enter)"));
    }

    void inpaintingKeepsTheUnmaskedPixels()
    {
        SamplerPanel sampler;
        quickSampler(sampler, 22);
        InpaintWorkspace workspace(&sampler);
        workspace.resize(900, 600);
        workspace.show();
        workspace.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        QVERIFY(!workspace.runBar()->runButton()->isEnabled()); // no image yet
        const torch::Tensor image = blob(1, 28);
        workspace.setImage(image);
        QVERIFY(!workspace.runBar()->runButton()->isEnabled()); // nothing masked yet
        MaskCanvas *canvas = workspace.canvas();
        canvas->setBrushSize(8);
        stroke(canvas, canvas->toWidget({6, 14}).toPoint(), canvas->toWidget({22, 14}).toPoint());
        QVERIFY(workspace.runBar()->runButton()->isEnabled());
        workspace.findChild<QSpinBox *>("inpaintVariants")->setValue(3);
        QTest::mouseClick(workspace.runBar()->runButton(), Qt::LeftButton);
        QVERIFY(workspace.busy());
        QVERIFY(waitFinished(workspace.runner(), 120000));

        const GenerationResult &result = workspace.lastResult();
        QVERIFY(result.completed);
        QCOMPARE(result.samples.sizes(), (std::vector<int64_t>{3, 1, 28, 28}));
        const torch::Tensor keep = (canvas->maskTensor() == 0).expand({3, 1, 28, 28});
        const torch::Tensor input = image.unsqueeze(0).expand({3, 1, 28, 28});
        // Unmasked pixels: exactly the input's. Masked ones: filled anew, and the seeds differ.
        QCOMPARE((result.samples.masked_select(keep) - input.masked_select(keep)).abs().max().item<float>(), 0.0f);
        const torch::Tensor filled = result.samples.masked_select(~keep).view({3, -1});
        QVERIFY((filled - input.masked_select(~keep).view({3, -1})).abs().mean().item<double>() > 0.02);
        QVERIFY((filled[0] - filled[1]).abs().mean().item<double>() > 0.01);
        QCOMPARE(workspace.results()->count(), 3);
        QVERIFY(workspace.scrubber()->frameCount() >= 2);
        // The variants take the height their pictures need; the trajectory under them the rest.
        VariantStrip *strip = workspace.results();
        QTRY_VERIFY(strip->height() <= strip->heightForWidth(strip->width()) + 2);
        const QRect picture = strip->view(0)->imageRect();
        QVERIFY2(strip->view(0)->captionRect().bottom() <= strip->height() + 2,
                 qPrintable(
                     QString("caption at %1 of %2").arg(strip->view(0)->captionRect().bottom()).arg(strip->height())));
        QCOMPARE(picture.top(), 4);
        QVERIFY(workspace.scrubber()->height() > strip->height());

        // A result sent back to the canvas becomes the image; the mask stays.
        const QImage mask = canvas->mask();
        workspace.results()->setSelected(2);
        workspace.sendResultToCanvas();
        QVERIFY(torch::equal(workspace.imageTensor(), result.samples[2]));
        QVERIFY(canvas->mask() == mask);

        // The dock's sampler fills the hole: DPM-Solver++ 2M in 10 evaluations.
        auto *method = sampler.findChild<QComboBox *>("samplerMethod");
        method->setCurrentIndex(method->findText("DPM-Solver++ 2M"));
        sampler.findChild<QSpinBox *>("fastNfe")->setValue(10);
        const torch::Tensor base = workspace.imageTensor();
        QTest::mouseClick(workspace.runBar()->runButton(), Qt::LeftButton);
        QVERIFY(waitFinished(workspace.runner(), 120000));
        const GenerationResult &fast = workspace.lastResult();
        QVERIFY(fast.completed);
        QCOMPARE(fast.nfe, int64_t(10));
        const torch::Tensor kept = base.unsqueeze(0).expand({3, 1, 28, 28});
        QCOMPARE((fast.samples.masked_select(keep) - kept.masked_select(keep)).abs().max().item<float>(), 0.0f);
        QVERIFY((fast.samples.masked_select(~keep) - kept.masked_select(~keep)).abs().mean().item<double>() > 0.02);
    }

    void colorizationKeepsTheGrayLevel()
    {
        SamplerPanel sampler;
        quickSampler(sampler, 24);
        ColorizeWorkspace workspace(&sampler);
        workspace.show();
        // A gray model cannot colorize: the button says why, and offers the RGB model.
        workspace.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        workspace.setImage(blob(3, 28));
        QVERIFY(!workspace.runBar()->runButton()->isEnabled());
        QVERIFY(workspace.runBar()->runButton()->toolTip().contains("RGB"));
        QVERIFY(workspace.findChild<QPushButton *>("loadRgbModel")->isVisibleTo(&workspace));

        workspace.setModel(loadShared("photo-rgb"), infoOf("photo-rgb"));
        const torch::Tensor color = blob(3, 32);
        workspace.setImage(color);
        const torch::Tensor gray = grayLevel(color.unsqueeze(0))[0];
        QVERIFY(torch::allclose(workspace.grayImage(), gray));
        QVERIFY(workspace.runBar()->runButton()->isEnabled());
        workspace.findChild<QSpinBox *>("colorizeVariants")->setValue(2);
        workspace.colorize();
        QVERIFY(waitFinished(workspace.runner(), 120000));
        const GenerationResult &result = workspace.lastResult();
        QVERIFY(result.completed);
        QCOMPARE(result.samples.sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
        // The gray level of every variant is the input's (clamping to [0, 1] moves it a little).
        const torch::Tensor level = grayLevel(result.samples);
        const double worst = (level - gray.unsqueeze(0)).abs().max().item<double>();
        const double mean = (level - gray.unsqueeze(0)).abs().mean().item<double>();
        QVERIFY2(worst < 0.1 && mean < 0.01,
                 qPrintable(QString("gray level off by %1 (mean %2)").arg(worst).arg(mean)));
        // ... while the colors are the model's: not a gray image.
        QVERIFY((result.samples - level).abs().mean().item<double>() > 0.005);
    }

    void interpolationEndsReproduceTheInputs()
    {
        SamplerPanel sampler;
        sampler.findChild<QDoubleSpinBox *>("rtol")->setValue(1e-5);
        sampler.findChild<QDoubleSpinBox *>("atol")->setValue(1e-5);
        InterpolateWorkspace workspace(&sampler);
        workspace.show();
        workspace.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        // Two Fashion-MNIST test images: the flow is well conditioned on the data it was trained on
        // (on pictures far from it, encoding then decoding is much less exact).
        IdxTrainingData test(fashionMnistImagesPath("test"), 28, 1, false);
        const torch::Tensor pair = test.batch(0, 2, 0).examples.to(torch::kFloat32);
        const torch::Tensor a = pair[0], b = pair[1];
        QVERIFY(a.max().item<double>() <= 1.0 && a.max().item<double>() > 0.5);
        workspace.setEndpoint(0, a);
        QVERIFY(!workspace.runBar()->runButton()->isEnabled());
        workspace.setEndpoint(1, b);
        QVERIFY(workspace.runBar()->runButton()->isEnabled());
        workspace.findChild<QSpinBox *>("interpolationFrames")->setValue(3);
        QVERIFY(workspace.fastDecode()); // the default: the slider answers at once
        workspace.setFastDecode(false);  // first the exact decode, the reference's
        workspace.interpolate();
        QVERIFY(waitFinished(workspace.runner(), 300000));
        QCOMPARE(workspace.frames().size(0), int64_t(3));
        // Encoding then decoding gives the inputs back, within the solver's tolerance.
        const double error = workspace.reconstructionError();
        // (RK45 at the reference's tolerance 1e-5: the worst pixel moves by up to ~25 of 255 levels,
        // 0.026 with one thread and 0.097 with two, whose sums round differently; the typical
        // pixel by far less.)
        qInfo() << "reconstruction error" << error;
        QVERIFY2(error >= 0 && error < 0.15, qPrintable(QString("reconstruction error %1").arg(error)));
        QCOMPARE(error, std::max((workspace.frames()[0] - a).abs().max().item<double>(),
                                 (workspace.frames()[2] - b).abs().max().item<double>()));
        qInfo() << "mean errors" << (workspace.frames()[0] - a).abs().mean().item<double>()
                << (workspace.frames()[2] - b).abs().mean().item<double>();
        QVERIFY((workspace.frames()[0] - a).abs().mean().item<double>() < 0.003);
        QVERIFY((workspace.frames()[2] - b).abs().mean().item<double>() < 0.003);
        // The slider shows the frames.
        workspace.positionSlider()->setValue(1);
        QCOMPARE(workspace.frameView()->image(), tensorToImage(workspace.frames()[1]));

        // Another temperature decodes again from the same latents.
        const torch::Tensor latents = workspace.latents().clone();
        const torch::Tensor frames = workspace.frames().clone();
        workspace.temperatureSlider()->setValue(80);
        QVERIFY(waitFinished(workspace.runner(), 300000));
        QVERIFY(torch::equal(workspace.latents(), latents));
        QVERIFY((workspace.frames() - frames).abs().max().item<double>() > 0.01);
        QVERIFY(workspace.reconstructionError() < 0); // measured at temperature 1 only

        // The fast decode of the same latents: the slider's frame first, then the others; the
        // frames close to RK45's.
        workspace.temperatureSlider()->setValue(100);
        QVERIFY(waitFinished(workspace.runner(), 300000));
        const torch::Tensor exact = workspace.frames().clone();
        QSignalSpy partial(workspace.runner(), &SamplingRunner::partialResult);
        workspace.positionSlider()->setValue(2);
        workspace.setFastDecode(true); // decodes again
        QVERIFY(waitFinished(workspace.runner(), 300000));
        QCOMPARE(partial.size(), 1);
        QCOMPARE(partial.front().at(0).toLongLong(), qint64(2));
        QCOMPARE(partial.front().at(1).toMap().value("frame").value<QImage>(), tensorToImage(workspace.frames()[2]));
        QVERIFY(torch::equal(workspace.latents(), latents));
        const double gap = (workspace.frames() - exact).abs().mean().item<double>();
        qInfo() << "fast decode against RK45: mean |difference|" << gap << ", reconstruction error"
                << workspace.reconstructionError();
        QVERIFY2(gap < 0.02, qPrintable(QString::number(gap)));
        QVERIFY(workspace.reconstructionError() >= 0 && workspace.reconstructionError() < 0.3);

        // A run with another frame count that is cancelled leaves the frames (and their positions)
        // it had.
        const torch::Tensor kept = workspace.frames().clone();
        workspace.findChild<QSpinBox *>("interpolationFrames")->setValue(9);
        workspace.positionSlider()->setValue(2);
        workspace.interpolate();
        workspace.cancel();
        QVERIFY(waitFinished(workspace.runner(), 300000));
        QVERIFY(torch::equal(workspace.frames(), kept));
        QCOMPARE(workspace.frameView()->image(), tensorToImage(kept[2]));
        QVERIFY(workspace.frameView()->caption().startsWith("frame 3 of 3, alpha 1.000"));
        workspace.findChild<QSpinBox *>("interpolationFrames")->setValue(3);

        const QString folder = QString::fromStdString(test::makeTempDir());
        QVERIFY(workspace.exportFrames(folder));
        QCOMPARE(QDir(folder).entryList({"frame-*.png"}).size(), 3);
        QVERIFY(workspace.exportVideo(folder + "/interpolation.avi"));
        QVERIFY(QFileInfo(folder + "/interpolation.avi").size() > 1000);
    }

    void classConditionalGenerationNamesTheClasses()
    {
        MainWindow window;
        QVERIFY(window.openModel("toy-2d", true));
        QVERIFY(!window.generateWorkspace()->classPanel()->active());
        QVERIFY(!window.generateWorkspace()->classPanel()->findChild<QCheckBox *>("classConditional")->isEnabled());
        QVERIFY(window.openModel("fashion-mnist", true));
        auto *classes = window.generateWorkspace()->classPanel()->findChild<QComboBox *>("classChoice");
        QCOMPARE(classes->count(), 10);
        QCOMPARE(classes->itemText(3), QString("Dress"));
        QCOMPARE(classes->itemText(9), QString("Ankle boot"));
        window.generateWorkspace()->classPanel()->setActive(true);
        QVERIFY(window.generateWorkspace()->classPanel()->active());
        window.generateWorkspace()->classPanel()->setClassIndex(1);
        window.generateWorkspace()->classPanel()->findChild<QDoubleSpinBox *>("guidanceScale")->setValue(2.0);
        quickSampler(*window.samplerPanel(), 21);
        window.samplerPanel()->findChild<QSpinBox *>("batch")->setValue(2);
        QSignalSpy finished(window.generateWorkspace(), &GenerateWorkspace::finished);
        window.generateAction()->trigger();
        QVERIFY(finished.wait(120000));
        QVERIFY(window.generateWorkspace()->lastResult().completed);
        // The saved images name the class and the guidance.
        const QString folder = QString::fromStdString(test::makeTempDir());
        const QStringList written = window.generateWorkspace()->saveImages(folder);
        QCOMPARE(written.size(), 2);
        const std::string text = readPngText(written[0].toStdString()).at("sdestudio");
        QVERIFY2(text.find("\"class_name\":\"Trouser\"") != std::string::npos, text.c_str());
        QVERIFY(text.find("\"guidance\":2") != std::string::npos);

        // A sample can go on to the other workspaces.
        QVERIFY(window.generateWorkspace()->sendSample(1, SampleTarget::Inpaint));
        QVERIFY(torch::equal(window.inpaintWorkspace()->imageTensor(),
                             window.generateWorkspace()->lastResult().samples[1]));
        QVERIFY(window.generateWorkspace()->sendSample(0, SampleTarget::InterpolationStart));
        QVERIFY(window.generateWorkspace()->sendSample(1, SampleTarget::InterpolationEnd));
        QVERIFY(window.interpolateWorkspace()->endpoint(1).defined());
        QVERIFY(window.generateWorkspace()->sendSample(0, SampleTarget::Likelihood));
        QCOMPARE(window.likelihoodWorkspace()->imageCount(), 1);
        QVERIFY(!window.generateWorkspace()->sendSample(5, SampleTarget::Inpaint));
        // The grid maps clicks to samples: 2 samples of 28 x 28 in two columns.
        QCOMPARE(gridIndexAt(QPoint(3, 3), 2, 28, 28), 0);
        QCOMPARE(gridIndexAt(QPoint(2 + 30 + 5, 10), 2, 28, 28), 1);
        QCOMPARE(gridIndexAt(QPoint(30, 10), 2, 28, 28), -1); // the gap
    }

    // A file that does not fit the model is converted, and the table and the footer say so; the
    // footer counts the images listed from the moment they are added.
    void likelihoodMarksConvertedImages()
    {
        SamplerPanel sampler;
        LikelihoodWorkspace workspace(&sampler);
        workspace.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        const QString folder = QString::fromStdString(test::makeTempDir());
        savePng((folder + "/photo.png").toStdString(), blob(3, 32));
        savePng((folder + "/wide.png").toStdString(), blob(1, 56).repeat({1, 1, 2}));
        savePng((folder + "/fits.png").toStdString(), blob(1, 28));
        workspace.addFiles({folder + "/photo.png", folder + "/wide.png", folder + "/fits.png"});
        auto *summary = workspace.findChild<QLabel *>("likelihoodSummary");
        QCOMPARE(summary->text(), QString("3 image(s)"));
        QCOMPARE(workspace.table()->item(0, 4)->text(), QString()); // not read yet
        QSignalSpy status(&workspace, &Workspace::statusMessage);
        workspace.compute();
        workspace.cancel();
        QVERIFY(waitFinished(workspace.runner(), 120000));
        QCOMPARE(workspace.table()->item(0, 4)->text(),
                 QString("converted: 32 × 32 color → 28 × 28 gray: scaled, turned gray"));
        QCOMPARE(workspace.table()->item(1, 4)->text(),
                 QString("converted: 112 × 56 gray → 28 × 28 gray: scaled, center-cropped"));
        QCOMPARE(workspace.table()->item(2, 4)->text(), QString("as is"));
        QVERIFY2(summary->text().contains("3 image(s); 2 converted"), qPrintable(summary->text()));
        // Figures line up on their last digit (their headers too); names and words on their first letter.
        for (int column : {1, 2}) {
            QVERIFY(workspace.table()->item(0, column)->textAlignment() & Qt::AlignRight);
            QVERIFY(workspace.table()->horizontalHeaderItem(column)->textAlignment() & Qt::AlignRight);
        }
        QVERIFY(!(workspace.table()->item(0, 0)->textAlignment() & Qt::AlignRight));
        QCOMPARE(status.size(), 2);
        QCOMPARE(status.front().front().toString(), QString("photo.png was converted for the model (32 × 32 color → "
                                                            "28 × 28 gray: scaled, turned gray)"));
        // The CSV carries the conversion.
        QVERIFY(workspace.exportCsv(folder + "/bpd.csv"));
        const QString csv = QString::fromStdString(readFile((folder + "/bpd.csv").toStdString()));
        QVERIFY2(csv.startsWith("image,bits_per_dim,nfe,conversion\n") &&
                     csv.contains(",\"32 × 32 color → 28 × 28 gray: scaled, turned gray\"\n") &&
                     csv.contains("fits.png\",,,\"\"\n"),
                 qPrintable(csv));
        // Another model: the files are fitted again when read.
        workspace.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        QCOMPARE(workspace.table()->item(0, 4)->text(), QString());
        QCOMPARE(summary->text(), QString("3 image(s)"));
    }

    // Status lines and views never show what no longer holds: a reason goes once the input is
    // given, and a model switch clears the previous model's outcome, results and captions.
    void statusLinesFollowTheModelAndTheInputs()
    {
        SamplerPanel sampler;
        InterpolateWorkspace interpolate(&sampler);
        interpolate.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        auto status = [](RunBar *bar) { return bar->findChild<QLabel *>("runStatus")->text(); };
        QCOMPARE(status(interpolate.runBar()), QString("Choose the two images to slide between"));
        interpolate.setEndpoint(0, blob(1, 28));
        interpolate.setEndpoint(1, blob(1, 28).flip(2));
        QCOMPARE(status(interpolate.runBar()), QString("ready: Interpolate (Ctrl+Enter)"));

        ColorizeWorkspace colorize(&sampler);
        colorize.setModel(loadShared("fashion-mnist"), infoOf("/models/fashion-mnist/model.safetensors"));
        QCOMPARE(status(colorize.runBar()),
                 QString("Colorization needs an RGB model; fashion-mnist is not one (load the bundled photo-rgb)"));

        LikelihoodWorkspace likelihood(&sampler);
        likelihood.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        likelihood.findChild<QDoubleSpinBox *>("likelihoodTolerance")->setValue(1e-2);
        likelihood.addImage(blob(1, 28), "blob");
        QCOMPARE(status(likelihood.runBar()), QString("ready: Compute bits/dim (Ctrl+Enter)"));
        likelihood.compute();
        QVERIFY(waitFinished(likelihood.runner(), 300000));
        QVERIFY2(status(likelihood.runBar()).startsWith("done: "), qPrintable(status(likelihood.runBar())));
        QVERIFY(likelihood.bitsPerDim(0) > 0);
        likelihood.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        QCOMPARE(status(likelihood.runBar()), QString("ready: Compute bits/dim (Ctrl+Enter)"));
        QCOMPARE(likelihood.bitsPerDim(0), -1.0);
        likelihood.setModel(loadShared("toy-2d"), infoOf("toy-2d"));
        QCOMPARE(status(likelihood.runBar()), QString("Bits/dim are measured for image models"));

        GenerateWorkspace generate(&sampler);
        auto *placeholder = generate.findChild<ImageView *>("resultView");
        QCOMPARE(placeholder->placeholder(), QString("Load a model in the Model dock"));
        generate.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        QCOMPARE(placeholder->placeholder(), QString("Press Generate (Ctrl+Enter)"));
    }

    void likelihoodRanksAPictureAboveNoise()
    {
        SamplerPanel sampler;
        LikelihoodWorkspace workspace(&sampler);
        workspace.show();
        workspace.setModel(loadShared("fashion-mnist"), infoOf("fashion-mnist"));
        workspace.findChild<QDoubleSpinBox *>("likelihoodTolerance")->setValue(1e-3);
        const QString folder = QString::fromStdString(test::makeTempDir());
        savePng((folder + "/blob.png").toStdString(), blob(1, 28));
        torch::manual_seed(0);
        savePng((folder + "/noise.png").toStdString(), torch::rand({1, 28, 28}));
        QCOMPARE(workspace.addFolder(folder), 2);
        QCOMPARE(workspace.imageCount(), 2);
        QVERIFY(workspace.runBar()->runButton()->isEnabled());
        QSignalSpy partials(workspace.runner(), &SamplingRunner::partialResult);
        workspace.compute();
        QVERIFY(waitFinished(workspace.runner(), 300000));
        const double picture = workspace.bitsPerDim(0), noise = workspace.bitsPerDim(1);
        // Each image's progress while it ran (its ODE time), then its figure.
        bool running = false;
        for (const QList<QVariant> &partial : partials) {
            const QVariantMap values = partial.at(1).toMap();
            running = running || (values.contains("t") && values.value("t").toDouble() < 1.0);
        }
        QVERIFY(running);
        QVERIFY2(workspace.runBar()->status().startsWith("done: "), qPrintable(workspace.runBar()->status()));
        QVERIFY2(picture > 0 && std::isfinite(picture), qPrintable(QString::number(picture)));
        // Uniform noise over 256 levels is far less likely than a smooth picture.
        QVERIFY2(noise > picture + 1.0, qPrintable(QString("noise %1, picture %2").arg(noise).arg(picture)));
        QVERIFY(workspace.table()->item(1, 2)->text().toInt() > 10); // the NFE shown
        QVERIFY(workspace.findChild<QLabel *>("likelihoodSummary")->text().contains("2 of 2"));
        QVERIFY(workspace.exportCsv(folder + "/bpd.csv"));
        const QStringList csv =
            QString::fromStdString(readFile((folder + "/bpd.csv").toStdString())).trimmed().split('\n');
        QCOMPARE(csv.size(), 3);
        QVERIFY(std::abs(csv[1].split(',').at(1).toDouble() - picture) < 1e-6);

        // One protocol: the CLI's bpd on the same files with the same seed prints the same figures
        // (both dequantize by default, image i with seed + i), and dequantization is a real step:
        // without it the figures change.
        QVERIFY(workspace.findChild<QCheckBox *>("likelihoodDequantize")->isChecked());
        auto cliFigures = [&](const QStringList &extra) {
            QProcess cli;
            cli.start(QString::fromStdString(test::cliPath()),
                      QStringList{"bpd", "--model", "fashion-mnist", "--rtol", "1e-3", "--atol", "1e-3", "--seed",
                                  QString::number(sampler.settings().seed), folder + "/blob.png",
                                  folder + "/noise.png"} +
                          extra);
            cli.waitForFinished(300000);
            const QStringList lines = QString::fromUtf8(cli.readAllStandardOutput()).trimmed().split('\n');
            std::vector<double> figures;
            for (int i = 0; i < 2 && i < lines.size(); ++i)
                figures.push_back(lines[i].split('\t').value(1).split(' ').value(0).toDouble());
            return figures;
        };
        const std::vector<double> fromCli = cliFigures({});
        QCOMPARE(fromCli.size(), size_t(2));
        QVERIFY2(
            std::abs(fromCli[0] - picture) < 1e-4 && std::abs(fromCli[1] - noise) < 1e-4,
            qPrintable(QString("CLI %1 %2, studio %3 %4").arg(fromCli[0]).arg(fromCli[1]).arg(picture).arg(noise)));
        const std::vector<double> plain = cliFigures({"--no-dequantize"});
        QCOMPARE(plain.size(), size_t(2));
        QVERIFY2(std::abs(plain[0] - picture) > 1e-3, qPrintable(QString("%1 %2").arg(plain[0]).arg(picture)));

        // Cancel stops within one ODE step; what was not measured says so.
        workspace.compute();
        QTest::qWait(50);
        workspace.cancel();
        QVERIFY(waitFinished(workspace.runner(), 60000));
        QVERIFY(workspace.table()->item(1, 3)->text() == "cancelled" || workspace.bitsPerDim(1) >= 0);
        // A broken file is named, and the run does not start.
        writeFileAtomically((folder + "/broken.png").toStdString(), "not a png");
        workspace.addFiles({folder + "/broken.png"});
        QSignalSpy errors(&workspace, &Workspace::errorOccurred);
        workspace.compute();
        QVERIFY(!workspace.busy());
        QCOMPARE(errors.size(), 1);
        QVERIFY(errors.front().front().toString().contains("broken.png"));
    }

    // The curves add a GPU memory axis with the first record of a CUDA run, and only then.
    void lossChartShowsGpuMemoryOfCudaRuns()
    {
        LossChart chart;
        chart.show();
        TrainingMetrics cpu;
        cpu.step = 10;
        cpu.loss = cpu.emaLoss = 0.5;
        cpu.learningRate = 1e-4;
        chart.addMetrics(cpu);
        QCOMPARE(chart.pointCount(), 1);
        QCOMPARE(chart.gpuMemoryPointCount(), 0);
        QCOMPARE(chart.plot()->legend->itemCount(), 3);
        TrainingMetrics cuda = cpu;
        cuda.step = 20;
        cuda.gpuMemoryMiB = 812.0;
        chart.addMetrics(cuda);
        QCOMPARE(chart.gpuMemoryPointCount(), 1);
        QCOMPARE(chart.plot()->legend->itemCount(), 4);
        chart.clear();
        QCOMPARE(chart.gpuMemoryPointCount(), 0);
        QCOMPARE(chart.plot()->legend->itemCount(), 3);
    }

    // A format the device cannot train in is disabled, with the reason as its tooltip, and a
    // choice of it falls back to float32: float16 on the CPU, bfloat16 on a CPU without AVX-512
    // (on one with it, bfloat16 is chosen).
    void trainingPrecisionFollowsTheDevice()
    {
        SamplerPanel sampler;
        TrainWorkspace train(&sampler);
        auto *device = train.findChild<QComboBox *>("trainDevice");
        auto *precision = train.findChild<QComboBox *>("trainPrecision");
        QVERIFY(device && precision);
        QCOMPARE(precision->count(), 3);
        auto *items = qobject_cast<QStandardItemModel *>(precision->model());
        QVERIFY(items);
        device->setCurrentText("cpu");
        QCOMPARE(precision->currentText(), QString("float32"));
        QVERIFY(precision->isEnabled());
        QVERIFY(!items->item(2)->isEnabled());
        QVERIFY(precision->itemData(2, Qt::ToolTipRole).toString().contains("CUDA"));
        // A half format chosen with the CPU selected (a restored setting, a script) falls back.
        precision->setCurrentIndex(2);
        QCOMPARE(precision->currentText(), QString("float32"));
        const bool bfloat16 = precisionUnsupportedReason(EvaluationPrecision::BFloat16, torch::kCPU).empty();
        QCOMPARE(items->item(1)->isEnabled(), bfloat16);
        precision->setCurrentIndex(1);
        QCOMPARE(precision->currentText(), QString(bfloat16 ? "bfloat16" : "float32"));
        if (device->count() > 1) {
            device->setCurrentIndex(1);
            QVERIFY(items->item(2)->isEnabled());
        }
    }

    // Issue 16: a run folder whose metrics.jsonl is a FIFO blocked the studio opening it; it is
    // refused from stat (requireReadableFile), and a file's curves still load.
    void runHistoryReadsOnlyARegularMetricsFile()
    {
        const QString folder = QString::fromStdString(test::makeTempDir());
        SamplerPanel sampler;
        TrainWorkspace train(&sampler);
        QCOMPARE(::mkfifo(QDir(folder).filePath("metrics.jsonl").toLocal8Bit().constData(), 0600), 0);
        train.setRunFolder(folder); // returns: a blocking open would hang the test until its timeout
        QCOMPARE(train.chart()->pointCount(), 0);

        const QString other = QString::fromStdString(test::makeTempDir());
        writeFileAtomically(QDir(other).filePath("metrics.jsonl").toStdString(),
                            "{\"step\": 10, \"loss\": 1.5, \"ema_loss\": 1.5, \"lr\": 0.001}\n");
        // The newest preview is shown; one whose header declares 6000 x 6000 pixels (its data cut
        // off) is skipped by its size, not decoded on the UI thread.
        QVERIFY(QDir(other).mkpath("samples"));
        savePng(QDir(other).filePath("samples/step-0000010.png").toStdString(), torch::full({1, 4, 6}, 0.5));
        train.setRunFolder(other);
        QCOMPARE(train.chart()->pointCount(), 1);
        auto *preview = train.findChild<ImageView *>("trainPreview");
        QCOMPARE(preview->image().size(), QSize(6, 4));
        std::string huge = readFile(QDir(other).filePath("samples/step-0000010.png").toStdString()).substr(0, 33);
        const char side[4] = {0, 0, char(0x17), char(0x70)}; // 6000, big-endian
        huge.replace(16, 4, side, 4);
        huge.replace(20, 4, side, 4);
        writeFileAtomically(QDir(other).filePath("samples/step-0000020.png").toStdString(), huge);
        train.setRunFolder(other);
        QVERIFY(preview->image().isNull());
    }

    // Issue 20: the Train tab runs a data-parallel job of two processes (sdestudio-cli train
    // --nproc 2) and plots its rank 0's records; it cannot be paused; its checkpoint is listed.
    void trainingRunsAMultiProcessJob()
    {
        std::string why;
        if (!dataParallelAvailable(torch::kCPU, &why))
            QSKIP(why.c_str());
        const QString folder = QString::fromStdString(test::makeTempDir()) + "/job";
        SamplerPanel sampler;
        TrainWorkspace train(&sampler);
        train.worker()->setCommandLineTool(QString::fromStdString(test::cliPath()));
        auto *config = train.findChild<QComboBox *>("trainConfig");
        const int toy = config->findText("bundled: toy-2d");
        config->setCurrentIndex(toy);
        QMetaObject::invokeMethod(config, "activated", Q_ARG(int, toy));
        train.findChild<QSpinBox *>("trainSteps")->setValue(60);
        train.findChild<QSpinBox *>("trainCheckpointEvery")->setValue(30);
        train.findChild<QSpinBox *>("trainSnapshotEvery")->setValue(0);
        train.findChild<QSpinBox *>("trainBatch")->setValue(64);
        auto *processes = train.findChild<QSpinBox *>("trainProcesses");
        QVERIFY(processes);
        processes->setMaximum(2); // a one-core machine offers 1 only; the job itself takes 2
        processes->setValue(2);
        train.setRunFolder(folder);
        QSignalSpy finished(train.worker(), &TrainingWorker::finished);
        QSignalSpy failed(train.worker(), &TrainingWorker::failed);
        QTest::mouseClick(train.findChild<QPushButton *>("startTraining"), Qt::LeftButton);
        QVERIFY(train.busy());
        QVERIFY(!train.findChild<QPushButton *>("pauseTraining")->isEnabled());
        QVERIFY(train.findChild<QPushButton *>("stopTraining")->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty() || !failed.isEmpty(), 120000);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.front().at(0).toString()));
        QCOMPARE(finished.front().at(0).toString(), QString("finished"));
        QCOMPARE(finished.front().at(1).toLongLong(), qint64(60));
        QTRY_COMPARE(train.chart()->pointCount(), 6); // a record every 10 steps
        QVERIFY(train.checkpointList()->count() >= 1);
        QVERIFY(QFile::exists(folder + "/model.safetensors"));
        QVERIFY(!train.busy());

        // An error of the job (here: a batch the two processes cannot share) reaches the tab.
        const QString other = QString::fromStdString(test::makeTempDir()) + "/small";
        train.setRunFolder(other);
        train.findChild<QSpinBox *>("trainBatch")->setValue(1);
        QSignalSpy errors(train.worker(), &TrainingWorker::failed);
        train.startRun();
        QVERIFY(errors.wait(60000));
        QVERIFY2(errors.front().at(0).toString().contains("cannot be split over 2 process(es)"),
                 qPrintable(errors.front().at(0).toString()));
    }

    void trainingRunsPausesAndResumesFromTheSameStep()
    {
        const QString folder = QString::fromStdString(test::makeTempDir()) + "/run";
        SamplerPanel sampler;
        auto train = std::make_unique<TrainWorkspace>(&sampler);
        train->show();
        auto *config = train->findChild<QComboBox *>("trainConfig");
        const int toy = config->findText("bundled: toy-2d");
        QVERIFY(toy >= 0);
        config->setCurrentIndex(toy);
        QMetaObject::invokeMethod(config, "activated", Q_ARG(int, toy));
        QCOMPARE(train->dataSpec(), QString("toy:checkerboard"));
        train->findChild<QSpinBox *>("trainSteps")->setValue(300);
        train->findChild<QSpinBox *>("trainCheckpointEvery")->setValue(100);
        train->findChild<QSpinBox *>("trainSnapshotEvery")->setValue(150);
        train->findChild<QSpinBox *>("trainWarmup")->setValue(10);
        train->setRunFolder(folder);
        QCOMPARE(train->chart()->pointCount(), 0);

        QSignalSpy metrics(train->worker(), &TrainingWorker::metrics);
        QSignalSpy finished(train->worker(), &TrainingWorker::finished);
        QSignalSpy snapshots(train->worker(), &TrainingWorker::snapshot);
        QTest::mouseClick(train->findChild<QPushButton *>("startTraining"), Qt::LeftButton);
        QVERIFY(train->busy());
        // (The spy hears the worker's thread at once; the chart gets its points through the queue.)
        QTRY_VERIFY_WITH_TIMEOUT(train->chart()->pointCount() >= 3, 60000);

        // Pause: the step stands still; Continue goes on from it.
        QTest::mouseClick(train->findChild<QPushButton *>("pauseTraining"), Qt::LeftButton);
        QTest::qWait(300);
        const int64_t pausedAt = train->lastStep();
        const auto recordsAtPause = metrics.size();
        QTest::qWait(500);
        QCOMPARE(metrics.size(), recordsAtPause);
        QCOMPARE(train->lastStep(), pausedAt);
        QCOMPARE(train->findChild<QPushButton *>("pauseTraining")->text(), QString("Continue"));
        QTest::mouseClick(train->findChild<QPushButton *>("pauseTraining"), Qt::LeftButton);
        QVERIFY(finished.wait(120000));
        QCOMPARE(finished.front().at(0).toString(), QString("finished"));
        QCOMPARE(finished.front().at(1).toLongLong(), qint64(300));
        QVERIFY(!snapshots.isEmpty());
        // Every record once, in order: the run went on from the step it was paused at.
        std::vector<int64_t> steps;
        for (const auto &record : metrics)
            steps.push_back(record.front().value<TrainingMetrics>().step);
        for (size_t i = 0; i < steps.size(); ++i)
            QCOMPARE(steps[i], int64_t(10 * (i + 1)));
        QTRY_COMPARE(train->chart()->pointCount(), 30);
        QVERIFY(train->checkpointList()->count() >= 1);
        QVERIFY(QFile::exists(folder + "/model.safetensors"));

        // After a restart of the studio the run is found again: its curves and checkpoints, and
        // Resume continues it from its last step.
        train.reset();
        train = std::make_unique<TrainWorkspace>(&sampler);
        QCOMPARE(train->runFolder(), folder);
        QCOMPARE(train->chart()->pointCount(), 30);
        QVERIFY(train->findChild<QPushButton *>("resumeTraining")->isEnabled());
        train->findChild<QSpinBox *>("trainSteps")->setValue(340);
        QSignalSpy more(train->worker(), &TrainingWorker::metrics);
        QSignalSpy done(train->worker(), &TrainingWorker::finished);
        train->resumeRun();
        QVERIFY(done.wait(120000));
        QCOMPARE(done.front().at(1).toLongLong(), qint64(340));
        QCOMPARE(more.front().front().value<TrainingMetrics>().step, int64_t(310));
        QTRY_COMPARE(train->chart()->pointCount(), 34);
        // Start refuses to overwrite the run.
        QSignalSpy errors(train.get(), &Workspace::errorOccurred);
        train->startRun();
        QCOMPARE(errors.size(), 1);
        QVERIFY(!train->busy());
    }
};

QTEST_MAIN(TestWorkspaces)
#include "test_workspaces.moc"
