// Image files load as an image viewer shows them (loadImage): orientation applied (JPEG, PNG, WebP
// EXIF; TIFF's tag), malformed orientation data ignored, alpha
// composited over white, 16-bit values scaled exactly, palette PNGs expanded, gray and RGB converted
// on request. Every file is crafted here, byte by byte where OpenCV cannot write the kind (palette
// and gray + alpha PNGs, EXIF segments), and checked against pixel values known by construction.
#include "imaging/image_io.h"
#include "util/error.h"
#include "util/files.h"

#include "test_support.h"

#include <QtTest/QtTest>

#include <cstdio>
#include <cstdlib>
#include <opencv2/imgcodecs.hpp>
#include <unistd.h>
#include <zlib.h>

#include <string>
#include <vector>

using namespace sde;

namespace {

std::string bigEndian32(uint32_t v)
{
    return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

std::string pngChunk(const std::string &type, const std::string &data)
{
    const std::string body = type + data;
    const uLong crc =
        ::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef *>(body.data()), static_cast<uInt>(body.size()));
    return bigEndian32(static_cast<uint32_t>(data.size())) + body + bigEndian32(static_cast<uint32_t>(crc));
}

// A PNG written by hand: IHDR, `chunks` (PLTE, tRNS, eXIf, ...), one IDAT of `rows` (each row's
// packed samples; filter type 0 is prepended here), IEND.
std::string handPng(int width, int height, int bitDepth, int colorType, const std::vector<std::string> &rows,
                    const std::string &chunks = {})
{
    std::string ihdr = bigEndian32(width) + bigEndian32(height);
    ihdr += {char(bitDepth), char(colorType), 0, 0, 0}; // deflate, filter method 0, no interlace
    std::string raw;
    for (const std::string &row : rows)
        raw += '\0' + row;
    uLongf size = compressBound(static_cast<uLong>(raw.size()));
    std::string deflated(size, '\0');
    if (compress(reinterpret_cast<Bytef *>(&deflated[0]), &size, reinterpret_cast<const Bytef *>(raw.data()),
                 static_cast<uLong>(raw.size())) != Z_OK)
        throw Error("zlib failed");
    deflated.resize(size);
    return std::string("\x89PNG\r\n\x1a\n", 8) + pngChunk("IHDR", ihdr) + chunks + pngChunk("IDAT", deflated) +
           pngChunk("IEND", "");
}

std::string bytes(std::initializer_list<int> values)
{
    std::string out;
    for (int v : values)
        out += static_cast<char>(v);
    return out;
}

// TIFF-structured EXIF data with one IFD entry: the orientation (tag 0x0112, SHORT, count 1), in
// big-endian ("MM") or little-endian ("II") byte order.
std::string exifTiff(int orientation, bool bigEndianOrder)
{
    if (bigEndianOrder)
        return bytes({'M', 'M', 0, 42, 0, 0,           0, 8, /* one entry */ 0,   1, 0x01, 0x12, 0, 3,
                      0,   0,   0, 1,  0, orientation, 0, 0, /* no next IFD */ 0, 0, 0,    0});
    return bytes({'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, orientation, 0, 0, 0, 0, 0, 0, 0});
}

// A JPEG with an EXIF APP1 segment spliced in right after SOI, as cameras write it.
std::string withExif(const std::vector<uchar> &jpeg, const std::string &tiff)
{
    const std::string payload = std::string("Exif\0\0", 6) + tiff;
    const size_t length = payload.size() + 2;
    std::string app1 = bytes({0xFF, 0xE1, int(length >> 8), int(length & 0xFF)}) + payload;
    std::string out(jpeg.begin(), jpeg.end());
    out.insert(2, app1);
    return out;
}

// An uncompressed gray TIFF of `bits` (8 or 16) per sample written by hand (width x height
// `pixels`, one strip), with an orientation tag unless `orientation` is 0. SHORT values sit in
// the first two bytes of an entry's value field, in the file's byte order.
std::string handTiff(int width, int height, const std::string &pixels, int orientation, bool bigEndianOrder,
                     int bits = 8)
{
    auto u16 = [&](uint32_t v) {
        return bigEndianOrder ? bytes({int(v >> 8), int(v & 0xFF)}) : bytes({int(v & 0xFF), int(v >> 8)});
    };
    auto u32 = [&](uint32_t v) {
        return bigEndianOrder ? u16(v >> 16) + u16(v & 0xFFFF) : u16(v & 0xFFFF) + u16(v >> 16);
    };
    struct Entry {
        uint32_t tag, type, value;
    };
    std::vector<Entry> entries = {{256, 3, uint32_t(width)},       {257, 3, uint32_t(height)},
                                  {258, 3, uint32_t(bits)},        {259, 3, 1},
                                  {262, 3, 1} /* black is zero */, {273, 4, 0} /* the strip's offset */};
    if (orientation != 0)
        entries.push_back({274, 3, uint32_t(orientation)});
    entries.insert(entries.end(), {{277, 3, 1}, {278, 3, uint32_t(height)}, {279, 4, uint32_t(pixels.size())}});
    const uint32_t dataAt = 8 + 2 + 12 * uint32_t(entries.size()) + 4;
    std::string out =
        (bigEndianOrder ? std::string("MM") : std::string("II")) + u16(42) + u32(8) + u16(uint32_t(entries.size()));
    for (const Entry &e : entries) {
        const uint32_t value = e.tag == 273 ? dataAt : e.value;
        out += u16(e.tag) + u16(e.type) + u32(1) + (e.type == 3 ? u16(value) + u16(0) : u32(value));
    }
    return out + u32(0) + pixels;
}

std::string littleEndian32(uint32_t v)
{
    return {char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
}

// A WebP in the extended format: a VP8X chunk announcing EXIF, the image chunks of a simple WebP
// (OpenCV writes those), then an EXIF chunk holding `tiff`.
std::string webpWithExif(const std::string &simple, int width, int height, const std::string &tiff)
{
    auto u24 = [](uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16)}; };
    const std::string vp8x =
        std::string("VP8X") + littleEndian32(10) + bytes({0x08, 0, 0, 0}) + u24(width - 1) + u24(height - 1);
    std::string exif = std::string("EXIF") + littleEndian32(uint32_t(tiff.size())) + tiff;
    if (tiff.size() % 2)
        exif += '\0';
    const std::string body = std::string("WEBP") + vp8x + simple.substr(12) + exif;
    return std::string("RIFF") + littleEndian32(uint32_t(body.size())) + body;
}

std::string writeTemp(const std::string &name, const std::string &content)
{
    const std::string path = test::makeTempDir() + "/" + name;
    writeFileAtomically(path, content);
    return path;
}

std::string encoded(const std::string &extension, const cv::Mat &image, const std::vector<int> &params = {})
{
    std::vector<uchar> out;
    if (!cv::imencode(extension, image, out, params))
        throw Error("OpenCV could not encode " + extension);
    return std::string(out.begin(), out.end());
}

// Expected values, written out pixel by pixel: [C, H, W] from rows of RGB (or gray) triples.
torch::Tensor expected(const std::vector<std::vector<double>> &channels, int64_t height, int64_t width)
{
    std::vector<torch::Tensor> planes;
    for (const auto &plane : channels)
        planes.push_back(torch::tensor(plane, torch::kFloat64).view({height, width}));
    return torch::stack(planes);
}

// The largest difference from an expected [C, H, W] (float64) tensor.
double maxError(const torch::Tensor &actual, const torch::Tensor &truth)
{
    if (!actual.sizes().equals(truth.sizes()))
        return 1e9;
    return (actual.to(torch::kFloat64) - truth).abs().max().item<double>();
}

// What is written to the process's stderr (file descriptor 2, where libpng and libjpeg print)
// while `work` runs.
template <typename Work>
std::string stderrDuring(Work &&work)
{
    std::fflush(stderr);
    char name[] = "/tmp/sdestudio-stderr-XXXXXX";
    const int capture = ::mkstemp(name);
    const int saved = ::dup(2);
    ::dup2(capture, 2);
    try {
        work();
    } catch (...) {
    }
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    ::close(capture);
    const std::string written = readFile(name);
    ::unlink(name);
    return written;
}

QString shapeOf(const torch::Tensor &t)
{
    QStringList sides;
    for (int64_t s : t.sizes())
        sides << QString::number(s);
    return "[" + sides.join(", ") + "]";
}

} // namespace

class TestImageFiles : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // 16-bit values v are v / 65535, not rounded to 8 bits first (1 / 65535 stays above 0).
    void sixteenBitValuesScaleExactly()
    {
        cv::Mat gray(1, 5, CV_16UC1);
        const std::vector<int> levels{0, 1, 257, 32768, 65535};
        for (int x = 0; x < 5; ++x)
            gray.at<uint16_t>(0, x) = static_cast<uint16_t>(levels[x]);
        const std::string grayPath = writeTemp("gray16.png", encoded(".png", gray));
        std::vector<double> truth;
        for (int v : levels)
            truth.push_back(v / 65535.0);
        const torch::Tensor loaded = loadImage(grayPath);
        QCOMPARE(loaded.scalar_type(), torch::kFloat32);
        QVERIFY2(maxError(loaded, expected({truth}, 1, 5)) < 1e-7, qPrintable(shapeOf(loaded)));
        QVERIFY(loaded[0][0][1].item<float>() > 0.0f);

        // Color, stored BGR by OpenCV: R = 1, G = 40000, B = 65535.
        cv::Mat color(1, 1, CV_16UC3, cv::Scalar(65535, 40000, 1));
        const torch::Tensor rgb = loadImage(writeTemp("rgb16.png", encoded(".png", color)));
        QVERIFY(maxError(rgb, expected({{1 / 65535.0}, {40000 / 65535.0}, {1.0}}, 1, 1)) < 1e-7);
    }

