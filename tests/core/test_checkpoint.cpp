// Reading the reference's .pth checkpoints without Python, and refusing bad files clearly.
#include "config/presets.h"
#include "io/model_file.h"
#include "io/torch_checkpoint.h"
#include "io/zip_archive.h"
#include "nets/layers.h"
#include "util/error.h"
#include "util/files.h"

#include "error_of.h"
#include "test_support.h"

#include <caffe2/serialize/inline_container.h>

#include <QtTest/QtTest>

#include <zlib.h>

#include <sstream>

using namespace sde;

namespace {

std::string fixtureCheckpoint()
{
    return test::fixtureDir("ncsnpp_ve_small") + "/checkpoint.pth";
}
std::string fixtureConfig()
{
    return test::fixtureDir("ncsnpp_ve_small") + "/config.json";
}

// A zip archive in torch.save's layout whose data.pkl is the given pickle.
std::string writeArchive(const std::string &pickle)
{
    const std::string path = test::makeTempDir() + "/crafted.pth";
    caffe2::serialize::PyTorchStreamWriter writer(path);
    writer.writeRecord("data.pkl", pickle.data(), pickle.size());
    writer.writeEndOfFile();
    return path;
}

// The message readTorchCheckpoint throws for `path`, or "" when it reads the file.
QString checkpointError(const std::string &path)
{
    try {
        readTorchCheckpoint(path);
    } catch (const Error &e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

// The message unpickle throws for `pickle` (labelled "crafted.pkl"), or "" when it reads it.
// Storages are zeros of the size their reference asks for.
QString pickleError(const std::string &pickle)
{
    const StorageLoader zeros = [](const std::string &, torch::Dtype dtype, int64_t numel) {
        return torch::zeros({numel}, torch::TensorOptions().dtype(dtype));
    };
    try {
        unpickle(pickle, zeros, "crafted.pkl");
    } catch (const Error &e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

// The pickle opcode LONG1 with an 8-byte little-endian integer.
std::string long8(int64_t value)
{
    std::string out = "\x8a\x08";
    for (int i = 0; i < 8; ++i)
        out += static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xff);
    return out;
}

// A protocol 2 pickle of torch._utils._rebuild_tensor_v2 over a float storage of 16 elements.
std::string tensorPickle(const std::vector<int64_t> &size, const std::vector<int64_t> &stride)
{
    std::string out = "\x80\x02"
                      "ctorch._utils\n_rebuild_tensor_v2\n(";
    out += std::string("(X\x07\x00\x00\x00", 6) + "storagectorch\nFloatStorage\n" +
           std::string("X\x01\x00\x00\x00", 5) + "0" + std::string("X\x03\x00\x00\x00", 5) + "cpuK\x10tQ";
    out += std::string("K\x00(", 3);
    for (int64_t s : size)
        out += long8(s);
    out += "t(";
    for (int64_t s : stride)
        out += long8(s);
    out += "t\x89)tR.";
    return out;
}

void appendLittle(std::string &out, uint64_t value, int width)
{
    for (int i = 0; i < width; ++i)
        out += static_cast<char>((value >> (8 * i)) & 0xff);
}

// A zip archive of one record: its local header with data, its directory entry, and the end of
// central directory that points at the entry.
std::string oneRecordZip(const std::string &local, const std::string &entry)
{
    std::string end = "PK\x05\x06";
    appendLittle(end, 0, 4);
    appendLittle(end, 1, 2);
    appendLittle(end, 1, 2);
    appendLittle(end, entry.size(), 4);
    appendLittle(end, local.size(), 4);
    appendLittle(end, 0, 2);
    return local + entry + end;
}

// A zip archive holding one record "archive/data.pkl" whose directory entry declares `method`,
// `compressed` and `size` bytes (zip64 extra field when `zip64`), with 16 bytes of data.
std::string craftedZip(uint16_t method, uint64_t compressed, uint64_t size, bool zip64)
{
    const std::string name = "archive/data.pkl";
    const std::string data(16, '\x03');
    std::string local = "PK\x03\x04";
    appendLittle(local, 20, 2);
    appendLittle(local, 0, 2);
    appendLittle(local, method, 2);
    appendLittle(local, 0, 8); // time, date, crc
    appendLittle(local, data.size(), 4);
    appendLittle(local, zip64 ? 0xffffffff : size, 4);
    appendLittle(local, name.size(), 2);
    appendLittle(local, 0, 2);
    local += name + data;

    std::string extra;
    if (zip64) {
        appendLittle(extra, 1, 2);
        appendLittle(extra, 16, 2);
        appendLittle(extra, size, 8);
        appendLittle(extra, compressed, 8);
    }
    std::string entry = "PK\x01\x02";
    appendLittle(entry, 45, 2);
    appendLittle(entry, 45, 2);
    appendLittle(entry, 0, 2);
    appendLittle(entry, method, 2);
    appendLittle(entry, 0, 8); // time, date, crc
    appendLittle(entry, zip64 ? 0xffffffff : compressed, 4);
    appendLittle(entry, zip64 ? 0xffffffff : size, 4);
    appendLittle(entry, name.size(), 2);
    appendLittle(entry, extra.size(), 2);
    appendLittle(entry, 0, 6); // comment length, disk, internal attributes
    appendLittle(entry, 0, 4); // external attributes
    appendLittle(entry, 0, 4); // the local header's offset
    entry += name + extra;

    return oneRecordZip(local, entry);
}

void expectError(const std::string &path, const QStringList &fragments, const LoadOptions &options = {})
{
    try {
        loadModelFile(path, options);
        QFAIL("loading should have failed");
    } catch (const Error &e) {
        for (const QString &fragment : fragments)
            QVERIFY2(QString(e.what()).contains(fragment), e.what());
    }
}

// `data` as raw deflate (as zip holds it).
std::string rawDeflate(const std::string &data)
{
    z_stream stream{};
    deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
    stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    stream.next_out = reinterpret_cast<Bytef *>(out.data());
    stream.avail_out = static_cast<uInt>(out.size());
    deflate(&stream, Z_FINISH);
    out.resize(stream.total_out);
    deflateEnd(&stream);
    return out;
}

// A zip archive of one deflated record "archive/data.pkl" holding `compressed` (raw deflate),
// whose directory declares `size` inflated bytes and the CRC-32 `crc`.
std::string deflatedZip(const std::string &compressed, uint64_t size, uint32_t crc)
{
    const std::string name = "archive/data.pkl";
    std::string header;
    appendLittle(header, 20, 2);
    appendLittle(header, 0, 2);
    appendLittle(header, 8, 2);
    appendLittle(header, 0, 4); // time, date
    appendLittle(header, crc, 4);
    appendLittle(header, compressed.size(), 4);
    appendLittle(header, size, 4);
    appendLittle(header, name.size(), 2);
    appendLittle(header, 0, 2);
    const std::string local = "PK\x03\x04" + header + name + compressed;
    std::string entry = "PK\x01\x02";
    appendLittle(entry, 20, 2); // version made by
    entry += header;
    appendLittle(entry, 0, 2); // comment length
    appendLittle(entry, 0, 8); // disk, attributes
    appendLittle(entry, 0, 4); // local header offset
    entry += name;
    return oneRecordZip(local, entry);
}

// The message ZipArchive throws opening `zip` (labelled "crafted.zip") and reading its record
// "archive/data.pkl", or "" when it reads it.
QString zipReadError(const std::string &zip)
{
    std::istringstream in(zip, std::ios::binary);
    try {
        ZipArchive archive(in, "crafted.zip");
        archive.read(*archive.find("archive/data.pkl"));
    } catch (const Error &e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace

class TestCheckpoint : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void readsReferenceCheckpoint()
    {
        TorchCheckpoint checkpoint = readTorchCheckpoint(fixtureCheckpoint());
        QCOMPARE(checkpoint.step, int64_t(2));
        QVERIFY(checkpoint.hasEma);
        QCOMPARE(checkpoint.emaDecay, 0.999);
        QVERIFY(checkpoint.optimizer != nullptr);
        QCOMPARE(checkpoint.model.front().first, std::string("module.sigmas"));
        QCOMPARE(checkpoint.model.front().second.scalar_type(), torch::kFloat64);
        // Every trainable parameter has an EMA copy; the fixed Fourier W and the sigmas do not.
        QCOMPARE(checkpoint.shadowParams.size(), checkpoint.model.size() - 2);
        // Adam's moments after two steps are there too.
        PyRef state = checkpoint.optimizer->get("state");
        QVERIFY(state && state->kind == PyValue::Kind::Dict && !state->dict.empty());
        QVERIFY(state->dict.front().second->get("exp_avg") != nullptr);
        // The in-memory reader (the fuzz target's entry) reads the same.
        const TorchCheckpoint fromBytes = parseTorchCheckpoint(readFile(fixtureCheckpoint()), "checkpoint.pth");
        QCOMPARE(fromBytes.model.size(), checkpoint.model.size());
        QVERIFY(torch::equal(fromBytes.model.back().second, checkpoint.model.back().second));
        QCOMPARE(fromBytes.step, checkpoint.step);
    }

    void guessesPresetsFromLayout()
    {
        ModelConfig config = loadPreset("vp/cifar10_ddpmpp_continuous");
        LayoutOnlyScope layoutOnly;
        ScoreNetwork network = createScoreNetwork(config);
        std::vector<std::string> matches = presetsMatchingLayout(stateDict(*network));
        QVERIFY(std::find(matches.begin(), matches.end(), "vp/cifar10_ddpmpp_continuous") != matches.end());
        QVERIFY(std::find(matches.begin(), matches.end(), "subvp/cifar10_ddpmpp_continuous") != matches.end());
        QVERIFY(std::find(matches.begin(), matches.end(), "ve/cifar10_ncsnpp_continuous") == matches.end());
        QVERIFY(std::find(matches.begin(), matches.end(), "vp/cifar10_ddpmpp_deep_continuous") == matches.end());
    }

    void fixtureMatchesNoPreset()
    {
        // The fixture is a small custom config; guessing must say so rather than pick a wrong one.
        expectError(fixtureCheckpoint(), {"no preset", "--config"});
    }

    void missingFile() { expectError("/nonexistent/model.pth", {"/nonexistent/model.pth"}); }

    void emptyFile()
    {
        const std::string path = test::makeTempDir() + "/empty.pth";
        writeFileAtomically(path, "");
        expectError(path, {path.c_str(), "empty"});
    }

    void truncatedFile()
    {
        const std::string bytes = readFile(fixtureCheckpoint());
        const std::string path = test::makeTempDir() + "/truncated.pth";
        writeFileAtomically(path, bytes.substr(0, bytes.size() / 2));
        LoadOptions options;
        options.config = fixtureConfig();
        expectError(path, {path.c_str()}, options);
    }

    void corruptedBytes()
    {
        std::string bytes = readFile(fixtureCheckpoint());
        for (size_t i = 200; i < bytes.size(); i += 997)
            bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
        const std::string path = test::makeTempDir() + "/corrupt.pth";
        writeFileAtomically(path, bytes);
        LoadOptions options;
        options.config = fixtureConfig();
        expectError(path, {path.c_str()}, options);
    }

    void notAnArchive()
    {
        const std::string path = test::makeTempDir() + "/text.pth";
        writeFileAtomically(path, "this is not a checkpoint at all");
        expectError(path, {"not a PyTorch checkpoint"});
    }

    void refusesForeignPickle_data()
    {
        QTest::addColumn<QByteArray>("pickle");
        QTest::addColumn<QString>("named");
        // {'model': os.system('ls')} as protocol 2
        QTest::newRow("os.system")
            << QByteArray::fromHex(
                   "80027d710058050000006d6f64656c7101636f730a73797374656d0a710258020000006c737103857104527105732e")
            << "os.system";
        // builtins.eval via STACK_GLOBAL (protocol 4)
        QTest::newRow("builtins.eval") << QByteArray::fromHex("80048c086275696c74696e738c046576616c938c013185522e")
                                       << "builtins.eval";
        // An object constructed with NEWOBJ from an allowed global is still refused.
        QTest::newRow("newobj") << QByteArray::fromHex("800263636f6c6c656374696f6e730a4f726465726564446963740a29812e")
                                << "construct";
    }

    void refusesForeignPickle()
    {
        QFETCH(QByteArray, pickle);
        QFETCH(QString, named);
        const std::string path = writeArchive(pickle.toStdString());
        expectError(path, {"refusing", named});
    }

    void refusesMalformedPickle()
    {
        // Truncated in the middle of a string, and a stack underflow.
        for (const std::string &pickle : {std::string("\x80\x02X\xff\x00\x00\x00"
                                                      "abc",
                                                      10),
                                          std::string("\x80\x02s.", 4)}) {
            const std::string path = writeArchive(pickle);
            expectError(path, {path.c_str()});
        }
    }

    // Issue 16: the hostile file of ../shared/hostile, 463 bytes whose data.pkl nests 100,000
    // tuples, crashed the CLI (signal 11); the marks that open them are counted.
    void refusesTheSharedDeepPickle()
    {
        const std::string path = test::dataDir() + "/hostile/pth_nested_tuples_100k_deflated.pth";
        QCOMPARE(checkpointError(path), QString::fromStdString(path) +
                                            ": the pickle nests deeper than 1000 levels (at byte 1004 of the pickle)");
    }

    // Found while fuzzing (issue 16): LibTorch's reader parsed the version record with
    // std::stoull, whose std::out_of_range left it as "stoull" with no file named. Our reader
    // reads the version record itself.
    void refusesAnOutOfRangeVersionRecord()
    {
        const std::string path = test::dataDir() + "/hostile/pth_version_out_of_range.pth";
        QCOMPARE(checkpointError(path),
                 QString::fromStdString(path) +
                     ": the archive's version record reads '99999999999999999999999'; expected a number from 1 to 10");
        QVERIFY_THROWS_EXCEPTION(Error, parseTorchCheckpoint(readFile(path), "version.pth"));
    }

    // Issue 16's attack on the zip container: each file (tests/data/make_hostile_archives.py) is
    // refused by our own reader, naming the file and the record, from a file or from memory.
    void refusesHostileArchives_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("message");
        QTest::newRow("corrupt deflate stream")
            << "pth_deflate_corrupt.pth"
            << ": the archive's record 'archive/data.pkl' is corrupt: its deflated data does not inflate (invalid at "
               "or before byte 1 of 301)";
        QTest::newRow("record named twice") << "pth_record_twice.pth"
                                            << ": the record 'archive/data.pkl' appears twice in the archive; a "
                                               "checkpoint holds each record once";
        QTest::newRow("CRC-32 mismatch")
            << "pth_crc_mismatch.pth"
            << ": the archive's record 'archive/data/0' is corrupt: its CRC-32 is 0x86dc12a5, not the 0x0fc2bb52 its "
               "directory declares";
        QTest::newRow("comment past the end")
            << "pth_eocd_comment_too_long.pth"
            << ": the checkpoint archive is corrupt or truncated (its end of central directory declares a comment "
               "of 100 bytes, but 0 bytes follow it)";
        QTest::newRow("big-endian") << "pth_byteorder_big.pth"
                                    << ": the archive's byteorder record reads 'big'; only checkpoints saved "
                                       "little-endian ('little') can be read";
        QTest::newRow("two top-level folders") << "pth_two_folders.pth"
                                               << ": the archive holds records in two top-level folders, 'archive/' "
                                                  "and 'evil/'; torch.save puts every record in one top-level folder";
        QTest::newRow("bzip2") << "pth_bzip2_record.pth"
                               << ": the archive's record 'archive/data.pkl' is compressed with bzip2 (method 12); "
                                  "only stored (0) and deflated (8) records can be read";
    }

    void refusesHostileArchives()
    {
        QFETCH(QString, file);
        QFETCH(QString, message);
        const std::string path = test::dataDir() + "/hostile/" + file.toStdString();
        QCOMPARE(checkpointError(path), QString::fromStdString(path) + message);
        try {
            parseTorchCheckpoint(readFile(path), "memory.pth");
            QFAIL("the bytes were read");
        } catch (const Error &e) {
            QCOMPARE(QString::fromStdString(e.what()), "memory.pth" + message);
        }
    }

    // Deflated data is inflated by our reader, which refuses data that does not end where the
    // directory says or whose CRC-32 differs.
    void refusesDeflatedRecordsThatDisagreeWithTheDirectory_data()
    {
        QTest::addColumn<QByteArray>("zip");
        QTest::addColumn<QString>("message");
        const auto bytes = [](const std::string &s) { return QByteArray(s.data(), static_cast<qsizetype>(s.size())); };
        const std::string data(1000, 'a');
        const std::string compressed = rawDeflate(data);
        const auto crc = static_cast<uint32_t>(
            crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef *>(data.data()), static_cast<uInt>(data.size())));
        const QString record = "crafted.zip: the archive's record 'archive/data.pkl' is corrupt: ";
        QTest::newRow("as declared") << bytes(deflatedZip(compressed, 1000, crc)) << "";
        QTest::newRow("longer than declared") << bytes(deflatedZip(compressed, 10, crc))
                                              << record + "it inflates to more than the 10 bytes its "
                                                          "directory declares";
        QTest::newRow("shorter than declared") << bytes(deflatedZip(compressed, 2000, crc))
                                               << record + "it inflates to 1000 bytes, not the 2000 its "
                                                           "directory declares";
        QTest::newRow("stream cut short") << bytes(deflatedZip(compressed.substr(0, 4), 1000, crc))
                                          << record + "its deflated data ends after 4 bytes, inside the stream (260 "
                                                      "bytes inflated)";
        QTest::newRow("CRC-32 differs") << bytes(deflatedZip(compressed, 1000, crc ^ 1))
                                        << record + QString("its CRC-32 is 0x%1, not the 0x%2 its directory declares")
                                                        .arg(crc, 8, 16, QChar('0'))
                                                        .arg(crc ^ 1, 8, 16, QChar('0'));
    }

    void refusesDeflatedRecordsThatDisagreeWithTheDirectory()
    {
        QFETCH(QByteArray, zip);
        QFETCH(QString, message);
        QCOMPARE(zipReadError(zip.toStdString()), message);
    }

    // Nesting through every kind of container, with and without marks, is bounded; at the bound
    // itself it reads.
    void boundsNesting_data()
    {
        QTest::addColumn<QByteArray>("pickle");
        QTest::addColumn<QString>("message");
        const auto repeat = [](const char *unit, int n) {
            QByteArray out;
            for (int i = 0; i < n; ++i)
                out += unit;
            return out;
        };
        const QString tooDeep = "crafted.pkl: the pickle nests deeper than 1000 levels (at byte ";
        QTest::newRow("1000 tuples") << "\x80\x02N" + repeat("\x85", 1000) + "."
                                     << "";
        QTest::newRow("1001 tuples") << "\x80\x02N" + repeat("\x85", 1001) + "." << tooDeep + "1004 of the pickle)";
        QTest::newRow("100k tuples") << "\x80\x02N" + repeat("\x85", 100000) + "." << tooDeep + "1004 of the pickle)";
        QTest::newRow("100k marks") << "\x80\x02]" + repeat("(", 100000) + repeat("l", 100000) + "."
                                    << tooDeep + "1004 of the pickle)";
        // d0[1] = d1 ... : the 1000th SETITEM would place a dict 1000 deep inside another.
        QTest::newRow("100k dicts") << "\x80\x02}" + repeat("K\x01}", 100000) + repeat("s", 100000) + "."
                                    << tooDeep + "301003 of the pickle)";
        QTest::newRow("100k appends") << "\x80\x02]" + repeat("]", 100000) + repeat("a", 100000) + "."
                                      << tooDeep + "101003 of the pickle)";
    }

    void boundsNesting()
    {
        QFETCH(QByteArray, pickle);
        QFETCH(QString, message);
        QCOMPARE(pickleError(pickle.toStdString()), message);
    }

    // A container changed after it went into another (how a pickle builds a list holding
    // itself) is refused: no checkpoint holds one, and the value would never be freed.
    void refusesRecursiveStructures_data()
    {
        QTest::addColumn<QByteArray>("pickle");
        QTest::addColumn<QString>("message");
        // l = []; l.append(l)
        QTest::newRow("list in itself") << QByteArray("\x80\x02]q\x00h\x00"
                                                      "a.",
                                                      9)
                                        << "crafted.pkl: the pickle changes a list after placing it inside another "
                                           "value (a recursive structure, which no checkpoint holds) (at byte 8 of "
                                           "the pickle)";
        // d = {}; t = (d,); d[1] = t
        QTest::newRow("dict through a tuple")
            << QByteArray("\x80\x02}q\x00h\x00\x85q\x01\x30K\x01h\x01s.", 17)
            << "crafted.pkl: the pickle changes a dict after placing it inside another value (a recursive "
               "structure, which no checkpoint holds) (at byte 16 of the pickle)";
    }

    void refusesRecursiveStructures()
    {
        QFETCH(QByteArray, pickle);
        QFETCH(QString, message);
        QCOMPARE(pickleError(pickle.toStdString()), message);
    }

    void boundsTheNumberOfValues()
    {
        // 4,000,001 Nones on the stack.
        const std::string nones = "\x80\x02(" + std::string(kMaxPickleValues + 1, 'N') + "l.";
        QCOMPARE(pickleError(nones),
                 QString("crafted.pkl: the pickle holds more than 4000000 values (at byte %1 of the "
                         "pickle)")
                     .arg(3 + kMaxPickleValues + 1));
        // A dict of 100,000 keys, each set twice, fills in linear time and keeps the last values.
        std::string pickle = "\x80\x02}(";
        for (int round = 0; round < 2; ++round)
            for (int32_t key = 0; key < 100000; ++key) {
                pickle += 'J';
                appendLittle(pickle, static_cast<uint32_t>(key), 4);
                pickle += 'J';
                appendLittle(pickle, static_cast<uint32_t>(key + round), 4);
            }
        pickle += "u.";
        const StorageLoader none = [](const std::string &, torch::Dtype, int64_t) { return torch::Tensor(); };
        const PyRef dict = unpickle(pickle, none, "crafted.pkl");
        QCOMPARE(dict->dict.size(), size_t(100000));
        QCOMPARE(dict->dict.back().first->integer, int64_t(99999));
        QCOMPARE(dict->dict.back().second->integer, int64_t(100000));
    }

    // A value nested far deeper than any pickle may build is freed without a deep recursion.
    void deepValuesAreFreedWithoutRecursion()
    {
        PyRef root = PyValue::make(PyValue::Kind::List);
        PyValue *tail = root.get();
        for (int i = 0; i < 300000; ++i) {
            tail->items.push_back(PyValue::make(i % 2 ? PyValue::Kind::Tuple : PyValue::Kind::Dict));
            if (i % 2) {
                tail = tail->items.back().get();
            } else {
                tail->items.back()->dict.emplace_back(PyValue::make(PyValue::Kind::String),
                                                      PyValue::make(PyValue::Kind::List));
                tail = tail->items.back()->dict.back().second.get();
            }
        }
        PyRef shared = root->items.front(); // still owned here after the root goes
        root.reset();
        QCOMPARE(shared->kind, PyValue::Kind::Dict);
        shared.reset();
    }

    // Sizes, strides and offsets whose arithmetic would overflow 64 bits are refused by name.
    void refusesOverflowingTensors_data()
    {
        QTest::addColumn<QList<qint64>>("size");
        QTest::addColumn<QList<qint64>>("stride");
        QTest::addColumn<QString>("message");
        const qint64 big = qint64(1) << 62;
        QTest::newRow("in range") << QList<qint64>{4, 4} << QList<qint64>{4, 1} << "";
        QTest::newRow("past the storage") << QList<qint64>{4, 5} << QList<qint64>{4, 1}
                                          << "crafted.pkl: a tensor reaches past the end of its storage (at byte 137 "
                                             "of the pickle)";
        QTest::newRow("reach overflows") << QList<qint64>{4, 1} << QList<qint64>{big, 1}
                                         << "crafted.pkl: a tensor's size and stride reach beyond any storage (they "
                                            "overflow 64 bits) (at byte 137 of the pickle)";
        QTest::newRow("count overflows") << QList<qint64>{big, 4} << QList<qint64>{0, 0}
                                         << "crafted.pkl: a tensor's size holds more elements than 64 bits can count "
                                            "(at byte 137 of the pickle)";
        QTest::newRow("empty but overflowing") << QList<qint64>{0, big, big} << QList<qint64>{1, 1, 1}
                                               << "crafted.pkl: a tensor's size holds more elements than 64 bits can "
                                                  "count (at byte 157 of the pickle)";
    }

    void refusesOverflowingTensors()
    {
        QFETCH(QList<qint64>, size);
        QFETCH(QList<qint64>, stride);
        QFETCH(QString, message);
        QCOMPARE(pickleError(tensorPickle({size.begin(), size.end()}, {stride.begin(), stride.end()})), message);
    }

    // The archive's directory is read first: a record that would inflate past 256 MiB, or whose
    // data lies outside the file, is refused before anything is allocated.
    void refusesArchivesDeclaringTooMuch_data()
    {
        QTest::addColumn<QByteArray>("zip");
        QTest::addColumn<QString>("message");
        const auto bytes = [](const std::string &s) { return QByteArray(s.data(), static_cast<qsizetype>(s.size())); };
        const QString bomb = ": the archive's record 'archive/data.pkl' would inflate to %1 bytes, more than the 256 "
                             "MiB a checkpoint's record may (a zip bomb?)";
        QTest::newRow("deflated 4 GB") << bytes(craftedZip(8, 16, 0xfffffffe, false)) << bomb.arg(4294967294);
        QTest::newRow("deflated 1 TB, zip64")
            << bytes(craftedZip(8, 16, uint64_t(1) << 40, true)) << bomb.arg(1099511627776);
        QTest::newRow("stored past the end") << bytes(craftedZip(0, 1000000, 1000000, false))
                                             << ": the checkpoint archive is corrupt or truncated (the record "
                                                "'archive/data.pkl' of 1000000 bytes lies outside the file's 146)";
        QTest::newRow("deflated beyond deflate's ratio")
            << bytes(craftedZip(8, 16, 100000, false))
            << ": the checkpoint archive is corrupt or truncated (the deflated record 'archive/data.pkl' declares "
               "100000 bytes, more than its 16 deflated bytes can hold)";
        QTest::newRow("LZMA") << bytes(craftedZip(14, 16, 16, false))
                              << ": the archive's record 'archive/data.pkl' is compressed with LZMA (method 14); only "
                                 "stored (0) and deflated (8) records can be read";
        QTest::newRow("stored sizes differ") << bytes(craftedZip(0, 16, 1000000, true))
                                             << ": the checkpoint archive is corrupt or truncated (the stored record "
                                                "'archive/data.pkl' declares 1000000 bytes and holds 16)";
    }

    void refusesArchivesDeclaringTooMuch()
    {
        QFETCH(QByteArray, zip);
        QFETCH(QString, message);
        const std::string path = test::makeTempDir() + "/crafted.pth";
        writeFileAtomically(path, zip.toStdString());
        QCOMPARE(checkpointError(path), QString::fromStdString(path) + message);
    }

    // A storage whose element count times its element size overflows is refused, not allocated.
    void refusesStoragesLargerThanTheirRecord()
    {
        const std::string path = test::makeTempDir() + "/storage.pth";
        {
            std::string pickle = tensorPickle({4}, {1});
            pickle.replace(pickle.find("cpuK\x10"), 5, "cpu" + long8(int64_t(1) << 62));
            caffe2::serialize::PyTorchStreamWriter writer(path);
            writer.writeRecord("data.pkl", pickle.data(), pickle.size());
            const std::string data(64, '\0');
            writer.writeRecord("data/0", data.data(), data.size());
            writer.writeEndOfFile();
        }
        QCOMPARE(checkpointError(path), QString::fromStdString(path) +
                                            ": the storage data/0 holds 64 bytes, too few for 4611686018427387904 "
                                            "elements of 4 bytes");
    }

    // Found by fuzz_zip: an empty storage was copied by memcpy from a null pointer (undefined
    // behaviour, which UBSan reports under the asan preset); it reads as an empty tensor now.
    void readsAnEmptyStorage()
    {
        const std::string path = test::makeTempDir() + "/empty.pth";
        {
            std::string pickle = tensorPickle({0}, {1});
            pickle.replace(pickle.find("cpuK\x10"), 5, std::string("cpuK\x00", 5));
            caffe2::serialize::PyTorchStreamWriter writer(path);
            writer.writeRecord("data.pkl", pickle.data(), pickle.size());
            writer.writeRecord("data/0", nullptr, 0);
            writer.writeEndOfFile();
        }
        QCOMPARE(checkpointError(path), QString::fromStdString(path) +
                                            ": the checkpoint holds a tensor [0] without a 'model' entry; "
                                            "expected the reference's {'model', 'ema', 'optimizer', 'step'}");
    }

    // One line whatever the count: each kind of misfit counted, its first three named.
    void misfitWeightsAreCountedOnOneLine()
    {
        torch::nn::Sequential module(torch::nn::Linear(2, 3), torch::nn::Linear(3, 4), torch::nn::Linear(4, 5),
                                     torch::nn::Linear(5, 6));
        std::vector<std::pair<std::string, torch::Tensor>> entries{{"0.weight", torch::zeros({3, 2})},
                                                                   {"0.bias", torch::zeros({4})},
                                                                   {"1.weight", torch::zeros({4, 3})},
                                                                   {"extra", torch::zeros({1})},
                                                                   {"2.weight", torch::zeros({5, 4}, torch::kLong)}};
        QCOMPARE(test::errorOf([&] { requireWeightsFit(*module, entries, "m.safetensors"); }),
                 QString("m.safetensors: the weights do not fit the network of this config: "
                         "4 missing keys (1.bias, 2.bias, 3.bias and 1 more), 1 unexpected key (extra), "
                         "2 shape mismatches (0.bias: file [4], network [3]; 2.weight: file holds Long, the "
                         "network needs a floating-point tensor)"));
    }

    void wrongConfigNamesTheKeys()
    {
        LoadOptions options;
        options.config = test::fixtureDir("ddpmpp_vp_small") + "/config.json";
        expectError(fixtureCheckpoint(), {"missing keys", "unexpected keys", "shape mismatches", "all_modules"},
                    options);
    }

    void rawWeightsDifferFromEma()
    {
        LoadOptions options;
        options.config = fixtureConfig();
        LoadedModel ema = loadModelFile(fixtureCheckpoint(), options);
        options.weights = WeightSet::Raw;
        LoadedModel raw = loadModelFile(fixtureCheckpoint(), options);
        QCOMPARE(raw.info.loadedWeights, std::string("raw"));
        auto emaParams = ema.model->network()->named_parameters();
        auto rawParams = raw.model->network()->named_parameters();
        // The fixed Fourier W has no EMA copy and equals the raw one; trainable weights differ.
        QVERIFY(torch::equal(emaParams["all_modules.0.W"], rawParams["all_modules.0.W"]));
        QVERIFY(!torch::equal(emaParams["all_modules.1.weight"], rawParams["all_modules.1.weight"]));
    }
};

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "test_checkpoint.moc"
