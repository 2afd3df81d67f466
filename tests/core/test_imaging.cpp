// PNG encoding with text chunks, image loading, grids.
#include "imaging/idx_file.h"
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

    // Fashion-MNIST's test set as Debian's dataset-fashion-mnist ships it: 10,000 gzipped 28x28
    // images and labels, 1,000 of each of the 10 classes.
    void readsFashionMnist()
    {
        const std::string dir = "/usr/share/datasets/fashion-mnist/";
        torch::Tensor images = readIdxImages(dir + "t10k-images-idx3-ubyte.gz");
        torch::Tensor labels = readIdxLabels(dir + "t10k-labels-idx1-ubyte.gz");
        QCOMPARE(images.sizes().vec(), (std::vector<int64_t>{10000, 28, 28}));
        QCOMPARE(labels.size(0), int64_t(10000));
        QVERIFY(torch::equal(torch::bincount(labels), torch::full({10}, 1000, torch::kInt64)));
        QVERIFY(images.max().item<int>() == 255 && images.min().item<int>() == 0);
    }

    void refusesBrokenIdxFiles()
    {
        const std::string dir = test::makeTempDir();
        // Two 2x2 images promised, one given.
        std::string truncated("\0\0\x08\x03\0\0\0\x02\0\0\0\x02\0\0\0\x02\x01\x02\x03\x04", 20);
        writeFileAtomically(dir + "/short.idx", truncated);
        try {
            readIdxImages(dir + "/short.idx");
            QFAIL("expected an error");
        } catch (const Error &e) {
            QVERIFY2(QString(e.what()).contains("promises 8"), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, readIdxLabels(dir + "/short.idx")); // images are not labels
        writeFileAtomically(dir + "/text.idx", "hello");
        QVERIFY_THROWS_EXCEPTION(Error, readIdxImages(dir + "/text.idx"));
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