    // Straight alpha over white: c a + (1 - a), for RGBA (8 and 16 bits) and gray + alpha.
    void alphaIsCompositedOverWhite()
    {
        // BGRA: opaque red, transparent "black", and (R 200, G 100, B 0) at alpha 51 (0.2).
        cv::Mat rgba(1, 3, CV_8UC4);
        rgba.at<cv::Vec4b>(0, 0) = {0, 0, 255, 255};
        rgba.at<cv::Vec4b>(0, 1) = {0, 0, 0, 0};
        rgba.at<cv::Vec4b>(0, 2) = {0, 100, 200, 51};
        const double a = 51 / 255.0;
        const torch::Tensor loaded = loadImage(writeTemp("rgba.png", encoded(".png", rgba)));
        const torch::Tensor truth = expected(
            {{1.0, 1.0, 200 / 255.0 * a + 1 - a}, {0.0, 1.0, 100 / 255.0 * a + 1 - a}, {0.0, 1.0, 0.0 * a + 1 - a}}, 1,
            3);
        QVERIFY2(maxError(loaded, truth) < 1e-6, qPrintable(shapeOf(loaded)));

        cv::Mat rgba16(1, 1, CV_16UC4, cv::Scalar(0, 0, 65535, 32768)); // red at alpha 32768 / 65535
        const double a16 = 32768 / 65535.0;
        QVERIFY(maxError(loadImage(writeTemp("rgba16.png", encoded(".png", rgba16))),
                         expected({{1.0}, {1 - a16}, {1 - a16}}, 1, 1)) < 1e-6);

        // Gray + alpha (PNG color type 4), which OpenCV cannot write: (gray, alpha) pairs.
        const std::string path = writeTemp("gray-alpha.png", handPng(3, 1, 8, 4, {bytes({0, 255, 0, 0, 100, 128})}));
        const double b = 128 / 255.0;
        const torch::Tensor gray = loadImage(path);
        QVERIFY2(maxError(gray, expected({{0.0, 1.0, 100 / 255.0 * b + 1 - b}}, 1, 3)) < 1e-6,
                 qPrintable(shapeOf(gray))); // a gray file: one channel
        const torch::Tensor asRgb = loadImage(path, 3);
        QCOMPARE(asRgb.size(0), int64_t(3));
        QVERIFY(torch::equal(asRgb[0], gray[0]) && torch::equal(asRgb[2], gray[0]));
    }

