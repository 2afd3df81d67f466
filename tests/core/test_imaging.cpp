// PNG encoding with text chunks, image loading, grids.
#include "config/presets.h"
#include "data/image_data.h"
#include "imaging/generation_record.h"
#include "imaging/idx_file.h"
#include "imaging/image_io.h"
#include "imaging/point_plot.h"
#include "io/model_file.h"
#include "io/safetensors.h"
#include "io/torch_checkpoint.h"
#include "sampling/sampling_settings.h"
#include "util/error.h"
#include "util/files.h"

#include "error_of.h"
#include "fixture_model.h"
#include "test_support.h"

#include <QtTest/QtTest>

#include <zlib.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <sys/resource.h>
#include <sys/stat.h>
#include <utility>
#include <vector>

using namespace sde;
using sde::test::errorOf;

namespace {

std::string bigEndian32(uint32_t v)
{
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// An IDX header: magic 0x0000080<dims.size()>, then each dimension.
std::string idxHeader(const std::vector<uint32_t> &dims)
{
    std::string out = std::string("\0\0\x08", 3) + static_cast<char>(dims.size());
    for (uint32_t d : dims)
        out += bigEndian32(d);
    return out;
}

// A small PNG with `chunks` (type and data; CRCs left zero, which readers of text ignore)
// inserted before IEND.
std::string pngWithChunks(const std::vector<std::pair<std::string, std::string>> &chunks)
{
    std::string png = encodePng(torch::zeros({1, 2, 2}));
    std::string inserted;
    for (const auto &[type, data] : chunks)
        inserted += bigEndian32(static_cast<uint32_t>(data.size())) + type + data + std::string(4, '\0');
    png.insert(png.size() - 12, inserted);
    return png;
}

} // namespace

class TestImaging : public QObject {
    Q_OBJECT
private Q_SLOTS:
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
        QVERIFY(parsePngText(readFile(path), "a.png") == text); // the in-memory reader (the fuzz target's)
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
            QCOMPARE(QString(e.what()),
                     QString::fromStdString("'" + path + "' is not a PNG, JPEG, WebP, BMP, TIFF or PNM image"));
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
        QVERIFY(std::abs(grid[0][1][1].item<float>() - 0.1f) < 1e-6); // image 0
        QVERIFY(std::abs(grid[0][4][5].item<float>() - 0.5f) < 1e-6); // image 4: row 1, column 1
        QCOMPARE(grid[0][4][9].item<float>(), 1.0f);                  // the empty sixth cell
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

    // The in-memory reader (the fuzz target's entry) reads what the file reader reads, gzip too.
    void parsesIdxBytesAsTheFileReaderReadsThem()
    {
        const std::string dir = "/usr/share/datasets/fashion-mnist/";
        const std::string gzipped = readFile(dir + "t10k-labels-idx1-ubyte.gz");
        QVERIFY(torch::equal(parseIdxLabels(gzipped, "labels"), readIdxLabels(dir + "t10k-labels-idx1-ubyte.gz")));
        const std::string plain = idxHeader({2, 1, 3}) + "abcdef";
        QVERIFY(torch::equal(parseIdxImages(plain, "plain"),
                             torch::tensor({97, 98, 99, 100, 101, 102}, torch::kUInt8).view({2, 1, 3})));
        QCOMPARE(errorOf([&] { parseIdxLabels(gzipped.substr(0, 100), "cut.gz"); }),
                 QString("'cut.gz' is corrupt or truncated: unexpected end of file"));
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
        // gzip's magic with a method it does not know: zlib's words without the path it repeats.
        writeFileAtomically(dir + "/method.gz", std::string("\x1f\x8b\x07\x00", 4) + std::string(20, '\0'));
        QCOMPARE(errorOf([&] { readIdxImages(dir + "/method.gz"); }),
                 QString::fromStdString("'" + dir + "/method.gz' is corrupt or truncated: unknown compression method"));
    }

