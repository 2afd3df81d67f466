// PNG encoding with text chunks, image loading, grids.
#include "imaging/image_io.h"
#include "sampling/sampling_settings.h"
#include "util/error.h"
#include "util/files.h"

#include "test_support.h"

#include <QtTest/QtTest>

using namespace sde;

class TestImaging : public QObject {
    Q_OBJECT
private slots:
    void pngRoundTripsPixelsAndText()
    {
        torch::manual_seed(2);
        torch::Tensor rgb = torch::rand({3, 5, 7});
        const std::string path = test::makeTempDir() + "/a.png";
        savePng(path, rgb, {{"parameters", "seed 42, caf\xc3\xa9"}, {"sdestudio", "{\"seed\":42}"}});
        torch::Tensor back = loadImage(path);
        QCOMPARE(back.sizes().vec(), (std::vector<int64_t>{3, 5, 7}));
        // 8-bit quantization: within half a level.
        QVERIFY((back - rgb).abs().max().item<double>() <= 0.5 / 255.0 + 1e-6);
        auto text = readPngText(path);
        QCOMPARE(text.at("parameters"), std::string("seed 42, caf\xc3\xa9"));
        QCOMPARE(text.at("sdestudio"), std::string("{\"seed\":42}"));
        // Gray images stay single-channel; color converts to gray on request.
        savePng(path, torch::full({1, 4, 4}, 0.5));
        QCOMPARE(loadImage(path).size(0), int64_t(1));
        QCOMPARE(loadImage(path, 3).size(0), int64_t(3));
    }

    void valuesAreClampedNotWrapped()
    {
        const std::string path = test::makeTempDir() + "/clamp.png";
        savePng(path, torch::tensor({-0.5f, 1.5f}).view({1, 1, 2}));
        torch::Tensor back = loadImage(path);
        QCOMPARE(back[0][0][0].item<float>(), 0.0f);
        QCOMPARE(back[0][0][1].item<float>(), 1.0f);
    }

    void badFilesAreClearErrors()
    {
        const std::string path = test::makeTempDir() + "/not.png";
        writeFileAtomically(path, "definitely not an image");
        try {
            loadImage(path);
            QFAIL("expected an error");
        } catch (const Error &e) {
            QVERIFY(QString(e.what()).contains("not an image"));
        }
        QVERIFY_THROWS_EXCEPTION(Error, readPngText(path));
        QVERIFY_THROWS_EXCEPTION(Error, loadImage("/nonexistent.png"));
        QVERIFY_THROWS_EXCEPTION(Error, encodePng(torch::zeros({2, 4, 4})));
    }

    void gridPlacesEveryImage()
    {
        torch::Tensor batch = torch::zeros({5, 1, 2, 3});
        for (int i = 0; i < 5; ++i)
            batch[i].fill_(0.1 * (i + 1));
        torch::Tensor grid = makeGrid(batch, 0, 1); // 3 columns, 2 rows
        QCOMPARE(grid.sizes().vec(), (std::vector<int64_t>{1, 2 * 3 + 1, 3 * 4 + 1}));
        QVERIFY(std::abs(grid[0][1][1].item<float>() - 0.1f) < 1e-6);  // image 0
        QVERIFY(std::abs(grid[0][4][5].item<float>() - 0.5f) < 1e-6);  // image 4: row 1, column 1
        QCOMPARE(grid[0][4][9].item<float>(), 1.0f);                    // the empty sixth cell
    }

    void samplingSettingsRoundTrip()
    {
        SamplingSettings s;
        s.method = "ode";
        s.ode.ode.method = OdeMethod::Heun;
        s.ode.ode.steps = 37;
        s.ode.temperature = 0.8;
        s.seed = 123456789012ull;
        s.batch = 4;
        SamplingSettings back = SamplingSettings::fromJson(Json::parse(s.toJson().dump()));
        QCOMPARE(back.toJson().dump(), s.toJson().dump());
        QCOMPARE(back.seed, s.seed);
        Json broken = s.toJson();
        broken["method"] = "teleport";
        QVERIFY_THROWS_EXCEPTION(Error, SamplingSettings::fromJson(broken));
    }
};

QTEST_GUILESS_MAIN(TestImaging)
#include "test_imaging.moc"