    // Palette PNGs (color type 3) expand to their colors; a palette of grays is a gray image, and
    // exactly so when one channel is asked for; tRNS entries are alpha.
    void palettePngs_data()
    {
        QTest::addColumn<int>("channels");
        QTest::addColumn<QString>("kind");
        QTest::newRow("color") << 0 << "color";
        QTest::newRow("color as gray") << 1 << "color";
        QTest::newRow("gray palette") << 0 << "gray";
        QTest::newRow("gray palette as gray") << 1 << "gray";
        QTest::newRow("gray palette as RGB") << 3 << "gray";
        QTest::newRow("transparent entry") << 0 << "tRNS";
        QTest::newRow("1 bit a pixel") << 0 << "1 bit";
    }
    void palettePngs()
    {
        QFETCH(int, channels);
        QFETCH(QString, kind);
        // 2 x 2 pixels of palette indices [[0, 1], [2, 1]].
        const std::vector<std::string> rows{bytes({0, 1}), bytes({2, 1})};
        std::string png;
        torch::Tensor truth;
        if (kind == "color") {
            png = handPng(2, 2, 8, 3, rows, pngChunk("PLTE", bytes({255, 0, 0, 0, 128, 255, 10, 20, 30})));
            truth = expected({{255, 0, 10, 0}, {0, 128, 20, 128}, {0, 255, 30, 255}}, 2, 2) / 255.0;
            if (channels == 1) // BT.601 luma, rounded to 8 bits: 76.245, 104.206, 18.15
                truth = expected({{76, 104, 18, 104}}, 2, 2) / 255.0;
        } else if (kind == "gray") {
            png = handPng(2, 2, 8, 3, rows, pngChunk("PLTE", bytes({0, 0, 0, 77, 77, 77, 255, 255, 255})));
            truth = expected({{0, 77, 255, 77}}, 2, 2) / 255.0;
            if (channels == 3)
                truth = truth.expand({3, 2, 2});
        } else if (kind == "tRNS") { // entry 1 fully transparent, entry 2 at alpha 0.2
            png = handPng(2, 2, 8, 3, rows,
                          pngChunk("PLTE", bytes({255, 0, 0, 0, 128, 255, 10, 20, 30})) +
                              pngChunk("tRNS", bytes({255, 0, 51})));
            const double a = 0.2;
            truth = expected({{1, 1, 10 / 255.0 * a + 1 - a, 1},
                              {0, 1, 20 / 255.0 * a + 1 - a, 1},
                              {0, 1, 30 / 255.0 * a + 1 - a, 1}},
                             2, 2);
        } else { // 1 bit a pixel, 3 x 1: indices 1, 0, 1 packed from the high bit
            png = handPng(3, 1, 1, 3, {bytes({0b10100000})}, pngChunk("PLTE", bytes({0, 0, 255, 255, 255, 0})));
            truth = expected({{255, 0, 255}, {255, 0, 255}, {0, 255, 0}}, 1, 3) / 255.0;
        }
        const torch::Tensor loaded = loadImage(writeTemp("palette.png", png), channels);
        QVERIFY2(maxError(loaded, truth) < 1e-6,
                 qPrintable(QString("got %1 %2").arg(shapeOf(loaded)).arg(maxError(loaded, truth))));
    }