    // Issue 16: the shared hostile file, 5 images of 0 x 0 pixels, trained on blank images.
    void refusesTheSharedZeroByZeroIdx()
    {
        const std::string path = test::dataDir() + "/hostile/idx_zero_dims-images-idx3-ubyte";
        QCOMPARE(errorOf([&] { readIdxImages(path); }),
                 "'" + QString::fromStdString(path) + "' holds 0 x 0 images; an image needs at least 1 x 1 pixels");
    }

    // What a header declares is checked before any data is read or inflated.
    void refusesHostileIdxHeaders_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<bool>("images");
        QTest::addColumn<QString>("message");
        const auto idx = [](const std::vector<uint32_t> &dims, size_t data) {
            const std::string bytes = idxHeader(dims) + std::string(data, '\x07');
            return QByteArray(bytes.data(), static_cast<qsizetype>(bytes.size()));
        };
        QTest::newRow("no images") << idx({0, 28, 28}, 0) << true << "holds 0 images";
        QTest::newRow("no labels") << idx({0}, 0) << false << "holds 0 labels";
        QTest::newRow("28 x 0") << idx({3, 28, 0}, 0) << true
                                << "holds 28 x 0 images; an image needs at least 1 x 1 pixels";
        // 2^32 - 1 cubed overflowed 64 bits in the element count.
        QTest::newRow("sides 2^32 - 1") << idx({0xffffffff, 0xffffffff, 0xffffffff}, 4) << true
                                        << "declares 4294967295 images, more than the 16777216 an IDX file may hold";
        QTest::newRow("4097 x 1") << idx({1, 4097, 1}, 4097) << true
                                  << "holds 4097 x 1 images, larger than the 4096 x 4096 an IDX image may be";
        QTest::newRow("2^24 x 4096 x 4096") << idx({1 << 24, 4096, 4096}, 16) << true
                                            << "declares 281474976710656 bytes of images, more than the 256 MiB an "
                                               "IDX file may hold";
        QTest::newRow("2^32 - 1 labels") << idx({0xffffffff}, 16) << false
                                         << "declares 4294967295 labels, more than the 16777216 an IDX file may hold";
        QTest::newRow("trailing data") << idx({2, 2, 2}, 9) << true
                                       << "holds more than 8 data bytes, its header promises 8";
        QTest::newRow("short data") << idx({2, 2, 2}, 7) << true << "holds 7 data bytes, its header promises 8";
    }

