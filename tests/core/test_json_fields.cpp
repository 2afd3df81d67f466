// What the engine relies on from its JSON (nlohmann's ordered_json and util/json_fields.h):
// insertion order, exact integers, sde::Error with line and column for bad text and with the key
// for bad values, and no crash on hostile documents.
#include "util/error.h"
#include "util/failure_message.h"
#include "util/json_fields.h"
#include "util/number_text.h"

#include "error_of.h"
#include "sanitizers.h"

#include <QtTest/QtTest>
#include <torch/torch.h>

#include <cstdint>
#include <limits>
#include <new>

using namespace sde;
using sde::test::errorOf;

class TestJsonFields : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void keepsInsertionOrder()
    {
        Json doc = Json::object();
        doc["sampling"] = "pc";
        doc["model"] = Json::object();
        doc["model"]["nf"] = 16;
        doc["data"] = {1, 2.5, "x"};
        QCOMPARE(dumpJson(doc), std::string(R"({"sampling":"pc","model":{"nf":16},"data":[1,2.5,"x"]})"));

        const std::string text = "{\"z\":1,\"a\":{\"y\":true,\"b\":null},\"m\":[0.1,1e-05,\"\\u00e9\\\"q\"]}";
        const Json parsed = parseJson(text);
        QCOMPARE(parsed.begin().key(), std::string("z"));
        QCOMPARE(dumpJson(parseJson(dumpJson(parsed))), dumpJson(parsed));
        QCOMPARE(parsed.at("m").at(2).get<std::string>(), std::string("\xc3\xa9\"q"));
        QCOMPARE(parsed.at("m").at(1).get<double>(), 1e-05);
        // Doubles are written with enough digits to read back exactly.
        const double third = 1.0 / 3.0;
        QCOMPARE(parseJson(dumpJson(Json(third))).get<double>(), third);
    }

    void unsignedIntegersRoundTripExactly_data()
    {
        QTest::addColumn<quint64>("value");
        QTest::addColumn<QString>("text");
        QTest::newRow("0") << quint64(0) << "0";
        QTest::newRow("2^53 + 1") << quint64(9007199254740993ull) << "9007199254740993";
        QTest::newRow("10^17") << quint64(100000000000000000ull) << "100000000000000000";
        QTest::newRow("2^64 - 1") << quint64(std::numeric_limits<uint64_t>::max()) << "18446744073709551615";
    }

    void unsignedIntegersRoundTripExactly()
    {
        QFETCH(quint64, value);
        QFETCH(QString, text);
        Json doc = Json::object();
        doc["seed"] = static_cast<uint64_t>(value);
        // Written as digits, never through a double ("1e+17").
        QCOMPARE(dumpJson(doc), "{\"seed\":" + text.toStdString() + "}");
        QCOMPARE(json::getUint64(parseJson(dumpJson(doc)), "seed"), static_cast<uint64_t>(value));
    }

    void signedIntegersRoundTripExactly()
    {
        for (const int64_t value : {std::numeric_limits<int64_t>::min(), int64_t(-9007199254740993),
                                    int64_t(9007199254740993), std::numeric_limits<int64_t>::max()}) {
            Json doc = Json::object();
            doc["step"] = value;
            QCOMPARE(json::getInt64(parseJson(dumpJson(doc)), "step"), value);
        }
        // An integral float up to 2^53 (written by another tool) reads as the integer.
        QCOMPARE(json::getInt64(parseJson(R"({"image_size": 32.0})"), "image_size"), int64_t(32));
        QCOMPARE(json::getUint64(parseJson(R"({"seed": 42.0})"), "seed"), uint64_t(42));
    }

    void refusesInexactIntegers_data()
    {
        QTest::addColumn<QString>("value");
        QTest::addColumn<bool>("isSigned");
        QTest::newRow("negative seed") << "-1" << false;
        QTest::newRow("fractional seed") << "1.5" << false;
        QTest::newRow("seed 2^64") << "18446744073709551616" << false;
        QTest::newRow("seed as a float beyond 2^53") << "1e+17" << false;
        QTest::newRow("seed as text") << "\"7\"" << false;
        QTest::newRow("seed null") << "null" << false;
        QTest::newRow("fractional step") << "2.5" << true;
        QTest::newRow("step 2^63") << "9223372036854775808" << true;
        QTest::newRow("step true") << "true" << true;
    }

    void refusesInexactIntegers()
    {
        QFETCH(QString, value);
        QFETCH(bool, isSigned);
        const Json doc = parseJson("{\"key\": " + value.toStdString() + "}");
        const QString message = errorOf([&] {
            if (isSigned)
                json::toInt64(doc.at("key"), "seed");
            else
                json::toUint64(doc.at("key"), "seed");
        });
        QVERIFY2(message.startsWith("seed: expected "), qPrintable(message));
    }

    void typeErrorsNameTheKey()
    {
        const Json doc = parseJson(R"({"n": 1.5, "s": "x", "a": [1]})");
        QVERIFY(errorOf([&] { json::getDouble(doc, "s"); }).contains("s: expected a number, found a string"));
        QVERIFY(errorOf([&] { json::getString(doc, "n"); }).contains("n: expected a string, found 1.5"));
        QVERIFY(errorOf([&] { json::getBool(doc, "a"); }).contains("found an array"));
        QVERIFY(errorOf([&] { json::getInt64(doc, "missing"); }).contains("missing key \"missing\""));
        QVERIFY(errorOf([&] { json::at(doc.at("a"), "k"); }).contains("\"k\""));
        QVERIFY(json::find(doc, "missing") == nullptr);
        QVERIFY(json::find(doc.at("a"), "n") == nullptr);
    }

    void reportsErrorPosition_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("expected");
        QTest::newRow("truncated") << QByteArray("{\"a\": [1, 2") << "line 1, column 12";
        QTest::newRow("bad token") << QByteArray("{\n  \"a\": tru\n}") << "line 2, column 11";
        QTest::newRow("trailing") << QByteArray("{} x") << "line 1, column 4";
        QTest::newRow("unterminated string") << QByteArray("\"abc") << "line 1, column 5";
        QTest::newRow("missing colon") << QByteArray("{\"a\" 1}") << "line 1, column 6";
        QTest::newRow("empty") << QByteArray("") << "line 1, column 1";
        QTest::newRow("NaN is not JSON") << QByteArray("[NaN]") << "line 1, column 2";
        QTest::newRow("invalid UTF-8") << QByteArray("\"\xff\"") << "line 1, column 2";
    }

    void reportsErrorPosition()
    {
        QFETCH(QByteArray, text);
        QFETCH(QString, expected);
        const QString message = errorOf([&] { parseJson(text.toStdString()); });
        QVERIFY2(message.startsWith("JSON parse error at "), qPrintable(message));
        QVERIFY2(message.contains(expected), qPrintable(message));
    }

    void deepNestingIsRefusedWithoutACrash()
    {
        const int deep = 1000000;
        const QString unclosed = errorOf([&] { parseJson(std::string(deep, '[')); });
        QVERIFY2(unclosed.contains("deeper than"), qPrintable(unclosed));
        const QString closed = errorOf([&] { parseJson(std::string(deep, '[') + std::string(deep, ']')); });
        QVERIFY2(closed.contains("deeper than"), qPrintable(closed));
        const QString objects = errorOf([&] {
            std::string text;
            for (int i = 0; i < deep; ++i)
                text += "{\"a\":";
            parseJson(text);
        });
        QVERIFY2(objects.contains("deeper than"), qPrintable(objects));
        // Within the limit, documents parse, copy and print.
        const int depth = kMaxJsonDepth;
        const Json nested = parseJson(std::string(depth, '[') + std::string(depth, ']'));
        const Json copy = nested;
        QCOMPARE(dumpJson(copy).size(), size_t(2 * depth));
    }

    // nlohmann keeps the last of two equal keys silently; a document of ours never repeats one,
    // so a repeated key is a mistake or an attack (a tensor named twice in a safetensors header).
    void repeatedKeysAreRefused()
    {
        QCOMPARE(errorOf([] { parseJson(R"({"a": 1, "b": {"a": 2, "c": [{"a": 3}, {"a": 4}]}, "c": 5})"); }),
                 QString("no error"));
        QCOMPARE(errorOf([] { parseJson(R"({"a": 1, "b": 2, "a": 3})"); }),
                 QString("JSON parse error: the key \"a\" appears twice in one object"));
        QCOMPARE(errorOf([] { parseJson(R"([{"x": {"y": 1, "y": 2}}])"); }),
                 QString("JSON parse error: the key \"y\" appears twice in one object"));
        const std::string longKey(100, 'k');
        QCOMPARE(errorOf([&] { parseJson("{\"" + longKey + "\": 1, \"" + longKey + "\": 2}"); }),
                 "JSON parse error: the key \"" + QString(57, 'k') + "...\" appears twice in one object");
    }

    void writesBytesThatAreNotUtf8()
    {
        Json doc = Json::object();
        doc["file"] = std::string("caf\xe9.png"); // Latin-1, not UTF-8
        const std::string text = dumpJson(doc);
        QCOMPARE(text, std::string("{\"file\":\"caf\xef\xbf\xbd.png\"}"));
        QCOMPARE(json::getString(parseJson(text), "file"), std::string("caf\xef\xbf\xbd.png"));
    }

    void numbersAsText()
    {
        QCOMPARE(numberText(50.0), std::string("50"));
        QCOMPARE(numberText(0.16), std::string("0.16"));
        QCOMPARE(numberText(1e-5), std::string("1e-05"));
        QCOMPARE(numberText(0.1 + 0.2), std::string("0.30000000000000004"));
    }

    // ordered_json finds keys by walking the object: 200,000 keys in one object took minutes to
    // read. One object holds at most 16384 keys.
    void objectsHoldBoundedKeys()
    {
        const auto object = [](int keys) {
            std::string text = "{";
            for (int i = 0; i < keys; ++i)
                text += (i ? ",\"" : "\"") + std::to_string(i) + "\":0";
            return text + "}";
        };
        QCOMPARE(parseJson(object(16384)).size(), size_t(16384));
        QCOMPARE(errorOf([&] { parseJson(object(200000)); }),
                 QString("JSON parse error: an object holds more than 16384 keys"));
    }

    // Issue 16: a key or a path taken from a file cannot forge a line of the CLI's output, nor
    // send the terminal an escape sequence; a message's own indented lists stay as they are.
    void printableKeepsMessagesOnTheirLines()
    {
        QCOMPARE(printable("plain caf\xc3\xa9"), std::string("plain caf\xc3\xa9"));
        QCOMPARE(printable("key \"a\nerror: forged\" twice"), std::string("key \"a\n  error: forged\" twice"));
        QCOMPARE(printable("bell\x07 esc\x1b[2J tab\t cr\r del\x7f"),
                 std::string("bell\\x07 esc\\x1b[2J tab\\t cr\\r del\\x7f"));
        QCOMPARE(printable("presets:\n  vp/a\n  ve/b"), std::string("presets:\n  vp/a\n  ve/b"));
        QCOMPARE(printable("ends with\n"), std::string("ends with\n"));
        // Bytes of no UTF-8 sequence are escaped; well-formed sequences of 2, 3 and 4 bytes are not.
        QCOMPARE(printable("last read: '\xff\xfe'"), std::string("last read: '\\xff\\xfe'"));
        QCOMPARE(printable("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                 std::string("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
        QCOMPARE(printable("cut \xe2\x82"), std::string("cut \\xe2\\x82"));
        QCOMPARE(printable("overlong \xc0\xaf"), std::string("overlong \\xc0\\xaf"));
        QCOMPARE(printable("surrogate \xed\xa0\x80"), std::string("surrogate \\xed\\xa0\\x80"));
    }

    // Issue 16 ("long values truncated"): a 5000-character path keeps its first 120 and last 80
    // characters; runs of 300 or fewer, the words around them and what was already cut stay as
    // they are.
    void longRunsAreCut()
    {
        const std::string path = "/tmp/" + std::string(4990, 'a') + "/x.pth";
        const std::string message = "cannot open '" + path + "': no such file";
        const std::string cut = "cannot open '/tmp/" + std::string(114, 'a') + " [... 4804 characters left out ...] " +
                                std::string(72, 'a') + "/x.pth': no such file";
        QCOMPARE(elideLongRuns(message), cut);
        QCOMPARE(elideLongRuns(cut), cut);
        QCOMPARE(printable(message), cut);
        QCOMPARE(failureMessage(Error(message)), cut);
        const std::string justFits(300, 'b');
        QCOMPARE(elideLongRuns(justFits + " " + justFits), justFits + " " + justFits);
        const std::string oneTooMany(301, 'b');
        QCOMPARE(elideLongRuns(oneTooMany),
                 std::string(120, 'b') + " [... 101 characters left out ...] " + std::string(80, 'b'));
        // Counted in characters and never cut inside one: 400 two-byte characters.
        std::string accents;
        for (int i = 0; i < 400; ++i)
            accents += "\xc3\xa9";
        QCOMPARE(elideLongRuns(accents),
                 accents.substr(0, 240) + " [... 200 characters left out ...] " + accents.substr(640));
        // Bytes that are no UTF-8 (continuation bytes without a lead) count one each.
        const std::string stray(400, '\x80');
        QCOMPARE(elideLongRuns(stray),
                 stray.substr(0, 120) + " [... 200 characters left out ...] " + stray.substr(320));
        // Each line's runs on their own.
        QCOMPARE(elideLongRuns(std::string(200, 'c') + "\n" + std::string(200, 'c')),
                 std::string(200, 'c') + "\n" + std::string(200, 'c'));
        // printable counts the escapes it writes: 100 escape characters show as 400.
        std::string escape;
        for (int i = 0; i < 30; ++i)
            escape += "\\x1b";
        std::string tailEscape;
        for (int i = 0; i < 20; ++i)
            tailEscape += "\\x1b";
        QCOMPARE(printable(std::string(100, '\x1b')), escape + " [... 200 characters left out ...] " + tailEscape);
    }

    // A failed allocation says so with the size, whatever threw it; other failures keep their text.
    void failedAllocationsSayNotEnoughMemory()
    {
        const std::string advice = "; try a smaller batch, a smaller image or fewer frames";
        QCOMPARE(failureMessage(std::bad_alloc()), "not enough memory for this request" + advice);
        QCOMPARE(failureMessage(Error("a.pth: bad")), std::string("a.pth: bad"));
        QCOMPARE(failureMessage(std::runtime_error("other")), std::string("other"));
        // A failure to open a file names the path once: the reader's message names it (quoted or
        // before ": "), or the path is added; a mere mention of a part of it does not count.
        QCOMPARE(openFailureMessage("the model", "/m/a.pth", Error("/m/a.pth: bad")),
                 std::string("Could not open the model: /m/a.pth: bad"));
        QCOMPARE(openFailureMessage("the model", "/m/a.pth", Error("'/m/a.pth' is a PNG image")),
                 std::string("Could not open the model: '/m/a.pth' is a PNG image"));
        QCOMPARE(openFailureMessage("the image", "a.png", Error("cannot decode data.png")),
                 std::string("Could not open the image a.png: cannot decode data.png"));
        QCOMPARE(openFailureMessage("the model", "/m/a.pth", std::bad_alloc()),
                 "Could not open the model /m/a.pth: not enough memory for this request" + advice);
#if !SDE_UNDER_ASAN // AddressSanitizer refuses the request itself, before LibTorch could
        // 2^50 floats: LibTorch's CPU allocator refuses with its own c10::Error.
        try {
            torch::empty({int64_t(1) << 50});
            QFAIL("expected the allocation to fail");
        } catch (const std::exception &e) {
            QCOMPARE(failureMessage(e),
                     "not enough memory for this request (it needed a block of 4503599627370496 bytes)" + advice);
        }
#endif
    }
};

QTEST_GUILESS_MAIN(TestJsonFields)
#include "test_json_fields.moc"