    // EXIF orientation, in a JPEG's APP1 segment or a PNG's eXIf chunk, turns the stored pixels
    // into the displayed picture. Stored, 2 x 3 (blocks of 8 x 8 pixels in the JPEGs, so the
    // compression keeps each block's level):
    //   a b c
    //   d e f
    // 6 shows it turned clockwise (3 x 2: d a / e b / f c), 8 counterclockwise (c f / b e / a d),
    // 3 upside down (f e d / c b a), 2 mirrored (c b a / f e d), 5 transposed (a d / b e / c f),
    // 7 transverse (f c / e b / d a).
    void exifOrientationIsApplied_data()
    {
        QTest::addColumn<QString>("format");
        QTest::addColumn<int>("orientation");
        QTest::addColumn<bool>("bigEndianOrder");
        QTest::addColumn<QString>("shown"); // rows of the displayed picture, by stored block name
        for (const char *format : {"jpeg", "png", "tiff", "webp"}) {
            QTest::addRow("%s none", format) << format << 0 << true << "abc/def";
            QTest::addRow("%s 1", format) << format << 1 << true << "abc/def";
            QTest::addRow("%s 2", format) << format << 2 << false << "cba/fed";
            QTest::addRow("%s 3", format) << format << 3 << true << "fed/cba";
            QTest::addRow("%s 5", format) << format << 5 << true << "ad/be/cf";
            QTest::addRow("%s 6 MM", format) << format << 6 << true << "da/eb/fc";
            QTest::addRow("%s 7", format) << format << 7 << false << "fc/eb/da";
            QTest::addRow("%s 6 II", format) << format << 6 << false << "da/eb/fc";
            QTest::addRow("%s 8 MM", format) << format << 8 << true << "cf/be/ad";
            QTest::addRow("%s 8 II", format) << format << 8 << false << "cf/be/ad";
        }
    }
    void exifOrientationIsApplied()
    {
        QFETCH(QString, format);
        QFETCH(int, orientation);
        QFETCH(bool, bigEndianOrder);
        QFETCH(QString, shown);
        const QString names = "abcdef";
        const int levels[] = {20, 60, 100, 140, 180, 220}; // a .. f
        const int block = format == "jpeg" ? 8 : 1;        // WebP: lossless
        cv::Mat stored(2 * block, 3 * block, CV_8UC1);
        for (int y = 0; y < stored.rows; ++y)
            for (int x = 0; x < stored.cols; ++x)
                stored.at<uchar>(y, x) = static_cast<uchar>(levels[(y / block) * 3 + x / block]);
        std::string file;
        if (format == "jpeg") {
            std::vector<uchar> jpeg;
            QVERIFY(cv::imencode(".jpg", stored, jpeg, {cv::IMWRITE_JPEG_QUALITY, 100}));
            file = orientation == 0 ? std::string(jpeg.begin(), jpeg.end())
                                    : withExif(jpeg, exifTiff(orientation, bigEndianOrder));
        } else if (format == "png") {
            std::vector<std::string> rows;
            for (int y = 0; y < 2; ++y)
                rows.push_back(std::string(reinterpret_cast<const char *>(stored.ptr(y)), 3));
            file = handPng(3, 2, 8, 0, rows,
                           orientation == 0 ? "" : pngChunk("eXIf", exifTiff(orientation, bigEndianOrder)));
        } else if (format == "tiff") {
            file = handTiff(3, 2, std::string(reinterpret_cast<const char *>(stored.data), 6), orientation,
                            bigEndianOrder);
        } else {
            const std::string simple = encoded(".webp", stored, {cv::IMWRITE_WEBP_QUALITY, 101}); // lossless
            file = orientation == 0 ? simple : webpWithExif(simple, 3, 2, exifTiff(orientation, bigEndianOrder));
        }
        const std::string path = writeTemp("oriented." + format.toStdString(), file);
        const torch::Tensor loaded = loadImage(path, 1); // OpenCV writes a gray WebP as RGB
        // The header alone gives the displayed size too (masks are checked by it before decoding).
        const ImageSize declared = imageFileSize(path);
        QCOMPARE(declared.width, loaded.size(2));
        QCOMPARE(declared.height, loaded.size(1));
        const QStringList shownRows = shown.split('/');
        QCOMPARE(shapeOf(loaded), shapeOf(torch::zeros({1, shownRows.size() * block, shownRows[0].size() * block})));
        for (int r = 0; r < shownRows.size(); ++r)
            for (int c = 0; c < shownRows[r].size(); ++c) {
                const int level = levels[names.indexOf(shownRows[r][c])];
                // The block's center pixel; JPEG keeps a flat 8 x 8 block within a level or two.
                const int y = r * block + block / 2, x = c * block + block / 2;
                const double got = loaded[0][y][x].item<double>() * 255.0;
                QVERIFY2(std::abs(got - level) <= (block > 1 ? 2.0 : 1e-3),
                         qPrintable(QString("block (%1, %2): %3, expected %4 (%5)")
                                        .arg(r)
                                        .arg(c)
                                        .arg(got)
                                        .arg(level)
                                        .arg(shownRows[r][c])));
            }
        if (format == "jpeg" && orientation != 0) {
            // OpenCV's own EXIF reading (imread without IMREAD_UNCHANGED) agrees.
            cv::Mat viewer = cv::imread(path, cv::IMREAD_GRAYSCALE);
            QCOMPARE(viewer.rows, static_cast<int>(loaded.size(1)));
            QCOMPARE(viewer.cols, static_cast<int>(loaded.size(2)));
            const torch::Tensor opencv =
                torch::from_blob(viewer.data, {viewer.rows, viewer.cols}, torch::kUInt8).to(torch::kFloat32) / 255.0;
            QCOMPARE((opencv - loaded[0]).abs().max().item<float>(), 0.0f);
        }
    }