    void refusesHostileIdxHeaders()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(bool, images);
        QFETCH(QString, message);
        const std::string path = test::makeTempDir() + "/crafted-idx";
        writeFileAtomically(path, bytes.toStdString());
        QCOMPARE(errorOf([&] { images ? readIdxImages(path) : readIdxLabels(path); }),
                 "'" + QString::fromStdString(path) + "' " + message);
    }

    // A gzip that inflates far beyond its header's promise is read no further than the promise.
    void stopsInflatingAtTheDeclaredSize()
    {
        const std::string path = test::makeTempDir() + "/bomb-images-idx3-ubyte.gz";
        gzFile file = gzopen(path.c_str(), "wb9");
        QVERIFY(file);
        const std::string header = idxHeader({1, 28, 28});
        gzwrite(file, header.data(), static_cast<unsigned>(header.size()));
        const std::string zeros(1 << 20, '\0');
        for (int i = 0; i < 256; ++i) // 256 MiB inflated, about 256 kB on disk
            gzwrite(file, zeros.data(), static_cast<unsigned>(zeros.size()));
        gzclose(file);
        QCOMPARE(errorOf([&] { readIdxImages(path); }),
                 "'" + QString::fromStdString(path) + "' holds more than 784 data bytes, its header promises 784");
    }

    // Found by fuzz_idx (peak RSS 1.3 GB on inputs of at most 4 kB): the in-memory reader made
    // room for all a header declares (then up to 1 GiB, now 256 MiB) before inflating. It inflates a block at a
    // time now, as the file reader reads.
    void inMemoryIdxTakesMemoryForItsDataOnly()
    {
        const std::string path = test::makeTempDir() + "/big-images-idx3-ubyte.gz";
        gzFile file = gzopen(path.c_str(), "wb");
        QVERIFY(file);
        const std::string bytes = idxHeader({1 << 22, 8, 8}) + std::string(10, '\x07'); // 256 MiB promised
        gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
        gzclose(file);
        const std::string gzipped = readFile(path);
        const auto peakRssMiB = [] {
            rusage usage{};
            getrusage(RUSAGE_SELF, &usage);
            return usage.ru_maxrss / 1024;
        };
        const long before = peakRssMiB();
        QCOMPARE(errorOf([&] { parseIdxImages(gzipped, "big.gz"); }),
                 QString("'big.gz' holds 10 data bytes, its header promises 268435456"));
        QVERIFY2(peakRssMiB() - before < 256, std::to_string(peakRssMiB() - before).c_str());
    }

    // The PNG text reader bounds how many text chunks and how much text it takes.
    void boundsPngText()
    {
        const std::string dir = test::makeTempDir();
        const QString qdir = QString::fromStdString(dir);
        std::vector<std::pair<std::string, std::string>> chunks(1000, {"tEXt", std::string("k\0v", 3)});
        writeFileAtomically(dir + "/1000.png", pngWithChunks(chunks));
        QCOMPARE(readPngText(dir + "/1000.png").at("k"), std::string("v"));
        chunks.emplace_back("tEXt", std::string("k\0v", 3));
        writeFileAtomically(dir + "/1001.png", pngWithChunks(chunks));
        QCOMPARE(errorOf([&] { readPngText(dir + "/1001.png"); }),
                 "'" + qdir + "/1001.png' holds more than 1000 text chunks");

        const std::string large(9 << 20, 'x');
        writeFileAtomically(dir + "/large.png", pngWithChunks({{"iTXt", "a" + std::string(5, '\0') + large},
                                                               {"tEXt", "b" + std::string(1, '\0') + large}}));
        QCOMPARE(errorOf([&] { readPngText(dir + "/large.png"); }),
                 "'" + qdir + "/large.png' holds more than 16 MiB of text chunks");

        // The text chunk's length reaches past the end: IEND and 2 bytes of its CRC are gone.
        std::string truncated = pngWithChunks({{"tEXt", std::string("k\0v", 3)}});
        truncated.resize(truncated.size() - 14);
        writeFileAtomically(dir + "/truncated.png", truncated);
        QCOMPARE(errorOf([&] { readPngText(dir + "/truncated.png"); }),
                 "'" + qdir + "/truncated.png' is a truncated PNG file");
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
        SamplingSettings back = SamplingSettings::fromJson(parseJson(dumpJson(s.toJson())));
        QCOMPARE(dumpJson(back.toJson()), dumpJson(s.toJson()));
        QCOMPARE(back.seed, s.seed);
        Json broken = s.toJson();
        broken["method"] = "teleport";
        QVERIFY_THROWS_EXCEPTION(Error, SamplingSettings::fromJson(broken));
    }

    // A PNG's generation record keeps the seed exactly over the whole uint64 range.
    void generationRecordKeepsTheSeedExact_data()
    {
        QTest::addColumn<quint64>("seed");
        QTest::newRow("0") << quint64(0);
        QTest::newRow("2^53 + 1") << quint64(9007199254740993ull);
        QTest::newRow("10^17") << quint64(100000000000000000ull);
        QTest::newRow("2^64 - 1") << quint64(std::numeric_limits<uint64_t>::max());
    }

    void generationRecordKeepsTheSeedExact()
    {
        QFETCH(quint64, seed);
        const LoadedModel loaded = test::fixtureModel("ddpmpp_vp_small");
        GenerationRecord record;
        record.modelFile = "checkpoint.pth";
        record.settings.method = "ddim";
        record.settings.fast.steps = 3;
        record.settings.seed = seed;
        record.nfe = 3;
        const std::string path = test::makeTempDir() + "/sample.png";
        saveGeneratedImage(path, torch::zeros({3, 4, 4}), record, *loaded.model);
        // Written as digits (not "1e+17"), read back as the same integer.
        const std::string text = readPngText(path).at("sdestudio");
        QVERIFY2(text.find("\"seed\":" + std::to_string(seed) + ",") != std::string::npos, text.c_str());
        const StoredGeneration stored = readGeneratedImageSettings(path);
        QCOMPARE(parseGeneratedImageSettings(parsePngText(readFile(path), "sample.png"), "sample.png").settings.seed,
                 stored.settings.seed);
        QCOMPARE(stored.settings.seed, static_cast<uint64_t>(seed));
        QCOMPARE(stored.settings.fast.steps, int64_t(3));
        QCOMPARE(stored.modelFile, std::string("checkpoint.pth"));
    }

    void generationRecordRefusesBadSeeds_data()
    {
        QTest::addColumn<QString>("seed");
        QTest::newRow("negative") << "-1";
        QTest::newRow("fraction") << "1.5";
        QTest::newRow("2^64") << "18446744073709551616";
        QTest::newRow("text") << "\"42\"";
    }

    void generationRecordRefusesBadSeeds()
    {
        QFETCH(QString, seed);
        SamplingSettings settings;
        settings.seed = 42;
        std::string record = "{\"operation\":\"sample\",\"sampling\":" + dumpJson(settings.toJson()) + "}";
        const std::string written = "\"seed\":42,";
        record.replace(record.find(written), written.size(), "\"seed\":" + seed.toStdString() + ",");
        const std::string path = test::makeTempDir() + "/crafted.png";
        savePng(path, torch::zeros({1, 2, 2}), {{"sdestudio", record}});
        try {
            readGeneratedImageSettings(path);
            QFAIL("the seed was accepted");
        } catch (const Error &e) {
            QVERIFY2(QString(e.what()).contains("crafted.png"), e.what());
            QVERIFY2(QString(e.what()).contains("seed: expected an integer"), e.what());
        }
        // A record that is not JSON, or lacks its settings, is an error naming the file too.
        savePng(path, torch::zeros({1, 2, 2}), {{"sdestudio", "{\"sampling\": [1,"}});
        QVERIFY_THROWS_EXCEPTION(Error, readGeneratedImageSettings(path));
        savePng(path, torch::zeros({1, 2, 2}), {{"sdestudio", "{\"operation\": 7}"}});
        QVERIFY_THROWS_EXCEPTION(Error, readGeneratedImageSettings(path));
    }

    // Training data from a folder: every image resized and center-cropped to the model's size,
    // a broken file skipped with a warning that names it.
    void imageFolderSkipsBrokenFiles()
    {
        const std::string folder = test::makeTempDir();
        std::filesystem::create_directories(folder + "/nested");
        torch::Tensor wide = torch::zeros({3, 20, 40});
        wide.slice(2, 10, 30).fill_(1.0); // a white centre band
        savePng(folder + "/nested/wide.png", wide);
        savePng(folder + "/gray.png", torch::full({1, 16, 16}, 0.5));
        writeFileAtomically(folder + "/broken.png", "not a png at all");
        ImageFolderTrainingData data(folder, 8, 3, false);
        QCOMPARE(data.size(), int64_t(3));
        TrainingBatch batch = data.batch(0, 4, 1);
        QCOMPARE(batch.examples.sizes(), (std::vector<int64_t>{4, 3, 8, 8}));
        const auto warnings = data.takeWarnings();
        QCOMPARE(int(warnings.size()), 1);
        QVERIFY(warnings[0].find("broken.png") != std::string::npos);
        // The wide image's centre crop is its white band; the gray image stays 0.5 in RGB.
        bool sawWhite = false, sawGray = false;
        for (int64_t i = 0; i < 4; ++i) {
            const double mean = batch.examples[i].mean().item<double>();
            sawWhite |= mean > 0.95;
            sawGray |= std::abs(mean - 0.5) < 0.01;
        }
        QVERIFY(sawWhite && sawGray);
        QVERIFY_THROWS_EXCEPTION(Error, ImageFolderTrainingData(test::makeTempDir(), 8, 3, false));
    }

    // A 999,999 x 1 PNG of 1 kB in a training folder grew to 28 x 28,000,000 before its crop
    // (6.3 GB, exit 0): an image more than 16 times longer than wide is refused, and the folder
    // reader skips it naming it.
    void imagesOfExtremeShapeAreRefused()
    {
        QCOMPARE(errorOf([] {
                     resizeShorterSide(torch::zeros({1, 1, 17}), 28, 28);
                 }),
                 QString("it is 17 x 1 pixels, more than 16 times longer than wide"));
        QCOMPARE(resizeShorterSide(torch::zeros({1, 1, 16}), 28, 28).sizes(), (torch::IntArrayRef{1, 28, 28}));
        const std::string folder = test::makeTempDir();
        savePng(folder + "/strip.png", torch::zeros({1, 1, 4000}));
        savePng(folder + "/square.png", torch::zeros({1, 8, 8}));
        ImageFolderTrainingData data(folder, 8, 1, false);
        QCOMPARE(data.batch(0, 2, 1).examples.sizes(), (std::vector<int64_t>{2, 1, 8, 8}));
        const auto warnings = data.takeWarnings();
        QCOMPARE(int(warnings.size()), 1);
        QCOMPARE(QString::fromStdString(warnings[0]),
                 QString("skipped %1/strip.png: it is 4000 x 1 pixels, more than 16 times longer than wide")
                     .arg(QString::fromStdString(folder)));
    }

    // A FIFO given as a model blocked `info` forever (and froze the studio at start-up), a device
    // reads without end: every reader refuses what is not a regular file, from stat, unopened.
    void thingsThatAreNotFilesAreRefused_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("kind");
        const std::string dir = test::makeTempDir();
        const std::string fifo = dir + "/model.safetensors";
        QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
        QTest::newRow("FIFO") << QString::fromStdString(fifo) << "a FIFO";
        QTest::newRow("character device") << "/dev/null"
                                          << "a character device";
        std::filesystem::create_directories(dir + "/folder.png");
        QTest::newRow("folder") << QString::fromStdString(dir + "/folder.png") << "a folder";
    }
    void thingsThatAreNotFilesAreRefused()
    {
        QFETCH(QString, path);
        QFETCH(QString, kind);
        const std::string file = path.toStdString();
        const QString expected = QString("'%1' is %2, not a file").arg(path, kind);
        const std::vector<std::pair<const char *, std::function<void()>>> readers = {
            {"readFile", [&] { readFile(file); }},
            {"loadImage", [&] { loadImage(file); }},
            {"readPngText", [&] { readPngText(file); }},
            {"readIdxImages", [&] { readIdxImages(file); }},
            {"readSafetensors", [&] { readSafetensors(file); }},
            {"readTorchCheckpoint", [&] { readTorchCheckpoint(file); }},
            {"loadModelFile", [&] { loadModelFile(file); }},
            {"loadConfigFile", [&] { loadConfigFile(file); }},
        };
        for (const auto &[name, read] : readers) {
            try {
                read();
                QFAIL(qPrintable(QString("%1 read %2").arg(name, path)));
            } catch (const Error &e) {
                QVERIFY2(QString(e.what()) == expected, qPrintable(QString("%1: %2").arg(name, e.what())));
            }
        }
    }

    // `ln -s . loop` in an image folder made training walk forever: each folder is walked once
    // (known by device and inode), links to images count, FIFOs named like images are skipped.
    void imageFolderWalksEachFolderOnce()
    {
        namespace fs = std::filesystem;
        const std::string folder = test::makeTempDir();
        fs::create_directories(folder + "/sub");
        savePng(folder + "/a.png", torch::full({1, 4, 4}, 0.25));
        savePng(folder + "/sub/b.png", torch::full({1, 4, 4}, 0.75));
        fs::create_directory_symlink(".", folder + "/loop");
        fs::create_directory_symlink("..", folder + "/sub/up");
        fs::create_symlink("a.png", folder + "/link.png");
        QCOMPARE(::mkfifo((folder + "/fifo.png").c_str(), 0600), 0);
        const std::vector<std::string> files = listImageFiles(folder);
        QCOMPARE(files, (std::vector<std::string>{folder + "/a.png", folder + "/link.png", folder + "/sub/b.png"}));
        ImageFolderTrainingData data(folder, 4, 1, false);
        QCOMPARE(data.size(), int64_t(3));
        // A folder that only loops holds no images.
        const std::string empty = test::makeTempDir();
        fs::create_directory_symlink(".", empty + "/loop");
        try {
            listImageFiles(empty);
            QFAIL("expected an error");
        } catch (const Error &e) {
            QCOMPARE(QString(e.what()),
                     QString("'%1' holds no PNG, JPEG, WebP, BMP, TIFF or PNM images").arg(empty.c_str()));
        }
    }

    // Every kind loadImage reads is taken from a folder: PNM and TIFF files were skipped, and a
    // folder of them held "no images".
    void imageFoldersTakeEveryKindLoadImageReads()
    {
        const std::string folder = test::makeTempDir();
        const std::vector<std::string> names = {"a.bmp", "b.jpeg", "c.jpg",  "d.pbm",  "e.pgm", "f.png", "g.pnm",
                                                "h.ppm", "i.tif",  "j.tiff", "k.webp", "l.txt", "m.gif"};
        for (const std::string &name : names)
            writeFileAtomically(folder + "/" + name, "x");
        std::vector<std::string> expected;
        for (const std::string &name : names)
            if (name != "l.txt" && name != "m.gif")
                expected.push_back(folder + "/" + name);
        QCOMPARE(listImageFiles(folder), expected);
    }

    // Issue 16: `train --data /proc` walked procfs (and through /proc/N/root all of /) with exit
    // 0. The kernel's file systems are refused as a data folder, and a link into one below a
    // data folder is not followed; an empty folder holds no images.
    void kernelFileSystemsAreNoImageFolders()
    {
        namespace fs = std::filesystem;
        for (const auto &[folder, kind] : {std::pair<std::string, std::string>{"/proc", "proc"}, {"/sys", "sysfs"}}) {
            if (!fs::is_directory(folder))
                continue;
            try {
                listImageFiles(folder);
                QFAIL("expected an error");
            } catch (const Error &e) {
                QCOMPARE(QString(e.what()), QString("'%1' is on %2, a file system the kernel makes up, not a folder of "
                                                    "images")
                                                .arg(folder.c_str(), kind.c_str()));
            }
        }
        const std::string folder = test::makeTempDir();
        savePng(folder + "/a.png", torch::full({1, 4, 4}, 0.25));
        fs::create_directory_symlink("/proc/self", folder + "/proc");
        QCOMPARE(listImageFiles(folder), (std::vector<std::string>{folder + "/a.png"}));
        const std::string empty = test::makeTempDir();
        try {
            listImageFiles(empty);
            QFAIL("expected an error");
        } catch (const Error &e) {
            QCOMPARE(QString(e.what()),
                     QString("'%1' holds no PNG, JPEG, WebP, BMP, TIFF or PNM images").arg(empty.c_str()));
        }
    }

    // Fashion-MNIST padded into a 32 x 32 model: the 28 x 28 image sits in the centre.
    void idxDataPadsIntoLargerModels()
    {
        const std::string path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
        if (!std::filesystem::exists(path))
            QSKIP("dataset-fashion-mnist is not installed");
        IdxTrainingData padded(path, 32, 1, false);
        QCOMPARE(padded.classCount(), int64_t(10));
        int64_t label = -1;
        torch::Tensor image = padded.example(0, &label);
        QCOMPARE(label,
                 readIdxLabels("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")[0].item<int64_t>());
        torch::Tensor raw = readIdxImages(path)[0].to(torch::kFloat32) / 255.0;
        QVERIFY(torch::equal(image[0].slice(0, 2, 30).slice(1, 2, 30), raw));
        QCOMPARE(image[0].slice(0, 0, 2).abs().sum().item<double>(), 0.0);
        ModelConfig config = loadPreset("vp/cifar10_ddpmpp_continuous");
        config.data.imageSize = 28;
        config.data.numChannels = 1;
        QCOMPARE(openTrainingData("fashion-mnist:test", config)->exampleShape(), (std::vector<int64_t>{1, 28, 28}));
        QVERIFY_THROWS_EXCEPTION(Error, openTrainingData("fashion-mnist:valid", config));
    }

    // IDX images larger than the model are resized 1024 at a time and kept with one channel: the
    // images past a chunk's end equal a resize of the whole set at once, and three channels repeat
    // the one stored.
    void idxDataResizesInChunks()
    {
        const int64_t count = 1030;
        const torch::Tensor raw = torch::randint(0, 256, {count, 8, 8}, torch::kUInt8);
        std::string file = idxHeader({uint32_t(count), 8, 8});
        file.append(reinterpret_cast<const char *>(raw.data_ptr<uint8_t>()), size_t(raw.numel()));
        const std::string path = test::makeTempDir() + "/small-images-idx3-ubyte";
        writeFileAtomically(path, file);
        namespace F = torch::nn::functional;
        const torch::Tensor whole =
            (F::interpolate(raw.unsqueeze(1).to(torch::kFloat32) / 255.0, F::InterpolateFuncOptions()
                                                                              .size(std::vector<int64_t>{4, 4})
                                                                              .mode(torch::kBilinear)
                                                                              .align_corners(false)
                                                                              .antialias(true))
                 .clamp(0.0, 1.0) *
             255.0)
                .round() /
            255.0;
        IdxTrainingData gray(path, 4, 1, false);
        IdxTrainingData color(path, 4, 3, false);
        QCOMPARE(gray.size(), count);
        QCOMPARE(color.exampleShape(), (std::vector<int64_t>{3, 4, 4}));
        for (const int64_t index : {int64_t(0), int64_t(1023), int64_t(1024), count - 1}) {
            QVERIFY(torch::equal(gray.example(index, nullptr), whole[index].to(torch::kFloat32)));
            const torch::Tensor rgb = color.example(index, nullptr);
            QCOMPARE(rgb.sizes().vec(), (std::vector<int64_t>{3, 4, 4}));
            for (int64_t c = 0; c < 3; ++c)
                QVERIFY(torch::equal(rgb[c], whole[index][0].to(torch::kFloat32)));
        }
        QVERIFY(torch::equal(gray.images(), whole.to(torch::kFloat32)));
    }

    void pointCloudPictureAndCsv()
    {
        torch::Tensor points = torch::tensor({{0.0f, 0.0f}, {4.0f, 4.0f}, {-4.0f, -4.0f}});
        torch::Tensor picture = renderPointCloud(points, 90, 4.5);
        QCOMPARE(picture.sizes(), (std::vector<int64_t>{3, 90, 90}));
        QVERIFY(picture[1][45][45].item<float>() < 0.5f); // a point at the centre
        QVERIFY(picture[1][5][85].item<float>() < 0.5f);  // (4, 4): top right
        QVERIFY(picture[1][85][5].item<float>() < 0.5f);  // (-4, -4): bottom left
        QCOMPARE(picture[1][5][5].item<float>(), 1.0f);   // empty corner
        QCOMPARE(QString::fromStdString(pointsToCsv(points)).count('\n'), 4);
    }
};

QTEST_GUILESS_MAIN(TestImaging)
#include "test_imaging.moc"