    // Malformed orientation data, as a hostile or broken file holds it, is ignored (the picture as
    // stored) and never read past its segment; a file whose image data it breaks is an error naming
    // the file. Each payload goes into a JPEG's APP1 segment and a PNG's eXIf chunk; then the
    // container's own faults.
    void malformedOrientationDataIsIgnored()
    {
        const int levels[] = {20, 60, 100, 140, 180, 220}; // a .. f, in 8 x 8 blocks
        cv::Mat stored(16, 24, CV_8UC1);
        for (int y = 0; y < stored.rows; ++y)
            for (int x = 0; x < stored.cols; ++x)
                stored.at<uchar>(y, x) = static_cast<uchar>(levels[(y / 8) * 3 + x / 8]);
        std::vector<uchar> jpegBytes;
        QVERIFY(cv::imencode(".jpg", stored, jpegBytes, {cv::IMWRITE_JPEG_QUALITY, 100}));
        const std::string jpeg(jpegBytes.begin(), jpegBytes.end());
        std::vector<std::string> rows;
        for (int y = 0; y < 16; ++y)
            rows.push_back(std::string(reinterpret_cast<const char *>(stored.ptr(y)), 24));
        // How the loaded picture shows the stored blocks ("abc/def" as stored, "da/eb/fc" turned
        // clockwise), or "error".
        auto shown = [&](const std::string &name, const std::string &file) -> QString {
            const std::string path = writeTemp(name, file);
            torch::Tensor loaded;
            try {
                loaded = loadImage(path, 1);
            } catch (const Error &e) {
                return QString(e.what()).contains(QString::fromStdString(name)) ? "error" : "unnamed error";
            }
            QString out;
            for (int64_t r = 0; r < loaded.size(1) / 8; ++r) {
                if (r > 0)
                    out += '/';
                for (int64_t c = 0; c < loaded.size(2) / 8; ++c) {
                    const double level = loaded[0][r * 8 + 4][c * 8 + 4].item<double>() * 255.0;
                    int nearest = 0;
                    for (int i = 1; i < 6; ++i)
                        if (std::abs(level - levels[i]) < std::abs(level - levels[nearest]))
                            nearest = i;
                    out += QChar('a' + nearest);
                }
            }
            return out;
        };
        const std::string mm = "MM" + bytes({0, 42, 0, 0, 0, 8});
        std::string longType = exifTiff(6, true);
        longType[8 + 2 + 3] = 4; // the orientation entry as a LONG: not the tag's type
        const std::vector<std::pair<std::string, std::string>> payloads = {
            {"empty", ""},
            {"not TIFF", "XX" + bytes({0, 42, 0, 0, 0, 8, 0, 1})},
            {"IFD offset 0xFFFFFFFF", "MM" + bytes({0, 42, 0xFF, 0xFF, 0xFF, 0xFF})},
            {"IFD offset at the end", "MM" + bytes({0, 42, 0, 0, 0, 7})},
            {"65535 entries, none there", mm + bytes({0xFF, 0xFF})},
            {"entry cut short", mm + bytes({0, 1, 0x01, 0x12, 0, 3, 0, 0})},
            {"orientation 0", exifTiff(0, true)},
            {"orientation 9", exifTiff(9, true)},
            {"orientation 65535", mm + bytes({0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0xFF, 0xFF, 0, 0})},
            {"orientation as a LONG", longType},
            {"orientation with count 2", mm + bytes({0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 2, 0, 6, 0, 0})},
        };
        for (const auto &[what, tiff] : payloads) {
            QCOMPARE(shown("exif.jpg", withExif(jpegBytes, tiff)) + " (" + what.c_str() + ", JPEG)",
                     QString("abc/def (%1, JPEG)").arg(what.c_str()));
            QCOMPARE(shown("exif.png", handPng(24, 16, 8, 0, rows, pngChunk("eXIf", tiff))) + " (" + what.c_str() +
                         ", PNG)",
                     QString("abc/def (%1, PNG)").arg(what.c_str()));
        }
        // The JPEG container: fill bytes before a valid APP1 are skipped (as libjpeg does) and the
        // orientation applies; an APP1 whose length runs past the end, a file cut after its
        // markers, a trailing 0xFF.
        std::string filled = withExif(jpegBytes, exifTiff(6, true));
        filled.insert(2, bytes({0xFF, 0xFF}));
        QCOMPARE(shown("filled.jpg", filled), QString("da/eb/fc"));
        const std::string pastEnd =
            jpeg.substr(0, 2) + bytes({0xFF, 0xE1, 0xFF, 0xF0}) + "Exif" + bytes({0, 0}) + exifTiff(6, true);
        QCOMPARE(shown("past-end.jpg", pastEnd), QString("error"));
        QCOMPARE(shown("markers-only.jpg", bytes({0xFF, 0xD8, 0xFF})), QString("error"));
        QCOMPARE(shown("trailing.jpg", withExif(jpegBytes, exifTiff(3, true)) + bytes({0xFF})), QString("fed/cba"));
        // PNG: an eXIf chunk after the image data is not read (the specification puts it before).
        const std::string png = handPng(24, 16, 8, 0, rows);
        const size_t iend = png.size() - 12;
        QCOMPARE(shown("late.png", png.substr(0, iend) + pngChunk("eXIf", exifTiff(6, true)) + png.substr(iend)),
                 QString("abc/def"));
        // WebP: an EXIF chunk whose size runs past the end is not read.
        const std::string webp = encoded(".webp", stored, {cv::IMWRITE_WEBP_QUALITY, 101});
        std::string cut = webpWithExif(webp, 24, 16, exifTiff(6, true));
        cut.replace(cut.size() - exifTiff(6, true).size() - 4, 4, littleEndian32(0x7FFFFFFF));
        const QString cutShown = shown("cut.webp", cut);
        QVERIFY2(cutShown == "abc/def" || cutShown == "error", qPrintable(cutShown));
        QCOMPARE(shown("exif.webp", webpWithExif(webp, 24, 16, exifTiff(6, true))), QString("da/eb/fc"));
        // TIFF: the file's own orientation tag, in 8 and 16 bits.
        const std::string pixels(reinterpret_cast<const char *>(stored.data), 24 * 16);
        QCOMPARE(shown("turned.tiff", handTiff(24, 16, pixels, 6, false)), QString("da/eb/fc"));
        std::string wide;
        for (const char level : pixels)
            wide += std::string{level, 0}; // big-endian: level * 256
        QCOMPARE(shown("turned16.tiff", handTiff(24, 16, wide, 8, true, 16)), QString("cf/be/ad"));
    }

    // Gray files asked for as RGB repeat the gray; RGB asked for as gray is its luma.
    void grayAndRgbConvert()
    {
        cv::Mat bgr(1, 2, CV_8UC3);
        bgr.at<cv::Vec3b>(0, 0) = {0, 0, 255};  // red
        bgr.at<cv::Vec3b>(0, 1) = {90, 90, 90}; // gray stored as color
        const std::string path = writeTemp("rgb.png", encoded(".png", bgr));
        QCOMPARE(loadImage(path).size(0), int64_t(3));
        QVERIFY(maxError(loadImage(path, 1), expected({{76, 90}}, 1, 2) / 255.0) < 1e-6);
        cv::Mat gray(1, 1, CV_8UC1, cv::Scalar(90));
        QVERIFY(maxError(loadImage(writeTemp("gray.png", encoded(".png", gray)), 3),
                         expected({{90}, {90}, {90}}, 1, 1) / 255.0) < 1e-6);
    }

    // Issue 16: an image whose header declares more than kMaxImagePixels is refused from the
    // header, before OpenCV decodes (and allocates) it; each kind of file loadImage takes, the
    // sides in the order the message names them (width x height).
    void oversizedImagesAreRefusedFromTheHeader_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("size");
        const cv::Mat small(8, 16, CV_8UC3, cv::Scalar(10, 20, 30));
        auto patched = [](std::string file, size_t at, const std::string &with) {
            return file.replace(at, with.size(), with);
        };
        auto bigEndian16 = [](uint32_t v) { return bytes({int(v >> 8), int(v & 0xFF)}); };
        auto row = [](const std::string &bytes) { return QByteArray::fromStdString(bytes); };

        QTest::newRow("PNG") << "big.png" << row(handPng(20000, 10000, 8, 0, {})) << "20000 x 10000";
        const std::string jpeg = encoded(".jpg", small);
        const size_t sof = jpeg.find("\xFF\xC0"); // SOF0: length, precision, height, width
        QVERIFY(sof != std::string::npos);
        QTest::newRow("JPEG") << "big.jpg" << row(patched(jpeg, sof + 5, bigEndian16(10000) + bigEndian16(20000)))
                              << "20000 x 10000";
        const std::string lossless = encoded(".webp", small, {cv::IMWRITE_WEBP_QUALITY, 101});
        QCOMPARE(lossless.substr(12, 4), std::string("VP8L"));
        // VP8L: 14 bits of width - 1, 14 of height - 1, then alpha and version bits (kept).
        const uint32_t bits = (16384 - 1) | (10000 - 1) << 14 | (uint32_t(uint8_t(lossless[24])) >> 4) << 28;
        QTest::newRow("WebP VP8L") << "big.webp" << row(patched(lossless, 21, littleEndian32(bits))) << "16384 x 10000";
        const std::string lossy = encoded(".webp", small, {cv::IMWRITE_WEBP_QUALITY, 90});
        QCOMPARE(lossy.substr(12, 4), std::string("VP8 "));
        QTest::newRow("WebP VP8") << "big.webp"
                                  << row(patched(lossy, 26, littleEndian32(16383 | uint32_t(10000) << 16)))
                                  << "16383 x 10000";
        QTest::newRow("WebP VP8X") << "big.webp" << row(webpWithExif(lossless, 20000, 10000, exifTiff(1, false)))
                                   << "20000 x 10000";
        // BMP: a negative height is a top-down bitmap.
        QTest::newRow("BMP") << "big.bmp"
                             << row(patched(encoded(".bmp", small), 18,
                                            littleEndian32(20000) + littleEndian32(uint32_t(-10000))))
                             << "20000 x 10000";
        QTest::newRow("TIFF, little-endian")
            << "big.tiff" << row(handTiff(20000, 10000, "", 0, false)) << "20000 x 10000";
        QTest::newRow("TIFF, big-endian") << "big.tiff" << row(handTiff(20000, 10000, "", 0, true)) << "20000 x 10000";
        QTest::newRow("PGM") << "big.pgm" << QByteArray("P5\n# made by hand\n20000 10000\n255\n") << "20000 x 10000";
        QTest::newRow("PPM, 10 digits") << "big.ppm" << QByteArray("P6 99999999999 2 255\n") << "1000000000 x 2";
    }
    void oversizedImagesAreRefusedFromTheHeader()
    {
        QFETCH(QString, name);
        QFETCH(QByteArray, content);
        QFETCH(QString, size);
        const std::string path = writeTemp(name.toStdString(), content.toStdString());
        try {
            loadImage(path);
            QFAIL("expected an error");
        } catch (const Error &e) {
            QCOMPARE(QString(e.what()), QString("'%1' declares %2 pixels, more than the 67108864 (8192 x 8192) an "
                                                "image may have")
                                            .arg(QString::fromStdString(path), size));
        }
    }

    // At the limit the header passes and the data is checked (here: it holds no pixels); a file larger
    // than kMaxImageFileBytes is refused from its size, unread (a sparse file); a kind of file
    // whose header is not read is refused by name.
    void imageLimitsAndKinds()
    {
        auto errorOf = [](const std::string &path) {
            try {
                loadImage(path);
            } catch (const Error &e) {
                return QString(e.what());
            }
            return QString("no error");
        };
        const std::string atLimit = writeTemp("limit.png", handPng(8192, 8192, 8, 0, {}));
        QCOMPARE(errorOf(atLimit),
                 QString("'%1' is a damaged PNG file: its image data ends early (0 of 67117056 bytes)")
                     .arg(QString::fromStdString(atLimit)));

        const std::string huge = test::makeTempDir() + "/huge.png";
        writeFileAtomically(huge, handPng(4, 4, 8, 0, {}));
        QCOMPARE(::truncate(huge.c_str(), static_cast<off_t>(kMaxImageFileBytes + 1)), 0);
        QCOMPARE(errorOf(huge), QString("'%1' is 268435457 bytes, more than the 268435456 an image file may have")
                                    .arg(QString::fromStdString(huge)));

        const std::string gif = writeTemp("image.gif", "GIF89a" + std::string(20, '\0'));
        QCOMPARE(errorOf(gif),
                 QString("'%1' is not a PNG, JPEG, WebP, BMP, TIFF or PNM image").arg(QString::fromStdString(gif)));
    }

    void errorsNameTheFileAndTheProblem()
    {
        const std::string path = writeTemp("image.png", encoded(".png", cv::Mat(1, 1, CV_8UC1, cv::Scalar(0))));
        try {
            loadImage(path, 2);
            QFAIL("expected an error");
        } catch (const Error &e) {
            QVERIFY2(QString(e.what()).contains("image.png") && QString(e.what()).contains("1 or 3 channels"),
                     e.what());
        }
        const std::string broken = writeTemp("broken.png", handPng(2, 2, 8, 0, {bytes({1, 2})}).substr(0, 40));
        try {
            loadImage(broken);
            QFAIL("expected an error");
        } catch (const Error &e) {
            QVERIFY2(QString(e.what()).contains("broken.png") && QString(e.what()).contains("truncated PNG"), e.what());
        }
    }

    // Issue 16: a truncated or damaged file is refused with one message naming the file and the
    // damage, before a decoder sees it: libpng and libjpeg print nothing (they wrote their own
    // "libpng error" or "Premature end of JPEG file" lines beside ours), OpenCV asserts nothing
    // (a BMP of height -2^31). The first rows are the crafted files of tests/data/hostile.
    void damagedFilesAreRefusedQuietly_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("message"); // %1: the file's path
        auto row = [](const std::string &bytes) { return QByteArray::fromStdString(bytes); };
        const std::string hostile = test::dataDir() + "/hostile/";
        QTest::newRow("PNG cut in its image data")
            << "cut.png" << row(readFile(hostile + "png_truncated_idat.png"))
            << "'%1' is a truncated PNG file: its IDAT chunk at byte 33 runs past the end of the file";
        QTest::newRow("JPEG cut in its scan") << "cut.jpg" << row(readFile(hostile + "jpeg_truncated_scan.jpg"))
                                              << "'%1' is a damaged JPEG file (Premature end of JPEG file)";
        QTest::newRow("BMP of 0 x -2^31") << "int-min.bmp" << row(readFile(hostile + "bmp_height_int_min.bmp"))
                                          << "'%1' is a damaged BMP file: its header declares 0 x -2147483648 pixels";

        const std::string png = handPng(4, 2, 8, 0, {"abcd", "efgh"});
        QTest::newRow("PNG without IEND") << "no-end.png" << row(png.substr(0, png.size() - 12))
                                          << "'%1' is a truncated PNG file: it ends at byte " +
                                                 QString::number(png.size() - 12) + ", before its IEND chunk";
        std::string flipped = png;
        flipped[33 + 8 + 3] ^= 0x10; // a byte of the IDAT data
        QTest::newRow("PNG with a flipped bit")
            << "flipped.png" << row(flipped)
            << "'%1' is a damaged PNG file: the CRC of its IDAT chunk at byte 33 does not match";
        QTest::newRow("PNG with rows missing")
            << "short.png" << row(handPng(4, 2, 8, 0, {"abcd"}))
            << "'%1' is a damaged PNG file: its image data ends early (5 of 10 bytes)";
        QTest::newRow("PNG with rows too many")
            << "long.png" << row(handPng(4, 2, 8, 0, {"abcd", "efgh", "ijkl"}))
            << "'%1' is a damaged PNG file: its image data holds more than the 10 bytes its header declares";
        QTest::newRow("PNG of 0 x 2") << "empty.png" << row(handPng(0, 2, 8, 0, {"", ""}))
                                      << "'%1' declares 0 x 2 pixels; an image needs at least 1 x 1";
        QTest::newRow("palette PNG without a palette")
            << "no-palette.png" << row(handPng(2, 1, 8, 3, {bytes({0, 1})}))
            << "'%1' is a damaged PNG file: it has no palette before its image data";

        const cv::Mat small(8, 16, CV_8UC3, cv::Scalar(10, 20, 30));
        const std::string bmp = encoded(".bmp", small);
        QTest::newRow("BMP of 16 x -2^31")
            << "tall.bmp" << row(bmp.substr(0, 22) + littleEndian32(0x80000000u) + bmp.substr(26))
            << "'%1' is a damaged BMP file: its header declares 16 x -2147483648 pixels";
        QTest::newRow("BMP of -16 x 8") << "wide.bmp"
                                        << row(bmp.substr(0, 18) + littleEndian32(uint32_t(-16)) + bmp.substr(22))
                                        << "'%1' is a damaged BMP file: its header declares -16 x 8 pixels";
        QTest::newRow("BMP cut in its pixels")
            << "cut.bmp" << row(bmp.substr(0, 100))
            << "'%1' is a truncated image file: its pixels need 384 bytes from byte 54, "
               "the file has 46";
        QTest::newRow("PGM cut in its pixels")
            << "cut.pgm" << QByteArray("P5\n4 4\n255\nabc")
            << "'%1' is a truncated image file: its pixels need 16 bytes from byte 11, "
               "the file has 3";
        // Damage only the decoder finds: OpenCV wrote its exception to stderr itself ("imdecode_(''):
        // can't read data: ..."); its reason now ends our message instead.
        // TIFF strips libtiff cannot decode: OpenCV printed its exception or, for compressed data,
        // returned black pixels without a word; every strip is now decoded once beforehand.
        QTest::newRow("TIFF with fewer pixels than declared")
            << "short.tif" << row(handTiff(28, 28, std::string(100, 'a'), 0, false))
            << "'%1' is a damaged TIFF file (TIFFReadEncodedStrip: Read error at scanline 4294967295; got 100 "
               "bytes, expected 784)";
        const std::string plainTiff = handTiff(28, 28, std::string(784, 'a'), 0, false);
        const std::string compressionEntry = bytes({3, 1, 3, 0, 1, 0, 0, 0, 1, 0}); // tag 259 = 1, little-endian
        const size_t compressionAt = plainTiff.find(compressionEntry);
        const auto compressed = [&](int scheme) {
            std::string tiff = plainTiff;
            tiff[compressionAt + 8] = char(scheme & 0xFF);
            tiff[compressionAt + 9] = char(scheme >> 8);
            return row(tiff);
        };
        QTest::newRow("TIFF whose LZW data is not LZW")
            << "lzw.tif" << compressed(5) << "'%1' is a damaged TIFF file (Using code not yet in table)";
        QTest::newRow("TIFF whose deflate data is not deflate")
            << "deflate.tif" << compressed(8)
            << "'%1' is a damaged TIFF file (ZIPDecode: Decoding error at scanline 0)";
        // OpenCV's failed check spans lines of its own ("> Unsupported number of channels: ..."):
        // joined into the one line.
        std::string fiveSamples = handTiff(28, 28, std::string(28 * 28 * 5, 'a'), 0, false);
        const size_t samplesAt = fiveSamples.find(bytes({0x15, 1, 3, 0, 1, 0, 0, 0, 1, 0})); // tag 277 = 1
        fiveSamples[samplesAt + 8] = 5;
        QTest::newRow("TIFF of five samples a pixel")
            << "five.tif" << row(fiveSamples)
            << "'%1' is not an image OpenCV can read (Unsupported number of channels: 'channels >= 1 && channels "
               "<= 4' where 'channels' is 5)";
        QTest::newRow("TIFF of an unknown compression")
            << "unknown.tif" << compressed(12345)
            << "'%1' is a damaged TIFF file (Compression scheme 12345 strip decoding is not implemented)";
        // Plain PNMs are read (and checked) before OpenCV's reader sees them (checkPnmSamples).
        QTest::newRow("ASCII PGM with a letter") << "letter.pgm" << QByteArray("P2\n2 2\n255\n1 2 x 4\n")
                                                 << "'%1' is a damaged PGM file: sample 3 is not a number (at byte 15)";
        QTest::newRow("ASCII PPM cut short")
            << "cut.ppm" << QByteArray("P3\n2 2\n255\n1 2 3\n")
            << "'%1' is a truncated PPM file: it holds 3 of the 12 samples its header declares";
        // A sample above the largest value was clamped (plain) or read as it stood (binary),
        // giving values above 1.
        QTest::newRow("PGM sample above its largest value")
            << "over.pgm" << QByteArray("P5\n2 2\n100\n\x64\x32\x00\xc8", 15)
            << "'%1' is a damaged PGM file: sample 4 is 200, above its largest value 100";
        QTest::newRow("16-bit PPM sample above its largest value")
            << "over.ppm" << QByteArray("P6\n1 1\n1000\n\x03\xe8\x07\xd0\x00\x00", 18)
            << "'%1' is a damaged PPM file: sample 2 is 2000, above its largest value 1000";
        QTest::newRow("ASCII PGM sample above its largest value")
            << "overplain.pgm" << QByteArray("P2\n2 2\n100\n100 50 0 99999999999\n")
            << "'%1' is a damaged PGM file: sample 4 is 99999999999, above its largest value 100";
        // A comment may end at a carriage return, as OpenCV's reader takes it.
        QTest::newRow("ASCII PGM with CR line ends, one sample short")
            << "cr.pgm" << QByteArray("P2\r2 1\r9\r# a comment\r5\r")
            << "'%1' is a truncated PGM file: it holds 1 of the 2 samples its header declares";
        // A comment glued to the largest value shifted a binary file's pixels by its length.
        QTest::newRow("PGM with a comment glued to its largest value")
            << "glued.pgm" << QByteArray("P5\n1 1\n255#c\n\x00", 14)
            << "'%1' is a damaged PNM file: its header does not hold a width, a height and a largest value, the last "
               "followed by whitespace";
        QTest::newRow("PGM whose largest value is 0")
            << "zero.pgm" << QByteArray("P5\n1 1\n0\n\x00", 10)
            << "'%1' is a damaged PGM file: its largest value is 0, where 1 to 65535 are allowed";
        QTest::newRow("PGM whose largest value is 70000")
            << "wide.pgm" << QByteArray("P2\n1 1\n70000\n5\n")
            << "'%1' is a damaged PGM file: its largest value is 70000, where 1 to 65535 are allowed";
    }
    // A PNM's samples are divided by its own largest value, binary or plain, 8- or 16-bit: OpenCV
    // returned binary ones raw (white at 100 / 255 for a largest value of 100), plain 8-bit ones
    // scaled and rounded to 255, plain 16-bit ones raw.
    void pnmSamplesAreScaledByTheirLargestValue()
    {
        const torch::Tensor expected = torch::tensor({100.0f, 50.0f, 0.0f, 100.0f}).div_(100.0f).view({1, 2, 2});
        QVERIFY(
            torch::equal(loadImage(writeTemp("b8.pgm", std::string("P5\n2 2\n100\n\x64\x32\x00\x64", 15))), expected));
        QVERIFY(torch::equal(loadImage(writeTemp("p8.pgm", "P2\n2 2\n100\n100 50 0 100\n")), expected));
        const torch::Tensor expected16 = torch::tensor({1000.0f, 500.0f, 0.0f, 1000.0f}).div_(1000.0f).view({1, 2, 2});
        QVERIFY(torch::equal(
            loadImage(writeTemp("b16.pgm", std::string("P5\n2 2\n1000\n\x03\xe8\x01\xf4\x00\x00\x03\xe8", 20))),
            expected16));
        QVERIFY(torch::equal(loadImage(writeTemp("p16.pgm", "P2\n2 2\n1000\n1000 500 0 1000\n")), expected16));
        // Color, plain and binary alike: RGB in the file's order.
        const torch::Tensor rgb = torch::tensor({100.0f, 50.0f, 0.0f}).div_(100.0f).view({3, 1, 1});
        QVERIFY(torch::equal(loadImage(writeTemp("b.ppm", std::string("P6\n1 1\n100\n\x64\x32\x00", 14))), rgb));
        QVERIFY(torch::equal(loadImage(writeTemp("p.ppm", "P3\n1 1\n100\n100 50 0")), rgb));
        // Carriage returns end comments, in the header and among the samples.
        QVERIFY(torch::equal(loadImage(writeTemp("cr.ppm", "P3\r# header\r1 1\r100\r100 # red\r50 0\r")), rgb));
    }
    // A plain (ASCII) PNM may end right after its last number (no whitespace after it): read as
    // written, though OpenCV's reader refused it.
    void plainPnmWithoutAFinalLineBreak()
    {
        const torch::Tensor gray = loadImage(writeTemp("plain.pgm", "P2\n2 2\n255\n0 51 102 255"));
        QVERIFY(torch::equal(gray, torch::tensor({0.0f, 51.0f, 102.0f, 255.0f}).div_(255.0).view({1, 2, 2})));
        const torch::Tensor color = loadImage(writeTemp("plain.ppm", "P3\n1 1\n255\n10 20 30"));
        QVERIFY(torch::equal(color, torch::tensor({10.0f, 20.0f, 30.0f}).div_(255.0).view({3, 1, 1})));
    }

    void damagedFilesAreRefusedQuietly()
    {
        QFETCH(QString, name);
        QFETCH(QByteArray, content);
        QFETCH(QString, message);
        const std::string path = writeTemp(name.toStdString(), content.toStdString());
        QString error = "no error";
        const std::string printed = stderrDuring([&] {
            try {
                loadImage(path);
            } catch (const Error &e) {
                error = e.what();
            }
        });
        QCOMPARE(error, message.arg(QString::fromStdString(path)));
        QCOMPARE(QString::fromStdString(printed), QString());
    }
};

QTEST_GUILESS_MAIN(TestImageFiles)
#include "test_image_files.moc"
